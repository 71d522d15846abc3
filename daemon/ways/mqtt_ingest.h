/* MQTT ingest: dawnd subscribes to <prefix>/ingest/+ and
 * <prefix>/subscribers/+/acks/+ on the broker it publishes to. A report's
 * source is the last topic level (the broker's ACL lets each partner write
 * only its own topic); the answer goes to <prefix>/ingest/<source>/result
 * after the commit. Acks from dashboards are recorded (dawn_ingest_ack). */
#ifndef DAWN_MQTT_INGEST_H
#define DAWN_MQTT_INGEST_H

/* On PostgreSQL (several nodes), the subscriptions are shared in this group:
 * $share/dawn/<prefix>/ingest/+, and each message goes to one node. */
#define DAWN_INGEST_SHARE "$share/dawn/"

struct dawn_ways;
struct dawn_channel;
struct dawn_ingest_mqtt;

/* Wires itself to the MQTT channel ch (dawn_channel_mqtt_listen). Returns 0
 * or -errno; with no MQTT channel configured, *out is NULL and 0 is returned. */
int dawn_ingest_mqtt_new(struct dawn_ways *ways, struct dawn_channel *ch, struct dawn_ingest_mqtt **out);
struct dawn_ingest_mqtt *dawn_ingest_mqtt_free(struct dawn_ingest_mqtt *im);

#endif
