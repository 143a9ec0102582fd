/* test_store.c: the conversation store through the C API, on a real store directory (one mkdtemp per test): turns
 * durable when turn_ended arrives, restore by a new client, new/list/load/delete conversations, two clients on one
 * store, and sessions that do not persist. */
#include "check.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"

/* ---------------------------------------------------------------------------------------------------------------- */
/* Temporary store directories                                                                                      */

/* Makes a fresh directory under $TMPDIR (or /tmp) into `out` (at least 512 bytes); false on failure. */
static bool make_temp_dir(char *out, size_t cap)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(out, cap, "%s/tandem-c-store-XXXXXX", tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(out) == NULL) {
        fprintf(stderr, "  mkdtemp(%s): %s\n", out, strerror(errno));
        return false;
    }
    return true;
}

/* rm -rf without a shell. */
static void remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d != NULL) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                    continue;
                size_t len = strlen(path) + strlen(e->d_name) + 2;
                char *child = malloc(len);
                if (child == NULL)
                    abort();
                snprintf(child, len, "%s/%s", path, e->d_name);
                remove_tree(child);
                free(child);
            }
            closedir(d);
        }
        CHECK(rmdir(path) == 0);
    } else {
        CHECK(unlink(path) == 0);
    }
}

static bool path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Whether `path` is a directory with no entries. */
static bool dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL)
        return false;
    int entries = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        entries += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return entries == 0;
}

static unsigned mode_of(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 ? (unsigned)(st.st_mode & 0777) : 0u;
}

/* The whole file as a NUL-terminated malloc'd string (free()), or NULL. */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    size_t got;
    while (buf != NULL && (got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len - 1 == 0) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    fclose(f);
    if (buf != NULL)
        buf[len] = '\0';
    return buf;
}

/* cp -r src/. dst (dst exists): directories and regular files, modes kept. */
static void copy_tree(const char *src, const char *dst)
{
    DIR *d = opendir(src);
    CHECK(d != NULL);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char from[1024], to[1024];
        snprintf(from, sizeof from, "%s/%s", src, e->d_name);
        snprintf(to, sizeof to, "%s/%s", dst, e->d_name);
        struct stat st;
        if (lstat(from, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            CHECK(mkdir(to, st.st_mode & 0777) == 0);
            copy_tree(from, to);
        } else if (S_ISREG(st.st_mode)) {
            FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
            CHECK(in != NULL && out != NULL);
            char buf[8192];
            size_t n;
            while (in != NULL && out != NULL && (n = fread(buf, 1, sizeof buf, in)) > 0)
                CHECK(fwrite(buf, 1, n, out) == n);
            if (in != NULL)
                fclose(in);
            if (out != NULL)
                CHECK(fclose(out) == 0);
            CHECK(chmod(to, st.st_mode & 0777) == 0);
        }
    }
    closedir(d);
}

/* Occurrences of `needle` in `hay`. */
static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; p != NULL && (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* {"store_dir":"<dir>"} (the temporary directories need no escaping). */
static void store_config(char *out, size_t cap, const char *dir)
{
    snprintf(out, cap, "{\"store_dir\":\"%s\",\"restart\":{\"base_delay_ms\":1,\"max_delay_ms\":5}}", dir);
}

static tandem_client *store_client(const char *dir)
{
    char config[700];
    store_config(config, sizeof config, dir);
    tandem_client *c = NULL;
    CHECK_STATUS(tandem_client_new(config, &c), TANDEM_OK);
    return c;
}

/* The session's current conversation ID (malloc'd, free()) or NULL. */
static char *conversation_of(tandem_client *c, const char *id)
{
    char *meta = NULL;
    tandem_status st;
    RETRY_PENDING(st, tandem_session_metadata(c, id, &meta));
    CHECK_STATUS(st, TANDEM_OK);
    char *conv = meta != NULL ? json_get_str(meta, "conversation_id") : NULL;
    tandem_string_free(meta);
    CHECK(conv != NULL && conv[0] != '\0');
    return conv;
}

static char *token_of(tandem_client *c, const char *id)
{
    char *token = NULL;
    CHECK_STATUS(tandem_session_token(c, id, &token), TANDEM_OK);
    return token;
}

/* Sends a prompt and pulls events to its turn_ended; true when the turn completed. */
static bool prompt_turn(tandem_client *c, const char *id, const char *prompt)
{
    tandem_status st;
    RETRY_PENDING(st, tandem_session_send_prompt(c, id, prompt, NULL));
    CHECK_STATUS(st, TANDEM_OK);
    if (st != TANDEM_OK)
        return false;
    evlog log = {0};
    const char *ended = pull_until(c, &log, id, "turn_ended", WAIT_MS);
    bool ok = ended != NULL && json_str_is(ended, "reason", "completed");
    CHECK(ok);
    evlog_free(&log);
    return ok;
}

/* REQUIRE that jumps to the test's cleanup instead of returning, so a failed test still frees and removes everything. */
#define REQUIRE_OR(cond, label)                                                                                        \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            check_fail(__FILE__, __LINE__, #cond, NULL);                                                               \
            goto label;                                                                                                \
        }                                                                                                              \
    } while (0)

