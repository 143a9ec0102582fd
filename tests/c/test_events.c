/* test_events.c: events through the pull API and through callbacks: ordering, filters, re-entrant calls,
 * unsubscribing while events flow, userdata release, shutdown wake-ups, overload. */
#include "check.h"
#include "helpers.h"

#include <poll.h>

/* Checks that the events of `session` among `events` have sequence numbers 1, 2, 3, ... and start with
 * session_started. */
static void check_session_sequence(char *const *events, size_t n, const char *session)
{
    uint64_t expect = 1;
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        if (!ev_is(events[i], session, NULL))
            continue;
        uint64_t seq = 0;
        CHECK(json_get_u64(events[i], "seq", &seq));
        if (seq != expect)
            check_fail(__FILE__, __LINE__, "sequence numbers increase by 1", events[i]);
        if (first)
            CHECK(json_str_is(events[i], "kind", "session_started"));
        first = false;
        expect = seq + 1;
    }
    CHECK(!first);
}

static void test_pull_stream_end_to_end(void)
{
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    char *id = NULL;
    REQUIRE_STATUS(tandem_session_start(c, "{\"model\":\"scripted:echo\"}", &id), TANDEM_OK);
    tandem_prompt_result r = (tandem_prompt_result)77;
    REQUIRE_STATUS(tandem_session_send_prompt(c, id, "hello big world", &r), TANDEM_OK);
    CHECK(r == TANDEM_PROMPT_RESULT_SENT);

    evlog log = {0};
    const char *ended = pull_until(c, &log, id, "turn_ended", WAIT_MS);
    REQUIRE(ended != NULL);
    CHECK(json_str_is(ended, "reason", "completed"));
    const char *turn_usage = json_get(ended, "usage");
    uint64_t in = 0;
    CHECK(json_get_u64(turn_usage, "input", &in) && in > 0);

    char *text = deltas_of(log.items, log.len, id, "text_delta");
    CHECK_STREQ(text, "hello big world");
    free(text);
    CHECK(evlog_count(&log, id, "text_delta") == 3); /* one delta per word */
    check_session_sequence(log.items, log.len, id);
    /* Deltas name the assistant message they extend. */
    for (size_t i = 0; i < log.len; i++) {
        uint64_t mid = 0;
        if (ev_is(log.items[i], id, "text_delta"))
            CHECK(json_get_u64(log.items[i], "message_id", &mid) && mid > 0);
    }
    /* Status went thinking, then idle. */
    CHECK(evlog_count(&log, id, "status_changed") == 2);

    tandem_session_status st = (tandem_session_status)77;
    CHECK_STATUS(tandem_session_get_status(c, id, &st), TANDEM_OK);
    CHECK(st == TANDEM_SESSION_STATUS_IDLE);

    char *m = messages_of(c, id);
    REQUIRE(m != NULL && json_valid(m));
    CHECK(count_messages(m, "user") == 1 && count_messages(m, "assistant") == 1);
    char *user = last_message_text(m, "user"), *answer = last_message_text(m, "assistant");
    CHECK_STREQ(user, "hello big world");
    CHECK_STREQ(answer, "hello big world");
    free(user);
    free(answer);
    tandem_string_free(m);

    char *usage = NULL;
    CHECK_STATUS(tandem_session_usage(c, id, &usage), TANDEM_OK);
    REQUIRE(usage != NULL && json_valid(usage));
    uint64_t input = 0, output = 0, cr = 99, cw = 99;
    double cost = -1;
    CHECK(json_get_u64(usage, "input", &input) && input > 0);
    CHECK(json_get_u64(usage, "output", &output) && output > 0);
    CHECK(json_get_u64(usage, "cache_read", &cr) && json_get_u64(usage, "cache_write", &cw));
    CHECK(json_get_double(usage, "cost", &cost) && cost >= 0);
    tandem_string_free(usage);

    char *meta = NULL;
    CHECK_STATUS(tandem_session_metadata(c, id, &meta), TANDEM_OK);
    REQUIRE(meta != NULL && json_valid(meta));
    uint64_t turns = 0;
    CHECK(json_str_is(meta, "id", id) && json_str_is(meta, "title", "hello big world") &&
          json_str_is(meta, "status", "idle") && json_get_u64(meta, "turn_count", &turns) && turns == 1);
    tandem_string_free(meta);

    /* Nothing else is pending. */
    char *ev = NULL;
    CHECK_STATUS(tandem_client_next_event(c, 50, &ev), TANDEM_ERR_TIMEOUT);
    CHECK(ev == NULL);

    evlog_free(&log);
    tandem_string_free(id);
    tandem_client_free(c);
}

static pthread_t main_thread;

static void thread_checking_cb(void *userdata, const tandem_event *ev)
{
    CHECK(!pthread_equal(pthread_self(), main_thread)); /* tandem's dispatcher thread, not the host's */
    collector_cb(userdata, ev);
}

