/* header_twice.c: include/tandem.h must compile on its own, twice, as C99, C11 and C++17 with strict warnings
 * (built by tests/c/header_check.sh; never run). */
#include "tandem.h"
#include "tandem.h"

#ifdef __cplusplus
#define TANDEM_TEST_STATIC_ASSERT static_assert
#elif __STDC_VERSION__ >= 201112L
#define TANDEM_TEST_STATIC_ASSERT _Static_assert
#endif

#ifdef TANDEM_TEST_STATIC_ASSERT
/* The numeric values are part of the ABI. */
TANDEM_TEST_STATIC_ASSERT(TANDEM_OK == 0, "TANDEM_OK is 0");
TANDEM_TEST_STATIC_ASSERT(TANDEM_ERR_INTERNAL == 19, "status values are fixed");
TANDEM_TEST_STATIC_ASSERT(TANDEM_EVENT_KIND_SESSION_STARTED == 1, "event kinds start at 1");
TANDEM_TEST_STATIC_ASSERT(TANDEM_EVENT_KIND_EVENTS_DROPPED == 22, "event kind values are fixed");
TANDEM_TEST_STATIC_ASSERT(sizeof(tandem_status) == 4, "tandem_status is 32 bits");
#endif

static void on_event(void *userdata, const tandem_event *event)
{
    (void)userdata;
    (void)event;
}

int main(void)
{
    tandem_event_callback cb = on_event;
    tandem_userdata_free fr = 0;
    tandem_event ev = {1, TANDEM_EVENT_KIND_TEXT_DELTA, 0, "{}"};
    tandem_status st = TANDEM_OK;
    tandem_session_status ss = TANDEM_SESSION_STATUS_IDLE;
    tandem_prompt_result pr = TANDEM_PROMPT_RESULT_SENT;
    tandem_message_level ml = TANDEM_MESSAGE_LEVEL_INFO;
    tandem_client *client = 0;
    (void)fr;
    (void)client;
    cb(0, &ev);
    return (int)st + (int)ss + (int)pr + (int)ml + (TANDEM_VERSION_MAJOR * 0);
}
