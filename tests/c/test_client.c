/* test_client.c: library functions and the client life cycle (new, configs, shutdown, free, workdir IDs). */
#include "check.h"
#include <sys/wait.h>
#include <unistd.h>
#include "helpers.h"

static void test_version_matches_macros(void)
{
    const char *v = tandem_version();
    REQUIRE(v != NULL);
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", TANDEM_VERSION_MAJOR, TANDEM_VERSION_MINOR, TANDEM_VERSION_PATCH);
    CHECK_STREQ(v, want);
    CHECK(tandem_version() == v); /* static: the same storage every time */
}

static void test_status_names(void)
{
    static const char *const names[] = {
        "TANDEM_OK",
        "TANDEM_ERR_NULL_ARGUMENT",
        "TANDEM_ERR_INVALID_UTF8",
        "TANDEM_ERR_INVALID_JSON",
        "TANDEM_ERR_INVALID_ARGUMENT",
        "TANDEM_ERR_NOT_FOUND",
        "TANDEM_ERR_ALREADY_EXISTS",
        "TANDEM_ERR_RESTART_PENDING",
        "TANDEM_ERR_PROVIDER_NOT_READY",
        "TANDEM_ERR_NOT_SUPPORTED",
        "TANDEM_ERR_NO_PENDING_APPROVAL",
        "TANDEM_ERR_BUSY",
        "TANDEM_ERR_TIMEOUT",
        "TANDEM_ERR_REENTRANT_CALL",
        "TANDEM_ERR_SHUTTING_DOWN",
        "TANDEM_ERR_FORKED",
        "TANDEM_ERR_IO",
        "TANDEM_ERR_PROVIDER",
        "TANDEM_ERR_PANIC",
        "TANDEM_ERR_INTERNAL",
    };
    /* The enum constants are the documented values: the names must line up with them. */
    static const tandem_status values[] = {
        TANDEM_OK,
        TANDEM_ERR_NULL_ARGUMENT,
        TANDEM_ERR_INVALID_UTF8,
        TANDEM_ERR_INVALID_JSON,
        TANDEM_ERR_INVALID_ARGUMENT,
        TANDEM_ERR_NOT_FOUND,
        TANDEM_ERR_ALREADY_EXISTS,
        TANDEM_ERR_RESTART_PENDING,
        TANDEM_ERR_PROVIDER_NOT_READY,
        TANDEM_ERR_NOT_SUPPORTED,
        TANDEM_ERR_NO_PENDING_APPROVAL,
        TANDEM_ERR_BUSY,
        TANDEM_ERR_TIMEOUT,
        TANDEM_ERR_REENTRANT_CALL,
        TANDEM_ERR_SHUTTING_DOWN,
        TANDEM_ERR_FORKED,
        TANDEM_ERR_IO,
        TANDEM_ERR_PROVIDER,
        TANDEM_ERR_PANIC,
        TANDEM_ERR_INTERNAL,
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        CHECK(values[i] == (tandem_status)i);
        CHECK_STREQ(tandem_status_name(values[i]), names[i]);
    }
    const tandem_status unknown[] = {20, 21, 99, 1000, 0x7fffffff, 0xffffffffu};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
        CHECK_STREQ(tandem_status_name(unknown[i]), "TANDEM_UNKNOWN_STATUS");
}

static void *fresh_thread_last_error(void *arg)
{
    (void)arg;
    const char *msg = tandem_last_error_message();
    CHECK(msg != NULL && msg[0] == '\0'); /* "" if no call failed yet on this thread */
    tandem_client *c = NULL;
    CHECK_STATUS(tandem_client_new("{", &c), TANDEM_ERR_INVALID_JSON);
    msg = tandem_last_error_message();
    CHECK(msg != NULL && msg[0] != '\0');
    return NULL;
}