static void test_callback_stream_with_filter(void)
{
    main_thread = pthread_self();
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new("{\"store_dir\":null,\"pull_events\":false}", &c), TANDEM_OK);
    collector col, all;
    collector_init(&col);
    collector_init(&all);
    uint64_t sub = 0, sub_all = 0;
    /* Subscribed before the session exists, so even session_started is seen. */
    REQUIRE_STATUS(tandem_client_subscribe(c, "session-1", thread_checking_cb, &col, collector_free, &sub), TANDEM_OK);
    REQUIRE_STATUS(tandem_client_subscribe(c, NULL, collector_cb, &all, collector_free, &sub_all), TANDEM_OK);
    CHECK(sub != sub_all);

    char *id = NULL, *other = NULL;
    REQUIRE_STATUS(tandem_session_start(c,
                                        "{\"script\":[[{\"thinking\":\"hmm\"},{\"text\":\"Hi\"},"
                                        "{\"usage\":{\"input\":3,\"output\":2,\"cost\":0.01}}]]}",
                                        &id),
                   TANDEM_OK);
    CHECK_STREQ(id, "session-1");
    REQUIRE_STATUS(tandem_session_start(c, NULL, &other), TANDEM_OK);
    CHECK_STATUS(tandem_session_send_prompt(c, other, "noise from elsewhere", NULL), TANDEM_OK);
    CHECK_STATUS(tandem_session_send_prompt(c, id, "say hi", NULL), TANDEM_OK);

    REQUIRE(collector_wait(&col, id, "turn_ended", 1, WAIT_MS));
    REQUIRE(collector_wait(&all, other, "turn_ended", 1, WAIT_MS));
    pthread_mutex_lock(&col.mu);
    for (size_t i = 0; i < col.len; i++) { /* the filter held */
        const char *sid = json_get(col.events[i], "session_id");
        CHECK(json_is_null(sid) || json_str_is(col.events[i], "session_id", id));
    }
    check_session_sequence(col.events, col.len, id);
    char *thinking = deltas_of(col.events, col.len, id, "thinking_delta");
    char *text = deltas_of(col.events, col.len, id, "text_delta");
    CHECK_STREQ(thinking, "hmm");
    CHECK_STREQ(text, "Hi");
    free(thinking);
    free(text);
    const char *ended = NULL;
    for (size_t i = 0; i < col.len; i++)
        if (ev_is(col.events[i], id, "turn_ended"))
            ended = col.events[i];
    REQUIRE(ended != NULL);
    const char *u = json_get(ended, "usage");
    uint64_t in = 0, out = 0;
    double cost = 0;
    CHECK(json_get_u64(u, "input", &in) && in == 3);
    CHECK(json_get_u64(u, "output", &out) && out == 2);
    CHECK(json_get_double(u, "cost", &cost) && cost > 0.0099 && cost < 0.0101);
    CHECK(json_str_is(ended, "reason", "completed"));
    pthread_mutex_unlock(&col.mu);

    /* The unfiltered subscription saw both sessions, each in order. */
    pthread_mutex_lock(&all.mu);
    check_session_sequence(all.events, all.len, id);
    check_session_sequence(all.events, all.len, other);
    pthread_mutex_unlock(&all.mu);

    char *m = messages_of(c, id);
    REQUIRE(m != NULL);
    char *th = last_message_text(m, "thinking"), *answer = last_message_text(m, "assistant");
    CHECK_STREQ(th, "hmm");
    CHECK_STREQ(answer, "Hi");
    CHECK(count_messages(m, "usage") == 1);
    free(th);
    free(answer);
    tandem_string_free(m);
    char *usage = NULL;
    CHECK_STATUS(tandem_session_usage(c, id, &usage), TANDEM_OK);
    CHECK(usage != NULL && json_get_u64(usage, "input", &in) && in == 3 && json_get_u64(usage, "output", &out) &&
          out == 2 && json_get_double(usage, "cost", &cost) && cost > 0.0099 && cost < 0.0101);
    tandem_string_free(usage);

    /* pull_events:false keeps nothing for the pull API. */
    char *ev = NULL;
    CHECK_STATUS(tandem_client_next_event(c, 50, &ev), TANDEM_ERR_TIMEOUT);

    CHECK_STATUS(tandem_client_unsubscribe(c, sub), TANDEM_OK);
    CHECK(atomic_load(&col.frees) == 1);
    CHECK_STATUS(tandem_client_unsubscribe(c, sub), TANDEM_ERR_NOT_FOUND);
    tandem_string_free(id);
    tandem_string_free(other);
    tandem_client_free(c);
    CHECK(atomic_load(&col.frees) == 1);
    CHECK(atomic_load(&all.frees) == 1);
    collector_destroy(&col);
    collector_destroy(&all);
}

/* ---------------------------------------------------------------------------------------------------------------- */

typedef struct {
    tandem_client *client;
    char session[64];
    char other_session[64];
    atomic_uint_least64_t self_sub;
    uint64_t other_sub;
    collector other; /* the userdata of other_sub */
    collector extra; /* the userdata of a subscription made from inside the callback */
    atomic_uint_least64_t extra_sub;
    atomic_int did_checks;
    atomic_int prompts_sent;
    collector log; /* every event this callback saw */
} reentrant_ctx;

