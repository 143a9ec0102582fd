/*
 * demo.c: a small terminal host for tandem.
 *
 *   demo [--yes] [--model MODEL] [--workdir DIR] [PROMPT...]
 *
 * Starts one session, sends each PROMPT in turn (default: "Tell me about this project.") and streams what the
 * agent does: thinking (dimmed on a terminal), text, tool calls and errors. Events arrive on tandem's dispatcher
 * thread; the main thread waits for the end of each turn and asks the user about tool approvals, so the callback
 * never blocks on stdin. Without an API key (or with a provider this build lacks) it runs the offline scripted demo.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tandem.h"

static void *xmalloc(size_t n) {
    void *p = malloc(n);
    if (!p) { perror("demo"); exit(1); }
    return p;
}

/* ---- Minimal JSON reading. tandem emits compact JSON (no whitespace between tokens), which is all this handles. */

/* The end of the JSON value at p: the ',' or closing bracket after it, or the terminating NUL. */
static const char *skip_value(const char *p) {
    for (int depth = 0; *p; p++) {
        if (*p == '"') {
            while (*++p && *p != '"')
                if (*p == '\\' && p[1]) p++;
            if (!*p) break;
        } else if (*p == '{' || *p == '[') {
            depth++;
        } else if ((*p == '}' || *p == ']') ? depth-- == 0 : (*p == ',' && depth == 0)) {
            break;
        }
    }
    return p;
}

/* The raw value of the top-level member `key` of the object at obj, or NULL. */
static const char *json_find(const char *obj, const char *key) {
    size_t n = strlen(key);
    if (!obj || *obj != '{') return NULL;
    for (const char *p = obj + 1; *p == '"';) {
        if (strncmp(p + 1, key, n) == 0 && p[n + 1] == '"' && p[n + 2] == ':') return p + n + 3;
        p = skip_value(p); /* skips "key":value as a whole, up to the ',' */
        if (*p++ != ',') break;
    }
    return NULL;
}

/* Member `key` as a newly allocated, unescaped string (free() it), or NULL if it is not a string. Escaped control
 * characters other than \n \t \r become '?', so tool output cannot drive the terminal. */
static char *json_string(const char *obj, const char *key) {
    const char *p = json_find(obj, key);
    if (!p || *p != '"') return NULL;
    char *out = xmalloc(strlen(p)), *o = out;
    for (p++; *p && *p != '"'; p++) {
        if (*p != '\\' || !p[1]) { *o++ = *p; continue; }
        switch (*++p) {
        case 'n': *o++ = '\n'; break;
        case 't': *o++ = '\t'; break;
        case 'r': *o++ = '\r'; break;
        case '"': case '\\': case '/': *o++ = *p; break;
        case 'u': for (int i = 0; i < 4 && p[1]; i++) p++; /* fall through */
        default: *o++ = '?'; break;
        }
    }
    *o = '\0';
    return out;
}

static double json_number(const char *obj, const char *key) {
    const char *p = json_find(obj, key);
    return p ? strtod(p, NULL) : 0.0;
}

/* s as a JSON string literal, newly allocated (free() it). */
static char *json_quote(const char *s) {
    char *out = xmalloc(6 * strlen(s) + 3), *o = out;
    *o++ = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') { *o++ = '\\'; *o++ = (char)c; }
        else if (c < 0x20) o += sprintf(o, "\\u%04x", c);
        else *o++ = (char)c;
    }
    strcpy(o, "\"");
    return out;
}

/* ---- What the callback (dispatcher thread) and the main thread share. */

enum { MAX_APPROVALS = 16 };

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int turns_ended;                /* turn_ended events so far */
    bool turn_failed;               /* a turn ended other than "completed" */
    bool stopped;                   /* the session went away */
    char *approvals[MAX_APPROVALS]; /* approval_pending documents for the main thread to ask about */
    int n_approvals;
    bool tty, at_line_start, in_thinking; /* output state */
} demo;