/* A script with every common message kind: thinking, streamed text with a pause, usage. */
#define RICH_OPTIONS                                                                                                   \
    "{\"model\":\"scripted:x\",\"script\":[[{\"thinking\":\"let me see\"},{\"text\":\"one \"},{\"delay_ms\":2},"     \
    "{\"text\":\"two\"},{\"usage\":{\"input\":10,\"output\":5,\"cost\":0.5}}],"                                       \
    "[{\"text\":\"second answer\"},{\"usage\":{\"input\":20,\"output\":7,\"cost\":0.25}}]]}"

/* ---------------------------------------------------------------------------------------------------------------- */
/* Tests                                                                                                             */

/* Under the default fsync policy a turn is in its journal when turn_ended arrives: no stop, no flush, no free. A copy
 * of the store taken right then (the client still running, as if the process died there) restores the turn. */
static void test_turn_in_journal_at_turn_ended(void)
{
    char dir[512], copy[512];
    REQUIRE(make_temp_dir(dir, sizeof dir));
    if (!make_temp_dir(copy, sizeof copy)) {
        CHECK(false);
        remove_tree(dir);
        return;
    }
    tandem_client *c = store_client(dir), *c2 = NULL;
    char *id = NULL, *conv = NULL, *token = NULL, *messages = NULL, *journal = NULL, *record = NULL, *id2 = NULL;
    if (c != NULL)
        CHECK_STATUS(tandem_session_start_or_get(c, "durable", "{\"model\":\"scripted:echo\"}", &id), TANDEM_OK);
    if (id == NULL || !prompt_turn(c, id, "remember me please"))
        goto done;
    /* Right after turn_ended, before anything else: the store as a crash would leave it. */
    copy_tree(dir, copy);
    conv = conversation_of(c, id);
    token = token_of(c, id);
    messages = messages_of(c, id);
    REQUIRE_OR(conv != NULL && token != NULL && messages != NULL, done);

    char path[1024];
    snprintf(path, sizeof path, "%s/conversations/%s.jsonl", dir, conv);
    journal = read_file(path);
    REQUIRE_OR(journal != NULL, done);
    /* The prompt and the whole answer (the echo model streams it word by word, but it was stored once, complete). */
    CHECK(count_of(journal, "remember me please") >= 2);
    CHECK(count_of(journal, "\"assistant\"") == 1);
    /* Every line is one complete JSON document. */
    size_t lines = 0;
    for (char *line = journal, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        *nl = '\0';
        CHECK(json_valid(line));
        lines++;
    }
    CHECK(lines >= 3);
    CHECK(mode_of(path) == 0600);
    CHECK(mode_of(dir) == 0700);
    snprintf(path, sizeof path, "%s/conversations", dir);
    CHECK(mode_of(path) == 0700);

    /* The session record names the token and the current conversation. */
    snprintf(path, sizeof path, "%s/sessions/%s.json", dir, id);
    record = read_file(path);
    CHECK(record != NULL && json_valid(record));
    if (record != NULL) {
        CHECK(json_str_is(record, "session_id", id));
        CHECK(json_str_is(record, "conversation_id", conv));
        CHECK(json_str_is(record, "token", token));
    }
    CHECK(mode_of(path) == 0600);

    /* The copy restores the same transcript, conversation and token. */
    c2 = store_client(copy);
    if (c2 != NULL)
        CHECK_STATUS(tandem_session_start_or_get(c2, "durable", "{\"model\":\"scripted:echo\"}", &id2), TANDEM_OK);
    if (id2 != NULL) {
        char *m2 = messages_of(c2, id2), *t2 = token_of(c2, id2), *conv2 = conversation_of(c2, id2);
        CHECK_STREQ(m2, messages);
        CHECK_STREQ(t2, token);
        CHECK_STREQ(conv2, conv);
        char *answer = m2 != NULL ? last_message_text(m2, "assistant") : NULL;
        CHECK_STREQ(answer, "remember me please");
        free(answer);
        tandem_string_free(m2);
        tandem_string_free(t2);
        free(conv2);
    }

done:
    tandem_string_free(id2);
    tandem_client_free(c2);
    free(record);
    free(journal);
    tandem_string_free(messages);
    tandem_string_free(token);
    free(conv);
    tandem_string_free(id);
    tandem_client_free(c);
    remove_tree(copy);
    remove_tree(dir);
}

