/* TLS to the MQTT broker: channels.mqtt's tls, ca_file, cert_file and
 * key_file (struct dawn_mqtt_tls, config.h), applied the same way to every
 * libmosquitto client dawnd makes (today one: channel_mqtt.c's, which also
 * carries MQTT ingest and dashboard acks).
 *
 * What is trusted: the system's CAs (OpenSSL's default paths, which on
 * Debian are /etc/ssl/certs), and ca_file's certificates as well, as for
 * channels.email and channels.sms (ca_file.h). The broker's certificate and
 * its host name are always checked; there is no setting to turn that off.
 *
 * config.c checks the files when the configuration is loaded (dawn_tls_
 * client_check), so `dawnd -n`, the start and a reload refuse a pair the
 * broker could never accept, naming the key. libmosquitto reads the files
 * again for each connection (the channel makes a fresh client for each):
 * a certificate renewed in place is used from the next connection. */
#ifndef DAWN_MQTT_TLS_H
#define DAWN_MQTT_TLS_H

#include <mosquitto.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* The IANA port of MQTT over TLS: channels.mqtt.port's default when TLS is on. */
#define DAWN_MQTT_TLS_PORT 8883
/* Where the system's CA certificates are, hashed (Debian's ca-certificates):
 * libmosquitto wants a cafile or a capath even when it also loads OpenSSL's
 * default paths. */
#define DAWN_MQTT_TLS_CAPATH "/etc/ssl/certs"
/* A certificate chain or key file bigger than this is not one. */
#define DAWN_MQTT_TLS_FILE_MAX (1024 * 1024)

/* Makes mosq speak TLS as t says (nothing when t->enabled is false). Call
 * it before mosquitto_connect*(). Returns 0, or a MOSQ_ERR_* code. */
int dawn_mqtt_tls_apply(struct mosquitto *mosq, const struct dawn_mqtt_tls *t);

/* A deep copy of src into *dst (which must be empty); 0 or -ENOMEM (then
 * *dst holds what was copied: clear it). */
int dawn_mqtt_tls_copy(struct dawn_mqtt_tls *dst, const struct dawn_mqtt_tls *src);
void dawn_mqtt_tls_clear(struct dawn_mqtt_tls *t);

/* For config.c: whether cert_file holds a certificate and key_file a key
 * without a passphrase that belongs to it. Returns 0, or -errno with
 * *key_at_fault saying which file is wrong (so the error names the right
 * key) and why holding a sentence without the path. Nothing of the key's
 * content ever goes into why. */
int dawn_tls_client_check(const char *cert_file, const char *key_file, bool *key_at_fault, char *why,
                          size_t why_size);

#endif
