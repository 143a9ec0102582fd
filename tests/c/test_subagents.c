/* test_subagents.c: background sub-agents through the C API: handles and listing, what a sub-agent inherits from
 * its parent, its answers reaching the parent, and stopping with the parent unless detached. */
#include "check.h"
#include "helpers.h"

static void test_subagents(void)
{
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    char *parent = NULL;
    REQUIRE_STATUS(tandem_session_start(c, NULL, &parent), TANDEM_OK);

    char *handle = NULL;
    REQUIRE_STATUS(tandem_subagent_start(c, parent, "task text", NULL, &handle), TANDEM_OK);
    REQUIRE(handle != NULL && json_valid(handle));
    char *sub = json_get_str(handle, "session_id");
    REQUIRE(sub != NULL);
    CHECK(strcmp(sub, parent) != 0);
    CHECK(json_str_is(handle, "parent_session_id", parent));
    CHECK(json_str_is(handle, "task", "task text"));
    CHECK(json_str_is(handle, "model", "scripted:echo"));
    char *started_at = json_get_str(handle, "started_at");
    CHECK(started_at != NULL && strlen(started_at) >= 20 && started_at[4] == '-' && started_at[10] == 'T');
    free(started_at);

    /* The sub-agent runs its task: the echo model answers with the task's text. */
    evlog log = {0};
    const char *ended = pull_until(c, &log, sub, "turn_ended", WAIT_MS);
    CHECK(ended != NULL && json_str_is(ended, "reason", "completed"));
    const char *announced = NULL;
    for (size_t i = 0; i < log.len; i++)
        if (ev_is(log.items[i], sub, "subagent_started"))
            announced = log.items[i];
    CHECK(announced != NULL && json_get(announced, "handle") != NULL &&
          json_str_is(json_get(announced, "handle"), "session_id", sub));
    check_last_exchange(c, sub, "task text", "task text");
    char *meta = NULL;
    CHECK_STATUS(tandem_session_metadata(c, sub, &meta), TANDEM_OK);
    CHECK(meta != NULL && strstr(meta, "\"background\":true") != NULL && json_str_is(meta, "parent_session_id", parent));
    tandem_string_free(meta);

    /* A sub-agent without a parent. */
    char *orphan_handle = NULL;
    CHECK_STATUS(tandem_subagent_start(c, NULL, "solo task", "{\"model\":\"scripted:echo\"}", &orphan_handle),
                 TANDEM_OK);
    REQUIRE(orphan_handle != NULL);
    CHECK(json_is_null(json_get(orphan_handle, "parent_session_id")));
    char *orphan = json_get_str(orphan_handle, "session_id");

    char *list = NULL;
    CHECK_STATUS(tandem_subagent_list(c, parent, &list), TANDEM_OK);
    CHECK(list != NULL && json_len(list) == 1 && json_str_is(json_at(list, 0), "session_id", sub));
    tandem_string_free(list);
    CHECK_STATUS(tandem_subagent_list(c, NULL, &list), TANDEM_OK);
    CHECK(list != NULL && json_len(list) == 2); /* oldest first */
    CHECK(list != NULL && json_str_is(json_at(list, 0), "session_id", sub) &&
          json_str_is(json_at(list, 1), "session_id", orphan));
    tandem_string_free(list);
    list = NULL;

    /* An unknown parent: starting is NOT_FOUND; listing lists none (as documented). */
    char *out = NULL;
    CHECK_STATUS(tandem_subagent_start(c, "no-such-session", "task", NULL, &out), TANDEM_ERR_NOT_FOUND);
    CHECK(out == NULL);
    CHECK_STATUS(tandem_subagent_list(c, "no-such-session", &list), TANDEM_OK);
    CHECK_STREQ(list, "[]");
    tandem_string_free(list);
    list = NULL;

    CHECK_STATUS(tandem_subagent_start(c, parent, "   ", NULL, &out), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK(out == NULL);

    /* A stopped sub-agent is no longer listed. */
    CHECK_STATUS(tandem_session_stop(c, orphan), TANDEM_OK);
    CHECK_STATUS(tandem_subagent_list(c, NULL, &list), TANDEM_OK);
    CHECK(list != NULL && json_len(list) == 1 && json_str_is(json_at(list, 0), "session_id", sub));
    tandem_string_free(list);
    list = NULL;

    free(orphan);
    tandem_string_free(orphan_handle);
    evlog_free(&log);
    free(sub);
    tandem_string_free(handle);
    tandem_string_free(parent);
    tandem_client_free(c);
}


/* The JSON value of `key` in `obj` is the literal `lit` (true, false, ...). */
static bool json_lit_is(const char *obj, const char *key, const char *lit)
{
    const char *v = json_get(obj, key);
    return v != NULL && strncmp(v, lit, strlen(lit)) == 0;
}

/* Starts a sub-agent of `parent` with `options`, returning its session ID (malloc'd) and its handle in `*handle`. */
static char *start_sub(tandem_client *c, const char *parent, const char *task, const char *options, char **handle)
{
    *handle = NULL;
    CHECK_STATUS(tandem_subagent_start(c, parent, task, options, handle), TANDEM_OK);
    return *handle ? json_get_str(*handle, "session_id") : NULL;
}

/* What a sub-agent inherits and overrides, its answers reaching the parent (event 27 and a transcript note), and
 * stopping with the parent unless detached. */
static void test_inheritance_answers_and_stopping(void)
{
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    char *parent = NULL;
    REQUIRE_STATUS(tandem_session_start(c, "{\"model\":\"scripted:echo\",\"thinking_level\":\"low\"}", &parent),
                   TANDEM_OK);
    CHECK_STATUS(tandem_session_set_thinking_level(c, parent, "high"), TANDEM_OK);

    /* Inherited: the parent's model and current thinking level; overridden: what the options name. */
    char *h1 = NULL, *h2 = NULL, *h3 = NULL;
    char *sub = start_sub(c, parent, "count the files", NULL, &h1);
    char *own = start_sub(c, parent, "own level", "{\"thinking_level\":\"off\"}", &h2);
    char *detached = start_sub(c, parent, "stay", "{\"detached\":true}", &h3);
    REQUIRE(sub != NULL && own != NULL && detached != NULL);
    CHECK(json_str_is(h1, "model", "scripted:echo"));
    CHECK(json_lit_is(h1, "detached", "false") && json_lit_is(h3, "detached", "true"));
    char *meta = NULL;
    CHECK_STATUS(tandem_session_metadata(c, sub, &meta), TANDEM_OK);
    CHECK(meta != NULL && json_str_is(meta, "thinking_level", "high") && json_str_is(meta, "model", "scripted:echo"));
    tandem_string_free(meta);
    meta = NULL;
    CHECK_STATUS(tandem_session_metadata(c, own, &meta), TANDEM_OK);
    CHECK(meta != NULL && json_str_is(meta, "thinking_level", "off"));
    tandem_string_free(meta);

    /* Each sub-agent's answer reaches the parent: subagent_finished (kind 27) after a note in its transcript. */
    evlog log = {0};
    const char *done = NULL;
    while ((done = pull_until(c, &log, parent, "subagent_finished", WAIT_MS)) != NULL &&
           !json_str_is(done, "subagent_session_id", sub)) {
    }
    REQUIRE(done != NULL);
    CHECK(kind_number("subagent_finished") == TANDEM_EVENT_KIND_SUBAGENT_FINISHED);
    CHECK(json_str_is(done, "parent_session_id", parent));
    CHECK(json_str_is(done, "answer", "count the files"));
    CHECK(json_str_is(done, "reason", "completed"));
    char *m = messages_of(c, parent);
    char want[256];
    snprintf(want, sizeof want, "Sub-agent %s finished (completed): count the files", sub);
    CHECK(m != NULL && array_has(m, "text", want));
    tandem_string_free(m);

    /* Stopping the parent stops its sub-agents, except the detached one. */
    CHECK_STATUS(tandem_session_stop(c, parent), TANDEM_OK);
    const char *stopped = pull_until(c, &log, sub, "session_stopped", WAIT_MS);
    CHECK(stopped != NULL && json_str_is(stopped, "reason", "stopped"));
    CHECK(pull_until(c, &log, own, "session_stopped", WAIT_MS) != NULL);
    tandem_session_status st;
    CHECK_STATUS(tandem_session_get_status(c, sub, &st), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_get_status(c, detached, &st), TANDEM_OK);
    char *list = NULL;
    CHECK_STATUS(tandem_subagent_list(c, parent, &list), TANDEM_OK);
    CHECK(list != NULL && json_len(list) == 1 && json_str_is(json_at(list, 0), "session_id", detached));
    tandem_string_free(list);

    /* detached must be a boolean, and is no session option. */
    char *out = NULL;
    CHECK_STATUS(tandem_subagent_start(c, NULL, "x", "{\"detached\":1}", &out), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK(out == NULL);
    CHECK_STATUS(tandem_session_start(c, "{\"detached\":true}", &out), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK(out == NULL);

    evlog_free(&log);
    free(sub);
    free(own);
    free(detached);
    tandem_string_free(h1);
    tandem_string_free(h2);
    tandem_string_free(h3);
    tandem_string_free(parent);
    tandem_client_free(c);
}

int main(int argc, char **argv)
{
    check_init(argc, argv);
    RUN(test_subagents);
    RUN(test_inheritance_answers_and_stopping);
    return check_summary();
}