static void test_last_error_is_per_thread(void)
{
    tandem_client *c = NULL;
    CHECK_STATUS(tandem_client_new("{\"bogus_key\":1}", &c), TANDEM_ERR_INVALID_ARGUMENT);
    char before[512];
    snprintf(before, sizeof before, "%s", tandem_last_error_message());
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, fresh_thread_last_error, NULL) == 0);
    pthread_join(t, NULL);
    /* The other thread's failure did not overwrite this thread's message. */
    CHECK_STREQ(tandem_last_error_message(), before);
    CHECK(strstr(before, "bogus_key") != NULL);
}

static void test_new_with_null_config(void)
{
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(NULL, &c), TANDEM_OK);
    REQUIRE(c != NULL);
    char *list = NULL;
    CHECK_STATUS(tandem_session_list(c, &list), TANDEM_OK);
    CHECK_STREQ(list, "[]");
    tandem_string_free(list);
    CHECK_STATUS(tandem_client_shutdown(c, 5000), TANDEM_OK);
    tandem_client_free(c);
}

static void test_new_with_json_config(void)
{
    const char *config = "{\n"
                         "  \"store_dir\": null,\n"
                         "  \"worker_threads\": 1,\n"
                         "  \"event_queue_capacity\": 1024,\n"
                         "  \"event_history_capacity\": 64,\n"
                         "  \"pull_events\": true,\n"
                         "  \"restart\": {\"max_attempts\": 2, \"base_delay_ms\": 5, \"max_delay_ms\": 50,"
                         " \"window_ms\": 1000},\n"
                         "  \"session_defaults\": {\"model\": \"scripted:echo\", \"max_turns\": 5}\n"
                         "}";
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(config, &c), TANDEM_OK);
    REQUIRE(c != NULL);
    char *id = NULL;
    CHECK_STATUS(tandem_session_start(c, NULL, &id), TANDEM_OK);
    CHECK_STREQ(id, "session-1");
    char *meta = NULL;
    CHECK_STATUS(tandem_session_metadata(c, id, &meta), TANDEM_OK);
    CHECK(meta != NULL && json_valid(meta) && json_str_is(meta, "model", "scripted:echo"));
    tandem_string_free(meta);
    tandem_string_free(id);
    /* A second client with a different store setting coexists with the first. */
    char dir[] = "/tmp/tandem-c-store-XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    char config2[256];
    snprintf(config2, sizeof config2, "{\"store_dir\":\"%s\",\"worker_threads\":2}", dir);
    tandem_client *c2 = NULL;
    CHECK_STATUS(tandem_client_new(config2, &c2), TANDEM_OK);
    tandem_client_free(c2);
    tandem_client_free(c);
    char cmd[320];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

