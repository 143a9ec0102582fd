/* test_hooks.c: hooks through the C API. A PreToolUse hook denies one write (the model sees the reason) and rewrites
 * the arguments of another, a PostToolUse hook replaces a result and adds context, a UserPromptSubmit hook refuses
 * and rewrites prompts; a malformed answer takes the hook's on_failure default; a reply handle works only inside
 * its callback; userdata_free runs once, after removal or with the session. */
#include "check.h"
#include "helpers.h"

#include <stdatomic.h>
#include <unistd.h>

static char workdir[] = "/tmp/tandem-c-hooks-XXXXXX";

static atomic_int frees;
static void count_free(void *userdata)
{
    (void)userdata;
    atomic_fetch_add(&frees, 1);
}

static atomic_int pre_calls;
static void pre_tool(void *userdata, const char *input, tandem_hook_reply *reply)
{
    CHECK(userdata == (void *)&pre_calls);
    atomic_fetch_add(&pre_calls, 1);
    CHECK(json_str_is(input, "hook_event_name", "PreToolUse"));
    CHECK(json_str_is(input, "tool_name", "Write"));
    CHECK(json_str_is(input, "tandem_tool_name", "write_file"));
    if (strstr(input, "\"path\":\"secret.txt\"") != NULL)
        CHECK_STATUS(tandem_hook_reply_set(reply, "{\"decision\":\"deny\",\"reason\":\"not the secrets\"}"), TANDEM_OK);
    else
        CHECK_STATUS(tandem_hook_reply_set(reply, "{\"tool_input\":{\"path\":\"final.txt\",\"content\":\"rewritten\"}}"),
                     TANDEM_OK);
}

static void post_tool(void *userdata, const char *input, tandem_hook_reply *reply)
{
    (void)userdata;
    CHECK(json_str_is(input, "tool_name", "LS"));
    CHECK(strstr(input, "\"tool_response\"") != NULL);
    CHECK_STATUS(tandem_hook_reply_set(reply, "{\"tool_result\":\"(hidden)\",\"additional_context\":\"ask first\"}"),
                 TANDEM_OK);
}

static tandem_hook_reply *kept_reply;
static atomic_int bad_sets;
static void malformed(void *userdata, const char *input, tandem_hook_reply *reply)
{
    (void)userdata;
    (void)input;
    kept_reply = reply;
    /* Bad input inside the callback: refused with a status, nothing recorded... */
    if (tandem_hook_reply_set(reply, NULL) == TANDEM_ERR_NULL_ARGUMENT)
        atomic_fetch_add(&bad_sets, 1);
    if (tandem_hook_reply_set(reply, "{\"reason\":\"\xff\"}") == TANDEM_ERR_INVALID_UTF8)
        atomic_fetch_add(&bad_sets, 1);
    /* ...but malformed JSON is recorded, so this hook's on_failure (deny) decides. */
    if (tandem_hook_reply_set(reply, "{\"decision\":") == TANDEM_ERR_INVALID_JSON)
        atomic_fetch_add(&bad_sets, 1);
}

static void prompt_hook(void *userdata, const char *input, tandem_hook_reply *reply)
{
    (void)userdata;
    if (strstr(input, "forbidden") != NULL)
        tandem_hook_reply_set(reply, "{\"decision\":\"deny\",\"reason\":\"policy says no\"}");
    else
        tandem_hook_reply_set(reply, "{\"prompt\":\"do the writes\",\"additional_context\":\"it is Friday\"}");
}

/* The result of the n-th tool_ended event of `id` (owned by the log), or NULL. */
static const char *nth_result(tandem_client *c, evlog *log, const char *id)
{
    return pull_until(c, log, id, "tool_ended", WAIT_MS);
}

