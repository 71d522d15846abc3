/* The dashboard's way to the broker: a browser's WebSocket (subprotocol
 * "mqtt") on dawnd's HTTP server, relayed byte for byte to the MQTT broker
 * over TCP. Debian 12's mosquitto has no WebSocket listener, and many NHS
 * and council networks let only HTTPS out; this way the broker still sees
 * an ordinary MQTT client, authenticates it and applies its ACL. dawnd
 * never reads the MQTT inside: it holds no subscriber's password.
 *
 * Each relay lives on the sd-event loop. Frames are bounded
 * (DAWN_WS_RELAY_MAX_FRAME), each direction's backlog is bounded (reading
 * stops until it drains), a connection silent for DAWN_WS_RELAY_IDLE_USEC
 * is closed, and a client that breaks the protocol is closed with the
 * matching close code. */
#ifndef DAWN_WS_RELAY_H
#define DAWN_WS_RELAY_H

#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#define DAWN_WS_RELAY_MAX_FRAME (256 * 1024)
#define DAWN_WS_RELAY_MAX_BACKLOG (1024 * 1024)
#define DAWN_WS_RELAY_IDLE_USEC (180 * UINT64_C(1000000)) /* three times MQTT.js's keepalive */
#define DAWN_WS_RELAY_MAX 256

struct dawn_ws_relay;

/* Called once when the relay has ended (either side closed, an error, the
 * idle limit): the owner gives the client socket back (libmicrohttpd's
 * MHD_upgrade_action(..., CLOSE)) and forgets the relay, which is freed
 * after the call. */
typedef void (*dawn_ws_relay_closed_fn)(struct dawn_ws_relay *r, void *userdata);

/* Starts relaying client_fd (the upgraded connection, which the relay
 * does not close) to host:port. extra holds bytes the client sent after its
 * handshake. Returns 0 or -errno (then nothing was started and the caller
 * closes the client). */
int dawn_ws_relay_start(sd_event *loop, int client_fd, const char *extra, size_t extra_len, const char *host,
                        int port, dawn_ws_relay_closed_fn closed, void *userdata, struct dawn_ws_relay **out);
/* Ends a relay now (shutdown), sending the client a close frame if it can;
 * closed() is called. */
void dawn_ws_relay_close(struct dawn_ws_relay *r);

#endif