static void reentrant_cb(void *userdata, const tandem_event *ev)
{
    reentrant_ctx *x = userdata;
    if (ev->session_id != NULL && strcmp(ev->session_id, x->session) == 0 && ev->kind == TANDEM_EVENT_KIND_TEXT_DELTA &&
        atomic_fetch_add(&x->did_checks, 1) == 0) {
        tandem_client *c = x->client;
        /* Queries work from inside a callback. */
        tandem_session_status st = (tandem_session_status)77;
        CHECK_STATUS(tandem_session_get_status(c, x->session, &st), TANDEM_OK);
        CHECK(st == TANDEM_SESSION_STATUS_THINKING);
        char *m = NULL;
        CHECK_STATUS(tandem_session_messages(c, x->session, &m), TANDEM_OK);
        CHECK(m != NULL && json_valid(m) && count_messages(m, "user") == 1);
        tandem_string_free(m);
        char *since = NULL;
        CHECK_STATUS(tandem_session_events_since(c, x->session, 0, &since), TANDEM_OK);
        tandem_string_free(since);
        char *list = NULL;
        CHECK_STATUS(tandem_session_list(c, &list), TANDEM_OK);
        tandem_string_free(list);

        /* What would wait for this very callback is refused instead of deadlocking. */
        CHECK_STATUS(tandem_client_unsubscribe(c, (uint64_t)atomic_load(&x->self_sub)), TANDEM_ERR_REENTRANT_CALL);
        CHECK_STATUS(tandem_client_shutdown(c, 1000), TANDEM_ERR_REENTRANT_CALL);
        /* tandem_client_free returns nothing: it reports through the last error and leaves the client alive. */
        char *page = NULL;
        CHECK_STATUS(tandem_session_messages_page(c, x->session, 0, 0, &page), TANDEM_ERR_INVALID_ARGUMENT);
        char before[512];
        snprintf(before, sizeof before, "%s", tandem_last_error_message());
        tandem_client_free(c);
        const char *after = tandem_last_error_message();
        CHECK(after != NULL && after[0] != '\0' && strcmp(after, before) != 0);

        /* Other subscriptions may be ended, and new ones made, from here. */
        CHECK_STATUS(tandem_client_unsubscribe(c, x->other_sub), TANDEM_OK);
        CHECK(atomic_load(&x->other.frees) == 1);
        uint64_t extra = 0;
        CHECK_STATUS(tandem_client_subscribe(c, x->session, collector_cb, &x->extra, collector_free, &extra), TANDEM_OK);
        atomic_store(&x->extra_sub, extra);

        /* Blocking session calls work too: prompt another session, and queue a prompt on this one. */
        tandem_prompt_result r = (tandem_prompt_result)77;
        CHECK_STATUS(tandem_session_send_prompt(c, x->other_session, "from a callback", &r), TANDEM_OK);
        CHECK(r == TANDEM_PROMPT_RESULT_SENT);
        CHECK_STATUS(tandem_session_send_prompt(c, x->session, "steer", &r), TANDEM_OK);
        CHECK(r == TANDEM_PROMPT_RESULT_QUEUED_STEERING);
        atomic_store(&x->prompts_sent, 1);
    }
    collector_cb(&x->log, ev);
}

static void test_callback_calls_back_into_tandem(void)
{
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    reentrant_ctx *x = calloc(1, sizeof *x);
    REQUIRE(x != NULL);
    x->client = c;
    collector_init(&x->other);
    collector_init(&x->extra);
    collector_init(&x->log);
    char *id = NULL, *other = NULL;
    REQUIRE_STATUS(tandem_session_start(c, "{\"script\":[[{\"text\":\"one \"},{\"delay_ms\":500},{\"text\":\"two\"}],"
                                           "[{\"text\":\"steered\"}]]}",
                                        &id),
                   TANDEM_OK);
    REQUIRE_STATUS(tandem_session_start(c, NULL, &other), TANDEM_OK);
    snprintf(x->session, sizeof x->session, "%s", id);
    snprintf(x->other_session, sizeof x->other_session, "%s", other);
    uint64_t sub = 0;
    REQUIRE_STATUS(tandem_client_subscribe(c, NULL, collector_cb, &x->other, collector_free, &x->other_sub), TANDEM_OK);
    /* No events flow until the prompt below, so self_sub is set before the callback first runs. */
    REQUIRE_STATUS(tandem_client_subscribe(c, NULL, reentrant_cb, x, NULL, &sub), TANDEM_OK);
    atomic_store(&x->self_sub, sub);

    CHECK_STATUS(tandem_session_send_prompt(c, id, "go", NULL), TANDEM_OK);
    /* Two turns on this session (the prompt and the steering queued from the callback), one on the other. */
    CHECK(collector_wait(&x->log, id, "turn_ended", 2, WAIT_MS));
    CHECK(collector_wait(&x->log, other, "turn_ended", 1, WAIT_MS));
    CHECK(atomic_load(&x->did_checks) >= 1);
    CHECK(atomic_load(&x->prompts_sent) == 1);
    CHECK(collector_wait(&x->extra, id, "turn_ended", 1, WAIT_MS));
    char *m = messages_of(c, other);
    char *answer = m ? last_message_text(m, "assistant") : NULL;
    CHECK_STREQ(answer, "from a callback");
    free(answer);
    tandem_string_free(m);
    m = messages_of(c, id);
    answer = m ? last_message_text(m, "assistant") : NULL;
    CHECK_STREQ(answer, "steered");
    free(answer);
    tandem_string_free(m);

    /* The client survived the tandem_client_free attempt from the callback. */
    char *list = NULL;
    CHECK_STATUS(tandem_session_list(c, &list), TANDEM_OK);
    CHECK(list != NULL && json_len(list) == 2);
    tandem_string_free(list);

    CHECK_STATUS(tandem_client_unsubscribe(c, sub), TANDEM_OK); /* from the host thread: fine */
    CHECK_STATUS(tandem_client_unsubscribe(c, (uint64_t)atomic_load(&x->extra_sub)), TANDEM_OK);
    CHECK(atomic_load(&x->extra.frees) == 1);
    tandem_string_free(id);
    tandem_string_free(other);
    tandem_client_free(c);
    CHECK(atomic_load(&x->other.frees) == 1);
    collector_destroy(&x->other);
    collector_destroy(&x->extra);
    collector_destroy(&x->log);
    free(x);
}

