/*
 * helpers.h: tandem-specific helpers shared by the C tests (include after check.h).
 *
 *  - event kinds: kind_number("text_delta") == TANDEM_EVENT_KIND_TEXT_DELTA, to cross-check tandem_event.kind
 *  - evlog + pull_until(): the pull API with a deadline, keeping every event pulled for later inspection
 *  - collector: a subscription userdata that validates each tandem_event, keeps a copy of its JSON and lets the
 *    test thread wait (mutex + condition variable) for the n-th event of a kind
 *  - RETRY_PENDING(): retries a call while it answers TANDEM_ERR_RESTART_PENDING
 *  - small JSON conveniences over the tandem documents (messages, usage, lists)
 */
#ifndef TANDEM_TEST_HELPERS_H
#define TANDEM_TEST_HELPERS_H

#include <pthread.h>

#include "check.h"

/* Options for a client that keeps nothing on disk; tests that need the defaults pass NULL explicitly. With
 * TANDEM_TEST_REMOTE_URL set (scripts/test-c-remote.sh), a remote client of the gateway at that URL instead, its
 * gateway token in the file TANDEM_TEST_REMOTE_TOKEN_FILE: the same tests then run against remote sessions. */
static char test_remote_config[4096];
static pthread_once_t test_remote_once = PTHREAD_ONCE_INIT;

static void test_remote_config_init(void)
{
    const char *url = getenv("TANDEM_TEST_REMOTE_URL");
    const char *file = getenv("TANDEM_TEST_REMOTE_TOKEN_FILE");
    if (url == NULL || url[0] == '\0')
        return;
    snprintf(test_remote_config, sizeof test_remote_config,
             "{\"remote\":{\"url\":\"%s\",\"gateway_token_file\":\"%s\"}}", url, file ? file : "");
}

static inline bool test_is_remote(void)
{
    pthread_once(&test_remote_once, test_remote_config_init);
    return test_remote_config[0] != '\0';
}

static inline const char *test_config(void)
{
    return test_is_remote() ? test_remote_config : "{\"store_dir\":null}";
}

#define TEST_CONFIG test_config()

/* In a test case: skip it against a remote client, for a reason docs/remote.md documents (a call with no remote
 * form, or behaviour of the gateway's process the client cannot reach). Prints "SKIP test: why". */
#define SKIP_TEST_IF_REMOTE(why)                                                                                       \
    do {                                                                                                               \
        if (test_is_remote()) {                                                                                        \
            check_skip(__func__, why);                                                                                 \
            return;                                                                                                    \
        }                                                                                                              \
    } while (0)

/* Generous for a loaded CI machine under valgrind; a healthy run waits milliseconds. */
#define WAIT_MS 20000u

/* ---------------------------------------------------------------------------------------------------------------- */
/* Event kinds                                                                                                       */

static const struct {
    const char *name;
    uint32_t kind;
} EVENT_KINDS[] = {
    {"session_started", TANDEM_EVENT_KIND_SESSION_STARTED},
    {"session_stopped", TANDEM_EVENT_KIND_SESSION_STOPPED},
    {"session_restarted", TANDEM_EVENT_KIND_SESSION_RESTARTED},
    {"subagent_started", TANDEM_EVENT_KIND_SUBAGENT_STARTED},
    {"status_changed", TANDEM_EVENT_KIND_STATUS_CHANGED},
    {"messages_changed", TANDEM_EVENT_KIND_MESSAGES_CHANGED},
    {"text_delta", TANDEM_EVENT_KIND_TEXT_DELTA},
    {"thinking_delta", TANDEM_EVENT_KIND_THINKING_DELTA},
    {"tool_started", TANDEM_EVENT_KIND_TOOL_STARTED},
    {"tool_update", TANDEM_EVENT_KIND_TOOL_UPDATE},
    {"tool_ended", TANDEM_EVENT_KIND_TOOL_ENDED},
    {"tool_auto_approved", TANDEM_EVENT_KIND_TOOL_AUTO_APPROVED},
    {"approval_pending", TANDEM_EVENT_KIND_APPROVAL_PENDING},
    {"approval_resolved", TANDEM_EVENT_KIND_APPROVAL_RESOLVED},
    {"file_changed", TANDEM_EVENT_KIND_FILE_CHANGED},
    {"prompt_queued", TANDEM_EVENT_KIND_PROMPT_QUEUED},
    {"queues_recalled", TANDEM_EVENT_KIND_QUEUES_RECALLED},
    {"context_usage", TANDEM_EVENT_KIND_CONTEXT_USAGE},
    {"turn_limit_reached", TANDEM_EVENT_KIND_TURN_LIMIT_REACHED},
    {"turn_ended", TANDEM_EVENT_KIND_TURN_ENDED},
    {"error", TANDEM_EVENT_KIND_ERROR},
    {"events_dropped", TANDEM_EVENT_KIND_EVENTS_DROPPED},
    {"retrying", TANDEM_EVENT_KIND_RETRYING},
    {"options_restored", TANDEM_EVENT_KIND_OPTIONS_RESTORED},
    {"command_ran", TANDEM_EVENT_KIND_COMMAND_RAN},
    {"sandbox_limited", TANDEM_EVENT_KIND_SANDBOX_LIMITED},
    {"subagent_finished", TANDEM_EVENT_KIND_SUBAGENT_FINISHED},
    {"boundary_violated", TANDEM_EVENT_KIND_BOUNDARY_VIOLATED},
    {"mcp_server_status", TANDEM_EVENT_KIND_MCP_SERVER_STATUS},
    {"hook_failed", TANDEM_EVENT_KIND_HOOK_FAILED},
    {"plan_updated", TANDEM_EVENT_KIND_PLAN_UPDATED},
    {"context_files_loaded", TANDEM_EVENT_KIND_CONTEXT_FILES_LOADED},
    {"budget_exhausted", TANDEM_EVENT_KIND_BUDGET_EXHAUSTED},
};