static void test_bad_configs(void)
{
    tandem_client *sentinel = (tandem_client *)(uintptr_t)0x1234;
    tandem_client *c = sentinel;

    /* Malformed JSON: the message says where (line and column). */
    CHECK_STATUS(tandem_client_new("{", &c), TANDEM_ERR_INVALID_JSON);
    const char *msg = tandem_last_error_message();
    CHECK(strstr(msg, "line") != NULL && strstr(msg, "column") != NULL);
    CHECK(c == sentinel); /* out-parameters are written only on success */

    CHECK_STATUS(tandem_client_new("{\n  \"worker_threads\": 2,\n  oops\n}", &c), TANDEM_ERR_INVALID_JSON);
    msg = tandem_last_error_message();
    CHECK(strstr(msg, "line 3") != NULL && strstr(msg, "column") != NULL);
    CHECK_STATUS(tandem_client_new("", &c), TANDEM_ERR_INVALID_JSON);
    CHECK_STATUS(tandem_client_new("{\"store_dir\": null,}", &c), TANDEM_ERR_INVALID_JSON);
    CHECK_STATUS(tandem_client_new("{} trailing", &c), TANDEM_ERR_INVALID_JSON);

    /* Well-formed but unacceptable. */
    CHECK_STATUS(tandem_client_new("{\"worker_thread\": 2}", &c), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK(strstr(tandem_last_error_message(), "worker_thread") != NULL);
    CHECK_STATUS(tandem_client_new("{\"restart\": {\"max_attempt\": 2}}", &c), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_client_new("[]", &c), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_client_new("3", &c), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_client_new("null", &c), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_client_new("{\"worker_threads\": 0}", &c), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_client_new("{\"worker_threads\": 65}", &c), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_client_new("{\"worker_threads\": \"2\"}", &c), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_client_new("{\"store_dir\": \"\"}", &c), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_client_new("{\"session_defaults\": 1}", &c), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_client_new("{\"session_defaults\": {\"provider\": \"nope\"}}", &c),
                 TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_client_new("{\"session_defaults\": {\"modle\": \"scripted:echo\"}}", &c),
                 TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_client_new("{\"restart\": {\"base_delay_ms\": 500, \"max_delay_ms\": 10}}", &c),
                 TANDEM_ERR_INVALID_ARGUMENT);

    /* A store it could never write fails at once (a file where the directory belongs), not at the first turn. */
    char file[] = "/tmp/tandem-c-notadir-XXXXXX";
    int fd = mkstemp(file);
    REQUIRE(fd >= 0);
    close(fd);
    char blocked[256];
    snprintf(blocked, sizeof blocked, "{\"store_dir\":\"%s/store\"}", file);
    CHECK_STATUS(tandem_client_new(blocked, &c), TANDEM_ERR_IO);
    CHECK(strstr(tandem_last_error_message(), file) != NULL);
    CHECK(c == sentinel);
    unlink(file);

    /* Bad C arguments. */
    CHECK_STATUS(tandem_client_new("{\"store_dir\": \"\xff\xfe\"}", &c), TANDEM_ERR_INVALID_UTF8);
    CHECK_STATUS(tandem_client_new(NULL, NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK(c == sentinel);
}

static void free_counter(void *userdata)
{
    atomic_fetch_add((atomic_int *)userdata, 1);
}

static void ignore_event(void *userdata, const tandem_event *event)
{
    (void)userdata;
    (void)event;
}

static void test_shutdown_twice_and_free_null(void)
{
    tandem_client_free(NULL); /* no-op */
    tandem_string_free(NULL); /* no-op */

    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    char *id = NULL;
    REQUIRE_STATUS(tandem_session_start(c, NULL, &id), TANDEM_OK);
    CHECK_STATUS(tandem_client_shutdown(c, 5000), TANDEM_OK);
    CHECK_STATUS(tandem_client_shutdown(c, 5000), TANDEM_OK); /* idempotent */
    CHECK_STATUS(tandem_client_shutdown(c, 0), TANDEM_OK);

    /* The shutdown stopped the session and announced it; the pull queue is drained, then SHUTTING_DOWN. */
    evlog log = {0};
    const char *stopped = pull_until(c, &log, id, "session_stopped", 1000);
    CHECK(stopped != NULL);
    char *ev = NULL;
    CHECK_STATUS(tandem_client_next_event(c, 1000, &ev), TANDEM_ERR_SHUTTING_DOWN);
    CHECK(ev == NULL);
    evlog_free(&log);

    /* Everything else reports SHUTTING_DOWN, never a crash. */
    char *out = NULL;
    tandem_session_status status;
    tandem_prompt_result result;
    CHECK_STATUS(tandem_session_start(c, NULL, &out), TANDEM_ERR_SHUTTING_DOWN);
    CHECK_STATUS(tandem_session_start_or_get(c, "x", NULL, &out), TANDEM_ERR_SHUTTING_DOWN);
    CHECK_STATUS(tandem_session_list(c, &out), TANDEM_ERR_SHUTTING_DOWN);
    CHECK_STATUS(tandem_session_stop(c, id), TANDEM_ERR_SHUTTING_DOWN);
    CHECK_STATUS(tandem_session_send_prompt(c, id, "hi", &result), TANDEM_ERR_SHUTTING_DOWN);
    CHECK_STATUS(tandem_session_send_prompt_parts(c, id, "[{\"type\":\"text\",\"text\":\"hi\"}]", NULL),
                 TANDEM_ERR_SHUTTING_DOWN);
    CHECK_STATUS(tandem_session_abort(c, id), TANDEM_ERR_SHUTTING_DOWN);
    CHECK_STATUS(tandem_session_token(c, id, &out), TANDEM_ERR_SHUTTING_DOWN);
    CHECK_STATUS(tandem_subagent_start(c, NULL, "task", NULL, &out), TANDEM_ERR_SHUTTING_DOWN);
    CHECK_STATUS(tandem_subagent_list(c, NULL, &out), TANDEM_ERR_SHUTTING_DOWN);
    CHECK_STATUS(tandem_session_get_status(c, id, &status), TANDEM_ERR_SHUTTING_DOWN);
    CHECK_STATUS(tandem_session_messages(c, id, &out), TANDEM_ERR_SHUTTING_DOWN);
    CHECK_STATUS(tandem_session_messages_page(c, id, 0, 10, &out), TANDEM_ERR_SHUTTING_DOWN);
    CHECK_STATUS(tandem_session_usage(c, id, &out), TANDEM_ERR_SHUTTING_DOWN);
    CHECK_STATUS(tandem_session_metadata(c, id, &out), TANDEM_ERR_SHUTTING_DOWN);
    CHECK_STATUS(tandem_session_snapshot(c, id, &out), TANDEM_ERR_SHUTTING_DOWN);
    CHECK_STATUS(tandem_session_events_since(c, id, 0, &out), TANDEM_ERR_SHUTTING_DOWN);
    CHECK_STATUS(tandem_session_add_system_message(c, id, "note", TANDEM_MESSAGE_LEVEL_INFO),
                 TANDEM_ERR_SHUTTING_DOWN);
    CHECK(out == NULL);

    /* A subscription attempted after shutdown fails, and its userdata is released right away, exactly once. */
    atomic_int frees = 0;
    uint64_t sub = 0;
    CHECK_STATUS(tandem_client_subscribe(c, NULL, ignore_event, &frees, free_counter, &sub),
                 TANDEM_ERR_SHUTTING_DOWN);
    CHECK(atomic_load(&frees) == 1);
    CHECK_STATUS(tandem_client_unsubscribe(c, 1), TANDEM_ERR_NOT_FOUND);

    tandem_string_free(id);
    tandem_client_free(c);
    CHECK(atomic_load(&frees) == 1);
}

static void test_free_without_shutdown(void)
{
    /* tandem_client_free shuts down by itself: sessions stop, subscriptions are released once. */
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    char *id = NULL;
    REQUIRE_STATUS(tandem_session_start(c, "{\"script\":[[{\"stall_ms\":60000}]]}", &id), TANDEM_OK);
    atomic_int frees = 0;
    uint64_t sub = 0;
    CHECK_STATUS(tandem_client_subscribe(c, NULL, ignore_event, &frees, free_counter, &sub), TANDEM_OK);
    CHECK_STATUS(tandem_session_send_prompt(c, id, "wait forever", NULL), TANDEM_OK); /* a turn in flight */
    tandem_string_free(id);
    uint64_t t0 = now_ms();
    tandem_client_free(c);
    CHECK(now_ms() - t0 < 10000); /* the stalled turn does not hold the free up */
    CHECK(atomic_load(&frees) == 1);
}

static void test_fork_detection(void)
{
    /* A forked child must not touch the parent's runtime: every call says TANDEM_ERR_FORKED, free leaks quietly. */
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    char *id = NULL;
    REQUIRE_STATUS(tandem_session_start(c, NULL, &id), TANDEM_OK);
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        char *out = NULL;
        int bad = 0;
        bad |= tandem_session_list(c, &out) != TANDEM_ERR_FORKED;
        bad |= tandem_session_send_prompt(c, id, "hi", NULL) != TANDEM_ERR_FORKED;
        bad |= tandem_client_next_event(c, 10, &out) != TANDEM_ERR_FORKED;
        bad |= tandem_client_next_events(c, 8, &out) != TANDEM_ERR_FORKED;
        int fd = -1;
        bad |= tandem_client_ready_fd(c, &fd) != TANDEM_ERR_FORKED;
        bad |= tandem_client_shutdown(c, 100) != TANDEM_ERR_FORKED;
        bad |= strstr(tandem_last_error_message(), "fork") == NULL;
        tandem_client_free(c); /* must neither hang nor crash */
        /* The child leaks the inherited client by design; exec'ing the exit status keeps leak checkers (valgrind,
         * LeakSanitizer) from reporting that deliberate leak as the child ends. */
        execl("/bin/sh", "sh", "-c", bad ? "exit 1" : "exit 0", (char *)NULL);
        _exit(2);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* The parent's client is untouched. */
    char *list = NULL;
    CHECK_STATUS(tandem_session_list(c, &list), TANDEM_OK);
    CHECK(list != NULL && strstr(list, id) != NULL);
    tandem_string_free(list);
    tandem_string_free(id);
    tandem_client_free(c);
}

static void test_several_clients_coexist(void)
{
    tandem_client *a = NULL, *b = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &a), TANDEM_OK);
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &b), TANDEM_OK);
    char *ia = NULL, *ib = NULL;
    CHECK_STATUS(tandem_session_start(a, NULL, &ia), TANDEM_OK);
    CHECK_STATUS(tandem_session_start(b, NULL, &ib), TANDEM_OK);
    CHECK_STREQ(ia, "session-1"); /* IDs count per client */
    CHECK_STREQ(ib, "session-1");
    tandem_client_free(a);
    /* b is unaffected by a's shutdown. */
    CHECK_STATUS(tandem_session_send_prompt(b, ib, "still here", NULL), TANDEM_OK);
    evlog log = {0};
    CHECK(pull_until(b, &log, ib, "turn_ended", WAIT_MS) != NULL);
    char *text = deltas_of(log.items, log.len, ib, "text_delta");
    CHECK_STREQ(text, "still here");
    free(text);
    evlog_free(&log);
    tandem_string_free(ia);
    tandem_string_free(ib);
    tandem_client_free(b);
}