/* ---------------------------------------------------------------------------------------------------------------- */

typedef struct {
    tandem_client *client;
    uint64_t sub;
    atomic_int calls;
    atomic_int frees;
    atomic_int running;
    atomic_int unsubscribed; /* set once tandem_client_unsubscribe returned */
    atomic_int calls_after_unsubscribe;
    int calls_at_return;
    int running_at_return;
    int frees_at_return;
    tandem_status unsubscribe_status;
} flow_ctx;

static void flow_cb(void *userdata, const tandem_event *ev)
{
    flow_ctx *x = userdata;
    (void)ev;
    atomic_fetch_add(&x->running, 1);
    if (atomic_load(&x->unsubscribed))
        atomic_fetch_add(&x->calls_after_unsubscribe, 1);
    atomic_fetch_add(&x->calls, 1);
    struct timespec ts = {0, 100000}; /* 0.1 ms: a callback that takes a little while */
    nanosleep(&ts, NULL);
    atomic_fetch_sub(&x->running, 1);
}

static void flow_free(void *userdata)
{
    flow_ctx *x = userdata;
    atomic_fetch_add(&x->frees, 1);
}

static void *unsubscriber(void *arg)
{
    flow_ctx *x = arg;
    uint64_t deadline = now_ms() + WAIT_MS;
    while (atomic_load(&x->calls) < 50 && now_ms() < deadline)
        sleep_ms(1);
    x->unsubscribe_status = tandem_client_unsubscribe(x->client, x->sub);
    /* Right after it returns: not running, never again, and released exactly once. */
    x->running_at_return = atomic_load(&x->running);
    x->frees_at_return = atomic_load(&x->frees);
    x->calls_at_return = atomic_load(&x->calls);
    atomic_store(&x->unsubscribed, 1);
    return NULL;
}

static void test_unsubscribe_from_another_thread_while_events_flow(void)
{
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    flow_ctx x;
    memset(&x, 0, sizeof x);
    x.client = c;
    char *opts = long_text_script(3000, 20, NULL);
    char *id = NULL;
    REQUIRE_STATUS(tandem_session_start(c, opts, &id), TANDEM_OK);
    free(opts);
    REQUIRE_STATUS(tandem_client_subscribe(c, id, flow_cb, &x, flow_free, &x.sub), TANDEM_OK);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, unsubscriber, &x) == 0);
    CHECK_STATUS(tandem_session_send_prompt(c, id, "stream a lot", NULL), TANDEM_OK);
    pthread_join(t, NULL);
    CHECK_STATUS(x.unsubscribe_status, TANDEM_OK);
    CHECK(x.running_at_return == 0);
    CHECK(x.frees_at_return == 1);
    CHECK(x.calls_at_return >= 50);

    evlog log = {0};
    const char *ended = pull_until(c, &log, id, "turn_ended", WAIT_MS);
    CHECK(ended != NULL);
    uint64_t last = 0;
    CHECK(ended != NULL && json_get_u64(ended, "seq", &last));
    /* It was unsubscribed mid-stream, not after the turn. */
    CHECK((uint64_t)x.calls_at_return < last);
    sleep_ms(100);
    CHECK(atomic_load(&x.calls) == x.calls_at_return);
    CHECK(atomic_load(&x.calls_after_unsubscribe) == 0);
    CHECK(atomic_load(&x.frees) == 1);
    CHECK_STATUS(tandem_client_unsubscribe(c, x.sub), TANDEM_ERR_NOT_FOUND);

    evlog_free(&log);
    tandem_string_free(id);
    tandem_client_free(c);
    CHECK(atomic_load(&x.frees) == 1);
    CHECK(atomic_load(&x.calls) == x.calls_at_return);
}

/* ---------------------------------------------------------------------------------------------------------------- */

