/* test_governance.c: agent governance through the C API: the model's `task` tool (two sub-agents in one turn whose
 * answers come back; the parent's abort stops all three), project context files (tandem_session_context_files and
 * kind 32) and budgets (max_tokens_total across the tree, kind 33, tandem_session_set_budget). */
#include "check.h"
#include "helpers.h"

#include <sys/stat.h>
#include <unistd.h>

/* A fresh workdir (a repository root holding AGENTS.md) in `dir` (at least 64 bytes). */
static bool make_workdir(char *dir)
{
    strcpy(dir, "/tmp/tandem-c-gov-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return false;
    char path[128];
    snprintf(path, sizeof path, "%s/.git", dir);
    if (mkdir(path, 0700) != 0)
        return false;
    snprintf(path, sizeof path, "%s/AGENTS.md", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return false;
    fputs("Run the tests before you answer.\n", f);
    return fclose(f) == 0;
}

static void remove_workdir(const char *dir)
{
    char path[128];
    snprintf(path, sizeof path, "%s/AGENTS.md", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/.git", dir);
    rmdir(path);
    rmdir(dir);
}

/* A client and a parent session in a fresh workdir, with the events pulled so far. */
typedef struct {
    char dir[64];
    tandem_client *c;
    char *parent;
    evlog log;
} gov;

/* Starts the parent on `script` (a JSON array of responses) with `extra` options (",..." or ""). */
static bool gov_up(gov *g, const char *script, const char *extra)
{
    memset(g, 0, sizeof *g);
    if (!make_workdir(g->dir) || tandem_client_new(TEST_CONFIG, &g->c) != TANDEM_OK)
        return false;
    char opts[2048];
    snprintf(opts, sizeof opts,
             "{\"model\":\"scripted:x\",\"workdir\":\"%s\",\"approval\":\"none\",\"tools\":[\"read_file\",\"task\"],"
             "\"script\":%s%s}",
             g->dir, script, extra);
    return tandem_session_start(g->c, opts, &g->parent) == TANDEM_OK;
}

static void gov_down(gov *g)
{
    evlog_free(&g->log);
    tandem_string_free(g->parent);
    tandem_client_free(g->c);
    remove_workdir(g->dir);
}

static void test_two_tasks_in_one_turn_answer_the_model(void)
{
    const char *script = "[[{\"tool_call\":{\"name\":\"task\",\"args\":{\"prompt\":\"alpha\",\"model\":\"scripted:echo\"}}},"
                         "{\"tool_call\":{\"name\":\"task\",\"args\":{\"prompt\":\"beta\",\"model\":\"scripted:echo\"}}}],"
                         "[{\"text\":\"both back\"}]]";
    gov g;
    REQUIRE(gov_up(&g, script, ""));
    tandem_client *c = g.c;
    const char *parent = g.parent;
    evlog *log = &g.log;

    /* The project's AGENTS.md was loaded at the start (kind 32) and is listed. */
    const char *loaded = pull_until(c, log, parent, "context_files_loaded", WAIT_MS);
    REQUIRE(loaded != NULL);
    CHECK(kind_number("context_files_loaded") == TANDEM_EVENT_KIND_CONTEXT_FILES_LOADED);
    char *files = NULL;
    CHECK_STATUS(tandem_session_context_files(c, parent, &files), TANDEM_OK);
    CHECK(files != NULL && json_len(files) == 1 && json_str_is(json_at(files, 0), "reason", "workdir"));
    tandem_string_free(files);

    CHECK_STATUS(tandem_session_send_prompt(c, parent, "delegate", NULL), TANDEM_OK);
    const char *end = pull_until(c, log, parent, "turn_ended", WAIT_MS);
    REQUIRE(end != NULL);
    CHECK(json_str_is(end, "reason", "completed"));
    bool alpha = false, beta = false;
    size_t children_events = 0;
    for (size_t i = 0; i < log->len; i++) {
        const char *ev = log->items[i];
        if (ev_is(ev, parent, "tool_ended")) {
            alpha |= json_str_is(ev, "result", "alpha");
            beta |= json_str_is(ev, "result", "beta");
        }
        if (json_str_is(ev, "parent_id", parent))
            children_events++;
    }
    CHECK(alpha && beta);
    CHECK(children_events > 0); /* the sub-agents' events name their parent */
    gov_down(&g);
}

static void test_the_parents_abort_stops_all_three(void)
{
    /* The sub-agents take the parent's script: their first response asks for a tool they lack, the second waits. */
    const char *script = "[[{\"tool_call\":{\"name\":\"task\",\"args\":{\"prompt\":\"one\"}}},"
                         "{\"tool_call\":{\"name\":\"task\",\"args\":{\"prompt\":\"two\"}}}],"
                         "[{\"delay_ms\":3600000}]]";
    gov g;
    REQUIRE(gov_up(&g, script, ""));
    tandem_client *c = g.c;
    const char *parent = g.parent;
    evlog *log = &g.log;
    CHECK_STATUS(tandem_session_send_prompt(c, parent, "delegate", NULL), TANDEM_OK);
    char *children[2] = {NULL, NULL};
    size_t refused = 0;
    while (refused < 4) {
        const char *ev = pull_until(c, log, NULL, "tool_ended", WAIT_MS);
        REQUIRE(ev != NULL);
        if (!json_str_is(ev, "parent_id", parent))
            continue;
        refused++;
        char *sid = json_get_str(ev, "session_id");
        if (children[0] == NULL)
            children[0] = sid;
        else if (children[1] == NULL && strcmp(children[0], sid) != 0)
            children[1] = sid;
        else
            free(sid);
    }
    REQUIRE(children[0] != NULL && children[1] != NULL); /* both run at once */
    CHECK_STATUS(tandem_session_abort(c, parent), TANDEM_OK);
    CHECK(pull_until(c, log, parent, "turn_ended", WAIT_MS) != NULL);
    for (int i = 0; i < 2; i++) {
        if (evlog_count(log, children[i], "session_stopped") == 0)
            CHECK(pull_until(c, log, children[i], "session_stopped", WAIT_MS) != NULL);
    }
    bool aborted = false;
    for (size_t i = 0; i < log->len; i++)
        if (ev_is(log->items[i], parent, "turn_ended"))
            aborted = json_str_is(log->items[i], "reason", "aborted");
    CHECK(aborted);
    free(children[0]);
    free(children[1]);
    gov_down(&g);
}

static void test_a_tree_stops_at_its_token_budget(void)
{
    /* The echo sub-agent reports 3 + 3 tokens: the tree's 6 are spent. */
    const char *script = "[[{\"tool_call\":{\"name\":\"task\",\"args\":{\"prompt\":\"a b c\",\"model\":\"scripted:echo\"}}}],"
                         "[{\"text\":\"after the raise\"}]]";
    gov g;
    REQUIRE(gov_up(&g, script, ",\"max_tokens_total\":6"));
    tandem_client *c = g.c;
    const char *parent = g.parent;
    evlog *log = &g.log;
    CHECK_STATUS(tandem_session_send_prompt(c, parent, "delegate", NULL), TANDEM_OK);
    const char *end = pull_until(c, log, parent, "turn_ended", WAIT_MS);
    REQUIRE(end != NULL);
    CHECK(json_str_is(end, "reason", "budget_exhausted"));
    CHECK(kind_number("budget_exhausted") == TANDEM_EVENT_KIND_BUDGET_EXHAUSTED);
    CHECK(evlog_count(log, parent, "budget_exhausted") == 1);
    char *snap = NULL;
    CHECK_STATUS(tandem_session_snapshot(c, parent, &snap), TANDEM_OK);
    uint64_t tokens = 0;
    CHECK(snap != NULL && json_get_u64(json_get(snap, "budget"), "tree_tokens", &tokens) && tokens == 6);
    tandem_string_free(snap);

    /* Raised at runtime, the tree goes on. */
    CHECK_STATUS(tandem_session_set_budget(c, parent, "{\"max_tokens_total\":null,\"max_cost\":5}"), TANDEM_OK);
    CHECK_STATUS(tandem_session_send_prompt(c, parent, "go on", NULL), TANDEM_OK);
    end = pull_until(c, log, parent, "turn_ended", WAIT_MS);
    CHECK(end != NULL && json_str_is(end, "reason", "completed"));
    gov_down(&g);
}

int main(int argc, char **argv)
{
    check_init(argc, argv);
    RUN(test_two_tasks_in_one_turn_answer_the_model);
    RUN(test_the_parents_abort_stops_all_three);
    RUN(test_a_tree_stops_at_its_token_budget);
    return check_summary();
}