static const char *style(const demo *d, const char *ansi) { return d->tty ? ansi : ""; }
static const char *or_q(const char *s) { return s ? s : "?"; }

static void end_line(demo *d) {
    if (d->in_thinking) fputs(style(d, "\033[0m"), stdout);
    if (!d->at_line_start) putchar('\n');
    d->at_line_start = true;
    d->in_thinking = false;
}

static void print_delta(demo *d, const char *delta, bool thinking) {
    if (thinking != d->in_thinking) end_line(d);
    if (d->at_line_start) { /* a fresh line: drop leading blanks, but keep one empty line as a paragraph break */
        int newlines = 0;
        for (; *delta == ' ' || *delta == '\n'; delta++) newlines += *delta == '\n';
        if (newlines > 1) putchar('\n');
    }
    if (!*delta) return;
    if (thinking && !d->in_thinking) fputs(style(d, "\033[2;3m"), stdout);
    d->in_thinking = thinking;
    fputs(delta, stdout);
    d->at_line_start = delta[strlen(delta) - 1] == '\n';
}

static void print_tool_end(demo *d, const char *json) {
    char *name = json_string(json, "name"), *result = json_string(json, "result");
    const char *is_error = json_find(json, "is_error"), *r = result ? result : "";
    if (is_error && strncmp(is_error, "true", 4) == 0) {
        printf("  %s✗ %s: %.*s%s\n", style(d, "\033[31m"), or_q(name), (int)strcspn(r, "\n"), r, style(d, "\033[0m"));
    } else {
        int lines = *r != '\0';
        for (; *r; r++) lines += *r == '\n' && r[1];
        printf("  %s✓%s %s (%d line%s)\n", style(d, "\033[32m"), style(d, "\033[0m"), or_q(name), lines,
               lines == 1 ? "" : "s");
    }
    free(name), free(result);
}

/* The event callback: prints as events stream in, and hands turn ends and approvals to the main thread. */
static void on_event(void *userdata, const tandem_event *ev) {
    demo *d = userdata;
    char *s = NULL; /* the string field this event needs, freed at the end */
    switch (ev->kind) {
    case TANDEM_EVENT_KIND_TEXT_DELTA:
    case TANDEM_EVENT_KIND_THINKING_DELTA:
        if ((s = json_string(ev->json, "delta"))) print_delta(d, s, ev->kind == TANDEM_EVENT_KIND_THINKING_DELTA);
        break;
    case TANDEM_EVENT_KIND_TOOL_STARTED: {
        const char *args = json_find(ev->json, "args");
        s = json_string(ev->json, "name");
        end_line(d);
        printf("  %s▸ %s%s %.*s\n", style(d, "\033[36m"), or_q(s), style(d, "\033[0m"),
               args ? (int)(skip_value(args) - args) : 0, args ? args : "");
        break;
    }
    case TANDEM_EVENT_KIND_TOOL_ENDED:
        end_line(d);
        print_tool_end(d, ev->json);
        break;
    case TANDEM_EVENT_KIND_ERROR:
        s = json_string(ev->json, "message");
        end_line(d);
        printf("%serror: %s%s\n", style(d, "\033[31m"), or_q(s), style(d, "\033[0m"));
        break;
    case TANDEM_EVENT_KIND_SESSION_RESTARTED:
        end_line(d);
        printf("%s(the session crashed and was restarted)%s\n", style(d, "\033[2m"), style(d, "\033[0m"));
        break;
    case TANDEM_EVENT_KIND_TURN_ENDED:
    case TANDEM_EVENT_KIND_SESSION_STOPPED:
    case TANDEM_EVENT_KIND_APPROVAL_PENDING: /* the main thread waits for these */
        end_line(d);
        fflush(stdout);
        s = json_string(ev->json, "reason");
        pthread_mutex_lock(&d->mu);
        if (ev->kind == TANDEM_EVENT_KIND_TURN_ENDED) {
            d->turns_ended++;
            d->turn_failed |= !s || strcmp(s, "completed") != 0;
        } else if (ev->kind == TANDEM_EVENT_KIND_SESSION_STOPPED) {
            d->stopped = true;
        } else if (d->n_approvals < MAX_APPROVALS) {
            d->approvals[d->n_approvals++] = strcpy(xmalloc(strlen(ev->json) + 1), ev->json);
        }
        pthread_cond_signal(&d->cv);
        pthread_mutex_unlock(&d->mu);
        break;
    default: /* status changes, context usage, ...: nothing to show */
        break;
    }
    free(s);
    fflush(stdout);
}