/* Freeing the client and starting the same session ID in a new client restores the transcript and the token. */
static void test_restore_in_a_new_client(void)
{
    char dir[512];
    REQUIRE(make_temp_dir(dir, sizeof dir));
    char *messages = NULL, *token = NULL, *usage = NULL, *conv = NULL;
    tandem_client *c = store_client(dir);
    char *id = NULL;
    if (c != NULL)
        CHECK_STATUS(tandem_session_start_or_get(c, "keeper", RICH_OPTIONS, &id), TANDEM_OK);
    if (id != NULL) {
        CHECK_STREQ(id, "keeper");
        CHECK(prompt_turn(c, id, "first prompt"));
        CHECK(prompt_turn(c, id, "second prompt"));
        CHECK_STATUS(tandem_session_add_system_message(c, id, "a note", TANDEM_MESSAGE_LEVEL_INFO), TANDEM_OK);
        CHECK_STATUS(tandem_session_add_system_message(c, id, "a problem", TANDEM_MESSAGE_LEVEL_ERROR), TANDEM_OK);
        messages = messages_of(c, id);
        token = token_of(c, id);
        CHECK_STATUS(tandem_session_usage(c, id, &usage), TANDEM_OK);
        conv = conversation_of(c, id);
    }
    tandem_string_free(id);
    id = NULL;
    tandem_client_free(c);
    c = NULL;
    REQUIRE_OR(messages != NULL && token != NULL && usage != NULL && conv != NULL, done);
    static const char *const kinds[] = {"user", "assistant", "thinking", "usage", "system"};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        CHECK(count_messages(messages, kinds[k]) >= 1);

    c = store_client(dir);
    if (c != NULL)
        CHECK_STATUS(tandem_session_start_or_get(c, "keeper", RICH_OPTIONS, &id), TANDEM_OK);
    if (id != NULL) {
        char *again = messages_of(c, id), *token2 = token_of(c, id), *usage2 = NULL, *conv2 = conversation_of(c, id);
        CHECK_STREQ(again, messages); /* identical JSON: same IDs, texts, kinds and order */
        CHECK_STREQ(token2, token);
        CHECK_STATUS(tandem_session_usage(c, id, &usage2), TANDEM_OK);
        CHECK_STREQ(usage2, usage);
        CHECK_STREQ(conv2, conv);
        /* IDs keep counting after a restore. */
        uint64_t last = 0, next = 0;
        CHECK(json_get_u64(json_at(messages, json_len(messages) - 1), "id", &last));
        CHECK_STATUS(tandem_session_add_system_message(c, id, "after", TANDEM_MESSAGE_LEVEL_INFO), TANDEM_OK);
        char *after = messages_of(c, id);
        CHECK(after != NULL && json_len(after) == json_len(messages) + 1);
        CHECK(after != NULL && json_get_u64(json_at(after, json_len(after) - 1), "id", &next) && next == last + 1);
        tandem_string_free(after);
        tandem_string_free(again);
        tandem_string_free(token2);
        tandem_string_free(usage2);
        free(conv2);
    }
done:
    tandem_string_free(id);
    tandem_client_free(c);
    tandem_string_free(messages);
    tandem_string_free(token);
    tandem_string_free(usage);
    free(conv);
    remove_tree(dir);
}

