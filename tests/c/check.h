/*
 * check.h: the C tests' assertion helpers, test runner and a minimal JSON reader (no JSON library needed).
 *
 * Include it first in every test program (it sets _POSIX_C_SOURCE). One test program = one translation unit, so the
 * counters below are plain statics. Each test case is a `static void test_x(void)` run with RUN(test_x); the
 * program ends with `return check_summary();`, which prints "N passed, M failed" and returns non-zero on failure.
 *
 *   CHECK(cond)                     record a failure (file:line and the expression) and go on
 *   REQUIRE(cond)                   same, then return from the test function (for conditions later code needs)
 *   CHECK_STATUS(expr, expected)    compare a tandem_status; on mismatch print both names and
 *                                   tandem_last_error_message(); for an expected error also require that the last
 *                                   error message is non-empty
 *   REQUIRE_STATUS(expr, expected)  same, returning from the test on mismatch
 *   CHECK_STREQ(a, b)               string equality (NULL-safe), printing both
 *
 * Every failure counter is atomic: CHECK may be used inside event callbacks, which run on tandem's dispatcher thread.
 */
#ifndef TANDEM_TEST_CHECK_H
#define TANDEM_TEST_CHECK_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tandem.h"

/* ---------------------------------------------------------------------------------------------------------------- */
/* Counters and reporting                                                                                            */

static atomic_int check_failures_now;     /* failures recorded in the running test case */
static int check_cases_passed;
static int check_cases_failed;
static int check_cases_skipped;           /* test cases that returned through check_skip() */
static bool check_skipped_now;
static const char *check_only;            /* run only test cases whose name contains this (argv[1]) */
static const char *check_context;         /* optional label printed with failures (e.g. the function under test) */

static inline void check_fail(const char *file, int line, const char *expr, const char *detail)
{
    atomic_fetch_add(&check_failures_now, 1);
    fprintf(stderr, "  %s:%d: CHECK failed%s%s%s: %s%s%s\n", file, line, check_context ? " [" : "",
            check_context ? check_context : "", check_context ? "]" : "", expr, detail ? "\n    " : "",
            detail ? detail : "");
    fflush(stderr);
}

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond))                                                                                                   \
            check_fail(__FILE__, __LINE__, #cond, NULL);                                                               \
    } while (0)

#define REQUIRE(cond)                                                                                                  \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            check_fail(__FILE__, __LINE__, #cond, NULL);                                                               \
            return;                                                                                                    \
        }                                                                                                              \
    } while (0)

static inline bool check_status_impl(const char *file, int line, const char *expr, tandem_status got,
                                     tandem_status want)
{
    /* Read the message right away: it belongs to the calling thread and the call just made. */
    const char *msg = tandem_last_error_message();
    char detail[1024];
    if (got != want) {
        snprintf(detail, sizeof detail, "got %s (%u), expected %s (%u); last error%s: \"%s\"", tandem_status_name(got),
                 (unsigned)got, tandem_status_name(want), (unsigned)want,
                 got == TANDEM_OK ? " (stale: this call succeeded)" : "", msg ? msg : "(NULL!)");
        check_fail(file, line, expr, detail);
        return false;
    }
    if (want != TANDEM_OK && (msg == NULL || msg[0] == '\0')) {
        snprintf(detail, sizeof detail, "returned %s as expected, but tandem_last_error_message() is %s",
                 tandem_status_name(got), msg ? "empty" : "NULL");
        check_fail(file, line, expr, detail);
        return false;
    }
    return true;
}

#define CHECK_STATUS(expr, expected) ((void)check_status_impl(__FILE__, __LINE__, #expr, (expr), (expected)))

