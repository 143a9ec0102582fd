/* test_sessions.c: the session manager (start, list, tokens, stop), crash restarts, and queries (sub-agents:
 * test_subagents.c). */
#include "check.h"
#include "helpers.h"

#include <sched.h>
#include <unistd.h>

static bool is_base64url(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
              *s == '_'))
            return false;
    return true;
}

/* Every per-session function answers NOT_FOUND for `id`, and writes no out-parameter. */
static void check_all_not_found(tandem_client *c, const char *id)
{
    char *out = NULL;
    tandem_session_status status = (tandem_session_status)77;
    tandem_prompt_result result = (tandem_prompt_result)77;
    CHECK_STATUS(tandem_session_stop(c, id), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_send_prompt(c, id, "hi", &result), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_send_prompt_parts(c, id, "[{\"type\":\"text\",\"text\":\"hi\"}]", &result),
                 TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_abort(c, id), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_token(c, id, &out), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_get_status(c, id, &status), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_messages(c, id, &out), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_messages_page(c, id, 0, 5, &out), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_usage(c, id, &out), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_metadata(c, id, &out), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_snapshot(c, id, &out), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_events_since(c, id, 0, &out), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_add_system_message(c, id, "note", TANDEM_MESSAGE_LEVEL_INFO), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_subagent_start(c, id, "task", NULL, &out), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_trusted_tools(c, id, &out), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_revoke_trust(c, id, NULL), TANDEM_ERR_NOT_FOUND);
    CHECK(out == NULL);
    CHECK(status == (tandem_session_status)77);
    CHECK(result == (tandem_prompt_result)77);
}

static void test_three_sessions(void)
{
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    char *ids[3] = {0}, *tokens[3] = {0};
    const char *want[3] = {"session-1", "session-2", "session-3"};
    for (int i = 0; i < 3; i++) {
        CHECK_STATUS(tandem_session_start(c, NULL, &ids[i]), TANDEM_OK);
        CHECK_STREQ(ids[i], want[i]);
    }
    REQUIRE(ids[0] && ids[1] && ids[2]);

    char *list = NULL;
    CHECK_STATUS(tandem_session_list(c, &list), TANDEM_OK);
    REQUIRE(list != NULL && json_valid(list));
    CHECK(json_len(list) == 3);
    for (long i = 0; i < 3; i++) /* in start order */
        CHECK(json_str_is(json_at(list, i), "id", want[i]));
    tandem_string_free(list);

    for (int i = 0; i < 3; i++) {
        CHECK_STATUS(tandem_session_token(c, ids[i], &tokens[i]), TANDEM_OK);
        REQUIRE(tokens[i] != NULL);
        CHECK(strlen(tokens[i]) == 43);
        CHECK(is_base64url(tokens[i]));
    }
    CHECK(strcmp(tokens[0], tokens[1]) != 0 && strcmp(tokens[1], tokens[2]) != 0 && strcmp(tokens[0], tokens[2]) != 0);
    char *again = NULL; /* stable */
    CHECK_STATUS(tandem_session_token(c, ids[1], &again), TANDEM_OK);
    CHECK_STREQ(again, tokens[1]);
    tandem_string_free(again);

    /* start_or_get of a live ID returns it (the same session: same token), without starting another. */
    char *got = NULL;
    CHECK_STATUS(tandem_session_start_or_get(c, "session-2", NULL, &got), TANDEM_OK);
    CHECK_STREQ(got, "session-2");
    tandem_string_free(got);
    char *tok = NULL;
    CHECK_STATUS(tandem_session_token(c, "session-2", &tok), TANDEM_OK);
    CHECK_STREQ(tok, tokens[1]);
    tandem_string_free(tok);

    /* An explicit ID that is taken. */
    char *dup = NULL;
    CHECK_STATUS(tandem_session_start(c, "{\"session_id\":\"session-1\"}", &dup), TANDEM_ERR_ALREADY_EXISTS);
    CHECK(dup == NULL);
    CHECK_STATUS(tandem_session_list(c, &list), TANDEM_OK);
    CHECK(json_len(list) == 3);
    tandem_string_free(list);

    /* Stop one: two remain; stopping again, and any call on it, is NOT_FOUND. */
    CHECK_STATUS(tandem_session_stop(c, ids[1]), TANDEM_OK);
    CHECK_STATUS(tandem_session_list(c, &list), TANDEM_OK);
    CHECK(json_len(list) == 2);
    CHECK(array_has(list, "id", "session-1") && array_has(list, "id", "session-3"));
    CHECK(!array_has(list, "id", "session-2"));
    tandem_string_free(list);
    check_all_not_found(c, ids[1]);

    /* The stop was announced. */
    evlog log = {0};
    const char *stopped = pull_until(c, &log, "session-2", "session_stopped", WAIT_MS);
    CHECK(stopped != NULL && json_str_is(stopped, "reason", "stopped"));
    evlog_free(&log);

    /* The others are untouched; a new generated ID does not reuse a live one. */
    tandem_session_status st;
    CHECK_STATUS(tandem_session_get_status(c, ids[0], &st), TANDEM_OK);
    CHECK(st == TANDEM_SESSION_STATUS_IDLE);
    char *fourth = NULL;
    CHECK_STATUS(tandem_session_start(c, NULL, &fourth), TANDEM_OK);
    CHECK(fourth != NULL && strcmp(fourth, "session-1") != 0 && strcmp(fourth, "session-3") != 0);
    tandem_string_free(fourth);

    for (int i = 0; i < 3; i++) {
        tandem_string_free(ids[i]);
        tandem_string_free(tokens[i]);
    }
    tandem_client_free(c);
}