static void test_new_list_load_delete_conversations(void)
{
    char dir[512];
    REQUIRE(make_temp_dir(dir, sizeof dir));
    tandem_client *c = store_client(dir);
    char *id = NULL;
    if (c != NULL)
        CHECK_STATUS(tandem_session_start(c, "{\"model\":\"scripted:echo\"}", &id), TANDEM_OK);
    char *first = NULL, *second = NULL, *first_messages = NULL, *token = NULL, *list = NULL;
    if (id == NULL)
        goto done;
    token = token_of(c, id);
    if (!prompt_turn(c, id, "first conversation"))
        goto done;
    first = conversation_of(c, id);
    first_messages = messages_of(c, id);
    REQUIRE_OR(first != NULL && first_messages != NULL, done);

    /* A new conversation: a new ID in the metadata, the same session ID and token, an empty transcript. */
    CHECK_STATUS(tandem_session_new_conversation(c, id), TANDEM_OK);
    second = conversation_of(c, id);
    REQUIRE_OR(second != NULL && strcmp(second, first) != 0, done);
    char *tok = token_of(c, id);
    CHECK_STREQ(tok, token);
    tandem_string_free(tok);
    char *m = messages_of(c, id);
    CHECK(m != NULL && json_len(m) == 1);
    char *notice = m != NULL ? json_get_str(json_at(m, 0), "text") : NULL;
    CHECK(notice != NULL && strncmp(notice, "Conversation started \xc2\xb7 ", 23) == 0);
    free(notice);
    tandem_string_free(m);
    if (!prompt_turn(c, id, "second conversation\nmore lines"))
        goto done;

    /* Both are listed, newest first, titled by their first prompt's first line. */
    CHECK_STATUS(tandem_conversation_list(c, &list), TANDEM_OK);
    REQUIRE_OR(list != NULL && json_valid(list) && json_len(list) == 2, done);
    const char *newest = json_at(list, 0), *oldest = json_at(list, 1);
    uint64_t n = 0;
    CHECK(json_str_is(newest, "id", second));
    CHECK(json_str_is(newest, "title", "second conversation"));
    CHECK(json_str_is(newest, "session_id", id));
    CHECK(json_str_is(newest, "model", "scripted:echo"));
    CHECK(json_get_u64(newest, "turn_count", &n) && n == 1);
    CHECK(json_str_is(oldest, "id", first));
    CHECK(json_str_is(oldest, "title", "first conversation"));
    CHECK(json_str_is(oldest, "session_id", id));
    CHECK(json_get_u64(oldest, "turn_count", &n) && n == 1);
    CHECK(json_get_u64(oldest, "message_count", &n) && n == (uint64_t)json_len(first_messages));
    for (long i = 0; i < 2; i++) {
        const char *row = json_at(list, i);
        char *created = json_get_str(row, "created_at"), *last = json_get_str(row, "last_message_at");
        CHECK(created != NULL && strlen(created) >= 20 && created[10] == 'T');
        CHECK(last != NULL && strcmp(last, created ? created : "") >= 0);
        free(created);
        free(last);
        double cost = -1;
        CHECK(json_get_double(row, "cost", &cost) && cost == 0.0);
    }
    char *newest_last = json_get_str(newest, "last_message_at"), *oldest_last = json_get_str(oldest, "last_message_at");
    CHECK(newest_last != NULL && oldest_last != NULL && strcmp(newest_last, oldest_last) >= 0);
    free(newest_last);
    free(oldest_last);
    tandem_string_free(list);
    list = NULL;

    /* Loading the first one brings back its transcript exactly. */
    CHECK_STATUS(tandem_session_load_conversation(c, id, first), TANDEM_OK);
    m = messages_of(c, id);
    CHECK_STREQ(m, first_messages);
    tandem_string_free(m);
    char *now = conversation_of(c, id);
    CHECK_STREQ(now, first);
    free(now);
    CHECK_STATUS(tandem_session_load_conversation(c, id, first), TANDEM_OK); /* the current one: a no-op */
    tok = token_of(c, id);
    CHECK_STREQ(tok, token);
    tandem_string_free(tok);

    /* The loaded conversation cannot be deleted; the other one can, once. */
    CHECK_STATUS(tandem_conversation_delete(c, first), TANDEM_ERR_BUSY);
    CHECK_STATUS(tandem_conversation_delete(c, second), TANDEM_OK);
    CHECK_STATUS(tandem_conversation_delete(c, second), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_load_conversation(c, id, second), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_conversation_delete(c, "../sessions/x"), TANDEM_ERR_INVALID_ARGUMENT);
    char path[1024];
    snprintf(path, sizeof path, "%s/conversations/%s.jsonl", dir, second);
    CHECK(!path_exists(path));
    CHECK_STATUS(tandem_conversation_list(c, &list), TANDEM_OK);
    CHECK(list != NULL && json_len(list) == 1 && json_str_is(json_at(list, 0), "id", first));
    tandem_string_free(list);
    list = NULL;

    /* Started again, the session is back on the conversation it loaded. */
    CHECK_STATUS(tandem_session_stop(c, id), TANDEM_OK);
    char *again = NULL;
    CHECK_STATUS(tandem_session_start_or_get(c, id, NULL, &again), TANDEM_OK);
    now = again != NULL ? conversation_of(c, again) : NULL;
    CHECK_STREQ(now, first);
    free(now);
    tandem_string_free(again);

done:
    tandem_string_free(list);
    free(first);
    free(second);
    tandem_string_free(first_messages);
    tandem_string_free(token);
    tandem_string_free(id);
    tandem_client_free(c);
    remove_tree(dir);
}

