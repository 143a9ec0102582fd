/* test_bad_input.c: bad input on every exported function.
 *
 * One test case per function of include/tandem.h (tests/c/header_check.sh fails if a function of the header is not
 * named in this file). Each case gives NULL for every required pointer (TANDEM_ERR_NULL_ARGUMENT), invalid UTF-8 for
 * every string (TANDEM_ERR_INVALID_UTF8), malformed JSON for every JSON argument (TANDEM_ERR_INVALID_JSON), unknown
 * IDs (TANDEM_ERR_NOT_FOUND) and unknown enum values (TANDEM_ERR_INVALID_ARGUMENT). CHECK_STATUS also requires a
 * non-empty tandem_last_error_message() after each failure, and every case checks that failed calls leave their
 * out-parameters untouched. */
#include "check.h"
#include "helpers.h"

#define BAD "\xff\xfe"                            /* not UTF-8 at all */
#define BAD_SURROGATE "a\xed\xa0\x80z"            /* an encoded UTF-16 surrogate */
#define BAD_OVERLONG "\xc0\xaf"                   /* an overlong "/" */
#define BAD_TRUNCATED "euro \xe2\x82"             /* a sequence cut short */
#define UNKNOWN "no-such-session"
#define SENTINEL_STR ((char *)(uintptr_t)0x5e17)  /* never dereferenced: only compared */

/* A client with one live, idle session. */
typedef struct {
    tandem_client *c;
    char *id;
} fixture;

static bool fixture_up(fixture *f)
{
    f->c = NULL;
    f->id = NULL;
    if (tandem_client_new(TEST_CONFIG, &f->c) != TANDEM_OK)
        return false;
    return tandem_session_start(f->c, NULL, &f->id) == TANDEM_OK;
}

static void fixture_down(fixture *f)
{
    tandem_string_free(f->id);
    tandem_client_free(f->c);
}

/* A JSON document nested deeper than any parser should recurse: must be refused, not crash. */
static char *deep_json(void)
{
    size_t n = 100000;
    char *s = malloc(n + 1);
    if (s == NULL)
        abort();
    memset(s, '[', n);
    s[n] = '\0';
    return s;
}

static void test_infallible_functions(void)
{
    /* tandem_version, tandem_status_name, tandem_last_error_message and tandem_string_free take nothing that can be
     * malformed; they never return NULL. */
    CHECK(tandem_version() != NULL);
    CHECK_STREQ(tandem_status_name((tandem_status)12345), "TANDEM_UNKNOWN_STATUS");
    CHECK(tandem_last_error_message() != NULL);
    tandem_string_free(NULL);
    tandem_client_free(NULL);
}