/* The tandem_event_kind value of a JSON kind name; 0 for names the header does not know. */
static inline uint32_t kind_number(const char *name)
{
    for (size_t i = 0; name != NULL && i < sizeof EVENT_KINDS / sizeof EVENT_KINDS[0]; i++)
        if (strcmp(EVENT_KINDS[i].name, name) == 0)
            return EVENT_KINDS[i].kind;
    return 0;
}

/* True when event JSON ev belongs to `session` (NULL = any session) and has kind `kind` (NULL = any kind). */
static inline bool ev_is(const char *ev, const char *session, const char *kind)
{
    return (session == NULL || json_str_is(ev, "session_id", session)) && (kind == NULL || json_str_is(ev, "kind", kind));
}

/* Checks the envelope every event document must have: valid JSON, a seq >= 1, a session_id (string or null), and a
 * kind the header knows. */
#define CHECK_EVENT_ENVELOPE(ev)                                                                                       \
    do {                                                                                                               \
        const char *ev_ = (ev);                                                                                        \
        uint64_t seq_ = 0;                                                                                             \
        CHECK(json_valid(ev_));                                                                                        \
        CHECK(json_get_u64(ev_, "seq", &seq_) && seq_ >= 1);                                                           \
        CHECK(json_get(ev_, "session_id") != NULL);                                                                    \
        char *kind_ = json_get_str(ev_, "kind");                                                                       \
        if (kind_number(kind_) == 0)                                                                                   \
            check_fail(__FILE__, __LINE__, "event kind is one of tandem_event_kind", ev_);                             \
        free(kind_);                                                                                                   \
    } while (0)

/* ---------------------------------------------------------------------------------------------------------------- */
/* Pull API                                                                                                          */

typedef struct {
    char **items; /* event JSON strings owned by tandem: freed with tandem_string_free */
    size_t len, cap;
} evlog;

static inline void evlog_push(evlog *log, char *ev)
{
    if (log->len == log->cap) {
        log->cap = log->cap ? log->cap * 2 : 64;
        log->items = realloc(log->items, log->cap * sizeof *log->items);
        if (log->items == NULL)
            abort();
    }
    log->items[log->len++] = ev;
}

static inline void evlog_free(evlog *log)
{
    for (size_t i = 0; i < log->len; i++)
        tandem_string_free(log->items[i]);
    free(log->items);
    memset(log, 0, sizeof *log);
}

/* Pulls events (keeping them all in log) until one of `session` with kind `kind` arrives; returns it (owned by the
 * log), or NULL when nothing matching arrived within timeout_ms (the reason is printed). */
static inline const char *pull_until(tandem_client *c, evlog *log, const char *session, const char *kind,
                                     uint32_t timeout_ms)
{
    uint64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        uint64_t now = now_ms();
        uint32_t left = now >= deadline ? 0 : (uint32_t)(deadline - now);
        char *ev = NULL;
        tandem_status st = tandem_client_next_event(c, left, &ev);
        if (st != TANDEM_OK) {
            fprintf(stderr, "  pull_until(%s, %s): tandem_client_next_event gave %s (%s)\n", session ? session : "*",
                    kind ? kind : "*", tandem_status_name(st), tandem_last_error_message());
            return NULL;
        }
        CHECK_EVENT_ENVELOPE(ev);
        evlog_push(log, ev);
        if (ev_is(ev, session, kind))
            return ev;
    }
}