/* Two clients on one store never write the same session or conversation. */
static void test_second_client_is_busy(void)
{
    char dir[512];
    REQUIRE(make_temp_dir(dir, sizeof dir));
    tandem_client *a = store_client(dir), *b = store_client(dir);
    char *id = NULL, *conv = NULL, *other = NULL;
    if (a == NULL || b == NULL)
        goto done;
    CHECK_STATUS(tandem_session_start_or_get(a, "shared", NULL, &id), TANDEM_OK);
    if (id == NULL || !prompt_turn(a, id, "from a"))
        goto done;
    conv = conversation_of(a, id);

    char *out = NULL;
    CHECK_STATUS(tandem_session_start_or_get(b, "shared", NULL, &out), TANDEM_ERR_BUSY);
    CHECK(out == NULL);
    CHECK(strstr(tandem_last_error_message(), "shared") != NULL);
    /* B sees the conversation but cannot take it over or delete it. */
    char *list = NULL;
    CHECK_STATUS(tandem_conversation_list(b, &list), TANDEM_OK);
    CHECK(list != NULL && json_len(list) == 1 && json_str_is(json_at(list, 0), "id", conv));
    tandem_string_free(list);
    CHECK_STATUS(tandem_session_start(b, NULL, &other), TANDEM_OK);
    CHECK(other != NULL && strcmp(other, "shared") != 0);
    if (other != NULL && conv != NULL) {
        CHECK_STATUS(tandem_session_load_conversation(b, other, conv), TANDEM_ERR_BUSY);
        CHECK_STATUS(tandem_conversation_delete(b, conv), TANDEM_ERR_BUSY);
    }
    /* A is unaffected. */
    CHECK(prompt_turn(a, id, "still a"));

    /* Once A stops it, B can open it, with everything A wrote. */
    CHECK_STATUS(tandem_session_stop(a, id), TANDEM_OK);
    CHECK_STATUS(tandem_session_start_or_get(b, "shared", NULL, &out), TANDEM_OK);
    CHECK_STREQ(out, "shared");
    tandem_string_free(out);
    char *m = messages_of(b, "shared");
    CHECK(m != NULL && array_has(m, "text", "from a") && array_has(m, "text", "still a"));
    tandem_string_free(m);
    /* And now A is the one turned away. */
    out = NULL;
    CHECK_STATUS(tandem_session_start_or_get(a, "shared", NULL, &out), TANDEM_ERR_BUSY);
    CHECK(out == NULL);

done:
    free(conv);
    tandem_string_free(other);
    tandem_string_free(id);
    tandem_client_free(b);
    tandem_client_free(a);
    remove_tree(dir);
}

