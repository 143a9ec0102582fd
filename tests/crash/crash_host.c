/*
 * crash_host.c: a small tandem host that tests/crash/kill9.py kills with SIGKILL at random moments.
 *
 *   crash_host run <store_dir> <n_sessions>
 *       Starts (or restores) sessions crash-0 .. crash-<n-1> on a store at <store_dir>, whose scripted model streams
 *       every answer slowly ("alpha ", 5 ms, "beta ", 5 ms, "gamma"), and keeps every session busy: it sends
 *       prompt "turn-<session>-<k>" (k counting on from the user messages already stored, so prompts stay unique
 *       across restarts), waits for its turn_ended, and after each completed turn prints
 *           ended <session> <prompt>
 *       and flushes. Under the default fsync policy that turn is durable by then. It runs until it is killed (or
 *       until the script runs out, then it idles). A turn that ends any other way prints
 *           not-completed <session> <prompt> <reason>
 *       Problems print "error: ..." on stderr and exit 2.
 *
 *   crash_host verify <store_dir> <n_sessions>
 *       Restores each session with tandem_session_start_or_get and prints one JSON line per session:
 *           {"session":"crash-0","token":"...","metadata":{...},"messages":[...]}
 *       then frees everything and exits 0 (2 on any failure).
 *
 * Built by scripts/test-crash.sh against include/tandem.h and the debug libtandem.so.
 */
#include "check.h" /* the minimal JSON reader (and _POSIX_C_SOURCE) */

#include <stdarg.h>

#define MAX_SESSIONS 8
/* Turns per session per run: the scripted model's cursor starts at 0 in every process, so the script holds this
 * many copies of the answer. Each answer takes over 10 ms and kill9.py kills a run within 400 ms, long before it
 * gets there (and if one ever did, it would idle rather than see "(script exhausted)"). Parsing a much longer script
 * would make the debug build's start-up slow. */
#define SCRIPT_REPEATS 300
#define ANSWER "[{\"thinking\":\"hmm \"},{\"text\":\"alpha \"},{\"delay_ms\":5},{\"text\":\"beta \"},{\"delay_ms\":5}," \
               "{\"text\":\"gamma\"},{\"usage\":{\"input\":3,\"output\":3}}]"

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "error: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    fflush(stderr);
    exit(2);
}