static void test_bad_tandem_workdir_session_id(void)
{
    char *out = SENTINEL_STR;
    CHECK_STATUS(tandem_workdir_session_id(NULL, &out), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_workdir_session_id("/tmp", NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_workdir_session_id(BAD, &out), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_workdir_session_id(BAD_SURROGATE, &out), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_workdir_session_id("", &out), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK(out == SENTINEL_STR);
}

static void test_bad_tandem_client_new(void)
{
    tandem_client *out = (tandem_client *)(uintptr_t)0x5e17;
    CHECK_STATUS(tandem_client_new(NULL, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_client_new(TEST_CONFIG, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_client_new(BAD, &out), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_client_new("{\"store_dir\":\"" BAD_OVERLONG "\"}", &out), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_client_new("{\"store_dir\":", &out), TANDEM_ERR_INVALID_JSON);
    CHECK_STATUS(tandem_client_new("{'store_dir': null}", &out), TANDEM_ERR_INVALID_JSON);
    char *deep = deep_json();
    CHECK_STATUS(tandem_client_new(deep, &out), TANDEM_ERR_INVALID_JSON);
    free(deep);
    CHECK_STATUS(tandem_client_new("{\"unknown_key\":true}", &out), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK(out == (tandem_client *)(uintptr_t)0x5e17);
}

static void test_bad_tandem_client_shutdown(void)
{
    CHECK_STATUS(tandem_client_shutdown(NULL, 0), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_client_shutdown(NULL, 1000), TANDEM_ERR_NULL_ARGUMENT);
}

static void test_bad_tandem_client_listen(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    char *out = SENTINEL_STR;
    CHECK_STATUS(tandem_client_listen(NULL, NULL, &out), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_client_listen(f.c, NULL, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_client_listen(f.c, BAD, &out), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_client_listen(f.c, "{\"address\": \"" BAD_TRUNCATED "\"}", &out), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_client_listen(f.c, "{\"address\":", &out), TANDEM_ERR_INVALID_JSON);
    char *deep = deep_json();
    CHECK_STATUS(tandem_client_listen(f.c, deep, &out), TANDEM_ERR_INVALID_JSON);
    free(deep);
    CHECK_STATUS(tandem_client_listen(f.c, "{\"unknown_key\": 1}", &out), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_client_listen(f.c, "{\"address\": \"not an address\"}", &out), TANDEM_ERR_INVALID_ARGUMENT);
    /* Plain ws off loopback, and a token in the options, are refused. */
    CHECK_STATUS(tandem_client_listen(f.c, "{\"address\": \"0.0.0.0:0\"}", &out), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_client_listen(f.c, "{\"gateway_token\": \"0123456789abcdef\"}", &out),
                 TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_client_listen(f.c, "{\"tls\": {\"cert_file\": \"/nonexistent.pem\", \"key_file\": \"/nonexistent.pem\"}}",
                                      &out),
                 TANDEM_ERR_IO);
    CHECK(out == SENTINEL_STR);
    /* Once listening, a second listen is refused. */
    CHECK_STATUS(tandem_client_listen(f.c, NULL, &out), TANDEM_OK);
    CHECK(strncmp(out, "ws://127.0.0.1:", 15) == 0);
    char *again = SENTINEL_STR;
    CHECK_STATUS(tandem_client_listen(f.c, NULL, &again), TANDEM_ERR_ALREADY_EXISTS);
    CHECK(again == SENTINEL_STR);
    tandem_string_free(out);
    fixture_down(&f);
}

static void test_bad_tandem_client_stop_listening(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    CHECK_STATUS(tandem_client_stop_listening(NULL), TANDEM_ERR_NULL_ARGUMENT);
    /* Not listening: nothing to stop, and that is not an error. */
    CHECK(tandem_client_stop_listening(f.c) == TANDEM_OK);
    fixture_down(&f);
}

static void test_bad_tandem_client_free(void)
{
    tandem_client_free(NULL); /* no-op, no crash */
}

static void test_bad_tandem_client_next_event(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    char *out = SENTINEL_STR;
    CHECK_STATUS(tandem_client_next_event(NULL, 0, &out), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_client_next_event(f.c, 0, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK(out == SENTINEL_STR);
    fixture_down(&f);
}

static void test_bad_tandem_client_next_events(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    char *out = SENTINEL_STR;
    CHECK_STATUS(tandem_client_next_events(NULL, 8, &out), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_client_next_events(f.c, 8, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_client_next_events(f.c, 0, &out), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK(out == SENTINEL_STR);
    fixture_down(&f);
}

static void test_bad_tandem_client_ready_fd(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    int fd = -7;
    CHECK_STATUS(tandem_client_ready_fd(NULL, &fd), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_client_ready_fd(f.c, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK(fd == -7);
    fixture_down(&f);
    /* Nothing is kept for pulling without pull_events: no descriptor to offer. */
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new("{\"store_dir\":null,\"pull_events\":false}", &c), TANDEM_OK);
    CHECK_STATUS(tandem_client_ready_fd(c, &fd), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK(fd == -7);
    tandem_client_free(c);
}

static void test_bad_tandem_client_next_session_event(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    char *out = SENTINEL_STR;
    CHECK_STATUS(tandem_client_next_session_event(NULL, f.id, 0, &out), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_client_next_session_event(f.c, NULL, 0, &out), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_client_next_session_event(f.c, f.id, 0, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_client_next_session_event(f.c, BAD, 0, &out), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_client_next_session_event(f.c, BAD_SURROGATE, 0, &out), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_client_next_session_event(f.c, BAD_OVERLONG, 0, &out), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_client_next_session_event(f.c, BAD_TRUNCATED, 0, &out), TANDEM_ERR_INVALID_UTF8);
    /* Unknown: answered at once, even with a long timeout. */
    uint64_t t0 = now_ms();
    CHECK_STATUS(tandem_client_next_session_event(f.c, UNKNOWN, 30000, &out), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_client_next_session_event(f.c, "", 30000, &out), TANDEM_ERR_NOT_FOUND);
    CHECK(now_ms() - t0 < 10000);
    CHECK(out == SENTINEL_STR);
    /* None of that took the live session's events: its session_started is still queued for it. */
    char *ev = NULL;
    CHECK_STATUS(tandem_client_next_session_event(f.c, f.id, 0, &ev), TANDEM_OK);
    CHECK(ev != NULL && json_str_is(ev, "kind", "session_started"));
    tandem_string_free(ev);
    fixture_down(&f);
}

static void count_free(void *userdata)
{
    atomic_fetch_add((atomic_int *)userdata, 1);
}

static void never_called(void *userdata, const tandem_event *event)
{
    (void)userdata;
    (void)event;
}

static void test_bad_tandem_client_subscribe(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    atomic_int frees = 0;
    uint64_t sub = 0x5e17;
    CHECK_STATUS(tandem_client_subscribe(NULL, NULL, never_called, &frees, count_free, &sub), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_client_subscribe(f.c, NULL, NULL, &frees, count_free, &sub), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_client_subscribe(f.c, NULL, never_called, &frees, count_free, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_client_subscribe(f.c, BAD, never_called, &frees, count_free, &sub), TANDEM_ERR_INVALID_UTF8);
    CHECK(sub == 0x5e17);
    /* Argument errors are reported before the subscription takes the userdata: it stays the caller's. */
    CHECK(atomic_load(&frees) == 0);
    /* userdata and userdata_free may be NULL. */
    CHECK_STATUS(tandem_client_subscribe(f.c, f.id, never_called, NULL, NULL, &sub), TANDEM_OK);
    CHECK(sub != 0x5e17);
    CHECK_STATUS(tandem_client_unsubscribe(f.c, sub), TANDEM_OK);
    fixture_down(&f);
    CHECK(atomic_load(&frees) == 0);
}

static void test_bad_tandem_client_unsubscribe(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    CHECK_STATUS(tandem_client_unsubscribe(NULL, 1), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_client_unsubscribe(f.c, 0), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_client_unsubscribe(f.c, 1), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_client_unsubscribe(f.c, 999999), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_client_unsubscribe(f.c, UINT64_MAX), TANDEM_ERR_NOT_FOUND);
    fixture_down(&f);
}

static void test_bad_tandem_session_events_since(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    char *out = SENTINEL_STR;
    CHECK_STATUS(tandem_session_events_since(NULL, f.id, 0, &out), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_events_since(f.c, NULL, 0, &out), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_events_since(f.c, f.id, 0, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_events_since(f.c, BAD, 0, &out), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_session_events_since(f.c, UNKNOWN, 0, &out), TANDEM_ERR_NOT_FOUND);
    CHECK(out == SENTINEL_STR);
    fixture_down(&f);
}

static void test_bad_tandem_session_start(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    char *out = SENTINEL_STR;
    CHECK_STATUS(tandem_session_start(NULL, NULL, &out), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_start(f.c, NULL, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_start(f.c, BAD, &out), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_session_start(f.c, "{\"system_prompt\":\"" BAD_TRUNCATED "\"}", &out),
                 TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_session_start(f.c, "{\"model\":", &out), TANDEM_ERR_INVALID_JSON);
    const char *msg = tandem_last_error_message();
    CHECK(strstr(msg, "line") != NULL && strstr(msg, "column") != NULL);
    CHECK_STATUS(tandem_session_start(f.c, "{\"model\":\"scripted:echo\"}}", &out), TANDEM_ERR_INVALID_JSON);
    char *deep = deep_json();
    CHECK_STATUS(tandem_session_start(f.c, deep, &out), TANDEM_ERR_INVALID_JSON);
    free(deep);
    CHECK_STATUS(tandem_session_start(f.c, "{\"no_such_option\":1}", &out), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_session_start(f.c, "{\"thinking_level\":\"extreme\"}", &out), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_session_start(f.c, "{\"approval\":\"sometimes\"}", &out), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_session_start(f.c, "{\"provider\":\"nope\"}", &out), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_session_start(f.c, "\"just a string\"", &out), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK(out == SENTINEL_STR);
    fixture_down(&f);
}

static void test_bad_tandem_session_start_or_get(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    char *out = SENTINEL_STR;
    CHECK_STATUS(tandem_session_start_or_get(NULL, "x", NULL, &out), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_start_or_get(f.c, NULL, NULL, &out), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_start_or_get(f.c, "x", NULL, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_start_or_get(f.c, BAD, NULL, &out), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_session_start_or_get(f.c, "x", BAD, &out), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_session_start_or_get(f.c, "x", "{", &out), TANDEM_ERR_INVALID_JSON);
    CHECK_STATUS(tandem_session_start_or_get(f.c, "x", "{\"no_such_option\":1}", &out), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_session_start_or_get(f.c, "has space", NULL, &out), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK(out == SENTINEL_STR);
    /* None of the failed calls started "x". */
    CHECK_STATUS(tandem_session_stop(f.c, "x"), TANDEM_ERR_NOT_FOUND);
    fixture_down(&f);
}

static void test_bad_tandem_session_stop(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    CHECK_STATUS(tandem_session_stop(NULL, f.id), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_stop(f.c, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_stop(f.c, BAD), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_session_stop(f.c, UNKNOWN), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_stop(f.c, ""), TANDEM_ERR_NOT_FOUND);
    fixture_down(&f);
}

static void test_bad_tandem_session_list(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    char *out = SENTINEL_STR;
    CHECK_STATUS(tandem_session_list(NULL, &out), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_list(f.c, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK(out == SENTINEL_STR);
    fixture_down(&f);
}

/* The functions shaped (client, id, const char *prompt, tandem_prompt_result *out_or_null). */
typedef tandem_status (*prompt_fn)(tandem_client *, const char *, const char *, tandem_prompt_result *);

static void check_prompt_function(const char *name, prompt_fn fn)
{
    check_context = name;
    fixture f;
    REQUIRE(fixture_up(&f));
    tandem_prompt_result r = (tandem_prompt_result)77;
    CHECK_STATUS(fn(NULL, f.id, "hi", &r), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(fn(f.c, NULL, "hi", &r), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(fn(f.c, f.id, NULL, &r), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(fn(f.c, BAD, "hi", &r), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(fn(f.c, f.id, BAD, &r), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(fn(f.c, f.id, BAD_SURROGATE, &r), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(fn(f.c, f.id, BAD_OVERLONG, &r), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(fn(f.c, f.id, BAD_TRUNCATED, &r), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(fn(f.c, UNKNOWN, "hi", &r), TANDEM_ERR_NOT_FOUND);
    CHECK(r == (tandem_prompt_result)77);
    /* None of them reached the transcript. */
    char *m = messages_of(f.c, f.id);
    CHECK(m != NULL && count_messages(m, "user") == 0);
    tandem_string_free(m);
    fixture_down(&f);
}

static void test_bad_tandem_session_send_prompt(void)
{
    check_prompt_function("tandem_session_send_prompt", tandem_session_send_prompt);
}

static void test_bad_tandem_session_queue_steering(void)
{
    check_prompt_function("tandem_session_queue_steering", tandem_session_queue_steering);
}

static void test_bad_tandem_session_queue_follow_up(void)
{
    check_prompt_function("tandem_session_queue_follow_up", tandem_session_queue_follow_up);
}

/* The prompt functions that take content parts as JSON (send_prompt_parts, queue_follow_up_parts). */
static void check_parts_function(const char *name, prompt_fn fn)
{
    check_context = name;
    fixture f;
    REQUIRE(fixture_up(&f));
    const char *ok = "[{\"type\":\"text\",\"text\":\"hi\"}]";
    tandem_prompt_result r = (tandem_prompt_result)77;
    CHECK_STATUS(fn(NULL, f.id, ok, &r), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(fn(f.c, NULL, ok, &r), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(fn(f.c, f.id, NULL, &r), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(fn(f.c, BAD, ok, &r), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(fn(f.c, f.id, BAD, &r), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(fn(f.c, f.id, "[{\"type\":\"text\",\"text\":\"" BAD "\"}]", &r),
                 TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(fn(f.c, f.id, "[{\"type\":\"text\",", &r), TANDEM_ERR_INVALID_JSON);
    const char *msg = tandem_last_error_message();
    CHECK(strstr(msg, "line") != NULL && strstr(msg, "column") != NULL);
    /* Malformed documents whose first element also has the wrong shape are still malformed JSON. */
    CHECK_STATUS(fn(f.c, f.id, "[1,", &r), TANDEM_ERR_INVALID_JSON);
    CHECK_STATUS(fn(f.c, f.id, "{\"x\":", &r), TANDEM_ERR_INVALID_JSON);
    char *deep = deep_json();
    CHECK_STATUS(fn(f.c, f.id, deep, &r), TANDEM_ERR_INVALID_JSON);
    free(deep);
    CHECK_STATUS(fn(f.c, f.id, "[{\"type\":\"text\"}]", &r),
                 TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(fn(f.c, f.id, "[{\"type\":\"text\",\"text\":\"a\",\"x\":1}]", &r),
                 TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(fn(f.c, f.id, "\"hi\"", &r), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(fn(f.c, UNKNOWN, ok, &r), TANDEM_ERR_NOT_FOUND);
    CHECK(r == (tandem_prompt_result)77);
    char *m = messages_of(f.c, f.id);
    CHECK(m != NULL && count_messages(m, "user") == 0);
    tandem_string_free(m);
    fixture_down(&f);
}

static void test_bad_tandem_session_send_prompt_parts(void)
{
    check_parts_function("tandem_session_send_prompt_parts", tandem_session_send_prompt_parts);
}

static void test_bad_tandem_session_queue_follow_up_parts(void)
{
    check_parts_function("tandem_session_queue_follow_up_parts", tandem_session_queue_follow_up_parts);
}

/* The functions shaped (client, id). */
typedef tandem_status (*id_fn)(tandem_client *, const char *);

static void check_id_function(const char *name, id_fn fn)
{
    check_context = name;
    fixture f;
    REQUIRE(fixture_up(&f));
    CHECK_STATUS(fn(NULL, f.id), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(fn(f.c, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(fn(f.c, BAD), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(fn(f.c, UNKNOWN), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(fn(f.c, ""), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(fn(f.c, f.id), TANDEM_OK); /* and the good call works */
    fixture_down(&f);
}

static void test_bad_tandem_session_abort(void)
{
    check_id_function("tandem_session_abort", tandem_session_abort);
}

static void test_bad_tandem_session_clear_queues(void)
{
    check_id_function("tandem_session_clear_queues", tandem_session_clear_queues);
}

/* The functions shaped (client, id, char **out). */
typedef tandem_status (*id_out_fn)(tandem_client *, const char *, char **);

static void check_id_out_function(const char *name, id_out_fn fn, bool json_result)
{
    check_context = name;
    fixture f;
    REQUIRE(fixture_up(&f));
    char *out = SENTINEL_STR;
    CHECK_STATUS(fn(NULL, f.id, &out), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(fn(f.c, NULL, &out), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(fn(f.c, f.id, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(fn(f.c, BAD, &out), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(fn(f.c, UNKNOWN, &out), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(fn(f.c, "", &out), TANDEM_ERR_NOT_FOUND);
    CHECK(out == SENTINEL_STR);
    /* And the good call works. */
    CHECK_STATUS(fn(f.c, f.id, &out), TANDEM_OK);
    CHECK(out != SENTINEL_STR && out != NULL);
    if (out != SENTINEL_STR && out != NULL) {
        CHECK(!json_result || json_valid(out));
        tandem_string_free(out);
    }
    fixture_down(&f);
}

static void test_bad_tandem_session_token(void)
{
    check_id_out_function("tandem_session_token", tandem_session_token, false);
}

static void test_bad_tandem_session_messages(void)
{
    check_id_out_function("tandem_session_messages", tandem_session_messages, true);
}

static void test_bad_tandem_session_usage(void)
{
    check_id_out_function("tandem_session_usage", tandem_session_usage, true);
}

static void test_bad_tandem_session_metadata(void)
{
    check_id_out_function("tandem_session_metadata", tandem_session_metadata, true);
}

static void test_bad_tandem_session_snapshot(void)
{
    check_id_out_function("tandem_session_snapshot", tandem_session_snapshot, true);
}

static void test_bad_tandem_session_dequeue_steering(void)
{
    check_id_out_function("tandem_session_dequeue_steering", tandem_session_dequeue_steering, true);
}

static void test_bad_tandem_session_queued_messages(void)
{
    check_id_out_function("tandem_session_queued_messages", tandem_session_queued_messages, true);
}

static void test_bad_tandem_session_recall_queues(void)
{
    check_id_out_function("tandem_session_recall_queues", tandem_session_recall_queues, true);
}

static void test_bad_tandem_session_list_branches(void)
{
    check_id_out_function("tandem_session_list_branches", tandem_session_list_branches, true);
}

static void test_bad_tandem_session_touched_files(void)
{
    check_id_out_function("tandem_session_touched_files", tandem_session_touched_files, true);
}

static void test_bad_tandem_session_toggle_all_tool_collapses(void)
{
    check_id_function("tandem_session_toggle_all_tool_collapses", tandem_session_toggle_all_tool_collapses);
}

static void test_bad_tandem_session_cycle_model(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    char *out = SENTINEL_STR;
    CHECK_STATUS(tandem_session_cycle_model(NULL, f.id, &out), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_cycle_model(f.c, NULL, &out), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_cycle_model(f.c, f.id, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_cycle_model(f.c, BAD, &out), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_session_cycle_model(f.c, UNKNOWN, &out), TANDEM_ERR_NOT_FOUND);
    /* The fixture session has no "models" rotation. */
    CHECK_STATUS(tandem_session_cycle_model(f.c, f.id, &out), TANDEM_ERR_NOT_SUPPORTED);
    CHECK(out == SENTINEL_STR);
    fixture_down(&f);
}

static void test_bad_tandem_session_cycle_thinking_level(void)
{
    check_id_out_function("tandem_session_cycle_thinking_level", tandem_session_cycle_thinking_level, true);
}

static void test_bad_tandem_session_available_models(void)
{
    check_id_out_function("tandem_session_available_models", tandem_session_available_models, true);
}

static void test_bad_tandem_session_commands(void)
{
    check_id_out_function("tandem_session_commands", tandem_session_commands, true);
}

/* (client, id, text) setters: set_model and set_thinking_level. */
static void check_id_text_setter(const char *name, tandem_status (*fn)(tandem_client *, const char *, const char *),
                                 const char *good, const char *bad_value, tandem_status bad_status)
{
    check_context = name;
    fixture f;
    REQUIRE(fixture_up(&f));
    CHECK_STATUS(fn(NULL, f.id, good), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(fn(f.c, NULL, good), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(fn(f.c, f.id, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(fn(f.c, BAD, good), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(fn(f.c, f.id, BAD), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(fn(f.c, UNKNOWN, good), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(fn(f.c, f.id, bad_value), bad_status);
    CHECK_STATUS(fn(f.c, f.id, good), TANDEM_OK);
    fixture_down(&f);
}

static void test_bad_tandem_session_context_files(void)
{
    check_id_out_function("tandem_session_context_files", tandem_session_context_files, true);
}

static void test_bad_tandem_session_set_budget(void)
{
    check_id_text_setter("tandem_session_set_budget", tandem_session_set_budget, "{\"max_cost\":1}",
                         "{\"max_tokens_total\":0}", TANDEM_ERR_INVALID_ARGUMENT);
    check_context = "tandem_session_set_budget";
    fixture f;
    REQUIRE(fixture_up(&f));
    CHECK_STATUS(tandem_session_set_budget(f.c, f.id, "{\"max_cost\":"), TANDEM_ERR_INVALID_JSON);
    CHECK_STATUS(tandem_session_set_budget(f.c, f.id, "[1]"), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_session_set_budget(f.c, f.id, "{\"max_cost\":\"lots\"}"), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_session_set_budget(f.c, f.id, "{\"ceiling\":1}"), TANDEM_ERR_INVALID_ARGUMENT);
    /* A huge document is parsed and refused like any other. */
    size_t n = 1u << 20;
    char *huge = malloc(n + 32);
    REQUIRE(huge != NULL);
    strcpy(huge, "{\"max_cost\":1");
    size_t head = strlen(huge);
    memset(huge + head, ' ', n);
    strcpy(huge + head + n, "}");
    CHECK_STATUS(tandem_session_set_budget(f.c, f.id, huge), TANDEM_OK);
    huge[head + n] = ',';
    CHECK_STATUS(tandem_session_set_budget(f.c, f.id, huge), TANDEM_ERR_INVALID_JSON);
    free(huge);
    fixture_down(&f);
}

static void test_bad_tandem_session_list_skills(void)
{
    check_id_out_function("tandem_session_list_skills", tandem_session_list_skills, true);
}

/* (client, id, name) skill switches: the fixture has no skills, so a well-formed name is NOT_FOUND. */
static void check_skill_switch(const char *name, tandem_status (*fn)(tandem_client *, const char *, const char *))
{
    check_context = name;
    fixture f;
    REQUIRE(fixture_up(&f));
    CHECK_STATUS(fn(NULL, f.id, "review"), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(fn(f.c, NULL, "review"), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(fn(f.c, f.id, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(fn(f.c, BAD, "review"), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(fn(f.c, f.id, BAD), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(fn(f.c, UNKNOWN, "review"), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(fn(f.c, f.id, "review"), TANDEM_ERR_NOT_FOUND);
    fixture_down(&f);
}

static void test_bad_tandem_session_activate_skill(void)
{
    check_skill_switch("tandem_session_activate_skill", tandem_session_activate_skill);
    fixture f;
    REQUIRE(fixture_up(&f));
    CHECK_STATUS(tandem_session_activate_skill(f.c, f.id, "../etc"), TANDEM_ERR_INVALID_ARGUMENT);
    fixture_down(&f);
}

static void test_bad_tandem_session_deactivate_skill(void)
{
    check_skill_switch("tandem_session_deactivate_skill", tandem_session_deactivate_skill);
}

static void test_bad_tandem_session_mcp_servers(void)
{
    /* The fixture has no MCP servers: the good call answers []. */
    check_id_out_function("tandem_session_mcp_servers", tandem_session_mcp_servers, true);
    /* Bad server configurations are refused at start (session options) and at client creation (config). */
    fixture f;
    REQUIRE(fixture_up(&f));
    char *id = SENTINEL_STR;
    CHECK_STATUS(tandem_session_start(f.c, "{\"mcp_servers\": {\"x\": {\"args\": []}}}", &id),
                 TANDEM_ERR_INVALID_ARGUMENT);
    CHECK(strstr(tandem_last_error_message(), "mcp_servers.x.command") != NULL);
    CHECK_STATUS(tandem_session_start(f.c, "{\"mcp_servers\": {\"x\": {\"type\": \"ws\", \"url\": \"http://h\"}}}", &id),
                 TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_session_start(f.c, "{\"mcp_servers\": [{\"name\": \"x\", \"command\": \"c\", \"bogus\": 1}]}", &id),
                 TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_session_start(f.c, "{\"mcp_servers\": 7}", &id), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK(id == SENTINEL_STR);
    tandem_client *c = (tandem_client *)(uintptr_t)0x5e17;
    CHECK_STATUS(tandem_client_new("{\"mcp_servers\": {\"x\": {\"type\": \"http\"}}}", &c), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK(strstr(tandem_last_error_message(), "mcp_servers.x.url") != NULL);
    CHECK(c == (tandem_client *)(uintptr_t)0x5e17);
    fixture_down(&f);
}

static void test_bad_tandem_session_mcp_set_enabled(void)
{
    check_context = "tandem_session_mcp_set_enabled";
    fixture f;
    REQUIRE(fixture_up(&f));
    CHECK_STATUS(tandem_session_mcp_set_enabled(NULL, f.id, "fs", false), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_mcp_set_enabled(f.c, NULL, "fs", false), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_mcp_set_enabled(f.c, f.id, NULL, false), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_mcp_set_enabled(f.c, BAD, "fs", true), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_session_mcp_set_enabled(f.c, f.id, BAD, true), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_session_mcp_set_enabled(f.c, UNKNOWN, "fs", true), TANDEM_ERR_NOT_FOUND);
    /* The fixture's session has no servers: any name is unknown. */
    CHECK_STATUS(tandem_session_mcp_set_enabled(f.c, f.id, "fs", true), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_mcp_set_enabled(f.c, f.id, "", false), TANDEM_ERR_NOT_FOUND);
    fixture_down(&f);
}

static void test_bad_tandem_session_new_conversation(void)
{
    /* The fixture does not persist (store_dir: null); a new conversation still works in memory. */
    check_id_function("tandem_session_new_conversation", tandem_session_new_conversation);
}

static void test_bad_tandem_session_load_conversation(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    CHECK_STATUS(tandem_session_load_conversation(NULL, f.id, "c1"), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_load_conversation(f.c, NULL, "c1"), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_load_conversation(f.c, f.id, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_load_conversation(f.c, BAD, "c1"), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_session_load_conversation(f.c, f.id, BAD_TRUNCATED), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_session_load_conversation(f.c, UNKNOWN, "c1"), TANDEM_ERR_NOT_FOUND);
    /* IDs that would leave the store directory are refused before any file is touched. */
    CHECK_STATUS(tandem_session_load_conversation(f.c, f.id, "../../etc/passwd"), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_session_load_conversation(f.c, f.id, ".."), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_session_load_conversation(f.c, f.id, ""), TANDEM_ERR_INVALID_ARGUMENT);
    /* Without a store there is nothing to load. */
    CHECK_STATUS(tandem_session_load_conversation(f.c, f.id, "c1"), TANDEM_ERR_NOT_FOUND);
    fixture_down(&f);
}

static void test_bad_tandem_conversation_list(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    char *out = SENTINEL_STR;
    CHECK_STATUS(tandem_conversation_list(NULL, &out), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_conversation_list(f.c, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK(out == SENTINEL_STR);
    CHECK_STATUS(tandem_conversation_list(f.c, &out), TANDEM_OK);
    CHECK_STREQ(out, "[]");
    tandem_string_free(out);
    fixture_down(&f);
}

static void test_bad_tandem_conversation_delete(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    CHECK_STATUS(tandem_conversation_delete(NULL, "c1"), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_conversation_delete(f.c, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_conversation_delete(f.c, BAD_SURROGATE), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_conversation_delete(f.c, "../sessions/x"), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_conversation_delete(f.c, "a/b"), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_conversation_delete(f.c, "c1"), TANDEM_ERR_NOT_FOUND);
    fixture_down(&f);
}

static int tool_frees;
static void count_tool_free(void *userdata)
{
    (void)userdata;
    tool_frees++;
}

static void never_called_tool(void *userdata, tandem_tool_call *call, const tandem_tool_invocation *inv)
{
    (void)userdata;
    (void)inv;
    tandem_tool_call_complete(call, "unexpected", true);
}

static void test_bad_tandem_client_register_tool(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    const char *spec = "{\"name\":\"t1\",\"description\":\"d\",\"parameters\":{\"type\":\"object\"}}";
    tool_frees = 0;
    CHECK_STATUS(tandem_client_register_tool(NULL, spec, never_called_tool, NULL, count_tool_free),
                 TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_client_register_tool(f.c, NULL, never_called_tool, NULL, count_tool_free),
                 TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_client_register_tool(f.c, spec, NULL, NULL, count_tool_free), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_client_register_tool(f.c, BAD, never_called_tool, NULL, count_tool_free),
                 TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_client_register_tool(f.c, "{\"name\":", never_called_tool, NULL, count_tool_free),
                 TANDEM_ERR_INVALID_JSON);
    CHECK_STATUS(tandem_client_register_tool(f.c, "{\"name\":\"../x\",\"description\":\"d\",\"parameters\":{\"type\":\"object\"}}",
                                             never_called_tool, NULL, count_tool_free),
                 TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_client_register_tool(f.c, "{\"name\":\"t\",\"description\":\"d\",\"parameters\":{\"type\":\"object\"},\"destructive\":\"yes\"}",
                                             never_called_tool, NULL, count_tool_free),
                 TANDEM_ERR_INVALID_ARGUMENT);
    /* Argument errors leave the userdata with the caller. */
    CHECK(tool_frees == 0);
    CHECK_STATUS(tandem_client_register_tool(f.c, spec, never_called_tool, NULL, count_tool_free), TANDEM_OK);
    /* A refusal after the arguments were checked frees it at once. */
    CHECK_STATUS(tandem_client_register_tool(f.c, spec, never_called_tool, NULL, count_tool_free),
                 TANDEM_ERR_ALREADY_EXISTS);
    CHECK(tool_frees == 1);
    fixture_down(&f);
    CHECK(tool_frees == 2);
}

static void test_bad_tandem_client_unregister_tool(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    CHECK_STATUS(tandem_client_unregister_tool(NULL, "t1"), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_client_unregister_tool(f.c, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_client_unregister_tool(f.c, BAD_OVERLONG), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_client_unregister_tool(f.c, "no-such-tool"), TANDEM_ERR_NOT_FOUND);
    fixture_down(&f);
}

static void test_bad_tandem_tool_call_complete(void)
{
    CHECK_STATUS(tandem_tool_call_complete(NULL, "r", false), TANDEM_ERR_NULL_ARGUMENT);
    /* Handles are never dereferenced: a made-up or spent one is NOT_FOUND, not a crash. */
    tandem_tool_call *bogus = (tandem_tool_call *)(uintptr_t)0xdeadbeef;
    CHECK_STATUS(tandem_tool_call_complete(bogus, "r", false), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_tool_call_complete(bogus, NULL, false), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_tool_call_complete(bogus, BAD, true), TANDEM_ERR_INVALID_UTF8);
}

static void test_bad_tandem_tool_call_is_cancelled(void)
{
    CHECK(tandem_tool_call_is_cancelled(NULL));
    CHECK(tandem_tool_call_is_cancelled((const tandem_tool_call *)(uintptr_t)0xdeadbeef));
}

static int provider_frees;
static void count_provider_free(void *userdata)
{
    (void)userdata;
    provider_frees++;
}

static void never_called_provider(void *userdata, const tandem_provider_request *req)
{
    (void)userdata;
    (void)req;
}

static void test_bad_tandem_client_set_provider(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    provider_frees = 0;
    CHECK_STATUS(tandem_client_set_provider(NULL, never_called_provider, NULL, count_provider_free),
                 TANDEM_ERR_NULL_ARGUMENT);
    CHECK(provider_frees == 0); /* argument errors leave the userdata with the caller */
    /* A NULL callback unregisters (nothing registered: still fine) and ignores userdata_free. */
    CHECK_STATUS(tandem_client_set_provider(f.c, NULL, NULL, count_provider_free), TANDEM_OK);
    CHECK(provider_frees == 0);
    CHECK_STATUS(tandem_client_set_provider(f.c, never_called_provider, NULL, count_provider_free), TANDEM_OK);
    /* Replacing frees the previous userdata. */
    CHECK_STATUS(tandem_client_set_provider(f.c, never_called_provider, NULL, count_provider_free), TANDEM_OK);
    CHECK(provider_frees == 1);
    CHECK_STATUS(tandem_client_shutdown(f.c, 5000), TANDEM_OK);
    CHECK(provider_frees == 2);
    /* After shutdown a registration is refused and its userdata freed at once. */
    CHECK_STATUS(tandem_client_set_provider(f.c, never_called_provider, NULL, count_provider_free),
                 TANDEM_ERR_SHUTTING_DOWN);
    CHECK(provider_frees == 3);
    fixture_down(&f);
    CHECK(provider_frees == 3);
}

static void test_bad_tandem_provider_emit(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    const char *done = "{\"type\":\"done\"}";
    CHECK_STATUS(tandem_provider_emit(NULL, f.id, "{\"request_id\":1,\"type\":\"done\"}"), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_provider_emit(f.c, NULL, "{\"request_id\":1,\"type\":\"done\"}"), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_provider_emit(f.c, f.id, NULL), TANDEM_ERR_NULL_ARGUMENT);
    /* The request ID is part of the event: missing, negative, fractional or a string is refused. */
    CHECK_STATUS(tandem_provider_emit(f.c, f.id, done), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK(strstr(tandem_last_error_message(), "request_id") != NULL);
    CHECK_STATUS(tandem_provider_emit(f.c, f.id, "{\"request_id\":-1,\"type\":\"done\"}"), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_provider_emit(f.c, f.id, "{\"request_id\":1.5,\"type\":\"done\"}"), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_provider_emit(f.c, f.id, "{\"request_id\":\"1\",\"type\":\"done\"}"), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(provider_emit_for(f.c, BAD, 1, done), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(provider_emit_for(f.c, f.id, 1, BAD_TRUNCATED), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(provider_emit_for(f.c, f.id, 1, "{\"type\""), TANDEM_ERR_INVALID_JSON);
    char *deep = deep_json();
    CHECK_STATUS(provider_emit_for(f.c, f.id, 1, deep), TANDEM_ERR_INVALID_JSON);
    free(deep);
    CHECK_STATUS(provider_emit_for(f.c, f.id, 1, "{\"type\":\"nope\"}"), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(provider_emit_for(f.c, f.id, 1, "[1]"), TANDEM_ERR_INVALID_ARGUMENT);
    /* Well-formed, but no such request. */
    CHECK_STATUS(provider_emit_for(f.c, f.id, 1, done), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(provider_emit_for(f.c, UNKNOWN, UINT64_MAX, done), TANDEM_ERR_NOT_FOUND);
    fixture_down(&f);
}

static void test_bad_tandem_provider_request_is_cancelled(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    CHECK(tandem_provider_request_is_cancelled(NULL, 1));
    CHECK(tandem_provider_request_is_cancelled(f.c, 0));
    CHECK(tandem_provider_request_is_cancelled(f.c, UINT64_MAX));
    fixture_down(&f);
}

static void test_bad_tandem_session_compact(void)
{
    /* The fixture has nothing to compact: the good call answers {"compacted": false, ...}. */
    check_id_out_function("tandem_session_compact", tandem_session_compact, true);
}

static void test_bad_tandem_session_continue(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    CHECK_STATUS(tandem_session_continue(NULL, f.id), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_continue(f.c, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_continue(f.c, BAD), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_session_continue(f.c, UNKNOWN), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_continue(f.c, f.id), TANDEM_ERR_INVALID_ARGUMENT); /* nothing was interrupted */
    fixture_down(&f);
}

static void test_bad_tandem_session_summarize(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    char *out = SENTINEL_STR;
    CHECK_STATUS(tandem_session_summarize(NULL, f.id, &out), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_summarize(f.c, NULL, &out), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_summarize(f.c, f.id, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_summarize(f.c, BAD, &out), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_session_summarize(f.c, UNKNOWN, &out), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_summarize(f.c, f.id, &out), TANDEM_ERR_NOT_SUPPORTED); /* no workdir */
    CHECK(out == SENTINEL_STR);
    fixture_down(&f);
}

static void test_bad_tandem_session_set_model(void)
{
    check_id_text_setter("tandem_session_set_model", tandem_session_set_model, "scripted:demo", "no-prefix",
                         TANDEM_ERR_INVALID_ARGUMENT);
}

static void test_bad_tandem_session_set_thinking_level(void)
{
    check_id_text_setter("tandem_session_set_thinking_level", tandem_session_set_thinking_level, "high", "extreme",
                         TANDEM_ERR_INVALID_ARGUMENT);
}

static void test_bad_tandem_session_enter_plan(void)
{
    check_id_function("tandem_session_enter_plan", tandem_session_enter_plan);
}

static void test_bad_tandem_session_enter_exec(void)
{
    check_id_function("tandem_session_enter_exec", tandem_session_enter_exec);
}

static void test_bad_tandem_session_respond_to_approval(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    const tandem_approval_decision ok = TANDEM_APPROVAL_DECISION_APPROVE;
    CHECK_STATUS(tandem_session_respond_to_approval(NULL, f.id, NULL, ok), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_respond_to_approval(f.c, NULL, NULL, ok), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_respond_to_approval(f.c, BAD, NULL, ok), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_session_respond_to_approval(f.c, f.id, BAD, ok), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_session_respond_to_approval(f.c, UNKNOWN, NULL, ok), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_respond_to_approval(f.c, f.id, NULL, (tandem_approval_decision)99),
                 TANDEM_ERR_INVALID_ARGUMENT);
    /* Well-formed, but nothing is pending. */
    CHECK_STATUS(tandem_session_respond_to_approval(f.c, f.id, NULL, ok), TANDEM_ERR_NO_PENDING_APPROVAL);
    CHECK_STATUS(tandem_session_respond_to_approval(f.c, f.id, "call_1", TANDEM_APPROVAL_DECISION_REJECT),
                 TANDEM_ERR_NO_PENDING_APPROVAL);
    fixture_down(&f);
}

static void test_bad_tandem_session_trusted_tools(void)
{
    check_id_out_function("tandem_session_trusted_tools", tandem_session_trusted_tools, true);
}

static void test_bad_tandem_session_revoke_trust(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    CHECK_STATUS(tandem_session_revoke_trust(NULL, f.id, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_revoke_trust(f.c, NULL, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_revoke_trust(f.c, BAD, NULL), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_session_revoke_trust(f.c, f.id, BAD), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_session_revoke_trust(f.c, UNKNOWN, "shell"), TANDEM_ERR_NOT_FOUND);
    /* Well-formed, but the tool holds no trust (or is no tool at all); revoking everything is always fine. */
    CHECK_STATUS(tandem_session_revoke_trust(f.c, f.id, "shell"), TANDEM_ERR_NOT_FOUND);
    CHECK(strstr(tandem_last_error_message(), "not trusted") != NULL);
    CHECK_STATUS(tandem_session_revoke_trust(f.c, f.id, "no such tool"), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_revoke_trust(f.c, f.id, NULL), TANDEM_OK);
    fixture_down(&f);
}

static void test_bad_tandem_session_clear_all_boundaries(void)
{
    check_id_function("tandem_session_clear_all_boundaries", tandem_session_clear_all_boundaries);
}

static void test_bad_tandem_session_branch_at(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    char *out = SENTINEL_STR;
    CHECK_STATUS(tandem_session_branch_at(NULL, f.id, 1, &out), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_branch_at(f.c, NULL, 1, &out), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_branch_at(f.c, f.id, 1, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_branch_at(f.c, BAD, 1, &out), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_session_branch_at(f.c, UNKNOWN, 1, &out), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_branch_at(f.c, f.id, 0, &out), TANDEM_ERR_NOT_FOUND);         /* no message 0 */
    CHECK_STATUS(tandem_session_branch_at(f.c, f.id, 999, &out), TANDEM_ERR_NOT_FOUND);       /* nor 999 */
    CHECK_STATUS(tandem_session_branch_at(f.c, f.id, UINT64_MAX, &out), TANDEM_ERR_NOT_FOUND);
    CHECK(out == SENTINEL_STR);
    char *list = NULL; /* nothing was branched */
    CHECK_STATUS(tandem_session_list_branches(f.c, f.id, &list), TANDEM_OK);
    CHECK_STREQ(list, "[]");
    tandem_string_free(list);
    CHECK_STATUS(tandem_session_branch_at(f.c, f.id, 1, &out), TANDEM_OK); /* message 1: "Session started" */
    CHECK(out != SENTINEL_STR && out != NULL && json_valid(out));
    if (out != SENTINEL_STR)
        tandem_string_free(out);
    fixture_down(&f);
}

static void test_bad_tandem_session_switch_branch(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    CHECK_STATUS(tandem_session_switch_branch(NULL, f.id, 1), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_switch_branch(f.c, NULL, 1), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_switch_branch(f.c, BAD, 1), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_session_switch_branch(f.c, UNKNOWN, 1), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_switch_branch(f.c, f.id, 1), TANDEM_ERR_NOT_FOUND); /* no branches yet */
    char *b = NULL;
    REQUIRE_STATUS(tandem_session_branch_at(f.c, f.id, 1, &b), TANDEM_OK);
    tandem_string_free(b);
    CHECK_STATUS(tandem_session_switch_branch(f.c, f.id, 0), TANDEM_ERR_NOT_FOUND); /* 1-based */
    CHECK_STATUS(tandem_session_switch_branch(f.c, f.id, 2), TANDEM_ERR_NOT_FOUND); /* past the last */
    CHECK_STATUS(tandem_session_switch_branch(f.c, f.id, UINT32_MAX), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_switch_branch(f.c, f.id, 1), TANDEM_OK);
    fixture_down(&f);
}

static void test_bad_tandem_session_toggle_tool_collapse(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    CHECK_STATUS(tandem_session_toggle_tool_collapse(NULL, f.id, 1), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_toggle_tool_collapse(f.c, NULL, 1), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_toggle_tool_collapse(f.c, BAD, 1), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_session_toggle_tool_collapse(f.c, UNKNOWN, 1), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_toggle_tool_collapse(f.c, f.id, 0), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_toggle_tool_collapse(f.c, f.id, 999), TANDEM_ERR_NOT_FOUND);
    /* Message 1 is the "Session started" system message: not a tool call or thinking block. */
    CHECK_STATUS(tandem_session_toggle_tool_collapse(f.c, f.id, 1), TANDEM_ERR_INVALID_ARGUMENT);
    fixture_down(&f);
}

static void test_bad_tandem_session_set_boundary(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    CHECK_STATUS(tandem_session_set_boundary(NULL, f.id, "a.txt", 1, 2), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_set_boundary(f.c, NULL, "a.txt", 1, 2), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_set_boundary(f.c, f.id, NULL, 1, 2), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_set_boundary(f.c, BAD, "a.txt", 1, 2), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_session_set_boundary(f.c, f.id, BAD, 1, 2), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_session_set_boundary(f.c, UNKNOWN, "a.txt", 1, 2), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_set_boundary(f.c, f.id, "a.txt", 5, 2), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_session_set_boundary(f.c, f.id, "a.txt", UINT32_MAX, 0), TANDEM_ERR_INVALID_ARGUMENT);
    char *out = NULL; /* none of them set anything */
    CHECK_STATUS(tandem_session_boundary_for(f.c, f.id, "a.txt", &out), TANDEM_OK);
    CHECK_STREQ(out, "null");
    tandem_string_free(out);
    CHECK_STATUS(tandem_session_set_boundary(f.c, f.id, "a.txt", 2, 2), TANDEM_OK); /* one line is fine */
    fixture_down(&f);
}

static void test_bad_tandem_session_clear_boundary(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    CHECK_STATUS(tandem_session_clear_boundary(NULL, f.id, "a.txt"), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_clear_boundary(f.c, NULL, "a.txt"), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_clear_boundary(f.c, f.id, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_clear_boundary(f.c, BAD, "a.txt"), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_session_clear_boundary(f.c, f.id, BAD), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_session_clear_boundary(f.c, UNKNOWN, "a.txt"), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_clear_boundary(f.c, f.id, "a.txt"), TANDEM_OK); /* none set: a no-op */
    fixture_down(&f);
}

static void test_bad_tandem_session_boundary_for(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    char *out = SENTINEL_STR;
    CHECK_STATUS(tandem_session_boundary_for(NULL, f.id, "a.txt", &out), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_boundary_for(f.c, NULL, "a.txt", &out), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_boundary_for(f.c, f.id, NULL, &out), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_boundary_for(f.c, f.id, "a.txt", NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_boundary_for(f.c, BAD, "a.txt", &out), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_session_boundary_for(f.c, f.id, BAD, &out), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_session_boundary_for(f.c, UNKNOWN, "a.txt", &out), TANDEM_ERR_NOT_FOUND);
    CHECK(out == SENTINEL_STR);
    /* Round trip. */
    CHECK_STATUS(tandem_session_set_boundary(f.c, f.id, "a.txt", 3, 7), TANDEM_OK);
    out = NULL;
    CHECK_STATUS(tandem_session_boundary_for(f.c, f.id, "a.txt", &out), TANDEM_OK);
    uint64_t lo = 0, hi = 0;
    CHECK(out != NULL && json_get_u64(out, "start_line", &lo) && lo == 3 && json_get_u64(out, "end_line", &hi) &&
          hi == 7);
    tandem_string_free(out);
    CHECK_STATUS(tandem_session_clear_boundary(f.c, f.id, "a.txt"), TANDEM_OK);
    CHECK_STATUS(tandem_session_boundary_for(f.c, f.id, "a.txt", &out), TANDEM_OK);
    CHECK_STREQ(out, "null");
    tandem_string_free(out);
    fixture_down(&f);
}

static void test_bad_tandem_subagent_start(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    char *out = SENTINEL_STR;
    CHECK_STATUS(tandem_subagent_start(NULL, f.id, "task", NULL, &out), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_subagent_start(f.c, f.id, NULL, NULL, &out), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_subagent_start(f.c, f.id, "task", NULL, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_subagent_start(f.c, BAD, "task", NULL, &out), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_subagent_start(f.c, f.id, BAD, NULL, &out), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_subagent_start(f.c, f.id, "task", BAD, &out), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_subagent_start(f.c, f.id, "task", "{\"model\"", &out), TANDEM_ERR_INVALID_JSON);
    CHECK_STATUS(tandem_subagent_start(f.c, f.id, "task", "{\"no_such_option\":1}", &out),
                 TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_subagent_start(f.c, f.id, "", NULL, &out), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_subagent_start(f.c, UNKNOWN, "task", NULL, &out), TANDEM_ERR_NOT_FOUND);
    CHECK(out == SENTINEL_STR);
    /* No sub-agent came of any of it. */
    char *list = NULL;
    CHECK_STATUS(tandem_subagent_list(f.c, NULL, &list), TANDEM_OK);
    CHECK_STREQ(list, "[]");
    tandem_string_free(list);
    CHECK_STATUS(tandem_session_list(f.c, &list), TANDEM_OK);
    CHECK(list != NULL && json_len(list) == 1);
    tandem_string_free(list);
    fixture_down(&f);
}

static void test_bad_tandem_subagent_list(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    char *out = SENTINEL_STR;
    CHECK_STATUS(tandem_subagent_list(NULL, NULL, &out), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_subagent_list(f.c, NULL, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_subagent_list(f.c, BAD, &out), TANDEM_ERR_INVALID_UTF8);
    CHECK(out == SENTINEL_STR);
    /* Documented exception to "unknown IDs are NOT_FOUND": an unknown parent lists no sub-agents (a stopped parent
     * still lists its own; see test_subagents). */
    CHECK_STATUS(tandem_subagent_list(f.c, UNKNOWN, &out), TANDEM_OK);
    CHECK(out != SENTINEL_STR);
    if (out != SENTINEL_STR) {
        CHECK_STREQ(out, "[]");
        tandem_string_free(out);
    }
    fixture_down(&f);
}

static void test_bad_tandem_session_get_status(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    tandem_session_status st = (tandem_session_status)77;
    CHECK_STATUS(tandem_session_get_status(NULL, f.id, &st), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_get_status(f.c, NULL, &st), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_get_status(f.c, f.id, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_get_status(f.c, BAD, &st), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_session_get_status(f.c, UNKNOWN, &st), TANDEM_ERR_NOT_FOUND);
    CHECK(st == (tandem_session_status)77);
    fixture_down(&f);
}

static void test_bad_tandem_session_messages_page(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    char *out = SENTINEL_STR;
    CHECK_STATUS(tandem_session_messages_page(NULL, f.id, 0, 10, &out), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_messages_page(f.c, NULL, 0, 10, &out), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_messages_page(f.c, f.id, 0, 10, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_messages_page(f.c, BAD, 0, 10, &out), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_session_messages_page(f.c, UNKNOWN, 0, 10, &out), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_messages_page(f.c, f.id, 0, 0, &out), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK(out == SENTINEL_STR);
    /* Extreme but valid values. */
    CHECK_STATUS(tandem_session_messages_page(f.c, f.id, UINT64_MAX, UINT32_MAX, &out), TANDEM_OK);
    CHECK(out != SENTINEL_STR && out != NULL && json_valid(out));
    if (out != SENTINEL_STR)
        tandem_string_free(out);
    out = NULL;
    CHECK_STATUS(tandem_session_messages_page(f.c, f.id, 1, 5, &out), TANDEM_OK); /* nothing below the first ID */
    CHECK(out != NULL && json_len(json_get(out, "messages")) == 0);
    tandem_string_free(out);
    fixture_down(&f);
}

static void test_bad_tandem_queue_entries_to_text(void)
{
    char *out = SENTINEL_STR;
    CHECK_STATUS(tandem_queue_entries_to_text(NULL, &out), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_queue_entries_to_text("[]", NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_queue_entries_to_text(BAD, &out), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_queue_entries_to_text("[\"a\",", &out), TANDEM_ERR_INVALID_JSON);
    char *deep = deep_json();
    CHECK_STATUS(tandem_queue_entries_to_text(deep, &out), TANDEM_ERR_INVALID_JSON);
    free(deep);
    CHECK_STATUS(tandem_queue_entries_to_text("{\"a\":1}", &out), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_queue_entries_to_text("[1]", &out), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_queue_entries_to_text("[[{\"type\":\"video\"}]]", &out), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK(out == SENTINEL_STR);
    /* The seed's combine_queue_entries_to_text: strings and parts, a blank line between, images left out. */
    CHECK_STATUS(tandem_queue_entries_to_text("[\"one\",[{\"type\":\"text\",\"text\":\"two\"},{\"type\":\"image\","
                                              "\"media_type\":\"image/png\",\"data\":\"aGk=\"}],\"\"]",
                                              &out),
                 TANDEM_OK);
    CHECK_STREQ(out, "one\n\ntwo");
    tandem_string_free(out);
    out = NULL;
    CHECK_STATUS(tandem_queue_entries_to_text("[]", &out), TANDEM_OK);
    CHECK_STREQ(out, "");
    tandem_string_free(out);
}

static void test_bad_tandem_session_message_parts(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    char *out = SENTINEL_STR;
    CHECK_STATUS(tandem_session_message_parts(NULL, f.id, 1, &out), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_message_parts(f.c, NULL, 1, &out), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_message_parts(f.c, f.id, 1, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_message_parts(f.c, BAD, 1, &out), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_session_message_parts(f.c, UNKNOWN, 1, &out), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_message_parts(f.c, f.id, 0, &out), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_message_parts(f.c, f.id, UINT64_MAX, &out), TANDEM_ERR_NOT_FOUND);
    CHECK(out == SENTINEL_STR);
    /* A system message is not a user message. */
    CHECK_STATUS(tandem_session_add_system_message(f.c, f.id, "note", TANDEM_MESSAGE_LEVEL_INFO), TANDEM_OK);
    char *m = messages_of(f.c, f.id);
    uint64_t note = 0;
    REQUIRE(m != NULL && json_get_u64(json_at(m, json_len(m) - 1), "id", &note));
    tandem_string_free(m);
    CHECK_STATUS(tandem_session_message_parts(f.c, f.id, note, &out), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK(out == SENTINEL_STR);
    fixture_down(&f);
}

static void test_bad_tandem_session_add_system_message(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    const tandem_message_level info = TANDEM_MESSAGE_LEVEL_INFO;
    CHECK_STATUS(tandem_session_add_system_message(NULL, f.id, "t", info), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_add_system_message(f.c, NULL, "t", info), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_add_system_message(f.c, f.id, NULL, info), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_session_add_system_message(f.c, BAD, "t", info), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_session_add_system_message(f.c, f.id, BAD, info), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_session_add_system_message(f.c, f.id, "t", (tandem_message_level)99),
                 TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_session_add_system_message(f.c, f.id, "t", (tandem_message_level)2),
                 TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_session_add_system_message(f.c, f.id, "t", (tandem_message_level)UINT32_MAX),
                 TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_session_add_system_message(f.c, UNKNOWN, "t", info), TANDEM_ERR_NOT_FOUND);
    /* The transcript only has its "Session started" notice. */
    char *m = messages_of(f.c, f.id);
    CHECK(m != NULL && json_len(m) == 1);
    tandem_string_free(m);
    fixture_down(&f);
}

static int hook_frees;
static void count_hook_free(void *userdata)
{
    (void)userdata;
    hook_frees++;
}

static void never_called_hook(void *userdata, const char *input_json, tandem_hook_reply *reply)
{
    (void)userdata;
    (void)input_json;
    (void)reply;
}

static void test_bad_tandem_client_add_hook(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    hook_frees = 0;
    uint64_t id = 77;
    const char *spec = "{\"event\":\"PreToolUse\"}";
    CHECK_STATUS(tandem_client_add_hook(NULL, NULL, spec, never_called_hook, NULL, count_hook_free, &id),
                 TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_client_add_hook(f.c, NULL, spec, NULL, NULL, count_hook_free, &id), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_client_add_hook(f.c, NULL, spec, never_called_hook, NULL, count_hook_free, NULL),
                 TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_client_add_hook(f.c, BAD_SURROGATE, spec, never_called_hook, NULL, count_hook_free, &id),
                 TANDEM_ERR_INVALID_UTF8);
    static const struct {
        const char *spec;
        tandem_status want;
    } bad[] = {
        {NULL, TANDEM_ERR_NULL_ARGUMENT},
        {BAD, TANDEM_ERR_INVALID_UTF8},
        {"{\"event\":", TANDEM_ERR_INVALID_JSON},
        {"{\"event\":\"Nope\"}", TANDEM_ERR_INVALID_ARGUMENT},
        {"{\"event\":\"Stop\",\"extra\":1}", TANDEM_ERR_INVALID_ARGUMENT},
        {"{\"event\":\"PreToolUse\",\"matcher\":\"(\"}", TANDEM_ERR_INVALID_ARGUMENT},
        {"{\"event\":\"Stop\",\"timeout_ms\":0}", TANDEM_ERR_INVALID_ARGUMENT},
        {"{\"event\":\"Stop\",\"timeout_ms\":3600001}", TANDEM_ERR_INVALID_ARGUMENT},
        {"{\"event\":\"Stop\",\"on_failure\":\"explode\"}", TANDEM_ERR_INVALID_ARGUMENT},
        {"[]", TANDEM_ERR_INVALID_ARGUMENT},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_STATUS(tandem_client_add_hook(f.c, NULL, bad[i].spec, never_called_hook, NULL, count_hook_free, &id),
                     bad[i].want);
        CHECK_STATUS(tandem_client_add_hook(f.c, f.id, bad[i].spec, never_called_hook, NULL, count_hook_free, &id),
                     bad[i].want);
    }
    /* Failed calls write nothing, and argument errors leave the userdata with the caller. */
    CHECK(id == 77);
    CHECK(hook_frees == 0);
    /* An unknown session is refused after the arguments were checked: the userdata is freed at once. */
    CHECK_STATUS(tandem_client_add_hook(f.c, UNKNOWN, spec, never_called_hook, NULL, count_hook_free, &id),
                 TANDEM_ERR_NOT_FOUND);
    CHECK(hook_frees == 1);
    CHECK_STATUS(tandem_client_add_hook(f.c, NULL, spec, never_called_hook, NULL, count_hook_free, &id), TANDEM_OK);
    CHECK(id != 0 && id != 77);
    /* A session's hook goes with its session; the client's with the client. */
    CHECK_STATUS(tandem_client_add_hook(f.c, f.id, spec, never_called_hook, NULL, count_hook_free, &id), TANDEM_OK);
    CHECK_STATUS(tandem_session_stop(f.c, f.id), TANDEM_OK);
    CHECK(hook_frees == 2);
    fixture_down(&f);
    CHECK(hook_frees == 3);
}

static void test_bad_tandem_client_remove_hook(void)
{
    fixture f;
    REQUIRE(fixture_up(&f));
    hook_frees = 0;
    uint64_t id = 0;
    CHECK_STATUS(tandem_client_add_hook(f.c, NULL, "{\"event\":\"Stop\"}", never_called_hook, NULL, count_hook_free, &id),
                 TANDEM_OK);
    CHECK_STATUS(tandem_client_remove_hook(NULL, id), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_client_remove_hook(f.c, 0), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_client_remove_hook(f.c, id + 1000), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_client_remove_hook(f.c, id), TANDEM_OK);
    CHECK(hook_frees == 1);
    CHECK_STATUS(tandem_client_remove_hook(f.c, id), TANDEM_ERR_NOT_FOUND);
    fixture_down(&f);
    CHECK(hook_frees == 1);
}

static void test_bad_tandem_hook_reply_set(void)
{
    /* Outside a hook callback every reply is stale: made-up handles are never dereferenced. */
    CHECK_STATUS(tandem_hook_reply_set(NULL, "{}"), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_hook_reply_set((tandem_hook_reply *)(uintptr_t)1, "{}"), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_hook_reply_set((tandem_hook_reply *)(uintptr_t)0xdeadbeef, NULL), TANDEM_ERR_NOT_FOUND);
    /* Inside one (NULL, invalid UTF-8, malformed JSON) is covered by tests/c/test_hooks.c. */
}

int main(int argc, char **argv)
{
    check_init(argc, argv);
    RUN(test_infallible_functions);
    RUN(test_bad_tandem_workdir_session_id);
    RUN(test_bad_tandem_client_new);
    RUN(test_bad_tandem_client_shutdown);
    RUN(test_bad_tandem_client_listen);
    RUN(test_bad_tandem_client_stop_listening);
    RUN(test_bad_tandem_client_free);
    RUN(test_bad_tandem_client_next_event);
    RUN(test_bad_tandem_client_next_events);
    RUN(test_bad_tandem_client_ready_fd);
    RUN(test_bad_tandem_client_next_session_event);
    RUN(test_bad_tandem_client_subscribe);
    RUN(test_bad_tandem_client_unsubscribe);
    RUN(test_bad_tandem_session_events_since);
    RUN(test_bad_tandem_session_start);
    RUN(test_bad_tandem_session_start_or_get);
    RUN(test_bad_tandem_session_stop);
    RUN(test_bad_tandem_session_list);
    RUN(test_bad_tandem_session_send_prompt);
    RUN(test_bad_tandem_session_send_prompt_parts);
    RUN(test_bad_tandem_session_queue_follow_up_parts);
    RUN(test_bad_tandem_session_queue_steering);
    RUN(test_bad_tandem_session_queue_follow_up);
    RUN(test_bad_tandem_session_dequeue_steering);
    RUN(test_bad_tandem_session_queued_messages);
    RUN(test_bad_tandem_session_recall_queues);
    RUN(test_bad_tandem_session_clear_queues);
    RUN(test_bad_tandem_session_abort);
    RUN(test_bad_tandem_session_branch_at);
    RUN(test_bad_tandem_session_list_branches);
    RUN(test_bad_tandem_session_switch_branch);
    RUN(test_bad_tandem_session_toggle_tool_collapse);
    RUN(test_bad_tandem_session_toggle_all_tool_collapses);
    RUN(test_bad_tandem_session_list_skills);
    RUN(test_bad_tandem_session_mcp_servers);
    RUN(test_bad_tandem_session_mcp_set_enabled);
    RUN(test_bad_tandem_session_activate_skill);
    RUN(test_bad_tandem_session_deactivate_skill);
    RUN(test_bad_tandem_session_compact);
    RUN(test_bad_tandem_session_continue);
    RUN(test_bad_tandem_session_summarize);
    RUN(test_bad_tandem_session_set_model);
    RUN(test_bad_tandem_session_cycle_model);
    RUN(test_bad_tandem_session_set_thinking_level);
    RUN(test_bad_tandem_session_cycle_thinking_level);
    RUN(test_bad_tandem_session_available_models);
    RUN(test_bad_tandem_session_commands);
    RUN(test_bad_tandem_session_enter_plan);
    RUN(test_bad_tandem_session_enter_exec);
    RUN(test_bad_tandem_session_respond_to_approval);
    RUN(test_bad_tandem_session_trusted_tools);
    RUN(test_bad_tandem_session_revoke_trust);
    RUN(test_bad_tandem_session_set_boundary);
    RUN(test_bad_tandem_session_clear_boundary);
    RUN(test_bad_tandem_session_clear_all_boundaries);
    RUN(test_bad_tandem_session_boundary_for);
    RUN(test_bad_tandem_session_touched_files);
    RUN(test_bad_tandem_session_token);
    RUN(test_bad_tandem_subagent_start);
    RUN(test_bad_tandem_subagent_list);
    RUN(test_bad_tandem_session_get_status);
    RUN(test_bad_tandem_session_messages);
    RUN(test_bad_tandem_session_messages_page);
    RUN(test_bad_tandem_session_message_parts);
    RUN(test_bad_tandem_queue_entries_to_text);
    RUN(test_bad_tandem_session_usage);
    RUN(test_bad_tandem_session_metadata);
    RUN(test_bad_tandem_session_snapshot);
    RUN(test_bad_tandem_session_context_files);
    RUN(test_bad_tandem_session_set_budget);
    RUN(test_bad_tandem_session_add_system_message);
    RUN(test_bad_tandem_session_new_conversation);
    RUN(test_bad_tandem_session_load_conversation);
    RUN(test_bad_tandem_conversation_list);
    RUN(test_bad_tandem_conversation_delete);
    RUN(test_bad_tandem_client_register_tool);
    RUN(test_bad_tandem_client_unregister_tool);
    RUN(test_bad_tandem_tool_call_complete);
    RUN(test_bad_tandem_tool_call_is_cancelled);
    RUN(test_bad_tandem_client_set_provider);
    RUN(test_bad_tandem_provider_emit);
    RUN(test_bad_tandem_provider_request_is_cancelled);
    RUN(test_bad_tandem_client_add_hook);
    RUN(test_bad_tandem_client_remove_hook);
    RUN(test_bad_tandem_hook_reply_set);
    return check_summary();
}
