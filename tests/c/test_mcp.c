/* test_mcp.c: a session's MCP servers from C. A session with the fake stdio server (tests/mcp/fake_server.py, run
 * from the repository root like every C test): listed with its state and tools, disabled and enabled again at run
 * time with each change reported by an mcp_server_status event, its prompt offered and run as a slash command. */
#include "check.h"
#include "helpers.h"

#define FAKE_SERVER "{\"command\":\"python3\",\"args\":[\"tests/mcp/fake_server.py\",\"ok\"]}"

/* Pulls until an mcp_server_status event of `id` in `state` arrives; returns it (owned by the log) or NULL. */
static const char *wait_state(tandem_client *c, evlog *log, const char *id, const char *state)
{
    char want[64];
    snprintf(want, sizeof want, "\"state\":\"%s\"", state);
    for (;;) {
        const char *ev = pull_until(c, log, id, "mcp_server_status", WAIT_MS);
        if (ev == NULL || strstr(ev, want) != NULL)
            return ev;
    }
}

/* Whether the innermost JSON object around the first `needle` in `json` also contains `also` (key order is not
 * fixed; the tool objects searched here hold no nested objects). */
static bool same_object(const char *json, const char *needle, const char *also)
{
    const char *at = json ? strstr(json, needle) : NULL;
    if (at == NULL)
        return false;
    const char *start = at, *end = strchr(at, '}');
    while (start > json && *start != '{')
        start--;
    if (end == NULL)
        return false;
    size_t n = strlen(also);
    for (const char *p = start; p + n <= end; p++)
        if (strncmp(p, also, n) == 0)
            return true;
    return false;
}

static char *servers_of(tandem_client *c, const char *id)
{
    char *out = NULL;
    CHECK_STATUS(tandem_session_mcp_servers(c, id, &out), TANDEM_OK);
    return out;
}

static void test_list_disable_enable(void)
{
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    char *id = NULL;
    REQUIRE_STATUS(tandem_session_start(c, "{\"model\":\"scripted:echo\",\"mcp_servers\":{\"fake\":" FAKE_SERVER "}}", &id),
                   TANDEM_OK);
    evlog log = {0};
    const char *ready = wait_state(c, &log, id, "ready");
    REQUIRE(ready != NULL);
    CHECK(strstr(ready, "\"server\":\"fake\"") != NULL);
    CHECK(strstr(ready, "\"mcp__fake__echo\"") != NULL);

    char *listed = servers_of(c, id);
    REQUIRE(listed != NULL);
    CHECK(strstr(listed, "\"name\":\"fake\"") != NULL);
    CHECK(strstr(listed, "\"transport\":\"stdio\"") != NULL);
    CHECK(strstr(listed, "\"state\":\"ready\"") != NULL);
    CHECK(strstr(listed, "\"enabled\":true") != NULL);
    /* echo is read-only, write is not. */
    CHECK(same_object(listed, "\"tool\":\"echo\"", "\"gated\":false"));
    CHECK(same_object(listed, "\"tool\":\"echo\"", "\"name\":\"mcp__fake__echo\""));
    CHECK(same_object(listed, "\"tool\":\"write\"", "\"gated\":true"));
    tandem_string_free(listed);

    /* The prompt of the server is a slash command. */
    char *commands = NULL;
    CHECK_STATUS(tandem_session_commands(c, id, &commands), TANDEM_OK);
    CHECK(commands != NULL && strstr(commands, "\"name\":\"mcp__fake__review\"") != NULL);
    CHECK(commands != NULL && strstr(commands, "\"kind\":\"mcp_prompt\"") != NULL);
    tandem_string_free(commands);

    /* Disabled: reported, listed as disabled with no tools. */
    CHECK_STATUS(tandem_session_mcp_set_enabled(c, id, "fake", false), TANDEM_OK);
    const char *disabled = wait_state(c, &log, id, "disabled");
    CHECK(disabled != NULL && strstr(disabled, "\"tools\":[]") != NULL);
    listed = servers_of(c, id);
    CHECK(listed != NULL && strstr(listed, "\"enabled\":false") != NULL);
    CHECK(listed != NULL && strstr(listed, "\"state\":\"disabled\"") != NULL);
    CHECK(listed != NULL && strstr(listed, "\"tools\":[]") != NULL);
    tandem_string_free(listed);
    /* Its prompt is gone with it. */
    CHECK_STATUS(tandem_session_commands(c, id, &commands), TANDEM_OK);
    CHECK(commands != NULL && strstr(commands, "mcp__fake__review") == NULL);
    tandem_string_free(commands);

    /* Enabled again: started, ready with its tools. */
    CHECK_STATUS(tandem_session_mcp_set_enabled(c, id, "fake", true), TANDEM_OK);
    ready = wait_state(c, &log, id, "ready");
    CHECK(ready != NULL && strstr(ready, "\"mcp__fake__write\"") != NULL);
    listed = servers_of(c, id);
    CHECK(listed != NULL && strstr(listed, "\"enabled\":true") != NULL && strstr(listed, "\"state\":\"ready\"") != NULL);
    tandem_string_free(listed);

    /* A name the session does not have. */
    CHECK_STATUS(tandem_session_mcp_set_enabled(c, id, "other", false), TANDEM_ERR_NOT_FOUND);
    CHECK(strstr(tandem_last_error_message(), "other") != NULL);

    evlog_free(&log);
    tandem_string_free(id);
    tandem_client_free(c);
}

static void test_prompt_command(void)
{
    tandem_client *c = NULL;
    REQUIRE_STATUS(tandem_client_new(TEST_CONFIG, &c), TANDEM_OK);
    char *id = NULL;
    REQUIRE_STATUS(tandem_session_start(c,
                                        "{\"model\":\"scripted:x\",\"script\":[[{\"text\":\"reviewed\"}]],"
                                        "\"mcp_servers\":{\"fake\":" FAKE_SERVER "}}",
                                        &id),
                   TANDEM_OK);
    evlog log = {0};
    REQUIRE(wait_state(c, &log, id, "ready") != NULL);
    tandem_prompt_result result = (tandem_prompt_result)77;
    CHECK_STATUS(tandem_session_send_prompt(c, id, "/mcp__fake__review the parser", &result), TANDEM_OK);
    CHECK(result == TANDEM_PROMPT_RESULT_COMMAND);
    const char *ran = pull_until(c, &log, id, "command_ran", WAIT_MS);
    CHECK(ran != NULL && strstr(ran, "Please review the parser.") != NULL);
    CHECK(pull_until(c, &log, id, "turn_ended", WAIT_MS) != NULL);
    char *msgs = messages_of(c, id);
    CHECK(msgs != NULL && strstr(msgs, "\"text\":\"Please review the parser.\"") != NULL);
    tandem_string_free(msgs);
    evlog_free(&log);
    tandem_string_free(id);
    tandem_client_free(c);
}

int main(int argc, char **argv)
{
    check_init(argc, argv);
    RUN(test_list_disable_enable);
    RUN(test_prompt_command);
    return check_summary();
}
