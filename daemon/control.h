/* The control socket: dawnctl's way in. A Unix stream socket carrying one
 * JSON request per line and one JSON answer per line (include/dawn/protocol.h).
 * Only root, dawnd's own user and members of daemon.control_group are
 * served (SO_PEERCRED); anyone else is told so and nothing happens. */
#ifndef DAWN_CONTROL_H
#define DAWN_CONTROL_H

#include <cJSON.h>
#include <stdbool.h>
#include <stddef.h>

struct dawn_daemon;
struct dawn_control;

/* Listens on fd if >= 0 (socket activation), else creates the socket at
 * the configured path. */
int dawn_control_new(struct dawn_daemon *d, int fd, struct dawn_control **out);
struct dawn_control *dawn_control_free(struct dawn_control *c);
/* Stops accepting new connections (shutdown). */
void dawn_control_stop_listening(struct dawn_control *c);

/* Handles one request object for a peer. The answer object is returned
 * (never NULL unless out of memory); *wrote is set when the request changed
 * the store, so the answer must wait for the commit. Exposed for the fuzzer. */
struct dawn_peer {
        unsigned uid;
        char actor[64];    /* "uid 1000 (alice)" */
        char source[64];   /* "local:alice" */
};
cJSON *dawn_control_handle(struct dawn_daemon *d, const struct dawn_peer *peer, const char *line, size_t len,
                           bool *wrote);

#endif