static void test_start_or_get_and_explicit_ids(void)
{
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    char *id = NULL;
    CHECK_STATUS(tandem_session_start_or_get(c, "my.project_1", NULL, &id), TANDEM_OK); /* starts it */
    CHECK_STREQ(id, "my.project_1");
    tandem_string_free(id);
    CHECK_STATUS(tandem_session_start_or_get(c, "my.project_1", "{\"model\":\"scripted:echo\"}", &id), TANDEM_OK);
    CHECK_STREQ(id, "my.project_1");
    tandem_string_free(id);
    id = NULL;
    CHECK_STATUS(tandem_session_start_or_get(c, "my.project_1", "{\"session_id\":\"other\"}", &id),
                 TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_session_start_or_get(c, "../etc", NULL, &id), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_session_start_or_get(c, "", NULL, &id), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_session_start(c, "{\"session_id\":\"a/b\"}", &id), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK(id == NULL);

    /* workdir IDs are valid session IDs. */
    char *wid = NULL;
    CHECK_STATUS(tandem_workdir_session_id("/tmp/my-project", &wid), TANDEM_OK);
    CHECK_STATUS(tandem_session_start_or_get(c, wid, NULL, &id), TANDEM_OK);
    CHECK_STREQ(id, "workdir-52089b5d135e6b25");
    tandem_string_free(id);
    tandem_string_free(wid);

    /* Generated IDs still count from 1. */
    CHECK_STATUS(tandem_session_start(c, NULL, &id), TANDEM_OK);
    CHECK_STREQ(id, "session-1");
    tandem_string_free(id);
    /* An explicit session-N is skipped by generation. */
    CHECK_STATUS(tandem_session_start(c, "{\"session_id\":\"session-2\"}", &id), TANDEM_OK);
    tandem_string_free(id);
    CHECK_STATUS(tandem_session_start(c, NULL, &id), TANDEM_OK);
    CHECK_STREQ(id, "session-3");
    tandem_string_free(id);
    id = NULL;

    /* Options that are well-formed but not acceptable. */
    CHECK_STATUS(tandem_session_start(c, "{\"modle\":\"scripted:echo\"}", &id), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK(strstr(tandem_last_error_message(), "modle") != NULL);
    CHECK_STATUS(tandem_session_start(c, "{\"model\":\"scripted:nope\"}", &id), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_session_start(c, "{\"model\":\"echo\"}", &id), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_session_start(c, "{\"script\":[[{\"bogus\":1}]]}", &id), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_session_start(c, "{\"max_turns\":0}", &id), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_session_start(c, "{\"workdir\":\"/definitely/not/here\"}", &id), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_session_start(c, "[]", &id), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK(id == NULL);
    tandem_client_free(c);
}

/* Runs one prompt to its turn_ended through the pull API; returns the turn_ended event (owned by log) or NULL. */
static const char *prompt_and_wait(tandem_client *c, evlog *log, const char *id, const char *prompt)
{
    tandem_status st;
    RETRY_PENDING(st, tandem_session_send_prompt(c, id, prompt, NULL));
    CHECK_STATUS(st, TANDEM_OK);
    if (st != TANDEM_OK)
        return NULL;
    return pull_until(c, log, id, "turn_ended", WAIT_MS);
}

static void test_messages_page_and_system_messages(void)
{
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    char *id = NULL;
    REQUIRE_STATUS(tandem_session_start(c, NULL, &id), TANDEM_OK);
    evlog log = {0};
    CHECK(prompt_and_wait(c, &log, id, "one two") != NULL);
    CHECK_STATUS(tandem_session_add_system_message(c, id, "for your information", TANDEM_MESSAGE_LEVEL_INFO),
                 TANDEM_OK);
    CHECK_STATUS(tandem_session_add_system_message(c, id, "something failed", TANDEM_MESSAGE_LEVEL_ERROR), TANDEM_OK);
    CHECK_STATUS(tandem_session_add_system_message(c, id, "bad level", (tandem_message_level)99),
                 TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_session_add_system_message(c, id, "bad level", (tandem_message_level)2),
                 TANDEM_ERR_INVALID_ARGUMENT);

    char *all = messages_of(c, id);
    REQUIRE(all != NULL && json_valid(all));
    long n = json_len(all);
    CHECK(n >= 5);
    const char *info = json_at(all, n - 2), *err = json_at(all, n - 1);
    CHECK(json_str_is(info, "kind", "system") && json_str_is(info, "level", "info") &&
          json_str_is(info, "text", "for your information"));
    CHECK(json_str_is(err, "kind", "system") && json_str_is(err, "level", "error") &&
          json_str_is(err, "text", "something failed"));
    CHECK(!array_has(all, "text", "bad level"));
    /* IDs are increasing, oldest first. */
    uint64_t prev = 0;
    for (long i = 0; i < n; i++) {
        uint64_t mid = 0;
        CHECK(json_get_u64(json_at(all, i), "id", &mid) && mid > prev);
        prev = mid;
    }

    /* Pages: newest first, then backwards from the last ID seen, until has_more is false. */
    uint64_t before = 0;
    long seen = 0;
    for (int page = 0; page < 100; page++) {
        char *p = NULL;
        CHECK_STATUS(tandem_session_messages_page(c, id, before, 2, &p), TANDEM_OK);
        REQUIRE(p != NULL && json_valid(p));
        const char *msgs = json_get(p, "messages");
        long len = json_len(msgs);
        CHECK(len >= 1 && len <= 2);
        for (long i = 0; i < len; i++) {
            uint64_t mid = 0, want = 0;
            CHECK(json_get_u64(json_at(msgs, i), "id", &mid));
            CHECK(json_get_u64(json_at(all, n - 1 - seen), "id", &want));
            CHECK(mid == want);
            before = mid;
            seen++;
        }
        const char *more = json_get(p, "has_more");
        bool has_more = more != NULL && strncmp(more, "true", 4) == 0;
        CHECK(more != NULL && (has_more || strncmp(more, "false", 5) == 0));
        tandem_string_free(p);
        if (!has_more)
            break;
    }
    CHECK(seen == n);
    char *p = NULL;
    CHECK_STATUS(tandem_session_messages_page(c, id, 0, 0, &p), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK(p == NULL);
    CHECK_STATUS(tandem_session_messages_page(c, id, 0, 1000, &p), TANDEM_OK);
    CHECK(p != NULL && json_len(json_get(p, "messages")) == n && strstr(p, "\"has_more\":false") != NULL);
    tandem_string_free(p);

    tandem_string_free(all);
    evlog_free(&log);
    tandem_string_free(id);
    tandem_client_free(c);
}

static void test_abort_and_steering(void)
{
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    char *id = NULL;
    REQUIRE_STATUS(tandem_session_start(c,
                                        "{\"script\":[[{\"text\":\"slow \"},{\"stall_ms\":60000}],"
                                        "[{\"delay_ms\":200},{\"text\":\"one\"}],[{\"text\":\"two\"}]]}",
                                        &id),
                   TANDEM_OK);
    /* Abort with nothing running is a no-op: no "Aborted" notice. */
    CHECK_STATUS(tandem_session_abort(c, id), TANDEM_OK);
    char *m = messages_of(c, id);
    CHECK(m != NULL && !array_has(m, "text", "Aborted"));
    tandem_string_free(m);

    /* Abort a stalled turn. */
    tandem_prompt_result r = (tandem_prompt_result)77;
    CHECK_STATUS(tandem_session_send_prompt(c, id, "stall", &r), TANDEM_OK);
    CHECK(r == TANDEM_PROMPT_RESULT_SENT);
    evlog log = {0};
    CHECK(pull_until(c, &log, id, "text_delta", WAIT_MS) != NULL);
    tandem_session_status st;
    CHECK_STATUS(tandem_session_get_status(c, id, &st), TANDEM_OK);
    CHECK(st == TANDEM_SESSION_STATUS_THINKING);
    CHECK_STATUS(tandem_session_abort(c, id), TANDEM_OK);
    const char *ended = pull_until(c, &log, id, "turn_ended", WAIT_MS);
    CHECK(ended != NULL && json_str_is(ended, "reason", "aborted"));
    CHECK_STATUS(tandem_session_get_status(c, id, &st), TANDEM_OK);
    CHECK(st == TANDEM_SESSION_STATUS_IDLE);
    m = messages_of(c, id);
    CHECK(m != NULL && array_has(m, "text", "Aborted"));
    tandem_string_free(m);

    /* A prompt sent while a turn runs is queued as steering; both prompts end with one turn_ended each. */
    CHECK_STATUS(tandem_session_send_prompt(c, id, "first", &r), TANDEM_OK);
    CHECK(r == TANDEM_PROMPT_RESULT_SENT);
    CHECK_STATUS(tandem_session_send_prompt(c, id, "second", &r), TANDEM_OK);
    CHECK(r == TANDEM_PROMPT_RESULT_QUEUED_STEERING);
    const char *queued = pull_until(c, &log, id, "prompt_queued", WAIT_MS);
    CHECK(queued != NULL && json_str_is(queued, "queue", "steering"));
    size_t ends_before = evlog_count(&log, id, "turn_ended");
    CHECK(pull_until(c, &log, id, "turn_ended", WAIT_MS) != NULL);
    CHECK(pull_until(c, &log, id, "turn_ended", WAIT_MS) != NULL);
    CHECK(evlog_count(&log, id, "turn_ended") == ends_before + 2);
    m = messages_of(c, id);
    char *last = m ? last_message_text(m, "assistant") : NULL;
    CHECK_STREQ(last, "two");
    free(last);
    tandem_string_free(m);
    char *ev = NULL; /* nothing more: no extra turn_ended */
    CHECK_STATUS(tandem_client_next_event(c, 100, &ev), TANDEM_ERR_TIMEOUT);
    tandem_string_free(ev);

    evlog_free(&log);
    tandem_string_free(id);
    tandem_client_free(c);
}

/* True when `entries` (a JSON array of queue entries, each an array of content parts) holds exactly the texts given,
 * one single-text entry each, in order. */
static bool entries_are(const char *entries, int n, const char *const *texts)
{
    if (json_len(entries) != n)
        return false;
    for (int i = 0; i < n; i++) {
        const char *entry = json_at(entries, i);
        if (json_len(entry) != 1 || !json_str_is(json_at(entry, 0), "type", "text") ||
            !json_str_is(json_at(entry, 0), "text", texts[i]))
            return false;
    }
    return true;
}

static void test_queues(void)
{
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    char *id = NULL;
    REQUIRE_STATUS(tandem_session_start(c, "{\"script\":[[{\"text\":\"a\"},{\"stall_ms\":60000}],"
                                           "[{\"text\":\"after\"}]]}",
                                        &id),
                   TANDEM_OK);
    evlog log = {0};
    tandem_prompt_result r = (tandem_prompt_result)77;
    CHECK_STATUS(tandem_session_send_prompt(c, id, "first", &r), TANDEM_OK);
    CHECK(r == TANDEM_PROMPT_RESULT_SENT);
    CHECK(pull_until(c, &log, id, "text_delta", WAIT_MS) != NULL);

    /* While the turn runs: steering and follow-ups queue up. */
    CHECK_STATUS(tandem_session_queue_steering(c, id, "s1", &r), TANDEM_OK);
    CHECK(r == TANDEM_PROMPT_RESULT_QUEUED_STEERING);
    CHECK_STATUS(tandem_session_queue_follow_up(c, id, "f1", &r), TANDEM_OK);
    CHECK(r == TANDEM_PROMPT_RESULT_QUEUED_FOLLOW_UP);
    CHECK_STATUS(tandem_session_send_prompt(c, id, "s2", &r), TANDEM_OK);
    CHECK(r == TANDEM_PROMPT_RESULT_QUEUED_STEERING);
    const char *q = pull_until(c, &log, id, "prompt_queued", WAIT_MS);
    CHECK(q != NULL && json_str_is(q, "queue", "steering"));
    q = pull_until(c, &log, id, "prompt_queued", WAIT_MS);
    CHECK(q != NULL && json_str_is(q, "queue", "follow_up"));

    char *out = NULL;
    CHECK_STATUS(tandem_session_queued_messages(c, id, &out), TANDEM_OK);
    REQUIRE(out != NULL && json_valid(out));
    CHECK(entries_are(json_get(out, "steering"), 2, (const char *const[]){"s1", "s2"}));
    CHECK(entries_are(json_get(out, "follow_up"), 1, (const char *const[]){"f1"}));
    tandem_string_free(out);

    /* Dequeue takes the steering back, follow-ups stay. */
    CHECK_STATUS(tandem_session_dequeue_steering(c, id, &out), TANDEM_OK);
    REQUIRE(out != NULL && json_valid(out));
    CHECK(entries_are(out, 2, (const char *const[]){"s1", "s2"}));
    tandem_string_free(out);
    CHECK(pull_until(c, &log, id, "queues_recalled", WAIT_MS) != NULL);
    CHECK_STATUS(tandem_session_queued_messages(c, id, &out), TANDEM_OK);
    CHECK(out != NULL && entries_are(json_get(out, "steering"), 0, NULL) &&
          entries_are(json_get(out, "follow_up"), 1, (const char *const[]){"f1"}));
    tandem_string_free(out);

    /* Recall takes both back and leaves both empty. */
    CHECK_STATUS(tandem_session_queue_steering(c, id, "s3", &r), TANDEM_OK);
    CHECK_STATUS(tandem_session_recall_queues(c, id, &out), TANDEM_OK);
    REQUIRE(out != NULL && json_valid(out));
    CHECK(entries_are(json_get(out, "steering"), 1, (const char *const[]){"s3"}));
    CHECK(entries_are(json_get(out, "follow_up"), 1, (const char *const[]){"f1"}));
    tandem_string_free(out);
    size_t recalled = evlog_count(&log, id, "queues_recalled");
    CHECK(pull_until(c, &log, id, "queues_recalled", WAIT_MS) != NULL);
    CHECK(evlog_count(&log, id, "queues_recalled") == recalled + 1);
    CHECK_STATUS(tandem_session_queued_messages(c, id, &out), TANDEM_OK);
    CHECK(out != NULL && entries_are(json_get(out, "steering"), 0, NULL) &&
          entries_are(json_get(out, "follow_up"), 0, NULL));
    tandem_string_free(out);

    /* A follow-up with an image keeps it in the queue. */
    CHECK_STATUS(tandem_session_queue_follow_up_parts(
                     c, id, "[{\"type\":\"text\",\"text\":\"pic\"},{\"type\":\"image\",\"media_type\":\"image/png\","
                     "\"data\":\"iVBORw0KGgo=\"}]",
                     &r),
                 TANDEM_OK);
    CHECK(r == TANDEM_PROMPT_RESULT_QUEUED_FOLLOW_UP);
    CHECK_STATUS(tandem_session_queued_messages(c, id, &out), TANDEM_OK);
    CHECK(out != NULL && strstr(out, "\"data\":\"iVBORw0KGgo=\"") != NULL);
    tandem_string_free(out);

    /* Clear empties them. */
    CHECK_STATUS(tandem_session_queue_follow_up(c, id, "f2", &r), TANDEM_OK);
    CHECK_STATUS(tandem_session_clear_queues(c, id), TANDEM_OK);
    CHECK_STATUS(tandem_session_queued_messages(c, id, &out), TANDEM_OK);
    CHECK(out != NULL && entries_are(json_get(out, "follow_up"), 0, NULL));
    tandem_string_free(out);

    /* Abort keeps what is queued. */
    CHECK_STATUS(tandem_session_queue_follow_up(c, id, "f3", &r), TANDEM_OK);
    CHECK(r == TANDEM_PROMPT_RESULT_QUEUED_FOLLOW_UP);
    CHECK_STATUS(tandem_session_abort(c, id), TANDEM_OK);
    const char *ended = pull_until(c, &log, id, "turn_ended", WAIT_MS);
    CHECK(ended != NULL && json_str_is(ended, "reason", "aborted"));
    CHECK_STATUS(tandem_session_queued_messages(c, id, &out), TANDEM_OK);
    CHECK(out != NULL && entries_are(json_get(out, "follow_up"), 1, (const char *const[]){"f3"}));
    tandem_string_free(out);
    CHECK_STATUS(tandem_session_clear_queues(c, id), TANDEM_OK);

    /* Idle: a follow-up starts a turn right away. */
    CHECK_STATUS(tandem_session_queue_follow_up(c, id, "f4", &r), TANDEM_OK);
    CHECK(r == TANDEM_PROMPT_RESULT_SENT);
    ended = pull_until(c, &log, id, "turn_ended", WAIT_MS);
    CHECK(ended != NULL && json_str_is(ended, "reason", "completed"));
    check_last_exchange(c, id, "f4", "after");

    evlog_free(&log);
    tandem_string_free(id);
    tandem_client_free(c);
}

static void test_prompt_parts_and_errors(void)
{
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    char *id = NULL;
    REQUIRE_STATUS(tandem_session_start(c, NULL, &id), TANDEM_OK);
    evlog log = {0};
    tandem_prompt_result r = (tandem_prompt_result)77;
    /* "iVBORw0KGgo=" is the 8-byte PNG signature. */
    CHECK_STATUS(tandem_session_send_prompt_parts(c, id,
                                                  "[{\"type\":\"text\",\"text\":\"look at \"},"
                                                  "{\"type\":\"image\",\"media_type\":\"image/png\","
                                                  "\"data\":\"iVBORw0KGgo=\"},{\"type\":\"text\",\"text\":\"this\"}]",
                                                  &r),
                 TANDEM_OK);
    CHECK(r == TANDEM_PROMPT_RESULT_SENT);
    CHECK(pull_until(c, &log, id, "turn_ended", WAIT_MS) != NULL);
    char *m = messages_of(c, id);
    REQUIRE(m != NULL);
    char *user = last_message_text(m, "user"), *answer = last_message_text(m, "assistant");
    CHECK_STREQ(user, "look at this");
    CHECK_STREQ(answer, "look at this");
    CHECK(strstr(m, "\"media_type\":\"image/png\"") != NULL && strstr(m, "\"size_bytes\":8") != NULL);
    CHECK(strstr(m, "iVBORw0KGgo=") == NULL); /* image data stays out of the transcript JSON */
    /* ... and the host fetches it by message ID to show the image again. */
    uint64_t user_id = 0;
    for (long i = 0; i < json_len(m); i++)
        if (json_str_is(json_at(m, i), "kind", "user"))
            json_get_u64(json_at(m, i), "id", &user_id);
    char *parts = NULL;
    CHECK_STATUS(tandem_session_message_parts(c, id, user_id, &parts), TANDEM_OK);
    CHECK_STREQ(parts, "[{\"type\":\"text\",\"text\":\"look at \"},{\"type\":\"image\",\"media_type\":"
                       "\"image/png\",\"data\":\"iVBORw0KGgo=\"},{\"type\":\"text\",\"text\":\"this\"}]");
    tandem_string_free(parts);
    free(user);
    free(answer);
    tandem_string_free(m);

    CHECK_STATUS(tandem_session_send_prompt_parts(c, id, "[]", NULL), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_session_send_prompt_parts(c, id, "{\"type\":\"text\",\"text\":\"x\"}", NULL),
                 TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_session_send_prompt_parts(c, id, "[{\"type\":\"video\"}]", NULL), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_session_send_prompt_parts(
                     c, id, "[{\"type\":\"image\",\"media_type\":\"image/png\",\"data\":\"not base64!\"}]", NULL),
                 TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_session_send_prompt_parts(
                     c, id, "[{\"type\":\"image\",\"media_type\":\"text/plain\",\"data\":\"aGk=\"}]", NULL),
                 TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_session_send_prompt_parts(c, id, "[{\"type\":\"text\",\"text\":\"x\"", NULL),
                 TANDEM_ERR_INVALID_JSON);
    /* An empty or blank prompt is refused, whatever its form. */
    CHECK_STATUS(tandem_session_send_prompt(c, id, "", NULL), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_session_send_prompt(c, id, " \n ", NULL), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_session_queue_follow_up(c, id, "", NULL), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_session_send_prompt_parts(c, id, "[{\"type\":\"text\",\"text\":\"\"}]", NULL),
                 TANDEM_ERR_INVALID_ARGUMENT);
    /* A listed slash command runs instead of being sent: /plan enters plan mode, and command_ran reports it. */
    r = (tandem_prompt_result)77;
    CHECK_STATUS(tandem_session_send_prompt(c, id, "/plan", &r), TANDEM_OK);
    CHECK(r == TANDEM_PROMPT_RESULT_COMMAND);
    const char *ran = pull_until(c, &log, id, "command_ran", WAIT_MS);
    CHECK(ran != NULL && json_str_is(ran, "command", "plan"));
    tandem_session_status plan_status;
    CHECK_STATUS(tandem_session_get_status(c, id, &plan_status), TANDEM_OK);
    CHECK(plan_status == TANDEM_SESSION_STATUS_PLAN);
    CHECK_STATUS(tandem_session_send_prompt(c, id, "/exec", &r), TANDEM_OK);
    CHECK(r == TANDEM_PROMPT_RESULT_COMMAND);
    evlog_free(&log);
    tandem_string_free(id);

    /* A model error ends the turn with reason "error", leaves status ERROR with the message in the snapshot, and
     * the next prompt is accepted. */
    REQUIRE_STATUS(tandem_session_start(c,
                                        "{\"script\":[[{\"text\":\"partial\"},"
                                        "{\"error\":{\"status\":500,\"message\":\"upstream exploded\"}}],"
                                        "[{\"text\":\"recovered\"}]]}",
                                        &id),
                   TANDEM_OK);
    CHECK_STATUS(tandem_session_send_prompt(c, id, "go", NULL), TANDEM_OK);
    const char *ended = pull_until(c, &log, id, "turn_ended", WAIT_MS);
    CHECK(ended != NULL && json_str_is(ended, "reason", "error"));
    CHECK(evlog_count(&log, id, "error") == 1);
    tandem_session_status st;
    CHECK_STATUS(tandem_session_get_status(c, id, &st), TANDEM_OK);
    CHECK(st == TANDEM_SESSION_STATUS_ERROR);
    char *snap = NULL;
    CHECK_STATUS(tandem_session_snapshot(c, id, &snap), TANDEM_OK);
    REQUIRE(snap != NULL && json_valid(snap));
    char *err = json_get_str(snap, "error");
    CHECK(err != NULL && strstr(err, "upstream exploded") != NULL);
    CHECK(json_str_is(snap, "status", "error"));
    free(err);
    tandem_string_free(snap);
    ended = prompt_and_wait(c, &log, id, "again");
    CHECK(ended != NULL && json_str_is(ended, "reason", "completed"));
    CHECK_STATUS(tandem_session_get_status(c, id, &st), TANDEM_OK);
    CHECK(st == TANDEM_SESSION_STATUS_IDLE);
    CHECK_STATUS(tandem_session_snapshot(c, id, &snap), TANDEM_OK);
    CHECK(snap != NULL && json_is_null(json_get(snap, "error")));
    tandem_string_free(snap);

    evlog_free(&log);
    tandem_string_free(id);
    tandem_client_free(c);
}

static void test_stop_closes_running_turn(void)
{
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    char *id = NULL;
    REQUIRE_STATUS(tandem_session_start(c, "{\"script\":[[{\"text\":\"a\"},{\"stall_ms\":60000}]]}", &id), TANDEM_OK);
    CHECK_STATUS(tandem_session_send_prompt(c, id, "go", NULL), TANDEM_OK);
    evlog log = {0};
    CHECK(pull_until(c, &log, id, "text_delta", WAIT_MS) != NULL);
    uint64_t t0 = now_ms();
    CHECK_STATUS(tandem_session_stop(c, id), TANDEM_OK);
    CHECK(now_ms() - t0 < 5000);
    const char *ended = pull_until(c, &log, id, "turn_ended", WAIT_MS);
    CHECK(ended != NULL && json_str_is(ended, "reason", "aborted"));
    const char *stopped = pull_until(c, &log, id, "session_stopped", WAIT_MS);
    CHECK(stopped != NULL && json_str_is(stopped, "reason", "stopped"));
    CHECK_STATUS(tandem_session_stop(c, id), TANDEM_ERR_NOT_FOUND);
    evlog_free(&log);
    tandem_string_free(id);
    tandem_client_free(c);
}

static void test_panic_and_restart(void)
{
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    char *id = NULL;
    REQUIRE_STATUS(tandem_session_start(c, "{\"script\":[[{\"text\":\"before\"}],[{\"panic\":\"boom\"}],"
                                           "[{\"text\":\"after\"}]]}",
                                        &id),
                   TANDEM_OK);
    evlog log = {0};
    const char *ended = prompt_and_wait(c, &log, id, "first");
    CHECK(ended != NULL && json_str_is(ended, "reason", "completed"));
    char *token = NULL;
    CHECK_STATUS(tandem_session_token(c, id, &token), TANDEM_OK);
    char *before = messages_of(c, id);
    REQUIRE(token != NULL && before != NULL);
    char *answer = last_message_text(before, "assistant");
    CHECK_STREQ(answer, "before");
    free(answer);

    /* The second model call panics inside the session: it is restarted, the client goes on. */
    CHECK_STATUS(tandem_session_send_prompt(c, id, "second", NULL), TANDEM_OK);
    const char *restarted = pull_until(c, &log, id, "session_restarted", WAIT_MS);
    REQUIRE(restarted != NULL);
    uint64_t attempt = 0;
    CHECK(json_get_u64(restarted, "attempt", &attempt) && attempt == 1);
    char *reason = json_get_str(restarted, "reason");
    CHECK(reason != NULL && strstr(reason, "boom") != NULL);
    free(reason);
    /* The turn in flight was closed as interrupted, before the restart was announced. */
    size_t interrupted_at = log.len, restarted_at = log.len;
    for (size_t i = 0; i < log.len; i++) {
        if (ev_is(log.items[i], id, "turn_ended") && json_str_is(log.items[i], "reason", "interrupted"))
            interrupted_at = i;
        if (ev_is(log.items[i], id, "session_restarted"))
            restarted_at = i;
    }
    CHECK(interrupted_at < restarted_at);
    CHECK(evlog_count(&log, id, "turn_ended") == 2);

    /* Same token; the first turn's messages are still there (byte for byte, as a prefix of the transcript). */
    char *token2 = NULL;
    tandem_status st;
    RETRY_PENDING(st, tandem_session_token(c, id, &token2));
    CHECK_STATUS(st, TANDEM_OK);
    CHECK_STREQ(token2, token);
    char *after = messages_of(c, id);
    REQUIRE(after != NULL);
    CHECK(strncmp(after, before, strlen(before) - 1) == 0);
    CHECK(count_messages(after, "user") == 2);
    tandem_session_status status;
    RETRY_PENDING(st, tandem_session_get_status(c, id, &status));
    CHECK(st == TANDEM_OK && status == TANDEM_SESSION_STATUS_IDLE);

    /* A third prompt works and gets the next scripted answer. */
    ended = prompt_and_wait(c, &log, id, "third");
    CHECK(ended != NULL && json_str_is(ended, "reason", "completed"));
    char *final = messages_of(c, id);
    answer = final ? last_message_text(final, "assistant") : NULL;
    CHECK_STREQ(answer, "after");
    free(answer);
    tandem_string_free(final);

    /* Sequence numbers went on across the restart: strictly increasing by one. */
    uint64_t expect = 1;
    for (size_t i = 0; i < log.len; i++) {
        uint64_t seq = 0;
        if (!ev_is(log.items[i], id, NULL))
            continue;
        CHECK(json_get_u64(log.items[i], "seq", &seq) && seq == expect);
        expect = seq + 1;
    }

    tandem_string_free(after);
    tandem_string_free(before);
    tandem_string_free(token);
    tandem_string_free(token2);
    evlog_free(&log);
    tandem_string_free(id);
    tandem_client_free(c);
}

static void test_restart_exhausted(void)
{
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    char *id = NULL;
    REQUIRE_STATUS(tandem_session_start(c, "{\"restart\":{\"max_attempts\":3},\"script\":[[{\"panic\":\"p1\"}],"
                                           "[{\"panic\":\"p2\"}],[{\"panic\":\"p3\"}],[{\"panic\":\"p4\"}]]}",
                                        &id),
                   TANDEM_OK);
    char *other = NULL; /* a bystander session keeps working throughout */
    REQUIRE_STATUS(tandem_session_start(c, NULL, &other), TANDEM_OK);
    evlog log = {0};
    for (int crash = 1; crash <= 4; crash++) {
        tandem_status st;
        RETRY_PENDING(st, tandem_session_send_prompt(c, id, "crash", NULL));
        CHECK_STATUS(st, TANDEM_OK);
        const char *kind = crash <= 3 ? "session_restarted" : "session_stopped";
        const char *ev = pull_until(c, &log, id, kind, WAIT_MS);
        REQUIRE(ev != NULL);
        if (crash <= 3) {
            uint64_t attempt = 0;
            CHECK(json_get_u64(ev, "attempt", &attempt) && attempt == (uint64_t)crash);
        } else {
            CHECK(json_str_is(ev, "reason", "restart_exhausted"));
            char *detail = json_get_str(ev, "detail");
            CHECK(detail != NULL && strstr(detail, "p4") != NULL);
            free(detail);
        }
    }
    CHECK(evlog_count(&log, id, "session_restarted") == 3);
    CHECK(evlog_count(&log, id, "session_stopped") == 1);
    /* Gone for good. */
    check_all_not_found(c, id);
    char *list = NULL;
    CHECK_STATUS(tandem_session_list(c, &list), TANDEM_OK);
    CHECK(list != NULL && json_len(list) == 1 && array_has(list, "id", other));
    tandem_string_free(list);
    CHECK(prompt_and_wait(c, &log, other, "still fine") != NULL);
    evlog_free(&log);
    tandem_string_free(other);
    tandem_string_free(id);
    tandem_client_free(c);
}

static void test_events_since(void)
{
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    char *id = NULL;
    REQUIRE_STATUS(tandem_session_start(c, NULL, &id), TANDEM_OK);
    evlog log = {0};
    const char *ended = prompt_and_wait(c, &log, id, "catch me up");
    REQUIRE(ended != NULL);
    uint64_t last_seq = 0;
    CHECK(json_get_u64(ended, "seq", &last_seq) && last_seq > 1);

    char *all = NULL;
    CHECK_STATUS(tandem_session_events_since(c, id, 0, &all), TANDEM_OK);
    REQUIRE(all != NULL && json_valid(all));
    uint64_t latest = 0;
    CHECK(json_get_u64(all, "latest_seq", &latest) && latest == last_seq);
    CHECK(strstr(all, "\"truncated\":false") != NULL);
    const char *events = json_get(all, "events");
    CHECK(json_len(events) == (long)last_seq);
    CHECK((size_t)json_len(events) == evlog_count(&log, id, NULL));
    for (long i = 0; i < json_len(events); i++) {
        const char *ev = json_at(events, i);
        uint64_t seq = 0;
        CHECK(json_get_u64(ev, "seq", &seq) && seq == (uint64_t)i + 1);
        CHECK(json_str_is(ev, "session_id", id));
        /* The same events the pull API delivered (same kinds in the same order). */
        char *k1 = json_get_str(ev, "kind"), *k2 = json_get_str(log.items[i], "kind");
        CHECK(k1 != NULL && k2 != NULL && strcmp(k1, k2) == 0);
        free(k1);
        free(k2);
    }
    CHECK(json_str_is(json_at(events, 0), "kind", "session_started"));
    tandem_string_free(all);

    char *none = NULL;
    CHECK_STATUS(tandem_session_events_since(c, id, latest, &none), TANDEM_OK);
    CHECK(none != NULL && json_len(json_get(none, "events")) == 0);
    CHECK(none != NULL && json_get_u64(none, "latest_seq", &latest) && latest == last_seq);
    tandem_string_free(none);
    CHECK_STATUS(tandem_session_events_since(c, id, latest - 2, &none), TANDEM_OK);
    CHECK(none != NULL && json_len(json_get(none, "events")) == 2);
    tandem_string_free(none);
    CHECK_STATUS(tandem_session_events_since(c, id, UINT64_MAX, &none), TANDEM_OK);
    CHECK(none != NULL && json_len(json_get(none, "events")) == 0);
    tandem_string_free(none);
    evlog_free(&log);
    tandem_string_free(id);
    tandem_client_free(c);

    /* A small history keeps only the newest events and says so. */
    REQUIRE_STATUS(tandem_client_new("{\"store_dir\":null,\"event_history_capacity\":4}", &c), TANDEM_OK);
    REQUIRE_STATUS(tandem_session_start(c, NULL, &id), TANDEM_OK);
    ended = prompt_and_wait(c, &log, id, "a b c d e f");
    REQUIRE(ended != NULL);
    CHECK(json_get_u64(ended, "seq", &last_seq));
    CHECK_STATUS(tandem_session_events_since(c, id, 0, &all), TANDEM_OK);
    REQUIRE(all != NULL);
    CHECK(strstr(all, "\"truncated\":true") != NULL);
    CHECK(json_len(json_get(all, "events")) == 4);
    uint64_t first = 0;
    CHECK(json_get_u64(json_at(json_get(all, "events"), 0), "seq", &first) && first == last_seq - 3);
    tandem_string_free(all);
    CHECK_STATUS(tandem_session_events_since(c, id, last_seq - 4, &all), TANDEM_OK);
    CHECK(all != NULL && strstr(all, "\"truncated\":false") != NULL);
    tandem_string_free(all);
    evlog_free(&log);
    tandem_string_free(id);
    tandem_client_free(c);
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* Calls racing a stop or a shutdown: "a host may race stop against other calls freely" (C-ABI.md). A racing call
 * succeeds or finds the session gone; it must never claim a crash (RESTART_PENDING) or fail otherwise. */

typedef struct {
    tandem_client *c;
    char id[64];
    tandem_status end;       /* the status that tells this thread the race is over */
    tandem_status also_fine; /* besides TANDEM_OK and `end` */
    atomic_int calls;
    pthread_mutex_t mu;
    int unexpected[32];
    char first_message[256];
} racer;

static void *race_calls(void *arg)
{
    racer *r = arg;
    for (unsigned i = 0;; i++) {
        tandem_status st;
        tandem_session_status status;
        switch (i % 8) {
        case 0: st = tandem_session_send_prompt(r->c, r->id, "go", NULL); break;
        case 1: st = tandem_session_abort(r->c, r->id); break;
        case 7: st = tandem_session_get_status(r->c, r->id, &status); break;
        default: st = tandem_session_add_system_message(r->c, r->id, "note", TANDEM_MESSAGE_LEVEL_INFO); break;
        }
        atomic_fetch_add(&r->calls, 1);
        if (st == r->end)
            return NULL;
        if (st != TANDEM_OK && st != r->also_fine) {
            pthread_mutex_lock(&r->mu);
            if (r->first_message[0] == '\0')
                snprintf(r->first_message, sizeof r->first_message, "%s: %s", tandem_status_name(st),
                         tandem_last_error_message());
            r->unexpected[st < 32 ? st : 31]++;
            pthread_mutex_unlock(&r->mu);
        }
    }
}

/* Starts RACERS threads calling into session r->id (more threads than cores, so some get preempted inside the
 * library), lets them run a little (a varying amount: round i), runs `stop` and waits for the threads to see the
 * end. */
#define RACERS 4
static void race_round(racer *r, int i, tandem_status (*stop)(racer *))
{
    pthread_t t[RACERS];
    for (int k = 0; k < RACERS; k++)
        if (pthread_create(&t[k], NULL, race_calls, r) != 0)
            abort();
    while (atomic_load(&r->calls) < 16 + i % 23)
        sched_yield();
    CHECK_STATUS(stop(r), TANDEM_OK);
    for (int k = 0; k < RACERS; k++)
        pthread_join(t[k], NULL);
}

static tandem_status stop_session(racer *r)
{
    return tandem_session_stop(r->c, r->id);
}

static tandem_status shutdown_client(racer *r)
{
    return tandem_client_shutdown(r->c, 5000);
}

static void racer_add(racer *totals, const racer *r)
{
    for (int k = 0; k < 32; k++)
        totals->unexpected[k] += r->unexpected[k];
    if (totals->first_message[0] == '\0')
        memcpy(totals->first_message, r->first_message, sizeof r->first_message);
}

static void report_race(const racer *totals, const char *what)
{
    for (int k = 0; k < 32; k++) {
        if (totals->unexpected[k] == 0)
            continue;
        char detail[512];
        snprintf(detail, sizeof detail, "%d calls racing %s returned %s (first: \"%s\")", totals->unexpected[k], what,
                 tandem_status_name((tandem_status)k), totals->first_message);
        check_fail(__FILE__, __LINE__, "calls racing a stop/shutdown return only OK, NOT_FOUND or SHUTTING_DOWN",
                   detail);
    }
}

static void test_calls_racing_stop(void)
{
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new("{\"store_dir\":null,\"pull_events\":false}", &c), TANDEM_OK);
    racer totals;
    memset(&totals, 0, sizeof totals);
    for (int i = 0; i < 600; i++) {
        racer r;
        memset(&r, 0, sizeof r);
        pthread_mutex_init(&r.mu, NULL);
        r.c = c;
        r.end = TANDEM_ERR_NOT_FOUND;
        r.also_fine = TANDEM_ERR_NOT_FOUND;
        char *id = NULL;
        REQUIRE_STATUS(tandem_session_start(c, NULL, &id), TANDEM_OK);
        snprintf(r.id, sizeof r.id, "%s", id);
        tandem_string_free(id);
        race_round(&r, i, stop_session);
        racer_add(&totals, &r);
        pthread_mutex_destroy(&r.mu);
    }
    report_race(&totals, "tandem_session_stop");
    tandem_client_free(c);
}

static void test_calls_racing_shutdown(void)
{
    racer totals;
    memset(&totals, 0, sizeof totals);
    for (int i = 0; i < 150; i++) {
        racer r;
        memset(&r, 0, sizeof r);
        pthread_mutex_init(&r.mu, NULL);
        REQUIRE_STATUS(tandem_client_new("{\"store_dir\":null,\"pull_events\":false}", &r.c), TANDEM_OK);
        r.end = TANDEM_ERR_SHUTTING_DOWN;
        r.also_fine = TANDEM_ERR_NOT_FOUND; /* the shutdown stopped the session under the call */
        char *id = NULL;
        REQUIRE_STATUS(tandem_session_start(r.c, NULL, &id), TANDEM_OK);
        snprintf(r.id, sizeof r.id, "%s", id);
        tandem_string_free(id);
        race_round(&r, i, shutdown_client);
        tandem_client_free(r.c);
        racer_add(&totals, &r);
        pthread_mutex_destroy(&r.mu);
    }
    report_race(&totals, "tandem_client_shutdown");
}

/* Host tools: one answered inside its callback, one answered later from a thread of the host's own. */
typedef struct {
    int frees;
    int calls;
    char last_args[256];
    char last_session[64];
} tool_state;

static void tool_state_free(void *userdata)
{
    ((tool_state *)userdata)->frees++;
}

static void answer_now(void *userdata, tandem_tool_call *call, const tandem_tool_invocation *inv)
{
    tool_state *s = userdata;
    s->calls++;
    snprintf(s->last_args, sizeof s->last_args, "%s", inv->args_json);
    snprintf(s->last_session, sizeof s->last_session, "%s", inv->session_id);
    CHECK(!tandem_tool_call_is_cancelled(call));
    CHECK_STREQ(inv->name, "clock");
    CHECK_STATUS(tandem_tool_call_complete(call, "12:00", false), TANDEM_OK);
    /* The handle is spent: a second answer is refused, not a crash. */
    CHECK_STATUS(tandem_tool_call_complete(call, "again", false), TANDEM_ERR_NOT_FOUND);
}

static void *complete_later(void *arg)
{
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    tandem_tool_call *call = arg;
    CHECK_STATUS(tandem_tool_call_complete(call, "disk is full", true), TANDEM_OK);
    return NULL;
}

static void answer_later(void *userdata, tandem_tool_call *call, const tandem_tool_invocation *inv)
{
    tool_state *s = userdata;
    (void)inv;
    s->calls++;
    pthread_t t;
    if (pthread_create(&t, NULL, complete_later, call) == 0)
        pthread_detach(t);
    else
        tandem_tool_call_complete(call, "no thread", true);
}

static void test_host_tools(void)
{
    SKIP_TEST_IF_REMOTE("host tools run in the gateway's process: tandem_client_register_tool has no remote form");
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    tool_state now = {0}, later = {0};
    CHECK_STATUS(tandem_client_register_tool(
                     c, "{\"name\":\"clock\",\"description\":\"Tells the time.\",\"parameters\":{\"type\":\"object\"}}",
                     answer_now, &now, tool_state_free),
                 TANDEM_OK);
    CHECK_STATUS(tandem_client_register_tool(
                     c, "{\"name\":\"backup\",\"description\":\"Backs up.\",\"parameters\":{\"type\":\"object\"}}",
                     answer_later, &later, tool_state_free),
                 TANDEM_OK);
    char *id = NULL;
    const char *opts = "{\"model\":\"scripted:x\",\"script\":["
                       "[{\"tool_call\":{\"name\":\"clock\",\"args\":{\"tz\":\"UTC\"},\"id\":\"c1\"}},"
                       " {\"tool_call\":{\"name\":\"backup\",\"args\":{},\"id\":\"b1\"}}],"
                       "[{\"text\":\"ok\"}]]}";
    REQUIRE_STATUS(tandem_session_start(c, opts, &id), TANDEM_OK);
    evlog log = {0};
    CHECK(prompt_and_wait(c, &log, id, "time and backup") != NULL);
    CHECK(now.calls == 1 && later.calls == 1);
    CHECK_STREQ(now.last_args, "{\"tz\":\"UTC\"}");
    CHECK_STREQ(now.last_session, id);
    char *msgs = messages_of(c, id);
    CHECK(msgs != NULL && strstr(msgs, "\"result\":\"12:00\"") != NULL);
    CHECK(msgs != NULL && strstr(msgs, "\"result\":\"disk is full\"") != NULL);
    tandem_string_free(msgs);
    CHECK_STATUS(tandem_client_unregister_tool(c, "clock"), TANDEM_OK);
    CHECK(now.frees == 1);
    CHECK_STATUS(tandem_client_unregister_tool(c, "clock"), TANDEM_ERR_NOT_FOUND);
    evlog_free(&log);
    tandem_string_free(id);
    tandem_client_free(c);
    /* Tools still registered are released with the client. */
    CHECK(later.frees == 1 && now.frees == 1);
}

/* Pulls to the next approval_pending of `id` and answers it with `decision`, naming it; false if none came. */
static bool answer_approval(tandem_client *c, evlog *log, const char *id, tandem_approval_decision decision)
{
    const char *ev = pull_until(c, log, id, "approval_pending", WAIT_MS);
    CHECK(ev != NULL);
    if (ev == NULL)
        return false;
    char *approval_id = json_get_str(json_get(ev, "approval"), "approval_id");
    CHECK(approval_id != NULL);
    CHECK_STATUS(tandem_session_respond_to_approval(c, id, approval_id, decision), TANDEM_OK);
    /* The same approval cannot be answered twice. */
    CHECK_STATUS(tandem_session_respond_to_approval(c, id, approval_id, decision), TANDEM_ERR_NO_PENDING_APPROVAL);
    free(approval_id);
    return true;
}

static void check_trust(tandem_client *c, const char *id, const char *want)
{
    char *trust = NULL;
    CHECK_STATUS(tandem_session_trusted_tools(c, id, &trust), TANDEM_OK);
    CHECK_STREQ(trust, want);
    tandem_string_free(trust);
}

#define WRITE_STEP(file) "[{\"tool_call\":{\"name\":\"write_file\",\"args\":{\"path\":\"" file "\",\"content\":\"x\"}}}]"

/* Approve-for-turn trusts the tool until the turn ends; approve-for-session until revoked; the host lists and
 * revokes trust; a rejected call is refused. All through the C API with a scripted model writing files. */
static void test_approvals_and_trust(void)
{
    char dir[] = "/tmp/tandem-approvals-XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    char opts[2048];
    snprintf(opts, sizeof opts, "{\"workdir\":\"%s\",\"tools\":[\"write_file\"],\"script\":[%s]}", dir,
             WRITE_STEP("a.txt") "," WRITE_STEP("b.txt") ",[{\"text\":\"turn one\"}],"          /* turn 1 */
             WRITE_STEP("c.txt") ",[{\"text\":\"turn two\"}],"                                  /* turn 2 */
             WRITE_STEP("d.txt") ",[{\"text\":\"turn three\"}],"                                /* turn 3 */
             WRITE_STEP("e.txt") ",[{\"text\":\"turn four\"}]");                                /* turn 4 */
    char *id = NULL;
    REQUIRE_STATUS(tandem_session_start(c, opts, &id), TANDEM_OK);
    evlog log = {0};
    check_trust(c, id, "{}");

    /* Turn 1: the first write asks; approved for the turn, the second write runs without asking. */
    CHECK_STATUS(tandem_session_send_prompt(c, id, "one", NULL), TANDEM_OK);
    CHECK(answer_approval(c, &log, id, TANDEM_APPROVAL_DECISION_APPROVE_TURN));
    const char *ev = pull_until(c, &log, id, "tool_auto_approved", WAIT_MS);
    CHECK(ev != NULL && json_str_is(ev, "scope", "turn") && json_str_is(ev, "name", "write_file"));
    CHECK(pull_until(c, &log, id, "turn_ended", WAIT_MS) != NULL);
    CHECK(evlog_count(&log, id, "approval_pending") == 1);
    check_trust(c, id, "{}"); /* turn trust lapsed with the turn */

    /* Turn 2: asks again; approved for the session. */
    CHECK_STATUS(tandem_session_send_prompt(c, id, "two", NULL), TANDEM_OK);
    CHECK(answer_approval(c, &log, id, TANDEM_APPROVAL_DECISION_APPROVE_SESSION));
    CHECK(pull_until(c, &log, id, "turn_ended", WAIT_MS) != NULL);
    check_trust(c, id, "{\"write_file\":\"session\"}");

    /* Turn 3: trusted for the session, nothing asks; the transcript records the scope. */
    CHECK_STATUS(tandem_session_send_prompt(c, id, "three", NULL), TANDEM_OK);
    ev = pull_until(c, &log, id, "tool_auto_approved", WAIT_MS);
    CHECK(ev != NULL && json_str_is(ev, "scope", "session"));
    CHECK(pull_until(c, &log, id, "turn_ended", WAIT_MS) != NULL);
    CHECK(evlog_count(&log, id, "approval_pending") == 2);
    char *msgs = messages_of(c, id);
    CHECK(msgs != NULL && strstr(msgs, "\"auto_approved_scope\":\"session\"") != NULL);
    tandem_string_free(msgs);

    /* Revoked: listed no more, revoking again is NOT_FOUND, and the next write asks; rejected, it fails. */
    CHECK_STATUS(tandem_session_revoke_trust(c, id, "write_file"), TANDEM_OK);
    check_trust(c, id, "{}");
    CHECK_STATUS(tandem_session_revoke_trust(c, id, "write_file"), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_revoke_trust(c, id, NULL), TANDEM_OK);
    CHECK_STATUS(tandem_session_send_prompt(c, id, "four", NULL), TANDEM_OK);
    CHECK(answer_approval(c, &log, id, TANDEM_APPROVAL_DECISION_REJECT));
    ev = pull_until(c, &log, id, "tool_ended", WAIT_MS);
    CHECK(ev != NULL && strstr(ev, "\"is_error\":true") != NULL && strstr(ev, "rejected") != NULL);
    CHECK(pull_until(c, &log, id, "turn_ended", WAIT_MS) != NULL);

    /* Files: a, b (turn trust), c (session trust), d (trusted) were written; e was rejected. */
    char path[600];
    const char *written[] = {"a.txt", "b.txt", "c.txt", "d.txt"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, written[i]);
        CHECK(access(path, F_OK) == 0);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/e.txt", dir);
    CHECK(access(path, F_OK) != 0);
    evlog_free(&log);
    tandem_string_free(id);
    tandem_client_free(c);
    rmdir(dir);
}

/* Edit boundaries reach every tool: delete_file refuses a bounded file, and a shell command that changes one outside
 * its boundary is reported as boundary_violated (after its file_changed) and told to the model in the result. */
static void test_boundaries_for_delete_and_shell(void)
{
    SKIP_TEST_IF_REMOTE("tandem_session_set_boundary has no remote form");
    char dir[] = "/tmp/tandem-c-bounds-XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    char file[64], opts[1024];
    snprintf(file, sizeof file, "%s/f.txt", dir);
    FILE *f = fopen(file, "w");
    REQUIRE(f != NULL);
    fputs("a\nb\nc\n", f);
    fclose(f);
    snprintf(opts, sizeof opts,
             "{\"model\":\"scripted:x\",\"workdir\":\"%s\",\"approval\":\"none\",\"script\":["
             "[{\"tool_call\":{\"name\":\"delete_file\",\"args\":{\"path\":\"f.txt\"},\"id\":\"d1\"}}],"
             "[{\"tool_call\":{\"name\":\"shell\",\"args\":{\"command\":\"echo d >> f.txt\"},\"id\":\"s1\"}}],"
             "[{\"text\":\"ok\"}]]}",
             dir);
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    char *id = NULL;
    REQUIRE_STATUS(tandem_session_start(c, opts, &id), TANDEM_OK);
    CHECK_STATUS(tandem_session_set_boundary(c, id, "f.txt", 0, 1), TANDEM_OK);
    evlog log = {0};
    CHECK(prompt_and_wait(c, &log, id, "change it") != NULL);
    const char *violation = NULL;
    size_t changed_at = 0, violated_at = 0;
    for (size_t i = 0; i < log.len; i++) {
        if (ev_is(log.items[i], id, "file_changed"))
            changed_at = i;
        if (ev_is(log.items[i], id, "boundary_violated") && violation == NULL) {
            violation = log.items[i];
            violated_at = i;
        }
    }
    REQUIRE(violation != NULL);
    CHECK(changed_at > 0 && changed_at < violated_at);
    CHECK(json_str_is(violation, "tool_call_id", "s1"));
    CHECK(json_str_is(violation, "tool_name", "shell"));
    CHECK(strstr(violation, "\"changed\":[{\"start_line\":3,\"end_line\":3}]") != NULL);
    CHECK(strstr(violation, "\"boundary\":{\"start_line\":0,\"end_line\":1}") != NULL);
    char *msgs = messages_of(c, id);
    CHECK(msgs != NULL && strstr(msgs, "cannot delete f.txt: it has an edit boundary") != NULL);
    CHECK(msgs != NULL && strstr(msgs, "[boundary violation]") != NULL);
    tandem_string_free(msgs);
    f = fopen(file, "r");
    CHECK(f != NULL);
    if (f != NULL)
        fclose(f);
    evlog_free(&log);
    tandem_string_free(id);
    tandem_client_free(c);
    remove(file);
    rmdir(dir);
}

/* A turn the turn limit ended is resumed by tandem_session_continue (once); a call of a tool the session lacks fails
 * as "not found" without asking the host, even when every call asks. */
static void test_continue_after_the_turn_limit(void)
{
    const char *opts = "{\"model\":\"scripted:x\",\"approval\":\"all\",\"max_turns\":1,\"script\":["
                       "[{\"tool_call\":{\"name\":\"shell\",\"args\":{\"command\":\"true\"},\"id\":\"s1\"}}],"
                       "[{\"text\":\"resumed\"}]]}";
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    char *id = NULL;
    REQUIRE_STATUS(tandem_session_start(c, opts, &id), TANDEM_OK);
    evlog log = {0};
    const char *end = prompt_and_wait(c, &log, id, "go");
    REQUIRE(end != NULL);
    CHECK(json_str_is(end, "reason", "error"));
    CHECK(evlog_count(&log, id, "approval_pending") == 0);
    CHECK(evlog_count(&log, id, "turn_limit_reached") == 1);
    bool refused = false;
    for (size_t i = 0; i < log.len; i++)
        if (ev_is(log.items[i], id, "tool_ended"))
            refused = json_str_is(log.items[i], "tool_call_id", "s1") &&
                      json_str_is(log.items[i], "result", "Tool 'shell' not found");
    CHECK(refused);

    CHECK_STATUS(tandem_session_continue(c, id), TANDEM_OK);
    size_t before = log.len;
    end = pull_until(c, &log, id, "turn_ended", WAIT_MS);
    REQUIRE(end != NULL);
    CHECK(json_str_is(end, "reason", "completed"));
    char *text = deltas_of(log.items + before, log.len - before, id, "text_delta");
    CHECK_STREQ(text, "resumed");
    free(text);
    CHECK_STATUS(tandem_session_continue(c, id), TANDEM_ERR_INVALID_ARGUMENT); /* only once */
    evlog_free(&log);
    tandem_string_free(id);
    tandem_client_free(c);
}

int main(int argc, char **argv)
{
    check_init(argc, argv);
    RUN(test_three_sessions);
    RUN(test_start_or_get_and_explicit_ids);
    RUN(test_messages_page_and_system_messages);
    RUN(test_abort_and_steering);
    RUN(test_queues);
    RUN(test_prompt_parts_and_errors);
    RUN(test_stop_closes_running_turn);
    RUN(test_panic_and_restart);
    RUN(test_restart_exhausted);
    RUN(test_events_since);
    RUN(test_calls_racing_stop);
    RUN(test_calls_racing_shutdown);
    RUN(test_host_tools);
    RUN(test_approvals_and_trust);
    RUN(test_boundaries_for_delete_and_shell);
    RUN(test_continue_after_the_turn_limit);
    return check_summary();
}
