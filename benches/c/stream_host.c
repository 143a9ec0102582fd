/*
 * stream_host.c: the tandem side of the streaming benchmark (benches/streaming.rs runs it).
 *
 *   stream_host BASE_URL N RUNS [MODEL]
 *
 * One client, and per run one session on MODEL (default openai:bench) at BASE_URL (the mock server), a callback
 * subscribed to it, one prompt. The callback counts text deltas and the bytes of event JSON the host was handed; the
 * main thread waits for turn_ended. Prints one line per run:
 *   run <deltas> <bytes> <ms to last delta> <ms to turn_ended> <cpu ms of the whole process> <ms to first delta>
 *       <peak RSS of the process in KiB so far>
 * and first, when MODEL is given, one start-up line (benches/peers.rs): a fresh client, a subscription to all its
 * events, tandem_session_start, until the first event of that session:
 *   startup <ms>
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "tandem.h"

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    unsigned long deltas;
    unsigned long long bytes;
    double first_delta, last_delta, end;
} run_state;

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static long peak_rss_kib(void) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return r.ru_maxrss;
}

static double cpu_ms(void) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e3 + (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e3;
}

static void on_event(void *userdata, const tandem_event *e) {
    run_state *s = userdata;
    /* Everything the host is handed: the JSON document (the struct's other fields are fixed-size or the ID). */
    s->bytes += strlen(e->json);
    if (e->kind == TANDEM_EVENT_KIND_TEXT_DELTA) {
        if (s->deltas == 0) s->first_delta = now_ms();
        s->deltas++;
        s->last_delta = now_ms();
    } else if (e->kind == TANDEM_EVENT_KIND_TURN_ENDED) {
        s->end = now_ms();
        pthread_mutex_lock(&s->mu);
        s->done = 1;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
}

/* The first event of any session, for the start-up time. */
static void on_first(void *userdata, const tandem_event *e) {
    run_state *s = userdata;
    if (e->session_id == NULL) return;
    pthread_mutex_lock(&s->mu);
    if (!s->done) {
        s->end = now_ms();
        s->done = 1;
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
}

static int fail(const char *what) {
    fprintf(stderr, "stream_host: %s: %s\n", what, tandem_last_error_message());
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: stream_host BASE_URL N RUNS [MODEL]\n");
        return 2;
    }
    int runs = atoi(argv[3]);
    const char *model = argc == 5 ? argv[4] : "openai:bench";
    setenv("TANDEM_BENCH_KEY", "bench", 1);
    const char *client_config = "{\"store_dir\":null,\"pull_events\":false}";
    char options[1024];
    snprintf(options, sizeof options,
             "{\"model\":\"%s\",\"base_url\":\"%s\",\"api_key_env\":\"TANDEM_BENCH_KEY\",\"tools\":[],"
             "\"retry\":{\"max_retries\":0}}",
             model, argv[1]);
    tandem_client *client = NULL;
    if (argc == 5) {
        run_state s = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, 0};
        char *id = NULL;
        uint64_t sub = 0;
        double t0 = now_ms();
        if (tandem_client_new(client_config, &client)) return fail("client_new");
        if (tandem_client_subscribe(client, NULL, on_first, &s, NULL, &sub)) return fail("subscribe");
        if (tandem_session_start(client, options, &id)) return fail("session_start");
        pthread_mutex_lock(&s.mu);
        while (!s.done) pthread_cond_wait(&s.cv, &s.mu);
        pthread_mutex_unlock(&s.mu);
        printf("startup %.3f\n", s.end - t0);
        tandem_client_unsubscribe(client, sub);
        tandem_string_free(id);
        tandem_client_free(client);
    }
    if (tandem_client_new(client_config, &client)) return fail("client_new");
    for (int r = 0; r < runs; r++) {
        run_state s = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, 0};
        char *id = NULL;
        uint64_t sub = 0;
        if (tandem_session_start(client, options, &id)) return fail("session_start");
        if (tandem_client_subscribe(client, id, on_event, &s, NULL, &sub)) return fail("subscribe");
        double cpu0 = cpu_ms(), t0 = now_ms();
        if (tandem_session_send_prompt(client, id, "stream please", NULL)) return fail("send_prompt");
        pthread_mutex_lock(&s.mu);
        while (!s.done) pthread_cond_wait(&s.cv, &s.mu);
        pthread_mutex_unlock(&s.mu);
        double cpu1 = cpu_ms();
        printf("run %lu %llu %.3f %.3f %.3f %.3f %ld\n", s.deltas, s.bytes, s.last_delta - t0, s.end - t0, cpu1 - cpu0,
               s.first_delta - t0, peak_rss_kib());
        fflush(stdout);
        tandem_client_unsubscribe(client, sub);
        tandem_session_stop(client, id);
        tandem_string_free(id);
    }
    tandem_client_free(client);
    return 0;
}