/* Number of events of `session`/`kind` in the log (NULL = any). */
static inline size_t evlog_count(const evlog *log, const char *session, const char *kind)
{
    size_t n = 0;
    for (size_t i = 0; i < log->len; i++)
        n += ev_is(log->items[i], session, kind);
    return n;
}

/* The concatenated `delta` of every `kind` event (text_delta, thinking_delta) of a session; malloc'd. */
static inline char *deltas_of(char *const *events, size_t n, const char *session, const char *kind)
{
    size_t len = 0;
    char *out = calloc(1, 1);
    for (size_t i = 0; out != NULL && i < n; i++) {
        if (!ev_is(events[i], session, kind))
            continue;
        char *d = json_get_str(events[i], "delta");
        if (d == NULL)
            continue;
        size_t dl = strlen(d);
        out = realloc(out, len + dl + 1);
        if (out != NULL) {
            memcpy(out + len, d, dl + 1);
            len += dl;
        }
        free(d);
    }
    return out;
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* Callbacks                                                                                                         */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char **events; /* strdup'd copies of each delivered event's JSON, in delivery order */
    size_t len, cap;
    atomic_int calls;
    atomic_int frees;
    atomic_int running; /* 1 while the callback executes */
} collector;

static inline void collector_init(collector *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
}

static inline void collector_destroy(collector *c)
{
    for (size_t i = 0; i < c->len; i++)
        free(c->events[i]);
    free(c->events);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
}

/* Validates the borrowed tandem_event against its own JSON. Usable from any callback. */
static inline void check_tandem_event(const tandem_event *ev)
{
    CHECK(ev != NULL && ev->json != NULL);
    if (ev == NULL || ev->json == NULL)
        return;
    CHECK_EVENT_ENVELOPE(ev->json);
    uint64_t seq = 0;
    CHECK(json_get_u64(ev->json, "seq", &seq) && seq == ev->seq);
    char *kind = json_get_str(ev->json, "kind");
    CHECK(kind != NULL && ev->kind == kind_number(kind));
    free(kind);
    const char *sid = json_get(ev->json, "session_id");
    if (ev->session_id == NULL) {
        CHECK(json_is_null(sid));
    } else {
        CHECK(json_str_is(ev->json, "session_id", ev->session_id));
    }
}

/* A tandem_event_callback: validates and records the event, then wakes waiters. */
static inline void collector_cb(void *userdata, const tandem_event *ev)
{
    collector *c = userdata;
    CHECK(atomic_fetch_add(&c->running, 1) == 0); /* one at a time per subscription */
    check_tandem_event(ev);
    char *copy = strdup(ev->json);
    pthread_mutex_lock(&c->mu);
    if (c->len == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->events = realloc(c->events, c->cap * sizeof *c->events);
        if (c->events == NULL)
            abort();
    }
    c->events[c->len++] = copy;
    atomic_fetch_add(&c->calls, 1);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    atomic_fetch_sub(&c->running, 1);
}

/* A tandem_userdata_free: counts its calls (the collector itself belongs to the test). */
static inline void collector_free(void *userdata)
{
    collector *c = userdata;
    atomic_fetch_add(&c->frees, 1);
}

/* Waits until `n` events of `session`/`kind` were delivered; true if they were within timeout_ms. */
static inline bool collector_wait(collector *c, const char *session, const char *kind, size_t n, uint32_t timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += (time_t)(timeout_ms / 1000u);
    deadline.tv_nsec += (long)(timeout_ms % 1000u) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->mu);
    bool ok = false;
    for (;;) {
        size_t seen = 0;
        for (size_t i = 0; i < c->len; i++)
            seen += ev_is(c->events[i], session, kind);
        if (seen >= n) {
            ok = true;
            break;
        }
        if (pthread_cond_timedwait(&c->cv, &c->mu, &deadline) != 0)
            break;
    }
    pthread_mutex_unlock(&c->mu);
    if (!ok)
        fprintf(stderr, "  collector_wait(%s, %s, %zu): timed out\n", session ? session : "*", kind ? kind : "*", n);
    return ok;
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* Sessions                                                                                                          */

/* `RETRY_PENDING(st, tandem_session_token(c, id, &tok));` assigns the call's status to st, retrying every 5 ms while
 * it is TANDEM_ERR_RESTART_PENDING (a crashed session being restarted), for at most WAIT_MS. */