static void test_userdata_free_once_at_shutdown(void)
{
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    collector a, b, d;
    collector_init(&a);
    collector_init(&b);
    collector_init(&d);
    uint64_t sa = 0, sb = 0, sd = 0;
    CHECK_STATUS(tandem_client_subscribe(c, NULL, collector_cb, &a, collector_free, &sa), TANDEM_OK);
    CHECK_STATUS(tandem_client_subscribe(c, "session-1", collector_cb, &b, collector_free, &sb), TANDEM_OK);
    CHECK_STATUS(tandem_client_subscribe(c, "never-started", collector_cb, &d, collector_free, &sd), TANDEM_OK);
    CHECK(sa != sb && sb != sd && sa != sd);

    char *id = NULL;
    REQUIRE_STATUS(tandem_session_start(c, NULL, &id), TANDEM_OK);
    CHECK_STATUS(tandem_session_send_prompt(c, id, "a turn", NULL), TANDEM_OK);
    CHECK(collector_wait(&a, id, "turn_ended", 1, WAIT_MS));
    CHECK(collector_wait(&b, id, "turn_ended", 1, WAIT_MS));
    CHECK_STATUS(tandem_client_unsubscribe(c, sb), TANDEM_OK);
    CHECK(atomic_load(&b.frees) == 1);
    CHECK(atomic_load(&a.frees) == 0 && atomic_load(&d.frees) == 0);

    CHECK_STATUS(tandem_client_shutdown(c, 5000), TANDEM_OK);
    CHECK(atomic_load(&a.frees) == 1);
    CHECK(atomic_load(&b.frees) == 1);
    CHECK(atomic_load(&d.frees) == 1);
    CHECK(atomic_load(&d.calls) == 0);
    /* The stop at shutdown was announced, and delivered before shutdown returned. */
    pthread_mutex_lock(&a.mu);
    bool stopped = false;
    for (size_t i = 0; i < a.len; i++)
        stopped = stopped || ev_is(a.events[i], id, "session_stopped");
    pthread_mutex_unlock(&a.mu);
    CHECK(stopped);
    int calls = atomic_load(&a.calls);
    CHECK_STATUS(tandem_client_unsubscribe(c, sa), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_client_shutdown(c, 5000), TANDEM_OK);
    tandem_client_free(c);
    CHECK(atomic_load(&a.frees) == 1 && atomic_load(&b.frees) == 1 && atomic_load(&d.frees) == 1);
    CHECK(atomic_load(&a.calls) == calls);
    tandem_string_free(id);
    collector_destroy(&a);
    collector_destroy(&b);
    collector_destroy(&d);
}

/* ---------------------------------------------------------------------------------------------------------------- */

typedef struct {
    tandem_client *client;
    uint32_t timeout_ms;
    tandem_status status;
    uint64_t returned_at;
    int events;
} waiter;

static void *wait_for_events(void *arg)
{
    waiter *w = arg;
    for (;;) {
        char *ev = NULL;
        w->status = tandem_client_next_event(w->client, w->timeout_ms, &ev);
        if (w->status != TANDEM_OK)
            break;
        w->events++;
        tandem_string_free(ev);
    }
    w->returned_at = now_ms();
    return NULL;
}

static void test_shutdown_wakes_blocked_next_event(void)
{
    for (int with_session = 0; with_session <= 1; with_session++) {
        tandem_client *c = NULL;
        REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
        char *id = NULL;
        if (with_session) {
            REQUIRE_STATUS(tandem_session_start(c, NULL, &id), TANDEM_OK);
            evlog log = {0};
            CHECK(pull_until(c, &log, id, "session_started", WAIT_MS) != NULL);
            evlog_free(&log);
        }
        waiter w[2] = {{c, 30000, TANDEM_OK, 0, 0}, {c, 30000, TANDEM_OK, 0, 0}};
        pthread_t t[2];
        for (int i = 0; i < 2; i++)
            REQUIRE(pthread_create(&t[i], NULL, wait_for_events, &w[i]) == 0);
        sleep_ms(200); /* let both block */
        uint64_t t0 = now_ms();
        CHECK_STATUS(tandem_client_shutdown(c, 5000), TANDEM_OK);
        for (int i = 0; i < 2; i++) {
            pthread_join(t[i], NULL);
            /* Not CHECK_STATUS: the last-error message belongs to the waiter's thread, not this one. */
            CHECK(w[i].status == TANDEM_ERR_SHUTTING_DOWN);
            CHECK(w[i].returned_at - t0 < 10000); /* promptly: well under the 30 s timeout */
        }
        /* With a session, its session_stopped was handed to exactly one waiter before SHUTTING_DOWN. */
        CHECK(w[0].events + w[1].events == (with_session ? 1 : 0));
        char *ev = NULL;
        CHECK_STATUS(tandem_client_next_event(c, 30000, &ev), TANDEM_ERR_SHUTTING_DOWN);
        tandem_string_free(id);
        tandem_client_free(c);
    }
}

static void test_next_event_timeout(void)
{
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    char *ev = (char *)(uintptr_t)0x1234;
    uint64_t t0 = now_ms();
    CHECK_STATUS(tandem_client_next_event(c, 200, &ev), TANDEM_ERR_TIMEOUT);
    uint64_t dt = now_ms() - t0;
    CHECK(dt >= 190 && dt < 5000);
    CHECK(ev == (char *)(uintptr_t)0x1234);
    t0 = now_ms();
    CHECK_STATUS(tandem_client_next_event(c, 0, &ev), TANDEM_ERR_TIMEOUT);
    CHECK(now_ms() - t0 < 1000);
    tandem_client_free(c);
}

