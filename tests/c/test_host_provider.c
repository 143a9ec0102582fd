/* test_host_provider.c: the host provider from C. A C "model" answers tandem's model calls from a thread of its
 * own with streamed text, a tool call that tandem runs (read_file in a temporary workdir) and a final answer; abort
 * cancels a request; bad events are refused with a reason. */
#include "check.h"
#include "helpers.h"

#include <unistd.h>

/* The host: the callback copies each request into a one-slot mailbox for the host's thread (requests of one session
 * come one at a time). */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    tandem_client *c;
    char session[64];
    uint64_t request_id;
    char *json; /* malloc'd copy of the request JSON, NULL when the slot is empty */
    bool stop;
    atomic_int calls;
    atomic_int frees;
} host;

static void host_init(host *h, tandem_client *c)
{
    memset(h, 0, sizeof *h);
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    h->c = c;
}

static void host_destroy(host *h)
{
    free(h->json);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
}

static void host_free(void *userdata)
{
    atomic_fetch_add(&((host *)userdata)->frees, 1);
}

static void host_cb(void *userdata, const tandem_provider_request *req)
{
    host *h = userdata;
    atomic_fetch_add(&h->calls, 1);
    CHECK(json_valid(req->request_json));
    CHECK(!tandem_provider_request_is_cancelled(h->c, req->request_id));
    /* Emitting from inside the callback works too. */
    CHECK_STATUS(provider_emit_for(h->c, req->session_id, req->request_id, "{\"type\":\"usage\",\"input\":1}"),
                 TANDEM_OK);
    pthread_mutex_lock(&h->mu);
    snprintf(h->session, sizeof h->session, "%s", req->session_id);
    h->request_id = req->request_id;
    free(h->json);
    h->json = strdup(req->request_json);
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

/* Takes the next request (its JSON is returned, malloc'd), or NULL after stop or timeout_ms. */
static char *host_take(host *h, uint64_t *request_id, uint32_t timeout_ms)
{
    uint64_t deadline = now_ms() + timeout_ms;
    char *json = NULL;
    pthread_mutex_lock(&h->mu);
    while (h->json == NULL && !h->stop && now_ms() < deadline) {
        pthread_mutex_unlock(&h->mu);
        sleep_ms(2);
        pthread_mutex_lock(&h->mu);
    }
    if (h->json != NULL) {
        json = h->json;
        h->json = NULL;
        *request_id = h->request_id;
    }
    pthread_mutex_unlock(&h->mu);
    return json;
}

static void emit_ok(host *h, uint64_t rid, const char *event)
{
    CHECK_STATUS(provider_emit_for(h->c, h->session, rid, event), TANDEM_OK);
}

/* The host's model: first call → text + read_file call; second call (it carries the tool result) → the answer. */
static void *model_thread(void *arg)
{
    host *h = arg;
    for (int answered = 0; answered < 2;) {
        uint64_t rid = 0;
        char *json = host_take(h, &rid, WAIT_MS);
        if (json == NULL)
            break;
        const char *messages = json_get(json, "messages");
        CHECK(messages != NULL && json_len(messages) >= 1);
        char *model = json_get_str(json, "model");
        CHECK_STREQ(model, "host:c-model");
        free(model);
        if (strstr(json, "\"role\":\"tool_result\"") == NULL) {
            CHECK(strstr(json, "\"name\":\"read_file\"") != NULL); /* the tools are offered */
            emit_ok(h, rid, "{\"type\":\"thinking_delta\",\"text\":\"The file, then.\"}");
            emit_ok(h, rid, "{\"type\":\"text_delta\",\"text\":\"Reading \"}");
            emit_ok(h, rid, "{\"type\":\"text_delta\",\"text\":\"a.txt.\"}");
            emit_ok(h, rid, "{\"type\":\"tool_call\",\"id\":\"call-1\",\"name\":\"read_file\","
                            "\"args\":{\"path\":\"a.txt\"}}");
            emit_ok(h, rid, "{\"type\":\"done\",\"stop_reason\":\"tool_use\"}");
        } else {
            CHECK(strstr(json, "alpha") != NULL); /* tandem ran the tool and sent its result */
            emit_ok(h, rid, "{\"type\":\"text_delta\",\"text\":\" It says alpha.\"}");
            emit_ok(h, rid, "{\"type\":\"usage\",\"input\":100,\"output\":7,\"cost\":0.5}");
            emit_ok(h, rid, "{\"type\":\"done\"}");
        }
        /* The request is over: more events for it are refused. */
        CHECK_STATUS(provider_emit_for(h->c, h->session, rid, "{\"type\":\"done\"}"), TANDEM_ERR_NOT_FOUND);
        CHECK(tandem_provider_request_is_cancelled(h->c, rid));
        free(json);
        answered++;
    }
    return NULL;
}

static void test_host_model_streams_text_and_a_tool_call(void)
{
    char dir[] = "/tmp/tandem-host-provider-XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    char file[128];
    snprintf(file, sizeof file, "%s/a.txt", dir);
    FILE *fp = fopen(file, "w");
    REQUIRE(fp != NULL);
    fputs("alpha\n", fp);
    fclose(fp);

    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    host h;
    host_init(&h, c);
    char opts[512];
    snprintf(opts, sizeof opts,
             "{\"provider\":\"host\",\"model\":\"host:c-model\",\"workdir\":\"%s\",\"tools\":[\"read_file\"]}", dir);
    char *id = NULL;
    REQUIRE_STATUS(tandem_session_start(c, opts, &id), TANDEM_OK);
    evlog log = {0};

    /* Without a registered callback the provider is not ready: the prompt is refused with a message that says what
       to do, and the transcript is left as it was (everything else works). */
    char *before_msgs = messages_of(c, id);
    CHECK_STATUS(tandem_session_send_prompt(c, id, "hello?", NULL), TANDEM_ERR_PROVIDER_NOT_READY);
    CHECK(strstr(tandem_last_error_message(), "tandem_client_set_provider") != NULL);
    CHECK_STATUS(tandem_session_compact(c, id, &(char *){NULL}), TANDEM_ERR_PROVIDER_NOT_READY);
    char *after_msgs = messages_of(c, id);
    CHECK(before_msgs && after_msgs && strcmp(before_msgs, after_msgs) == 0);
    tandem_string_free(before_msgs);
    tandem_string_free(after_msgs);
    const char *end = NULL;

    CHECK_STATUS(tandem_client_set_provider(c, host_cb, &h, host_free), TANDEM_OK);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, model_thread, &h) == 0);
    size_t before = log.len;
    CHECK_STATUS(tandem_session_send_prompt(c, id, "what is in a.txt?", NULL), TANDEM_OK);
    end = pull_until(c, &log, id, "turn_ended", WAIT_MS);
    pthread_join(t, NULL);
    CHECK(end != NULL && strstr(end, "\"reason\":\"completed\"") != NULL);
    CHECK(atomic_load(&h.calls) == 2);
    char *text = deltas_of(log.items + before, log.len - before, id, "text_delta");
    CHECK_STREQ(text, "Reading a.txt. It says alpha.");
    free(text);
    char *thinking = deltas_of(log.items + before, log.len - before, id, "thinking_delta");
    CHECK_STREQ(thinking, "The file, then.");
    free(thinking);
    char *msgs = messages_of(c, id);
    CHECK(msgs != NULL && count_messages(msgs, "tool_call") == 1);
    CHECK(msgs != NULL && strstr(msgs, "alpha") != NULL);
    tandem_string_free(msgs);
    CHECK(end != NULL && strstr(end, "\"input\":102") != NULL); /* 1 + 1 from the callbacks, 100 from the host */

    /* Unregistering releases the userdata once. */
    CHECK_STATUS(tandem_client_set_provider(c, NULL, NULL, NULL), TANDEM_OK);
    CHECK(atomic_load(&h.frees) == 1);

    evlog_free(&log);
    tandem_string_free(id);
    tandem_client_free(c);
    CHECK(atomic_load(&h.frees) == 1);
    host_destroy(&h);
    unlink(file);
    rmdir(dir);
}