/* Tells tandem the user's decision, naming the approval so a late answer cannot approve another call. */
static void answer_approval(tandem_client *client, const char *session_id, const char *approval_id, bool allow) {
    tandem_status st = tandem_session_respond_to_approval(
        client, session_id, approval_id, allow ? TANDEM_APPROVAL_DECISION_APPROVE : TANDEM_APPROVAL_DECISION_REJECT);
    if (st == TANDEM_ERR_NO_PENDING_APPROVAL)
        puts("  (too late: the approval was cancelled or timed out)");
    else if (st != TANDEM_OK)
        fprintf(stderr, "  approval failed: %s: %s\n", tandem_status_name(st), tandem_last_error_message());
}

/* Runs on the main thread: shows the tool and asks (or takes --yes for an answer). */
static void ask_approval(tandem_client *client, const char *session_id, const char *json, bool yes) {
    const char *approval = json_find(json, "approval");
    char *id = json_string(approval, "approval_id"), *name = json_string(approval, "name");
    char *preview = json_string(json_find(approval, "preview"), "summary");
    char line[64] = "";
    printf("  ? %s wants to run\n", name ? name : "a tool");
    if (preview && *preview) printf("%s\n", preview);
    printf("  Allow? [y/N] ");
    if (yes) puts("y (--yes)");
    else if (!fgets(line, sizeof line, stdin)) putchar('\n');
    answer_approval(client, session_id, id, yes || line[0] == 'y' || line[0] == 'Y');
    free(id), free(name), free(preview);
}

/* Starts a session on `model` with its tools in `workdir`. */
static tandem_status start_session(tandem_client *client, const char *model, const char *workdir, char **id) {
    char *m = json_quote(model), *w = json_quote(workdir);
    char *options = xmalloc(strlen(m) + strlen(w) + 32);
    sprintf(options, "{\"model\":%s,\"workdir\":%s}", m, w);
    tandem_status st = tandem_session_start(client, options, id);
    free(m), free(w), free(options);
    return st;
}

