/* The control socket: dawnctl's way in. A Unix stream socket carrying one
 * JSON request per line and one JSON answer per line (include/dawn/protocol.h).
 * Only root, dawnd's own user and members of daemon.control_group are
 * served (SO_PEERCRED); anyone else is told so as soon as it connects and
 * hung up on (reason "refused"), without taking one of the connections. */
#ifndef DAWN_CONTROL_H
#define DAWN_CONTROL_H

#include <cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dawn_ways;
struct dawn_control;

/* The control socket's limits (README, "Reliability"). Each one hit is
 * counted in dawn_control_connections_dropped_total{reason=...} and
 * logged (at most one line per reason every 10 s). */
/* Connections served at once; the next ones are told "dawnd is busy" and
 * closed (reason "over_limit"). dawnctl holds one for a second or less. */
#define DAWN_CONTROL_MAX_CONNECTIONS 64
/* A connection with nothing read or written for this long, and no answer
 * waiting for a commit, is closed (reason "idle"): dawnctl writes its
 * request at once, so only a stuck or hostile client waits this long. */
#define DAWN_CONTROL_IDLE_USEC (5 * UINT64_C(1000000))
/* Connections one uid may hold at once, so that one local user cannot take
 * all DAWN_CONTROL_MAX_CONNECTIONS; the next ones are told "dawnd is busy"
 * and closed (reason "per_uid"). Root and dawnd's own user are exempt: they
 * could stop dawnd anyway. */
#define DAWN_CONTROL_MAX_PER_UID 16
/* A request line must be complete (its newline read) this long after its
 * first byte; bytes trickling in do not extend it. Past it the client is
 * told so, naming "request", and closed (reason "line_deadline"). */
#define DAWN_CONTROL_LINE_USEC (5 * UINT64_C(1000000))
/* Answers a client has not read yet: past this it is dropped (reason
 * "unread_output"). One answer always fits, however large (a long list). */
#define DAWN_CONTROL_MAX_UNREAD_BYTES (1024 * 1024)
/* accept() failing with EMFILE/ENFILE: the waiting clients are told why and
 * the socket is not listened to for this long (reason "out_of_fds"). */
#define DAWN_CONTROL_ACCEPT_PAUSE_USEC (250 * UINT64_C(1000))

/* Listens on fd if >= 0 (socket activation), else creates the socket at
 * the configured path. */
int dawn_control_new(struct dawn_ways *ways, int fd, struct dawn_control **out);
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
cJSON *dawn_control_handle(struct dawn_ways *ways, const struct dawn_peer *peer, const char *line, size_t len,
                           bool *wrote);

#endif