static void check_workdir_id(const char *path, const char *want)
{
    char *out = NULL;
    CHECK_STATUS(tandem_workdir_session_id(path, &out), TANDEM_OK);
    CHECK_STREQ(out, want);
    tandem_string_free(out);
}

static void test_workdir_session_id(void)
{
    check_workdir_id("/tmp/my-project", "workdir-52089b5d135e6b25");
    check_workdir_id("/", "workdir-8a5edab282632443");
    check_workdir_id("/home/user/code/app", "workdir-9b7d5b340a9d252e");
    /* Normalized: trailing slash, "." and ".." are removed lexically. */
    check_workdir_id("/tmp/my-project/", "workdir-52089b5d135e6b25");
    check_workdir_id("/tmp/./x/../my-project", "workdir-52089b5d135e6b25");
    check_workdir_id("/../tmp/my-project", "workdir-52089b5d135e6b25");

    char *out = NULL;
    CHECK_STATUS(tandem_workdir_session_id("", &out), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tandem_workdir_session_id(NULL, &out), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_workdir_session_id("/tmp", NULL), TANDEM_ERR_NULL_ARGUMENT);
    CHECK_STATUS(tandem_workdir_session_id("/tmp/\xff\xfe", &out), TANDEM_ERR_INVALID_UTF8);
    CHECK(out == NULL);
}

int main(int argc, char **argv)
{
    check_init(argc, argv);
    RUN(test_version_matches_macros);
    RUN(test_status_names);
    RUN(test_last_error_is_per_thread);
    RUN(test_new_with_null_config);
    RUN(test_new_with_json_config);
    RUN(test_bad_configs);
    RUN(test_shutdown_twice_and_free_null);
    RUN(test_free_without_shutdown);
    RUN(test_fork_detection);
    RUN(test_several_clients_coexist);
    RUN(test_workdir_session_id);
    return check_summary();
}