/* ---------------------------------------------------------------------------------------------------------------- */

typedef struct {
    tandem_client *client;
    atomic_int *done;
    uint64_t *seqs; /* seqs of session "session-1" events this thread got */
    size_t n, cap;
    int other; /* events of other kinds/sessions */
} puller;

static void *pull_share(void *arg)
{
    puller *p = arg;
    int quiet = 0;
    while (quiet < 2) {
        char *ev = NULL;
        tandem_status st = tandem_client_next_event(p->client, 100, &ev);
        if (st == TANDEM_ERR_TIMEOUT) {
            quiet += atomic_load(p->done) ? 1 : 0;
            continue;
        }
        if (st != TANDEM_OK)
            break;
        uint64_t seq = 0;
        if (ev_is(ev, "session-1", NULL) && json_get_u64(ev, "seq", &seq)) {
            if (p->n == p->cap) {
                p->cap = p->cap ? p->cap * 2 : 256;
                p->seqs = realloc(p->seqs, p->cap * sizeof *p->seqs);
                if (p->seqs == NULL)
                    abort();
            }
            p->seqs[p->n++] = seq;
        } else {
            p->other++;
        }
        tandem_string_free(ev);
    }
    return NULL;
}

static void test_several_pullers_share_events(void)
{
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    atomic_int done = 0;
    puller p[3];
    pthread_t t[3];
    for (int i = 0; i < 3; i++) {
        memset(&p[i], 0, sizeof p[i]);
        p[i].client = c;
        p[i].done = &done;
        REQUIRE(pthread_create(&t[i], NULL, pull_share, &p[i]) == 0);
    }
    char *opts = long_text_script(300, 0, NULL);
    char *id = NULL;
    CHECK_STATUS(tandem_session_start(c, opts, &id), TANDEM_OK);
    free(opts);
    CHECK_STATUS(tandem_session_send_prompt(c, "session-1", "go", NULL), TANDEM_OK);
    uint64_t latest = wait_turns_in_history(c, "session-1", 1, WAIT_MS);
    atomic_store(&done, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    CHECK(latest > 300);
    /* Each event went to exactly one puller: together they got 1..latest, each once. */
    unsigned char *seen = calloc(latest + 1, 1);
    REQUIRE(seen != NULL);
    size_t total = 0;
    for (int i = 0; i < 3; i++) {
        for (size_t k = 0; k < p[i].n; k++) {
            uint64_t s = p[i].seqs[k];
            CHECK(s >= 1 && s <= latest);
            if (s >= 1 && s <= latest) {
                CHECK(seen[s] == 0);
                seen[s] = 1;
            }
            /* Within one puller, order is kept. */
            CHECK(k == 0 || p[i].seqs[k - 1] < s);
        }
        total += p[i].n;
        CHECK(p[i].other == 0);
        free(p[i].seqs);
    }
    CHECK(total == latest);
    free(seen);
    tandem_string_free(id);
    tandem_client_free(c);
}

/* ---------------------------------------------------------------------------------------------------------------- */

static void slow_cb(void *userdata, const tandem_event *ev)
{
    sleep_ms(2); /* far slower than the scripted stream, so the 16-event dispatcher queue overflows */
    collector_cb(userdata, ev);
}

static void test_overload_coalesces_and_reports_drops(void)
{
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new("{\"store_dir\":null,\"event_queue_capacity\":16}", &c), TANDEM_OK);
    collector col;
    collector_init(&col);
    uint64_t sub = 0;
    /* Filtered: client-level events (events_dropped) still reach it. */
    REQUIRE_STATUS(tandem_client_subscribe(c, "session-1", slow_cb, &col, collector_free, &sub), TANDEM_OK);
    char *opts = long_text_script(400, 0, NULL);
    char *id = NULL;
    REQUIRE_STATUS(tandem_session_start(c, opts, &id), TANDEM_OK);
    free(opts);
    CHECK_STATUS(tandem_session_send_prompt(c, id, "flood", NULL), TANDEM_OK);
    /* Do not pull until the turn is over, so the pull queue overflows too. */
    CHECK(wait_turns_in_history(c, id, 1, WAIT_MS) > 0);
    evlog log = {0};
    const char *ended = pull_until(c, &log, id, "turn_ended", WAIT_MS);
    CHECK(ended != NULL && json_str_is(ended, "reason", "completed"));

    /* Pull side: drops were reported on the client stream, with a count; what must not be lost was not. */
    uint64_t dropped = 0;
    for (size_t i = 0; i < log.len; i++) {
        uint64_t n = 0;
        if (json_str_is(log.items[i], "kind", "events_dropped")) {
            CHECK(json_is_null(json_get(log.items[i], "session_id")));
            CHECK(json_get_u64(log.items[i], "count", &n) && n > 0);
            dropped += n;
        }
    }
    CHECK(dropped > 0);
    CHECK(log.len < 400);
    CHECK(evlog_count(&log, id, "session_started") == 1);
    CHECK(evlog_count(&log, id, "status_changed") == 2);
    CHECK(evlog_count(&log, id, "turn_ended") == 1);
    uint64_t prev = 0; /* still in order */
    for (size_t i = 0; i < log.len; i++) {
        uint64_t seq = 0;
        if (ev_is(log.items[i], id, NULL)) {
            CHECK(json_get_u64(log.items[i], "seq", &seq) && seq > prev);
            prev = seq;
        }
    }

    /* Callback side: the same guarantees for the slow subscriber. */
    CHECK(collector_wait(&col, id, "turn_ended", 1, WAIT_MS));
    CHECK(collector_wait(&col, NULL, "events_dropped", 1, WAIT_MS));
    pthread_mutex_lock(&col.mu);
    size_t status_changes = 0;
    prev = 0;
    for (size_t i = 0; i < col.len; i++) {
        uint64_t seq = 0;
        status_changes += ev_is(col.events[i], id, "status_changed");
        if (ev_is(col.events[i], id, NULL)) {
            CHECK(json_get_u64(col.events[i], "seq", &seq) && seq > prev);
            prev = seq;
        }
    }
    CHECK(status_changes == 2);
    pthread_mutex_unlock(&col.mu);

    /* The transcript itself is complete whatever the queues dropped. */
    char *m = messages_of(c, id);
    char *answer = m ? last_message_text(m, "assistant") : NULL;
    CHECK(answer != NULL && strlen(answer) == 400 && strspn(answer, "x") == 400);
    free(answer);
    tandem_string_free(m);

    evlog_free(&log);
    tandem_string_free(id);
    tandem_client_free(c);
    CHECK(atomic_load(&col.frees) == 1);
    collector_destroy(&col);
}