static const char *with_commas(unsigned long long n, char buf[32]) {
    char digits[24];
    int len = snprintf(digits, sizeof digits, "%llu", n), o = 0;
    for (int i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

static int fail(const char *what, tandem_status st) {
    fprintf(stderr, "demo: %s failed: %s: %s\n", what, tandem_status_name(st), tandem_last_error_message());
    return 1;
}

int main(int argc, char **argv) {
    bool yes = false;
    const char *model = NULL, *workdir = NULL;
    char cwd[4096];
    int first = 1; /* the first prompt argument */
    for (; first < argc && argv[first][0] == '-'; first++) {
        if (strcmp(argv[first], "--yes") == 0) yes = true;
        else if (strcmp(argv[first], "--model") == 0 && first + 1 < argc) model = argv[++first];
        else if (strcmp(argv[first], "--workdir") == 0 && first + 1 < argc) workdir = argv[++first];
        else if (strcmp(argv[first], "--") == 0) { first++; break; }
        else {
            bool help = strcmp(argv[first], "-h") == 0 || strcmp(argv[first], "--help") == 0;
            fprintf(help ? stdout : stderr, "usage: %s [--yes] [--model MODEL] [--workdir DIR] [PROMPT...]\n",
                    argv[0]);
            return help ? 0 : 2;
        }
    }
    const char *anthropic = getenv("ANTHROPIC_API_KEY"), *openai = getenv("OPENAI_API_KEY");
    if (!model) model = anthropic && *anthropic ? "anthropic:claude-sonnet-4-5"
                        : openai && *openai   ? "openai:gpt-4.1"
                                              : "scripted:demo";
    if (!workdir) workdir = getcwd(cwd, sizeof cwd) ? cwd : ".";

    demo d = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .at_line_start = true,
              .tty = isatty(STDOUT_FILENO)};
    tandem_client *client = NULL;
    char *session_id = NULL, *usage = NULL;
    uint64_t subscription = 0;
    bool subscribed = false;
    int rc = 1;
    tandem_status st = tandem_client_new("{\"pull_events\":false}", &client);
    if (st != TANDEM_OK) { rc = fail("tandem_client_new", st); goto done; }
    st = start_session(client, model, workdir, &session_id);
    if (st == TANDEM_ERR_NOT_SUPPORTED && strcmp(model, "scripted:demo") != 0) {
        printf("%.*s is not available in this build; using the offline scripted demo\n", (int)strcspn(model, ":"),
               model);
        model = "scripted:demo";
        st = start_session(client, model, workdir, &session_id);
    }
    if (st != TANDEM_OK) { rc = fail("tandem_session_start", st); goto done; }
    printf("%standem %s · %s · %s%s\n", style(&d, "\033[2m"), tandem_version(), model, workdir, style(&d, "\033[0m"));
    st = tandem_client_subscribe(client, session_id, on_event, &d, NULL, &subscription);
    if (st != TANDEM_OK) { rc = fail("tandem_client_subscribe", st); goto done; }
    subscribed = true;

    for (int sent = 1; sent <= (first < argc ? argc - first : 1); sent++) {
        const char *prompt = first < argc ? argv[first + sent - 1] : "Tell me about this project.";
        printf("\n%s› %s%s\n", style(&d, "\033[1m"), prompt, style(&d, "\033[0m"));
        fflush(stdout);
        st = tandem_session_send_prompt(client, session_id, prompt, NULL);
        if (st != TANDEM_OK) { rc = fail("tandem_session_send_prompt", st); goto done; }
        pthread_mutex_lock(&d.mu); /* wait for this prompt's turn_ended, answering approvals meanwhile */
        while (d.turns_ended < sent && !d.stopped) {
            if (d.n_approvals == 0) { pthread_cond_wait(&d.cv, &d.mu); continue; }
            char *json = d.approvals[0];
            memmove(d.approvals, d.approvals + 1, --d.n_approvals * sizeof *d.approvals);
            pthread_mutex_unlock(&d.mu);
            ask_approval(client, session_id, json, yes);
            free(json);
            pthread_mutex_lock(&d.mu);
        }
        bool stopped = d.stopped;
        pthread_mutex_unlock(&d.mu);
        if (stopped) { fprintf(stderr, "demo: the session stopped unexpectedly\n"); goto done; }
    }

    st = tandem_session_usage(client, session_id, &usage);
    if (st != TANDEM_OK) { rc = fail("tandem_session_usage", st); goto done; }
    char in[32], out[32];
    printf("\n%s── tokens: %s in · %s out · $%.4f%s\n", style(&d, "\033[2m"),
           with_commas((unsigned long long)json_number(usage, "input"), in),
           with_commas((unsigned long long)json_number(usage, "output"), out), json_number(usage, "cost"),
           style(&d, "\033[0m"));
    rc = d.turn_failed ? 1 : 0;

done:
    if (subscribed) tandem_client_unsubscribe(client, subscription);
    tandem_string_free(usage);
    tandem_string_free(session_id);
    tandem_client_free(client);
    for (int i = 0; i < d.n_approvals; i++) free(d.approvals[i]);
    return rc;
}