/* {"persist": false} sessions and clients with store_dir null write nothing. */
static void test_persist_false_writes_nothing(void)
{
    char dir[512];
    REQUIRE(make_temp_dir(dir, sizeof dir));
    char store[600];
    snprintf(store, sizeof store, "%s/store", dir); /* does not exist yet: the client creates it, checking it can write */
    tandem_client *c = store_client(store);
    char *id = NULL;
    if (c != NULL)
        CHECK_STATUS(tandem_session_start(c, "{\"model\":\"scripted:echo\",\"persist\":false}", &id), TANDEM_OK);
    if (id != NULL) {
        CHECK(prompt_turn(c, id, "ephemeral"));
        CHECK_STATUS(tandem_session_new_conversation(c, id), TANDEM_OK); /* works in memory */
        CHECK_STATUS(tandem_session_load_conversation(c, id, "whatever"), TANDEM_ERR_NOT_FOUND);
        char *list = NULL;
        CHECK_STATUS(tandem_conversation_list(c, &list), TANDEM_OK);
        CHECK_STREQ(list, "[]");
        tandem_string_free(list);
        CHECK_STATUS(tandem_session_stop(c, id), TANDEM_OK);
    }
    tandem_string_free(id);
    tandem_client_free(c);
    CHECK(dir_is_empty(store)); /* 0700 and empty: the session wrote nothing */
    CHECK(mode_of(store) == 0700);

    tandem_client *none = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &none), TANDEM_OK);
    char *list = NULL;
    CHECK_STATUS(tandem_conversation_list(none, &list), TANDEM_OK);
    CHECK_STREQ(list, "[]");
    tandem_string_free(list);
    CHECK_STATUS(tandem_conversation_delete(none, "abc"), TANDEM_ERR_NOT_FOUND);
    tandem_client_free(none);
    remove_tree(dir);
}

/* Idle reclamation: a session at rest that nobody calls on for its idle_timeout_ms stops with reason "idle", and
 * tandem_session_start_or_get with its ID brings back its stored conversation and token. */
static void test_idle_session_is_reclaimed_and_restored(void)
{
    char dir[512];
    REQUIRE(make_temp_dir(dir, sizeof dir));
    tandem_client *c = store_client(dir);
    char *id = NULL, *token = NULL, *again = NULL, *token2 = NULL, *msgs = NULL, *list = NULL;
    evlog log = {0};
    if (c != NULL)
        CHECK_STATUS(tandem_session_start(c, "{\"session_id\":\"dozy\",\"idle_timeout_ms\":100}", &id), TANDEM_OK);
    REQUIRE_OR(id != NULL, done);
    token = token_of(c, id);
    CHECK(prompt_turn(c, id, "remember the heron"));
    const char *stopped = pull_until(c, &log, id, "session_stopped", WAIT_MS);
    CHECK(stopped != NULL && json_str_is(stopped, "reason", "idle"));
    tandem_session_status status;
    CHECK_STATUS(tandem_session_get_status(c, id, &status), TANDEM_ERR_NOT_FOUND);
    CHECK_STATUS(tandem_session_list(c, &list), TANDEM_OK);
    CHECK_STREQ(list, "[]");

    CHECK_STATUS(tandem_session_start_or_get(c, id, NULL, &again), TANDEM_OK);
    CHECK_STREQ(again, "dozy");
    token2 = token_of(c, id);
    CHECK(token != NULL && token2 != NULL && strcmp(token, token2) == 0);
    CHECK_STATUS(tandem_session_messages(c, id, &msgs), TANDEM_OK);
    CHECK(msgs != NULL && strstr(msgs, "remember the heron") != NULL);
done:
    evlog_free(&log);
    tandem_string_free(msgs);
    tandem_string_free(list);
    tandem_string_free(token2);
    tandem_string_free(again);
    tandem_string_free(token);
    tandem_string_free(id);
    tandem_client_free(c);
    remove_tree(dir);
}

int main(int argc, char **argv)
{
    check_init(argc, argv);
    RUN(test_turn_in_journal_at_turn_ended);
    RUN(test_restore_in_a_new_client);
    RUN(test_new_list_load_delete_conversations);
    RUN(test_second_client_is_busy);
    RUN(test_persist_false_writes_nothing);
    RUN(test_idle_session_is_reclaimed_and_restored);
    return check_summary();
}