#define TRY(call)                                                                                                      \
    do {                                                                                                               \
        tandem_status st_ = (call);                                                                                    \
        if (st_ != TANDEM_OK)                                                                                          \
            die("%s: %s (%s)", #call, tandem_status_name(st_), tandem_last_error_message());                           \
    } while (0)

/* {"store_dir":"<dir>"} with the directory JSON-escaped. malloc'd. */
static char *client_config(const char *dir)
{
    size_t cap = strlen(dir) * 6 + 32, n = 0;
    char *s = malloc(cap);
    if (s == NULL)
        abort();
    n += (size_t)sprintf(s, "{\"store_dir\":\"");
    for (const unsigned char *p = (const unsigned char *)dir; *p; p++) {
        if (*p == '"' || *p == '\\')
            n += (size_t)sprintf(s + n, "\\%c", *p);
        else if (*p < 0x20)
            n += (size_t)sprintf(s + n, "\\u%04x", *p);
        else
            s[n++] = (char)*p;
    }
    sprintf(s + n, "\"}");
    return s;
}

/* The session options: the scripted model answering every prompt with ANSWER. malloc'd. */
static char *session_options(void)
{
    size_t cap = SCRIPT_REPEATS * (sizeof ANSWER + 1) + 64, n = 0;
    char *s = malloc(cap);
    if (s == NULL)
        abort();
    n += (size_t)sprintf(s, "{\"model\":\"scripted:x\",\"script\":[");
    for (int i = 0; i < SCRIPT_REPEATS; i++)
        n += (size_t)sprintf(s + n, "%s%s", i ? "," : "", ANSWER);
    sprintf(s + n, "]}");
    return s;
}

static void session_name(char *out, size_t cap, int i)
{
    snprintf(out, cap, "crash-%d", i);
}

static void start_sessions(tandem_client *c, int n, const char *opts)
{
    for (int i = 0; i < n; i++) {
        char name[32], *id = NULL;
        session_name(name, sizeof name, i);
        TRY(tandem_session_start_or_get(c, name, opts, &id));
        if (strcmp(id, name) != 0)
            die("start_or_get(%s) returned %s", name, id);
        tandem_string_free(id);
    }
}

static int parse_sessions(const char *arg)
{
    int n = atoi(arg);
    if (n < 1 || n > MAX_SESSIONS)
        die("n_sessions must be 1..%d", MAX_SESSIONS);
    return n;
}

/* The number of user messages in a messages array (-1 if it is not an array), in one pass: json_at() from the start
 * for every element would be quadratic, and the journals of a long kill9 run hold thousands of messages. */
static long count_user_messages(const char *messages)
{
    const char *p = json_ws(messages);
    if (p == NULL || *p != '[')
        return -1;
    long n = 0;
    p = json_ws(p + 1);
    if (*p == ']')
        return 0;
    for (;;) {
        n += json_str_is(p, "kind", "user");
        p = json_ws(json_skip(p));
        if (p == NULL)
            return -1;
        if (*p == ']')
            return n;
        if (*p != ',')
            return -1;
        p = json_ws(p + 1);
    }
}

typedef struct {
    char id[32];
    long next_k;      /* the number of the next prompt */
    char prompt[64];  /* the prompt in flight ("" when none) */
    int sent;         /* prompts sent by this run */
} session;

static void send_next(tandem_client *c, session *s)
{
    if (s->sent >= SCRIPT_REPEATS) { /* the script is used up: idle until killed */
        s->prompt[0] = '\0';
        return;
    }
    snprintf(s->prompt, sizeof s->prompt, "turn-%s-%ld", s->id, s->next_k++);
    tandem_prompt_result r;
    TRY(tandem_session_send_prompt(c, s->id, s->prompt, &r));
    if (r != TANDEM_PROMPT_RESULT_SENT)
        die("%s: prompt %s was queued (%u), not sent", s->id, s->prompt, (unsigned)r);
    s->sent++;
}

static _Noreturn void run(const char *dir, int n)
{
    char *config = client_config(dir), *opts = session_options();
    tandem_client *c = NULL;
    TRY(tandem_client_new(config, &c));
    start_sessions(c, n, opts);
    session sessions[MAX_SESSIONS];
    memset(sessions, 0, sizeof sessions);
    for (int i = 0; i < n; i++) {
        session *s = &sessions[i];
        session_name(s->id, sizeof s->id, i);
        char *messages = NULL;
        TRY(tandem_session_messages(c, s->id, &messages));
        s->next_k = count_user_messages(messages);
        if (s->next_k < 0)
            die("%s: messages are not a JSON array", s->id);
        tandem_string_free(messages);
    }
    for (int i = 0; i < n; i++)
        send_next(c, &sessions[i]);
    for (;;) {
        char *ev = NULL;
        tandem_status st = tandem_client_next_event(c, 1000, &ev);
        if (st == TANDEM_ERR_TIMEOUT)
            continue;
        if (st != TANDEM_OK)
            die("tandem_client_next_event: %s (%s)", tandem_status_name(st), tandem_last_error_message());
        if (json_str_is(ev, "kind", "turn_ended")) {
            char *sid = json_get_str(ev, "session_id");
            session *s = NULL;
            for (int i = 0; sid != NULL && i < n; i++)
                if (strcmp(sessions[i].id, sid) == 0)
                    s = &sessions[i];
            if (s == NULL || s->prompt[0] == '\0')
                die("turn_ended of %s with no prompt in flight: %s", sid ? sid : "(null)", ev);
            char *reason = json_get_str(ev, "reason");
            if (reason != NULL && strcmp(reason, "completed") == 0)
                printf("ended %s %s\n", s->id, s->prompt);
            else
                printf("not-completed %s %s %s\n", s->id, s->prompt, reason ? reason : "(none)");
            fflush(stdout);
            free(reason);
            free(sid);
            send_next(c, s);
        } else if (json_str_is(ev, "kind", "error") || json_str_is(ev, "kind", "session_restarted") ||
                   json_str_is(ev, "kind", "session_stopped")) {
            fprintf(stderr, "event: %s\n", ev); /* unexpected, but kill9.py decides what it means */
            fflush(stderr);
        }
        tandem_string_free(ev);
    }
}

static int verify(const char *dir, int n)
{
    char *config = client_config(dir), *opts = session_options();
    tandem_client *c = NULL;
    TRY(tandem_client_new(config, &c));
    start_sessions(c, n, opts);
    for (int i = 0; i < n; i++) {
        char name[32], *token = NULL, *meta = NULL, *messages = NULL;
        session_name(name, sizeof name, i);
        TRY(tandem_session_token(c, name, &token));
        TRY(tandem_session_metadata(c, name, &meta));
        TRY(tandem_session_messages(c, name, &messages));
        if (!json_valid(meta) || !json_valid(messages))
            die("%s: metadata or messages are not valid JSON", name);
        printf("{\"session\":\"%s\",\"token\":\"%s\",\"metadata\":%s,\"messages\":%s}\n", name, token, meta, messages);
        tandem_string_free(token);
        tandem_string_free(meta);
        tandem_string_free(messages);
    }
    fflush(stdout);
    tandem_client_free(c);
    free(config);
    free(opts);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[1], "run") != 0 && strcmp(argv[1], "verify") != 0)) {
        fprintf(stderr, "usage: %s run|verify <store_dir> <n_sessions>\n", argv[0]);
        return 2;
    }
    int n = parse_sessions(argv[3]);
    if (strcmp(argv[1], "run") == 0)
        run(argv[2], n);
    return verify(argv[2], n);
}