/* A thread that pulls one session's events with tandem_client_next_session_event until its turn_ended. */
typedef struct {
    tandem_client *client;
    const char *session;
    evlog log;
    tandem_status status;
} session_puller;

static void *pull_one_session(void *arg)
{
    session_puller *p = arg;
    for (;;) {
        char *ev = NULL;
        p->status = tandem_client_next_session_event(p->client, p->session, WAIT_MS, &ev);
        if (p->status != TANDEM_OK)
            return NULL;
        evlog_push(&p->log, ev);
        if (json_str_is(ev, "kind", "turn_ended"))
            return NULL;
    }
}

/* Every event in the log is the session's, with sequence numbers 1, 2, 3, ... from session_started on. */
static void check_only_session(const evlog *log, const char *session)
{
    for (size_t i = 0; i < log->len; i++) {
        CHECK_EVENT_ENVELOPE(log->items[i]);
        if (!ev_is(log->items[i], session, NULL))
            check_fail(__FILE__, __LINE__, "only the filtered session's events", log->items[i]);
    }
    check_session_sequence(log->items, log->len, session);
}

static void test_filtered_pulls_per_session(void)
{
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    /* Three sessions stream at once, slowly enough to interleave their events in the queue. */
    const char *opts = "{\"script\":[[{\"text\":\"one \"},{\"delay_ms\":20},{\"text\":\"two \"},"
                       "{\"delay_ms\":20},{\"text\":\"three\"}]]}";
    char *ids[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3; i++)
        REQUIRE_STATUS(tandem_session_start(c, opts, &ids[i]), TANDEM_OK);
    for (int i = 0; i < 3; i++)
        REQUIRE_STATUS(tandem_session_send_prompt(c, ids[i], "go", NULL), TANDEM_OK);

    /* Sessions 0 and 1 are pulled by their own threads, concurrently, while all three stream. */
    session_puller p[2];
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        memset(&p[i], 0, sizeof p[i]);
        p[i].client = c;
        p[i].session = ids[i];
        REQUIRE(pthread_create(&t[i], NULL, pull_one_session, &p[i]) == 0);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        CHECK_STATUS(p[i].status, TANDEM_OK);
        check_only_session(&p[i].log, ids[i]);
        REQUIRE(p[i].log.len > 0);
        CHECK(json_str_is(p[i].log.items[p[i].log.len - 1], "kind", "turn_ended"));
        char *text = deltas_of(p[i].log.items, p[i].log.len, ids[i], "text_delta");
        CHECK_STREQ(text, "one two three");
        free(text);
    }

    /* Session 2's events were left in the queue, whole and in order, for an unfiltered pull. */
    evlog rest = {0};
    REQUIRE(pull_until(c, &rest, ids[2], "turn_ended", WAIT_MS) != NULL);
    check_only_session(&rest, ids[2]);
    char *text = deltas_of(rest.items, rest.len, ids[2], "text_delta");
    CHECK_STREQ(text, "one two three");
    free(text);

    /* A live session with nothing queued waits; after its session_stopped, the filtered pull says NOT_FOUND. */
    char *ev = NULL;
    CHECK_STATUS(tandem_client_next_session_event(c, ids[0], 50, &ev), TANDEM_ERR_TIMEOUT);
    REQUIRE_STATUS(tandem_session_stop(c, ids[0]), TANDEM_OK);
    REQUIRE_STATUS(tandem_client_next_session_event(c, ids[0], WAIT_MS, &ev), TANDEM_OK);
    CHECK(ev_is(ev, ids[0], "session_stopped"));
    tandem_string_free(ev);
    ev = NULL;
    CHECK_STATUS(tandem_client_next_session_event(c, ids[0], WAIT_MS, &ev), TANDEM_ERR_NOT_FOUND);
    CHECK(ev == NULL);
    /* Nothing else was left behind by the filtered pulls. */
    CHECK_STATUS(tandem_client_next_event(c, 50, &ev), TANDEM_ERR_TIMEOUT);

    for (int i = 0; i < 2; i++)
        evlog_free(&p[i].log);
    evlog_free(&rest);
    for (int i = 0; i < 3; i++)
        tandem_string_free(ids[i]);
    tandem_client_free(c);
}

