/* The dashboard's way to the broker: a browser's WebSocket (subprotocol
 * "mqtt") on dawnd's HTTP server, relayed to the MQTT broker over TCP.
 * Debian 12's mosquitto has no WebSocket listener, and many NHS and council
 * networks let only HTTPS out; this way the broker still sees an ordinary
 * MQTT client, authenticates it and applies its ACL. dawnd holds no
 * subscriber's password.
 *
 * The relay reads two packets of the MQTT inside and nothing else: the
 * browser's CONNECT, which it passes on with a client id of its own making
 * (mqtt_connect.h: no page can name dawnd's id and take its session), and
 * the broker's CONNACK, which says the browser has signed in. It connects
 * to the broker only once a whole CONNECT has come.
 *
 * What one relay may cost, each limit hit counted in
 * dawn_relay_dropped_total{reason} and logged (rate-limited):
 *   - from the upgrade to an accepting CONNACK, DAWN_WS_RELAY_LOGIN_USEC
 *     (login_deadline); a CONNECT over 16 KiB or malformed is refused
 *     (bad_connect);
 *   - frames of at most DAWN_WS_RELAY_MAX_FRAME; before the broker has
 *     accepted the login, of at most DAWN_MQTT_CONNECT_MAX (a whole CONNECT),
 *     at most DAWN_WS_RELAY_LOGIN_BACKLOG waiting for the broker and
 *     DAWN_WS_RELAY_LOGIN_OUTPUT of pongs waiting for the browser: a
 *     connection anyone can open costs tens of KiB, not a MiB;
 *   - a kernel send buffer of DAWN_WS_RELAY_SNDBUF towards the browser;
 *   - output waiting for the browser: past DAWN_WS_RELAY_MAX_BACKLOG the
 *     broker side is not read (backpressure, dawn_relay_paused_total); a
 *     browser whose own pongs would take it past DAWN_WS_RELAY_MAX_OUTPUT,
 *     or that takes no byte of it for DAWN_WS_RELAY_STALL_USEC, is dropped
 *     (unread_output);
 *   - input waiting for the broker: past DAWN_WS_RELAY_MAX_BACKLOG the
 *     browser is not read;
 *   - silence from the browser for DAWN_WS_RELAY_IDLE_USEC (idle);
 *   - a close frame the browser does not take within
 *     DAWN_WS_RELAY_CLOSE_USEC (close_deadline).
 * How many relays there may be is the owner's business (http.c):
 * DAWN_WS_RELAY_MAX signed in (checked again at each accepting CONNACK,
 * through admit(): counted in dawn_relay_refused_total{reason="full"}),
 * DAWN_WS_RELAY_PER_LOGIN of them with one broker login (per_login), and
 * DAWN_WS_RELAY_MAX_PENDING not yet signed in.
 *
 * The broker's name is looked up when the HTTP server starts and on a
 * reload (dawn_ws_relay_resolve: getaddrinfo blocks), never per dashboard:
 * a slow DNS must not stall the loop once for every CONNECT. A relay tries
 * the addresses in turn until one connects. */
#ifndef DAWN_RELAY_H
#define DAWN_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>

#include "relay_connect.h"