static void test_abort_cancels_the_request(void)
{
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    host h;
    host_init(&h, c);
    CHECK_STATUS(tandem_client_set_provider(c, host_cb, &h, host_free), TANDEM_OK);
    char *id = NULL;
    REQUIRE_STATUS(tandem_session_start(c, "{\"provider\":\"host\"}", &id), TANDEM_OK);
    evlog log = {0};
    CHECK_STATUS(tandem_session_send_prompt(c, id, "take your time", NULL), TANDEM_OK);
    uint64_t rid = 0;
    char *json = host_take(&h, &rid, WAIT_MS);
    REQUIRE(json != NULL);
    free(json);
    emit_ok(&h, rid, "{\"type\":\"text_delta\",\"text\":\"Thinking about it\"}");
    CHECK(!tandem_provider_request_is_cancelled(c, rid));
    CHECK_STATUS(tandem_session_abort(c, id), TANDEM_OK);
    const char *end = pull_until(c, &log, id, "turn_ended", WAIT_MS);
    CHECK(end != NULL && strstr(end, "\"reason\":\"aborted\"") != NULL);
    /* The host learns of the abort and its late events are refused. */
    CHECK(tandem_provider_request_is_cancelled(c, rid));
    CHECK_STATUS(provider_emit_for(c, id, rid, "{\"type\":\"text_delta\",\"text\":\"late\"}"), TANDEM_ERR_NOT_FOUND);
    evlog_free(&log);
    tandem_string_free(id);
    tandem_client_free(c);
    /* Still registered at free: released then, once. */
    CHECK(atomic_load(&h.frees) == 1);
    host_destroy(&h);
}