#define RETRY_PENDING(st, call)                                                                                        \
    do {                                                                                                               \
        uint64_t retry_deadline_ = now_ms() + WAIT_MS;                                                                 \
        while (((st) = (call)) == TANDEM_ERR_RESTART_PENDING && now_ms() < retry_deadline_)                            \
            sleep_ms(5);                                                                                               \
    } while (0)

/* The session's messages JSON (malloc'd by tandem) or NULL. */
static inline char *messages_of(tandem_client *c, const char *id)
{
    char *out = NULL;
    tandem_status st;
    RETRY_PENDING(st, tandem_session_messages(c, id, &out));
    return st == TANDEM_OK ? out : NULL;
}

/* The number of messages of `kind` in a messages array, and the text of the last one (malloc'd; NULL if none). */
static inline long count_messages(const char *messages, const char *kind)
{
    long n = 0, len = json_len(messages);
    for (long i = 0; i < len; i++)
        n += json_str_is(json_at(messages, i), "kind", kind);
    return n;
}

static inline char *last_message_text(const char *messages, const char *kind)
{
    for (long i = json_len(messages) - 1; i >= 0; i--) {
        const char *m = json_at(messages, i);
        if (json_str_is(m, "kind", kind))
            return json_get_str(m, "text");
    }
    return NULL;
}

/* True when some element of a JSON array has string member key == value. */
/* Checks the texts of the last user and assistant messages of session `id`. */
static inline void check_last_exchange(tandem_client *c, const char *id, const char *user_want,
                                       const char *answer_want)
{
    char *m = messages_of(c, id);
    char *user = m ? last_message_text(m, "user") : NULL, *answer = m ? last_message_text(m, "assistant") : NULL;
    CHECK_STREQ(user, user_want);
    CHECK_STREQ(answer, answer_want);
    free(user);
    free(answer);
    tandem_string_free(m);
}

static inline bool array_has(const char *array, const char *key, const char *value)
{
    long len = json_len(array);
    for (long i = 0; i < len; i++)
        if (json_str_is(json_at(array, i), key, value))
            return true;
    return false;
}

/* Polls the session's event history (which does not consume pull events) until it holds `n` turn_ended events;
 * returns the latest sequence number then, or 0 on timeout. */
static inline uint64_t wait_turns_in_history(tandem_client *c, const char *id, size_t n, uint32_t timeout_ms)
{
    uint64_t deadline = now_ms() + timeout_ms;
    do {
        char *since = NULL;
        if (tandem_session_events_since(c, id, 0, &since) == TANDEM_OK) {
            size_t ends = 0;
            const char *events = json_get(since, "events");
            for (long i = 0; i < json_len(events); i++)
                ends += json_str_is(json_at(events, i), "kind", "turn_ended");
            uint64_t latest = 0;
            bool ok = ends >= n && json_get_u64(since, "latest_seq", &latest);
            tandem_string_free(since);
            if (ok)
                return latest;
        }
        sleep_ms(5);
    } while (now_ms() < deadline);
    fprintf(stderr, "  wait_turns_in_history(%s, %zu): timed out\n", id, n);
    return 0;
}

/* Builds the script option {"script":[[{"text":"x"}, ... ]]} with `n` text steps and a 1 ms delay every `every`
 * steps (0 = none): a long stream. malloc'd. */
static inline char *long_text_script(int n, int every, const char *extra_options)
{
    size_t cap = (size_t)n * 24 + 256 + (extra_options ? strlen(extra_options) : 0);
    char *s = malloc(cap);
    if (s == NULL)
        abort();
    size_t len = (size_t)sprintf(s, "{%s%s\"script\":[[", extra_options ? extra_options : "", extra_options ? "," : "");
    for (int i = 0; i < n; i++) {
        len += (size_t)sprintf(s + len, "%s{\"text\":\"x\"}", i ? "," : "");
        if (every > 0 && i % every == every - 1)
            len += (size_t)sprintf(s + len, ",{\"delay_ms\":1}");
    }
    sprintf(s + len, "]]}");
    return s;
}

/* tandem_provider_emit with `"request_id":<rid>` spliced into the event object (other documents pass unchanged). */
static inline tandem_status provider_emit_for(tandem_client *c, const char *session, uint64_t rid, const char *event)
{
    if (event == NULL || event[0] != '{')
        return tandem_provider_emit(c, session, event);
    size_t cap = strlen(event) + 48;
    char *tagged = malloc(cap);
    if (tagged == NULL)
        abort();
    snprintf(tagged, cap, "{\"request_id\":%llu%s%s", (unsigned long long)rid, event[1] == '}' ? "" : ",", event + 1);
    tandem_status st = tandem_provider_emit(c, session, tagged);
    free(tagged);
    return st;
}

#endif /* TANDEM_TEST_HELPERS_H */
