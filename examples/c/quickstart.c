/* quickstart.c: one prompt to the offline echo model, printing the streamed answer (the README's example). */
#include <stdio.h>
#include <string.h>
#include "tandem.h"

int main(void) {
    tandem_client *client = NULL;
    char *id = NULL, *event = NULL;
    int done = 0;
    if (tandem_client_new(NULL, &client) || tandem_session_start(client, "{\"model\":\"scripted:echo\"}", &id) ||
        tandem_session_send_prompt(client, id, "hello from C", NULL)) {
        fprintf(stderr, "tandem: %s\n", tandem_last_error_message());
        done = -1;
    }
    /* Pull events until the turn ends; each is JSON like {"seq":3,...,"kind":"text_delta",...,"delta":"hello "}. */
    while (!done && tandem_client_next_event(client, 5000, &event) == TANDEM_OK) {
        const char *delta = strstr(event, "\"delta\":\"");
        if (strstr(event, "\"kind\":\"text_delta\"") && delta)
            printf("%.*s", (int)strcspn(delta + 9, "\""), delta + 9);
        done = strstr(event, "\"kind\":\"turn_ended\"") != NULL;
        tandem_string_free(event);
    }
    printf("\n");
    tandem_string_free(id);
    tandem_client_free(client);
    return done == 1 ? 0 : 1;
}
