/* The two MQTT packets the dashboard relay reads: the browser's CONNECT
 * (MQTT 3.1.1 or 5, as MQTT.js sends it), which it writes again with a
 * client id of its own choosing, and the broker's CONNACK, which says that
 * the browser has signed in.
 *
 * Why rewrite the client id: the broker hands a client id's session (and
 * drops its connection) to whoever CONNECTs with it next, whatever login
 * that is (stock mosquitto 2.0 cannot tie an id to a login). Every
 * dashboard's id becomes "dawn-<its username>-<16 random hex digits>": a
 * pharmacy can open several tabs at once, and no page can name dawnd's id.
 * The session is made a clean one (3.1.1 clean session, 5 clean start and a
 * session expiry of 0): a session under a random id could never be resumed
 * and would only pile up on the broker.
 *
 * Pure functions over buffers, shared by the relay, the unit tests and the
 * fuzzer (tests/fuzz/fuzz_relay_connect.c). */
#ifndef DAWN_RELAY_CONNECT_H
#define DAWN_RELAY_CONNECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A CONNECT is a user name, a password and perhaps a will: 16 KiB is far
 * more than MQTT.js sends. */
#define DAWN_MQTT_CONNECT_MAX (16 * 1024)
/* The bytes of a username kept in the client id, and the id's whole length. */
#define DAWN_MQTT_ID_USER_MAX 40
#define DAWN_MQTT_ID_MAX (5 + DAWN_MQTT_ID_USER_MAX + 1 + 16)

struct dawn_mqtt_connect {
        uint8_t *packet;        /* the CONNECT as the broker gets it (malloc'd; the caller frees) */
        size_t length;
        unsigned level;         /* 4 (3.1.1) or 5 */
        char client_id[DAWN_MQTT_ID_MAX + 1];
        char username[DAWN_MQTT_ID_USER_MAX + 1]; /* as in the id: cut, other bytes than [A-Za-z0-9._-] as '_' */
};

/* Reads the CONNECT at the start of in (len bytes) and writes it again with
 * the client id "dawn-<username>-<random as hex>". Returns the number of
 * bytes the CONNECT took (out filled), 0 if in does not hold the whole
 * packet yet, -EMSGSIZE if it is longer than DAWN_MQTT_CONNECT_MAX, -ENOMEM,
 * or -EPROTO for anything else than a well-formed CONNECT of level 4 or 5
 * (then *why names the field, as a static string). */
ssize_t dawn_mqtt_connect_rewrite(const uint8_t *in, size_t len, const uint8_t random[8],
                                  struct dawn_mqtt_connect *out, const char **why);

/* Reads the broker's first packet: 1 for a CONNACK that accepts the login,
 * 0 if in does not hold enough of it yet, -EACCES for a CONNACK that
 * refuses it, -EPROTO for anything else. */
int dawn_mqtt_connack_read(const uint8_t *in, size_t len);

#endif