#define REQUIRE_STATUS(expr, expected)                                                                                 \
    do {                                                                                                               \
        if (!check_status_impl(__FILE__, __LINE__, #expr, (expr), (expected)))                                         \
            return;                                                                                                    \
    } while (0)

static inline bool check_streq_impl(const char *file, int line, const char *expr, const char *a, const char *b)
{
    if (a != NULL && b != NULL && strcmp(a, b) == 0)
        return true;
    char detail[1024];
    snprintf(detail, sizeof detail, "\"%.400s\" != \"%.400s\"", a ? a : "(NULL)", b ? b : "(NULL)");
    check_fail(file, line, expr, detail);
    return false;
}

#define CHECK_STREQ(a, b) ((void)check_streq_impl(__FILE__, __LINE__, #a " == " #b, (a), (b)))

/* ---------------------------------------------------------------------------------------------------------------- */
/* Running test cases                                                                                                */

static inline uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static inline void check_run(const char *name, void (*fn)(void))
{
    if (check_only != NULL && strstr(name, check_only) == NULL)
        return;
    atomic_store(&check_failures_now, 0);
    check_context = NULL;
    check_skipped_now = false;
    uint64_t t0 = now_ms();
    fn();
    check_context = NULL;
    uint64_t dt = now_ms() - t0;
    int failures = atomic_load(&check_failures_now);
    if (check_skipped_now && failures == 0) {
        check_cases_skipped++;
        fflush(stdout);
        return;
    }
    if (failures == 0) {
        check_cases_passed++;
        printf("ok   %s (%llu ms)\n", name, (unsigned long long)dt);
    } else {
        check_cases_failed++;
        printf("FAIL %s (%d failed checks, %llu ms)\n", name, failures, (unsigned long long)dt);
    }
    fflush(stdout);
}

#define RUN(fn) check_run(#fn, fn)

/* Call first in main: `check_init(argc, argv);` lets `./test_x name` run only matching test cases. */
static inline void check_init(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    check_only = argc > 1 ? argv[1] : NULL;
}

/* Marks the running test case as skipped, printing "SKIP name: why" (the caller then returns). */
static inline void check_skip(const char *name, const char *why)
{
    check_skipped_now = true;
    printf("SKIP %s: %s\n", name, why);
    fflush(stdout);
}

static inline int check_summary(void)
{
    if (check_cases_skipped > 0)
        printf("%d skipped\n", check_cases_skipped);
    printf("%d passed, %d failed\n", check_cases_passed, check_cases_failed);
    fflush(stdout);
    return check_cases_failed == 0 ? 0 : 1;
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* Minimal JSON reader. Values are addressed by pointers into the document; nothing is copied unless asked.          */
/* It validates syntax strictly enough for tests (json_valid) and reads object members, array elements, strings     */
/* (with escapes, \u decoded to UTF-8), integers, numbers, booleans and null.                                        */

static inline const char *json_ws(const char *p)
{
    while (p && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* Skips one value starting at p (after whitespace); returns the first character after it, or NULL if malformed. */
static inline const char *json_skip(const char *p)
{
    p = json_ws(p);
    if (p == NULL)
        return NULL;
    switch (*p) {
    case '"':
        for (p++; *p != '"'; p++) {
            if (*p == '\0' || (unsigned char)*p < 0x20)
                return NULL;
            if (*p == '\\') {
                p++;
                if (*p == 'u') {
                    for (int i = 1; i <= 4; i++) {
                        char c = p[i];
                        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
                            return NULL;
                    }
                    p += 4;
                } else if (*p == '\0' || strchr("\"\\/bfnrt", *p) == NULL) {
                    return NULL;
                }
            }
        }
        return p + 1;
    case '{':
    case '[': {
        char close = *p == '{' ? '}' : ']';
        bool object = *p == '{';
        p = json_ws(p + 1);
        if (*p == close)
            return p + 1;
        for (;;) {
            if (object) {
                if (*p != '"')
                    return NULL;
                p = json_ws(json_skip(p));
                if (p == NULL || *p != ':')
                    return NULL;
                p++;
            }
            p = json_ws(json_skip(p));
            if (p == NULL)
                return NULL;
            if (*p == close)
                return p + 1;
            if (*p != ',')
                return NULL;
            p = json_ws(p + 1);
        }
    }
    case 't':
        return strncmp(p, "true", 4) == 0 ? p + 4 : NULL;
    case 'f':
        return strncmp(p, "false", 5) == 0 ? p + 5 : NULL;
    case 'n':
        return strncmp(p, "null", 4) == 0 ? p + 4 : NULL;
    default: {
        const char *start = p;
        if (*p == '-')
            p++;
        if (*p < '0' || *p > '9')
            return NULL;
        while ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' || *p == '+' || *p == '-')
            p++;
        return p > start ? p : NULL;
    }
    }
}

/* True when doc is exactly one well-formed JSON value (surrounding whitespace allowed). */
static inline bool json_valid(const char *doc)
{
    const char *end = json_ws(json_skip(doc));
    return end != NULL && *end == '\0';
}

/* Decodes the JSON string at p into a malloc'd UTF-8 string (free with free()); NULL if p is not a string. */
static inline char *json_str_dup(const char *p)
{
    p = json_ws(p);
    if (p == NULL || *p != '"' || json_skip(p) == NULL)
        return NULL;
    size_t cap = (size_t)(json_skip(p) - p) + 1, n = 0;
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    for (p++; *p != '"'; p++) {
        if (*p != '\\') {
            out[n++] = *p;
            continue;
        }
        p++;
        switch (*p) {
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'n': out[n++] = '\n'; break;
        case 'r': out[n++] = '\r'; break;
        case 't': out[n++] = '\t'; break;
        case 'u': {
            unsigned cp = (unsigned)strtoul((char[5]){p[1], p[2], p[3], p[4], 0}, NULL, 16);
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && p[1] == '\\' && p[2] == 'u') {
                unsigned lo = (unsigned)strtoul((char[5]){p[3], p[4], p[5], p[6], 0}, NULL, 16);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            }
            /* A \u escape is 6 bytes of input and at most 4 of output, so cap always suffices. */
            if (cp < 0x80) {
                out[n++] = (char)cp;
            } else if (cp < 0x800) {
                out[n++] = (char)(0xC0 | (cp >> 6));
                out[n++] = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                out[n++] = (char)(0xE0 | (cp >> 12));
                out[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                out[n++] = (char)(0x80 | (cp & 0x3F));
            } else {
                out[n++] = (char)(0xF0 | (cp >> 18));
                out[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                out[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                out[n++] = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default: out[n++] = *p; break; /* \" \\ \/ */
        }
    }
    out[n] = '\0';
    return out;
}

/* The value of member `key` of the object at p (top level of that object only), or NULL. */
static inline const char *json_get(const char *p, const char *key)
{
    p = json_ws(p);
    if (p == NULL || *p != '{')
        return NULL;
    p = json_ws(p + 1);
    size_t klen = strlen(key);
    while (*p == '"') {
        const char *kend = json_skip(p);
        if (kend == NULL)
            return NULL;
        bool match = (size_t)(kend - p) == klen + 2 && strncmp(p + 1, key, klen) == 0;
        p = json_ws(kend);
        if (*p != ':')
            return NULL;
        const char *value = json_ws(p + 1);
        if (match)
            return value;
        p = json_ws(json_skip(value));
        if (p == NULL || *p != ',')
            return NULL;
        p = json_ws(p + 1);
    }
    return NULL;
}

/* Array access: the number of elements of the array at p (-1 if not an array), and element i (NULL if absent). */
static inline long json_len(const char *p)
{
    p = json_ws(p);
    if (p == NULL || *p != '[')
        return -1;
    p = json_ws(p + 1);
    if (*p == ']')
        return 0;
    long n = 0;
    for (;;) {
        p = json_ws(json_skip(p));
        if (p == NULL)
            return -1;
        n++;
        if (*p == ']')
            return n;
        if (*p != ',')
            return -1;
        p++;
    }
}

static inline const char *json_at(const char *p, long i)
{
    p = json_ws(p);
    if (p == NULL || *p != '[' || i < 0)
        return NULL;
    p = json_ws(p + 1);
    if (*p == ']')
        return NULL;
    for (long k = 0;; k++) {
        if (k == i)
            return p;
        p = json_ws(json_skip(p));
        if (p == NULL || *p != ',')
            return NULL;
        p = json_ws(p + 1);
    }
}

/* Typed member access. json_get_str returns a malloc'd copy (free()) or NULL; the others report success. */
static inline char *json_get_str(const char *obj, const char *key)
{
    return json_str_dup(json_get(obj, key));
}

static inline bool json_get_u64(const char *obj, const char *key, uint64_t *out)
{
    const char *v = json_get(obj, key);
    if (v == NULL || *v < '0' || *v > '9')
        return false;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    if (*end == '.' || *end == 'e' || *end == 'E')
        return false;
    *out = (uint64_t)n;
    return true;
}

static inline bool json_get_double(const char *obj, const char *key, double *out)
{
    const char *v = json_get(obj, key);
    if (v == NULL || !((*v >= '0' && *v <= '9') || *v == '-'))
        return false;
    *out = strtod(v, NULL);
    return true;
}

static inline bool json_is_null(const char *v)
{
    v = json_ws(v);
    return v != NULL && strncmp(v, "null", 4) == 0;
}

/* True when member `key` of obj is the string `want`. */
static inline bool json_str_is(const char *obj, const char *key, const char *want)
{
    char *s = json_get_str(obj, key);
    bool eq = s != NULL && strcmp(s, want) == 0;
    free(s);
    return eq;
}

#endif /* TANDEM_TEST_CHECK_H */