/* Counts `"kind":"<kind>"` in a JSON array of events. */
static int count_kind(const char *batch, const char *kind)
{
    char needle[64];
    snprintf(needle, sizeof needle, "\"kind\":\"%s\"", kind);
    int n = 0;
    for (const char *p = strstr(batch, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

static bool fd_readable(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
    return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN) != 0;
}

typedef struct {
    int fd;
    bool woke;
    uint64_t returned_at;
} fd_poller;

static void *poll_once(void *arg)
{
    fd_poller *p = arg;
    p->woke = fd_readable(p->fd, 30000);
    p->returned_at = now_ms();
    return NULL;
}

static void test_ready_fd_with_poll_and_batches(void)
{
    enum { SESSIONS = 6 };
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    int fd = -1, again = -2;
    REQUIRE_STATUS(tandem_client_ready_fd(c, &fd), TANDEM_OK);
    REQUIRE(fd >= 0);
    CHECK_STATUS(tandem_client_ready_fd(c, &again), TANDEM_OK);
    CHECK(again == fd); /* one descriptor per client */
    CHECK(!fd_readable(fd, 0)); /* nothing queued yet */

    char *ids[SESSIONS] = {0};
    for (int i = 0; i < SESSIONS; i++) {
        REQUIRE_STATUS(tandem_session_start(c, "{\"model\":\"scripted:echo\"}", &ids[i]), TANDEM_OK);
        REQUIRE_STATUS(tandem_session_send_prompt(c, ids[i], "one two three four five six seven eight nine ten",
                                                  NULL),
                       TANDEM_OK);
    }
    /* A slow host: wait in poll, take a small batch, dawdle, repeat until every turn ended. */
    int ended = 0, batches = 0;
    uint64_t deadline = now_ms() + WAIT_MS;
    while (ended < SESSIONS && now_ms() < deadline) {
        REQUIRE(fd_readable(fd, (int)WAIT_MS)); /* readable while the queue holds events */
        char *batch = NULL;
        REQUIRE_STATUS(tandem_client_next_events(c, 4, &batch), TANDEM_OK);
        REQUIRE(batch != NULL && batch[0] == '[');
        ended += count_kind(batch, "turn_ended");
        batches++;
        tandem_string_free(batch);
        sleep_ms(3);
    }
    CHECK(ended == SESSIONS);
    CHECK(batches > 1);
    /* Drain: once next_events returns [], the descriptor was reset and poll times out. */
    sleep_ms(200);
    for (;;) {
        char *batch = NULL;
        REQUIRE_STATUS(tandem_client_next_events(c, 64, &batch), TANDEM_OK);
        bool empty = strcmp(batch, "[]") == 0;
        tandem_string_free(batch);
        if (empty)
            break;
    }
    CHECK(!fd_readable(fd, 100));

    /* Shutdown wakes a poller; its pulls get the session_stopped events, then SHUTTING_DOWN. */
    fd_poller p = {fd, false, 0};
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, poll_once, &p) == 0);
    sleep_ms(200);
    uint64_t t0 = now_ms();
    CHECK_STATUS(tandem_client_shutdown(c, 5000), TANDEM_OK);
    pthread_join(t, NULL);
    CHECK(p.woke);
    CHECK(p.returned_at - t0 < 10000);
    int stopped = 0;
    tandem_status st;
    for (;;) {
        char *batch = NULL;
        st = tandem_client_next_events(c, 64, &batch);
        if (st != TANDEM_OK)
            break;
        stopped += count_kind(batch, "session_stopped");
        tandem_string_free(batch);
    }
    CHECK_STATUS(st, TANDEM_ERR_SHUTTING_DOWN);
    CHECK(stopped == SESSIONS);
    CHECK(fd_readable(fd, 0)); /* readable for good after shutdown */
    for (int i = 0; i < SESSIONS; i++)
        tandem_string_free(ids[i]);
    tandem_client_free(c);
}

int main(int argc, char **argv)
{
    check_init(argc, argv);
    RUN(test_pull_stream_end_to_end);
    RUN(test_callback_stream_with_filter);
    RUN(test_callback_calls_back_into_tandem);
    RUN(test_unsubscribe_from_another_thread_while_events_flow);
    RUN(test_userdata_free_once_at_shutdown);
    RUN(test_shutdown_wakes_blocked_next_event);
    RUN(test_next_event_timeout);
    RUN(test_several_pullers_share_events);
    RUN(test_filtered_pulls_per_session);
    RUN(test_ready_fd_with_poll_and_batches);
    RUN(test_overload_coalesces_and_reports_drops);
    return check_summary();
}
