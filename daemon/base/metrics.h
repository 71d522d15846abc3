/* Counters for /metrics, in the Prometheus text exposition format (0.0.4).
 *
 * One set per process, kept in memory: Prometheus expects counters to
 * restart from zero when the process does, and works out rates itself.
 * Anything that can be read from the store (alerts by grade and status,
 * deliveries by channel and state) is read at scrape time instead, and
 * written by the caller with dawn_metrics_write_gauge(), so it is right
 * after a restart too. Single-threaded, like the daemon. */
#ifndef DAWN_METRICS_H
#define DAWN_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "model.h"

/* Each counter and the names of its labels (label values are given at
 * each count, in this order; NULL for a counter's unused label). */
enum dawn_counter {
        DAWN_M_INTAKE_ACCEPTED,    /* dawn_intake_accepted_total{way,outcome}: way control|http|mqtt;
                                    * outcome new|merged|duplicate|pending */
        DAWN_M_INTAKE_REJECTED,    /* dawn_intake_rejected_total{way,reason}: reason invalid|unauthorized|
                                    * forbidden|rate_limited|too_large|unknown_source|storage */
        DAWN_M_DELIVERY_ATTEMPTS,  /* dawn_delivery_attempts_total{channel,result}: delivered|transient|permanent|
                                    * refused_credentials|rate_limited (the channel paused)|opted_out */
        DAWN_M_DELIVERY_RETRIES,   /* dawn_delivery_retries_total{channel}: attempts scheduled again */
        DAWN_M_DELIVERY_FAILURES,  /* dawn_delivery_failures_total{channel,reason}: permanent|lifetime|receipt */
        DAWN_M_RECEIPTS,           /* dawn_receipts_total{provider,status}: notify|twilio; delivered|
                                    * permanent-failure|temporary-failure|in-progress */
        DAWN_M_CALLBACKS_REFUSED,  /* dawn_callbacks_refused_total{provider,reason}: unauthenticated|invalid */
        DAWN_M_CALLBACKS_IGNORED,  /* dawn_callbacks_ignored_total{provider,reason}: answered 2xx but changed
                                    * nothing: unknown-delivery|mismatched|illegal-transition|replayed */
        DAWN_M_ACKS_IGNORED,       /* dawn_acks_ignored_total{via}: sms|dashboard: from a number or
                                    * subscriber the alert did not reach (or of no alert) */
        DAWN_M_SMS_REPLIES,        /* dawn_sms_replies_total{kind}: stop|start|ack|other */
        DAWN_M_REVIEW_DECISIONS,   /* dawn_review_decisions_total{decision}: approved|rejected */
        DAWN_M_CLUSTERS_RAISED,    /* dawn_clusters_raised_total{} */
        DAWN_M_HTTP_REQUESTS,      /* dawn_http_requests_total{code} */
        DAWN_M_RELAY_DROPPED,      /* dawn_relay_dropped_total{reason}: dashboard relays dawnd closed at a limit:
                                    * login_deadline|evicted|unread_output|idle|close_deadline|bad_connect */
        DAWN_M_RELAY_REFUSED,      /* dawn_relay_refused_total{reason}: upgrades to /mqtt refused: full */
        DAWN_M_RELAY_PAUSED,       /* dawn_relay_paused_total{}: relays whose broker side was paused (once each)
                                    * because the browser did not read fast enough */
        DAWN_M_HTTP_DROPPED,       /* dawn_http_connections_dropped_total{reason}: header_timeout|
                                    * body_timeout|answer_timeout|displaced|over_limit */
        DAWN_M_HTTP_ACCEPT_PAUSED, /* dawn_http_accept_paused_total{}: out of file descriptors */
        DAWN_M_CONTROL_DROPPED,    /* dawn_control_connections_dropped_total{reason}: control socket clients
                                    * refused or closed at a limit: over_limit|out_of_fds|unread_output|idle|
                                    * refused|per_uid|line_deadline */
        DAWN_M_RETENTION_PRUNED,   /* dawn_retention_pruned_total{what}: alerts|deliveries whose delivery
                                    * details retention removed (committed) */
        DAWN_M_ESCALATIONS,        /* dawn_escalations_total{}: subscribers escalated (issue 13) */
        DAWN_M_PUBLIC_JOINS,       /* dawn_public_joins_total{result}: joined|unknown-area (JOIN texts) */
        DAWN_M_PUBLIC_REFUSED,     /* dawn_public_joins_refused_total{reason}: full (public.max_subscribers)|
                                    * daily-cap (public.max_joins_per_day: no reply) */
        DAWN_M_CHANNEL_PAUSES,     /* dawn_channel_pauses_total{channel,reason}: credentials|rate_limit: times a
                                    * channel paused because its provider refused the whole channel */
        DAWN_M_SMS_REPLY_TEXTS,    /* dawn_sms_reply_texts_total{result}: replies to Notify inbound texts:
                                    * sent|failed|opted-out|not-queued (issue 13; dawn_sms_replies_total
                                    * already counts the texts received) */
        DAWN_M_COUNTER_COUNT,
};

/* Adds 1 to a counter's series with these label values. Never fails
 * visibly: a series that cannot be allocated is counted in
 * dawn_metrics_dropped_series_total instead. */
void dawn_metrics_count(enum dawn_counter c, const char *label1, const char *label2);
void dawn_metrics_add(enum dawn_counter c, const char *label1, const char *label2, uint64_t n);
/* The value of one series (tests). */
uint64_t dawn_metrics_value(enum dawn_counter c, const char *label1, const char *label2);

/* dawn_delivery_latency_seconds{channel}: from the moment the alert was
 * accepted (the outbox row's creation) to the peer's acknowledgement (MQTT
 * PUBACK, the gateway's 2xx, SMTP 250). Buckets 1 ms .. 10 min. */
void dawn_metrics_observe_latency(enum dawn_channel_kind channel, uint64_t usec);

/* Writes every counter and the histogram, with # HELP and # TYPE lines,
 * label values escaped (\\, \", \n). Returns 0 or -errno. */
int dawn_metrics_write(FILE *f);

/* Writes one gauge sample for the caller; help and type lines are written
 * when first_of_family is true. labels is a preformatted, already-escaped
 * label list such as channel="sms",state="pending", or NULL. */
void dawn_metrics_write_gauge(FILE *f, const char *name, const char *help, const char *labels, double value,
                              int first_of_family);
/* Escapes a label value into out (always terminated; cut if too long). */
void dawn_metrics_escape(const char *value, char *out, size_t size);

/* Forgets everything (tests). */
void dawn_metrics_reset(void);

#endif
