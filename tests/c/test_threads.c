/*
 * test_threads.c: the C ABI from several host threads at once, for ThreadSanitizer (scripts/test-c.sh tsan) as much
 * as for the plain, asan and valgrind runs: callbacks racing unsubscribe, callbacks calling back into the API,
 * host tool calls completed from other threads, and shutdown while calls are in flight. Every call may fail in a
 * race, but only with a defined status (never TANDEM_ERR_PANIC), and the ownership promises must hold: userdata_free
 * exactly once, no callback after its unsubscribe returned.
 */
#include "check.h"
#include "helpers.h"

#define THREADS 4

/* A status a racing call may return: any defined one except a caught panic. */
static bool status_ok(tandem_status st)
{
    return st <= TANDEM_ERR_INTERNAL && st != TANDEM_ERR_PANIC;
}

#define CHECK_VALID(expr)                                                                                              \
    do {                                                                                                               \
        tandem_status st_ = (expr);                                                                                    \
        if (!status_ok(st_)) {                                                                                         \
            char detail_[256];                                                                                         \
            snprintf(detail_, sizeof detail_, "status %u (%s): %s", (unsigned)st_, tandem_status_name(st_),          \
                     tandem_last_error_message());                                                                     \
            check_fail(__FILE__, __LINE__, #expr, detail_);                                                            \
        }                                                                                                              \
    } while (0)

/* ---------------------------------------------------------------------------------------------------------------- */
/* A subscription that knows when it was closed                                                                      */

typedef struct {
    atomic_int calls;
    atomic_int frees;
    atomic_int running;
    atomic_bool closed; /* set after tandem_client_unsubscribe returned: no callback may start after it */
} probe_sub;

static void probe_cb(void *userdata, const tandem_event *ev)
{
    probe_sub *s = userdata;
    CHECK(!atomic_load(&s->closed));
    CHECK(atomic_fetch_add(&s->running, 1) == 0);
    CHECK(ev != NULL && ev->json != NULL && ev->kind >= 1 && ev->kind <= 22);
    atomic_fetch_add(&s->calls, 1);
    atomic_fetch_sub(&s->running, 1);
}

static void probe_free(void *userdata)
{
    probe_sub *s = userdata;
    CHECK(atomic_load(&s->running) == 0);
    atomic_fetch_add(&s->frees, 1);
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* Workers: each runs its own session and hammers the shared client                                                  */

typedef struct {
    tandem_client *client;
    int index;
    int rounds;
    atomic_bool *stop; /* shared: set when the test wants workers to finish */
} worker_arg;

static void *session_worker(void *p)
{
    worker_arg *w = p;
    tandem_client *c = w->client;
    char *script = long_text_script(40, 8, "\"model\":\"scripted:stream\"");
    for (int round = 0; round < w->rounds && !atomic_load(w->stop); round++) {
        char *id = NULL;
        tandem_status st = tandem_session_start(c, script, &id);
        CHECK_VALID(st);
        if (st != TANDEM_OK)
            continue;
        /* A subscription to this session only, opened and closed while its turn streams. */
        probe_sub sub = {0};
        uint64_t sub_id = 0;
        st = tandem_client_subscribe(c, id, probe_cb, &sub, probe_free, &sub_id);
        CHECK_VALID(st);
        CHECK_VALID(tandem_session_send_prompt(c, id, "go", NULL));
        for (int i = 0; i < 3; i++) {
            tandem_session_status status = 0;
            if (tandem_session_get_status(c, id, &status) == TANDEM_OK)
                CHECK(status <= TANDEM_SESSION_STATUS_PLAN);
            char *out = NULL;
            CHECK_VALID(tandem_session_messages(c, id, &out));
            tandem_string_free(out);
            out = NULL;
            CHECK_VALID(tandem_session_events_since(c, id, 0, &out));
            tandem_string_free(out);
            out = NULL;
            CHECK_VALID(tandem_session_list(c, &out));
            tandem_string_free(out);
            CHECK_VALID(tandem_session_queue_steering(c, id, "steer", NULL));
        }
        if (st == TANDEM_OK) {
            if (round % 2 == 0)
                CHECK_VALID(tandem_session_abort(c, id));
            tandem_status u = tandem_client_unsubscribe(c, sub_id);
            /* NOT_FOUND or SHUTTING_DOWN when shutdown already released it. */
            CHECK_VALID(u);
            atomic_store(&sub.closed, true);
            if (u == TANDEM_OK)
                CHECK(atomic_load(&sub.frees) == 1);
        }
        CHECK_VALID(tandem_session_stop(c, id));
        /* The stale ID answers NOT_FOUND (or SHUTTING_DOWN), never a crash. */
        CHECK_VALID(tandem_session_send_prompt(c, id, "again", NULL));
        tandem_string_free(id);
        if (st == TANDEM_OK && atomic_load(&sub.frees) != 1) {
            /* Released by a concurrent shutdown: wait for it, then it must be exactly once. */
            uint64_t deadline = now_ms() + WAIT_MS;
            while (atomic_load(&sub.frees) == 0 && now_ms() < deadline)
                sleep_ms(1);
            CHECK(atomic_load(&sub.frees) == 1);
        }
    }
    free(script);
    return NULL;
}

static void test_sessions_from_several_threads(void)
{
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    atomic_bool stop = false;
    pthread_t threads[THREADS];
    worker_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (worker_arg){c, i, 4, &stop};
        REQUIRE(pthread_create(&threads[i], NULL, session_worker, &args[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
    char *list = NULL;
    CHECK_STATUS(tandem_session_list(c, &list), TANDEM_OK);
    CHECK(list != NULL && json_len(list) == 0);
    tandem_string_free(list);
    CHECK_STATUS(tandem_client_shutdown(c, 5000), TANDEM_OK);
    tandem_client_free(c);
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* Unsubscribe racing delivery, from the test thread and from other callbacks                                        */

#define SUBS 16

typedef struct {
    tandem_client *client;
    probe_sub subs[SUBS];
    uint64_t ids[SUBS];
    atomic_int next_victim;
} race_state;

/* A callback that unsubscribes someone else's subscription (allowed from a callback) on every event. */
static void killer_cb(void *userdata, const tandem_event *ev)
{
    race_state *r = userdata;
    (void)ev;
    int victim = atomic_fetch_add(&r->next_victim, 1);
    if (victim < SUBS / 2) {
        tandem_status st = tandem_client_unsubscribe(r->client, r->ids[victim]);
        CHECK(st == TANDEM_OK || st == TANDEM_ERR_NOT_FOUND);
        if (st == TANDEM_OK) {
            atomic_store(&r->subs[victim].closed, true);
            CHECK(atomic_load(&r->subs[victim].frees) == 1);
        }
    }
}

typedef struct {
    race_state *r;
    int from, to;
} unsub_arg;

static void *unsubscriber(void *p)
{
    unsub_arg *a = p;
    for (int i = a->from; i < a->to; i++) {
        sleep_ms(1);
        tandem_status st = tandem_client_unsubscribe(a->r->client, a->r->ids[i]);
        CHECK(st == TANDEM_OK || st == TANDEM_ERR_NOT_FOUND);
        if (st == TANDEM_OK) {
            atomic_store(&a->r->subs[i].closed, true);
            CHECK(atomic_load(&a->r->subs[i].frees) == 1);
        }
    }
    return NULL;
}

static void test_unsubscribe_races_delivery(void)
{
    race_state *r = calloc(1, sizeof *r);
    REQUIRE(r != NULL);
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &r->client), TANDEM_OK);
    tandem_client *c = r->client;
    /* Subscribe everything before the stream starts, so every ID is stored before a callback reads it. */
    for (int i = 0; i < SUBS; i++)
        REQUIRE_STATUS(tandem_client_subscribe(c, NULL, probe_cb, &r->subs[i], probe_free, &r->ids[i]), TANDEM_OK);
    uint64_t killer = 0;
    REQUIRE_STATUS(tandem_client_subscribe(c, NULL, killer_cb, r, NULL, &killer), TANDEM_OK);
    char *script = long_text_script(200, 20, NULL);
    char *ids[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) {
        REQUIRE_STATUS(tandem_session_start(c, script, &ids[i]), TANDEM_OK);
        CHECK_STATUS(tandem_session_send_prompt(c, ids[i], "go", NULL), TANDEM_OK);
    }
    /* Two threads close the second half while the killer callback closes the first half. */
    pthread_t t[2];
    unsub_arg a[2] = {{r, SUBS / 2, SUBS * 3 / 4}, {r, SUBS * 3 / 4, SUBS}};
    for (int i = 0; i < 2; i++)
        REQUIRE(pthread_create(&t[i], NULL, unsubscriber, &a[i]) == 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    CHECK_STATUS(tandem_client_unsubscribe(c, killer), TANDEM_OK);
    for (int i = 0; i < 2; i++) {
        CHECK_VALID(tandem_session_stop(c, ids[i]));
        tandem_string_free(ids[i]);
    }
    free(script);
    tandem_client_free(c);
    for (int i = 0; i < SUBS; i++)
        CHECK(atomic_load(&r->subs[i].frees) == 1);
    free(r);
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* Callbacks calling back into the API                                                                               */

typedef struct {
    tandem_client *client;
    uint64_t self;
    atomic_int reentrant_ok; /* calls that refused with TANDEM_ERR_REENTRANT_CALL as they must */
    atomic_int frees;
    atomic_int prompts;
} reentrant_state;

static void reentrant_cb(void *userdata, const tandem_event *ev)
{
    reentrant_state *s = userdata;
    tandem_client *c = s->client;
    if (ev->session_id == NULL)
        return;
    tandem_session_status status = 0;
    CHECK_VALID(tandem_session_get_status(c, ev->session_id, &status));
    char *out = NULL;
    CHECK_VALID(tandem_session_events_since(c, ev->session_id, ev->seq > 3 ? ev->seq - 3 : 0, &out));
    tandem_string_free(out);
    if (ev->kind == TANDEM_EVENT_KIND_TURN_ENDED && atomic_fetch_add(&s->prompts, 1) < 3)
        CHECK_VALID(tandem_session_send_prompt(c, ev->session_id, "more", NULL));
    if (ev->kind == TANDEM_EVENT_KIND_TEXT_DELTA) {
        s->reentrant_ok += tandem_client_unsubscribe(c, s->self) == TANDEM_ERR_REENTRANT_CALL;
        s->reentrant_ok += tandem_client_shutdown(c, 100) == TANDEM_ERR_REENTRANT_CALL;
        tandem_client_free(c); /* refused: records the error and leaves the client alive */
        s->reentrant_ok += strstr(tandem_last_error_message(), "callback") != NULL;
    }
}

static void reentrant_free(void *userdata)
{
    reentrant_state *s = userdata;
    atomic_fetch_add(&s->frees, 1);
}

static void test_callbacks_call_back_into_the_api(void)
{
    reentrant_state s = {0};
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &s.client), TANDEM_OK);
    tandem_client *c = s.client;
    char *id = NULL;
    REQUIRE_STATUS(tandem_session_start(c, "{\"model\":\"scripted:echo\"}", &id), TANDEM_OK);
    /* Subscribe before any event, so s.self is set before the callback reads it. */
    REQUIRE_STATUS(tandem_client_subscribe(c, id, reentrant_cb, &s, reentrant_free, &s.self), TANDEM_OK);
    CHECK_STATUS(tandem_session_send_prompt(c, id, "hello there", NULL), TANDEM_OK);
    CHECK(wait_turns_in_history(c, id, 4, WAIT_MS) != 0);
    CHECK(atomic_load(&s.reentrant_ok) >= 3);
    CHECK_STATUS(tandem_client_unsubscribe(c, s.self), TANDEM_OK);
    CHECK(atomic_load(&s.frees) == 1);
    tandem_string_free(id);
    tandem_client_free(c);
    CHECK(atomic_load(&s.frees) == 1);
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* Shutdown while calls are in flight                                                                                */

typedef struct {
    tandem_client *client;
    atomic_bool *stop;
    atomic_int *after_shutdown; /* calls answered TANDEM_ERR_SHUTTING_DOWN */
} flight_arg;

static void *in_flight(void *p)
{
    flight_arg *f = p;
    tandem_client *c = f->client;
    char *script = long_text_script(30, 5, NULL);
    probe_sub subs[64];
    memset(subs, 0, sizeof subs);
    int nsubs = 0;
    while (!atomic_load(f->stop)) {
        char *id = NULL;
        tandem_status st = tandem_session_start(c, script, &id);
        CHECK_VALID(st);
        if (st == TANDEM_ERR_SHUTTING_DOWN)
            atomic_fetch_add(f->after_shutdown, 1);
        if (st == TANDEM_OK) {
            CHECK_VALID(tandem_session_send_prompt(c, id, "go", NULL));
            char *out = NULL;
            CHECK_VALID(tandem_session_snapshot(c, id, &out));
            tandem_string_free(out);
        }
        if (nsubs < 64) {
            uint64_t sub = 0;
            st = tandem_client_subscribe(c, NULL, probe_cb, &subs[nsubs], probe_free, &sub);
            CHECK_VALID(st);
            nsubs++; /* freed by tandem either way: at shutdown, or right away when refused */
        }
        char *ev = NULL;
        st = tandem_client_next_event(c, 2, &ev);
        CHECK_VALID(st);
        tandem_string_free(ev);
        if (id != NULL) {
            CHECK_VALID(tandem_session_abort(c, id));
            tandem_string_free(id);
        }
    }
    /* Every subscription's userdata was released exactly once by the time shutdown returned. */
    for (int i = 0; i < nsubs; i++)
        CHECK(atomic_load(&subs[i].frees) == 1);
    free(script);
    return NULL;
}

static void test_shutdown_while_calls_are_in_flight(void)
{
    for (int round = 0; round < 3; round++) {
        tandem_client *c = NULL;
        REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
        atomic_bool stop = false;
        atomic_int after = 0;
        pthread_t threads[THREADS];
        flight_arg args[THREADS];
        for (int i = 0; i < THREADS; i++) {
            args[i] = (flight_arg){c, &stop, &after};
            REQUIRE(pthread_create(&threads[i], NULL, in_flight, &args[i]) == 0);
        }
        sleep_ms(20u + 15u * (unsigned)round);
        CHECK_STATUS(tandem_client_shutdown(c, 2000), TANDEM_OK);
        /* The workers keep calling for a moment after the shutdown: every call must answer, not crash. */
        sleep_ms(10);
        atomic_store(&stop, true);
        for (int i = 0; i < THREADS; i++)
            pthread_join(threads[i], NULL);
        tandem_client_free(c);
    }
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* Host tool calls completed from other threads, racing stop and shutdown                                            */

typedef struct {
    atomic_int calls;
    atomic_int frees;
} tool_counts;

static atomic_int tool_calls_completed; /* by the detached completer threads */

static void *complete_soon(void *p)
{
    tandem_tool_call *call = p;
    sleep_ms(1);
    (void)tandem_tool_call_is_cancelled(call);
    tandem_status st = tandem_tool_call_complete(call, "ok", false);
    CHECK(st == TANDEM_OK);
    /* Completing twice is NOT_FOUND, never memory corruption. */
    CHECK(tandem_tool_call_complete(call, "again", false) == TANDEM_ERR_NOT_FOUND);
    atomic_fetch_add(&tool_calls_completed, 1);
    return NULL;
}

static void threaded_tool(void *userdata, tandem_tool_call *call, const tandem_tool_invocation *inv)
{
    tool_counts *t = userdata;
    (void)inv;
    atomic_fetch_add(&t->calls, 1);
    pthread_t th;
    if (pthread_create(&th, NULL, complete_soon, call) == 0)
        pthread_detach(th);
    else {
        tandem_tool_call_complete(call, "no thread", true);
        atomic_fetch_add(&tool_calls_completed, 1);
    }
}

static void tool_free(void *userdata)
{
    tool_counts *t = userdata;
    atomic_fetch_add(&t->frees, 1);
}

static void test_tool_calls_completed_from_other_threads(void)
{
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    tool_counts t = {0};
    REQUIRE_STATUS(tandem_client_register_tool(
                       c, "{\"name\":\"probe\",\"description\":\"p\",\"parameters\":{\"type\":\"object\"}}",
                       threaded_tool, &t, tool_free),
                   TANDEM_OK);
    const char *opts = "{\"script\":[[{\"tool_call\":{\"name\":\"probe\",\"args\":{}}},"
                       "{\"tool_call\":{\"name\":\"probe\",\"args\":{}}},{\"tool_call\":{\"name\":\"probe\",\"args\":{}}}],"
                       "[{\"text\":\"done\"}]]}";
    char *ids[6] = {0};
    for (int i = 0; i < 6; i++) {
        REQUIRE_STATUS(tandem_session_start(c, opts, &ids[i]), TANDEM_OK);
        CHECK_STATUS(tandem_session_send_prompt(c, ids[i], "go", NULL), TANDEM_OK);
    }
    /* Half finish their turn; the other half are stopped mid-call. */
    for (int i = 0; i < 6; i += 2)
        CHECK(wait_turns_in_history(c, ids[i], 1, WAIT_MS) != 0);
    for (int i = 0; i < 6; i++) {
        CHECK_VALID(tandem_session_stop(c, ids[i]));
        tandem_string_free(ids[i]);
    }
    CHECK_STATUS(tandem_client_shutdown(c, 5000), TANDEM_OK);
    tandem_client_free(c);
    /* Detached completers may still be finishing after the free: they only touch the process-wide call table. */
    uint64_t deadline = now_ms() + WAIT_MS;
    while (atomic_load(&tool_calls_completed) < atomic_load(&t.calls) && now_ms() < deadline)
        sleep_ms(1);
    CHECK(atomic_load(&tool_calls_completed) == atomic_load(&t.calls));
    sleep_ms(5); /* let the last completer return from its thread function */
    CHECK(atomic_load(&t.calls) >= 9);
    CHECK(atomic_load(&t.frees) == 1);
}

int main(int argc, char **argv)
{
    check_init(argc, argv);
    RUN(test_sessions_from_several_threads);
    RUN(test_unsubscribe_races_delivery);
    RUN(test_callbacks_call_back_into_the_api);
    RUN(test_shutdown_while_calls_are_in_flight);
    RUN(test_tool_calls_completed_from_other_threads);
    return check_summary();
}