#define DAWN_WS_RELAY_MAX_FRAME (256 * 1024)
#define DAWN_WS_RELAY_MAX_BACKLOG (1024 * 1024)
/* the backlog, one read of the broker's, and room for pongs and a close frame */
#define DAWN_WS_RELAY_MAX_OUTPUT (DAWN_WS_RELAY_MAX_BACKLOG + 64 * 1024)
#define DAWN_WS_RELAY_SNDBUF (128 * 1024) /* the client socket's kernel send buffer (SO_SNDBUF) */
/* a signed-in browser that takes no byte of its waiting output for this long is dropped */
#define DAWN_WS_RELAY_STALL_USEC (60 * UINT64_C(1000000))
#define DAWN_WS_RELAY_IDLE_USEC (180 * UINT64_C(1000000)) /* three times MQTT.js's keepalive */
/* MQTT.js gives up on a connection after 10 s (connectTimeout) */
#define DAWN_WS_RELAY_LOGIN_USEC (10 * UINT64_C(1000000))
#define DAWN_WS_RELAY_CLOSE_USEC (5 * UINT64_C(1000000))
#define DAWN_WS_RELAY_MAX 256
#define DAWN_WS_RELAY_MAX_PENDING 64
/* one pharmacy's password must not take every place: a few tabs and devices each */
#define DAWN_WS_RELAY_PER_LOGIN 8
/* before sign-in: frames of at most one whole CONNECT, input for the broker and pongs for the browser */
#define DAWN_WS_RELAY_LOGIN_MAX_FRAME DAWN_MQTT_CONNECT_MAX
#define DAWN_WS_RELAY_LOGIN_BACKLOG (2 * DAWN_MQTT_CONNECT_MAX)
#define DAWN_WS_RELAY_LOGIN_OUTPUT (4 * 1024)
/* addresses of the broker kept (a name with more is unusual; the first ones are the preferred ones) */
#define DAWN_WS_RELAY_BROKER_ADDRS 8

/* The broker's addresses, looked up once. */
struct dawn_ws_relay_broker {
        size_t n;
        union {
                struct sockaddr sa;
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
        } addr[DAWN_WS_RELAY_BROKER_ADDRS];
        socklen_t len[DAWN_WS_RELAY_BROKER_ADDRS];
};

/* Looks host:port up (blocking: at start and reload only). Returns the
 * number of addresses kept, or -EHOSTUNREACH (out is then unchanged). */
int dawn_ws_relay_resolve(const char *host, int port, struct dawn_ws_relay_broker *out);

struct dawn_ws_relay;

/* Called once when the relay has ended (either side closed, an error, a
 * limit): the owner gives the client socket back (libmicrohttpd's
 * MHD_upgrade_action(..., CLOSE)) and forgets the relay, which is freed
 * after the call. */
typedef void (*dawn_ws_relay_closed_fn)(struct dawn_ws_relay *r, void *userdata);

enum dawn_ws_relay_admit { DAWN_WS_RELAY_ADMIT, DAWN_WS_RELAY_FULL, DAWN_WS_RELAY_LOGIN_FULL };
/* Called when the broker has accepted the login of user (not yet counted
 * as signed in): anything but ADMIT closes the relay (1013). */
typedef enum dawn_ws_relay_admit (*dawn_ws_relay_admit_fn)(struct dawn_ws_relay *r, const char *user,
                                                           void *userdata);

/* Starts relaying client_fd (the upgraded connection, which the relay
 * does not close) to the broker (host:port, at the addresses of broker,
 * copied; host names it in log lines) once the browser has sent its CONNECT.
 * extra holds bytes the client sent after its handshake; peer names the
 * client in log lines (copied). Returns 0 or -errno (then nothing was
 * started and the caller closes the client). */
int dawn_ws_relay_start(sd_event *loop, int client_fd, const char *extra, size_t extra_len, const char *host,
                        int port, const struct dawn_ws_relay_broker *broker, const char *peer,
                        dawn_ws_relay_closed_fn closed, dawn_ws_relay_admit_fn admit, void *userdata,
                        struct dawn_ws_relay **out);
/* Ends a relay now (shutdown), sending the client a close frame if it can;
 * closed() is called. */
void dawn_ws_relay_close(struct dawn_ws_relay *r);
/* Ends a relay that has not signed in, to make room for a newer one
 * (counted as evicted); closed() is called. */
void dawn_ws_relay_evict(struct dawn_ws_relay *r);
/* True once the broker has accepted the browser's login. */
bool dawn_ws_relay_signed_in(const struct dawn_ws_relay *r);
/* The broker login its CONNECT named ("" before the CONNECT). */
const char *dawn_ws_relay_user(const struct dawn_ws_relay *r);

#endif