static void test_deny_rewrite_and_context(void)
{
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    char opts[1024];
    snprintf(opts, sizeof opts,
             "{\"model\":\"scripted:x\",\"approval\":\"none\",\"workdir\":\"%s\",\"script\":["
             "[{\"tool_call\":{\"name\":\"write_file\",\"args\":{\"path\":\"secret.txt\",\"content\":\"x\"}}}],"
             "[{\"tool_call\":{\"name\":\"write_file\",\"args\":{\"path\":\"draft.txt\",\"content\":\"d\"}}}],"
             "[{\"tool_call\":{\"name\":\"list_directory\",\"args\":{}}}],"
             "[{\"tool_call\":{\"name\":\"read_file\",\"args\":{\"path\":\"final.txt\"}}}],"
             "[{\"text\":\"done\"}]]}",
             workdir);
    char *id = NULL;
    REQUIRE_STATUS(tandem_session_start(c, opts, &id), TANDEM_OK);
    atomic_store(&frees, 0);
    uint64_t pre = 0, post = 0, bad = 0, prompt = 0;
    CHECK_STATUS(tandem_client_add_hook(c, id, "{\"event\":\"PreToolUse\",\"matcher\":\"Write|Edit\"}", pre_tool,
                                         &pre_calls, count_free, &pre),
                 TANDEM_OK);
    CHECK_STATUS(tandem_client_add_hook(c, NULL, "{\"event\":\"PostToolUse\",\"matcher\":\"list_directory\"}", post_tool,
                                        NULL, count_free, &post),
                 TANDEM_OK);
    CHECK_STATUS(tandem_client_add_hook(c, NULL, "{\"event\":\"PreToolUse\",\"matcher\":\"Read\",\"on_failure\":\"deny\"}",
                                        malformed, NULL, count_free, &bad),
                 TANDEM_OK);
    CHECK_STATUS(tandem_client_add_hook(c, NULL, "{\"event\":\"UserPromptSubmit\"}", prompt_hook, NULL, count_free, &prompt),
                 TANDEM_OK);
    CHECK(pre != 0 && post != 0 && bad != 0 && prompt != 0 && pre != post);

    tandem_prompt_result result;
    CHECK_STATUS(tandem_session_send_prompt(c, id, "forbidden work", &result), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK(strstr(tandem_last_error_message(), "policy says no") != NULL);
    CHECK_STATUS(tandem_session_send_prompt(c, id, "go", &result), TANDEM_OK);

    evlog log = {0};
    const char *denied = nth_result(c, &log, id);
    CHECK(denied != NULL && json_str_is(denied, "result", "Blocked by a PreToolUse hook: not the secrets"));
    CHECK(denied != NULL && strstr(denied, "\"is_error\":true") != NULL);
    const char *rewritten = nth_result(c, &log, id);
    CHECK(rewritten != NULL && strstr(rewritten, "\"is_error\":false") != NULL);
    const char *listed = nth_result(c, &log, id);
    CHECK(listed != NULL && json_str_is(listed, "result", "(hidden)\n\nask first"));
    const char *read = nth_result(c, &log, id);
    CHECK(read != NULL && strstr(read, "Blocked by a PreToolUse hook: hook failed: malformed answer") != NULL);
    CHECK(pull_until(c, &log, id, "turn_ended", WAIT_MS) != NULL);
    /* The malformed answer was reported, with the default it took. */
    CHECK(evlog_count(&log, id, "hook_failed") == 1);
    for (size_t i = 0; i < log.len; i++)
        if (ev_is(log.items[i], id, "hook_failed")) {
            CHECK(json_str_is(log.items[i], "on_failure", "deny"));
            CHECK(json_str_is(log.items[i], "hook_event", "PreToolUse"));
        }
    CHECK(atomic_load(&pre_calls) == 2);
    CHECK(atomic_load(&bad_sets) == 3);

    char path[512];
    snprintf(path, sizeof path, "%s/secret.txt", workdir);
    CHECK(access(path, F_OK) != 0);
    snprintf(path, sizeof path, "%s/draft.txt", workdir);
    CHECK(access(path, F_OK) != 0);
    snprintf(path, sizeof path, "%s/final.txt", workdir);
    CHECK(access(path, F_OK) == 0);

    /* The prompt went out rewritten, with the hook's context after it. */
    char *msgs = messages_of(c, id);
    CHECK(msgs != NULL && strstr(msgs, "do the writes") != NULL && strstr(msgs, "it is Friday") != NULL);
    CHECK(msgs != NULL && strstr(msgs, "forbidden") == NULL);
    tandem_string_free(msgs);

    /* A reply handle outlives nothing: after its callback returned it is stale. */
    CHECK_STATUS(tandem_hook_reply_set(kept_reply, "{}"), TANDEM_ERR_NOT_FOUND);

    /* Removal frees at once when nothing runs; the session hook goes with its session; the rest with the client. */
    CHECK_STATUS(tandem_client_remove_hook(c, post), TANDEM_OK);
    CHECK(atomic_load(&frees) == 1);
    CHECK_STATUS(tandem_session_stop(c, id), TANDEM_OK);
    CHECK(atomic_load(&frees) == 2);
    CHECK_STATUS(tandem_client_remove_hook(c, pre), TANDEM_ERR_NOT_FOUND);
    evlog_free(&log);
    tandem_string_free(id);
    tandem_client_free(c);
    CHECK(atomic_load(&frees) == 4);
}

/* Re-entrancy: inside a hook, tandem calls work (here the session's status), shutting the client down is refused,
 * and a hook may remove itself: its userdata_free runs after the callback returned. */
typedef struct {
    tandem_client *client;
    const char *session;
    uint64_t self;
    atomic_int calls, status_ok, reentrant, removed, freed_inside;
} reentry;

static atomic_int reentry_frees;
static void reentry_free(void *userdata)
{
    (void)userdata;
    atomic_fetch_add(&reentry_frees, 1);
}

static void reentrant_hook(void *userdata, const char *input, tandem_hook_reply *reply)
{
    (void)input;
    reentry *r = userdata;
    atomic_fetch_add(&r->calls, 1);
    tandem_session_status st;
    if (tandem_session_get_status(r->client, r->session, &st) == TANDEM_OK)
        atomic_fetch_add(&r->status_ok, 1);
    if (tandem_client_shutdown(r->client, 1000) == TANDEM_ERR_REENTRANT_CALL)
        atomic_fetch_add(&r->reentrant, 1);
    if (tandem_client_remove_hook(r->client, r->self) == TANDEM_OK)
        atomic_fetch_add(&r->removed, 1);
    /* Removed, but still running: the userdata is not freed under our feet. */
    atomic_fetch_add(&r->freed_inside, atomic_load(&reentry_frees));
    tandem_hook_reply_set(reply, "{\"additional_context\":\"checked\"}");
}

static void test_reentrant_calls_and_self_removal(void)
{
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    char *id = NULL;
    REQUIRE_STATUS(tandem_session_start(c, "{\"model\":\"scripted:echo\"}", &id), TANDEM_OK);
    static reentry r;
    r.client = c;
    r.session = id;
    atomic_store(&reentry_frees, 0);
    REQUIRE_STATUS(tandem_client_add_hook(c, NULL, "{\"event\":\"UserPromptSubmit\"}", reentrant_hook, &r, reentry_free,
                                          &r.self),
                   TANDEM_OK);
    tandem_prompt_result result;
    CHECK_STATUS(tandem_session_send_prompt(c, id, "first", &result), TANDEM_OK);
    evlog log = {0};
    CHECK(pull_until(c, &log, id, "turn_ended", WAIT_MS) != NULL);
    CHECK(atomic_load(&r.calls) == 1);
    CHECK(atomic_load(&r.status_ok) == 1);
    CHECK(atomic_load(&r.reentrant) == 1);
    CHECK(atomic_load(&r.removed) == 1);
    CHECK(atomic_load(&r.freed_inside) == 0);
    CHECK(atomic_load(&reentry_frees) == 1);
    /* The hook is gone: the next prompt does not run it. */
    CHECK_STATUS(tandem_session_send_prompt(c, id, "second", &result), TANDEM_OK);
    CHECK(pull_until(c, &log, id, "turn_ended", WAIT_MS) != NULL);
    CHECK(atomic_load(&r.calls) == 1);
    char *msgs = messages_of(c, id);
    CHECK(msgs != NULL && strstr(msgs, "checked") != NULL);
    tandem_string_free(msgs);
    evlog_free(&log);
    tandem_string_free(id);
    tandem_client_free(c);
    CHECK(atomic_load(&reentry_frees) == 1);
}

int main(int argc, char **argv)
{
    check_init(argc, argv);
    if (mkdtemp(workdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_deny_rewrite_and_context);
    RUN(test_reentrant_calls_and_self_removal);
    return check_summary();
}