static void test_bad_events_are_refused_and_keep_the_request_open(void)
{
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    host h;
    host_init(&h, c);
    CHECK_STATUS(tandem_client_set_provider(c, host_cb, &h, host_free), TANDEM_OK);
    char *id = NULL;
    REQUIRE_STATUS(tandem_session_start(c, "{\"provider\":\"host\"}", &id), TANDEM_OK);
    evlog log = {0};
    CHECK_STATUS(tandem_session_send_prompt(c, id, "hi", NULL), TANDEM_OK);
    uint64_t rid = 0;
    char *json = host_take(&h, &rid, WAIT_MS);
    REQUIRE(json != NULL);
    free(json);
    CHECK_STATUS(provider_emit_for(c, id, rid, "{\"type\":"), TANDEM_ERR_INVALID_JSON);
    CHECK_STATUS(provider_emit_for(c, id, rid, "{\"type\":\"smoke_signal\"}"), TANDEM_ERR_INVALID_ARGUMENT);
    CHECK(strstr(tandem_last_error_message(), "smoke_signal") != NULL);
    CHECK_STATUS(provider_emit_for(c, id, rid, "{\"type\":\"tool_call\",\"id\":\"x\",\"name\":\"t\",\"args\":3}"),
                 TANDEM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(provider_emit_for(c, "another-session", rid, "{\"type\":\"done\"}"), TANDEM_ERR_NOT_FOUND);
    CHECK(!tandem_provider_request_is_cancelled(c, rid));
    emit_ok(&h, rid, "{\"type\":\"text_delta\",\"text\":\"Hi.\"}");
    emit_ok(&h, rid, "{\"type\":\"done\"}");
    const char *end = pull_until(c, &log, id, "turn_ended", WAIT_MS);
    CHECK(end != NULL && strstr(end, "\"reason\":\"completed\"") != NULL);
    evlog_free(&log);
    tandem_string_free(id);
    tandem_client_free(c);
    host_destroy(&h);
}

int main(int argc, char **argv)
{
    check_init(argc, argv);
    RUN(test_host_model_streams_text_and_a_tool_call);
    RUN(test_abort_cancels_the_request);
    RUN(test_bad_events_are_refused_and_keep_the_request_open);
    return check_summary();
}
