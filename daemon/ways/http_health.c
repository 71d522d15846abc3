/* GET /metrics (Prometheus text format) and GET /healthz. */
#include "http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

/* ---- /metrics, /healthz ---- */

static double count_of(const cJSON *counts, const char *outer, const char *inner)
{
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(counts, outer), inner);
        return cJSON_IsNumber(n) ? n->valuedouble : 0;
}

/* Per configured channel: whether it is paused (pause.h), and how long its
 * oldest waiting delivery has waited (one read of the outbox_waiting index
 * per channel). */
static void write_pause_gauges(struct dawn_ways *ways, FILE *f)
{
        char labels[64];
        int first = 1;
        for (int k = 0; k < DAWN_CHANNEL_COUNT; k++) {
                if (!ways->channels[k])
                        continue;
                snprintf(labels, sizeof(labels), "channel=\"%s\"", dawn_channel_name((enum dawn_channel_kind)k));
                dawn_metrics_write_gauge(f, "dawn_channel_paused",
                                         "1 while the channel is paused because its provider refused it "
                                         "(credentials or rate limit), else 0.",
                                         labels, dawn_outbox_pause(ways->outbox, (enum dawn_channel_kind)k, NULL), first);
                first = 0;
        }
        first = 1;
        int64_t now = dawn_now_usec();
        for (int k = 0; k < DAWN_CHANNEL_COUNT; k++) {
                if (!ways->channels[k])
                        continue;
                int64_t oldest = dawn_store_oldest_waiting(ways->store, (enum dawn_channel_kind)k);
                if (oldest < 0)
                        continue; /* a store error: no sample rather than a wrong one */
                snprintf(labels, sizeof(labels), "channel=\"%s\"", dawn_channel_name((enum dawn_channel_kind)k));
                dawn_metrics_write_gauge(f, "dawn_outbox_oldest_waiting_seconds",
                                         "Seconds the oldest delivery still waiting (pending or retrying) has waited, "
                                         "by channel; 0 when none waits. Time a channel spent paused is left out "
                                         "once the pause ends.",
                                         labels, oldest > 0 && now > oldest ? (double)(now - oldest) / 1e6 : 0, first);
                first = 0;
        }
}

/* What the store knows, read at scrape time so that it is right after a
 * restart too. Every known label combination is written, zeros included:
 * a series that vanishes cannot be told from a scrape that failed. */
static void write_store_gauges(struct dawn_ways *ways, FILE *f)
{
        char labels[128];
        cJSON *alerts = cJSON_CreateObject();
        if (alerts && dawn_store_alert_counts(ways->store, alerts) == 0) {
                int first = 1;
                for (int s = 0; s < DAWN_STATUS_COUNT; s++)
                        for (int g = 0; g < DAWN_GRADE_COUNT; g++) {
                                const char *status = dawn_status_name((enum dawn_status)s);
                                const char *grade = dawn_grade_name((enum dawn_grade)g);
                                snprintf(labels, sizeof(labels), "status=\"%s\",grade=\"%s\"", status, grade);
                                dawn_metrics_write_gauge(f, "dawn_alerts", "Alerts in the store, by status and grade.",
                                                         labels, count_of(alerts, status, grade), first);
                                first = 0;
                        }
        }
        cJSON_Delete(alerts);

        cJSON *queue = cJSON_CreateObject();
        if (queue && dawn_store_queue_counts(ways->store, queue) == 0) {
                int first = 1;
                for (int k = 0; k < DAWN_CHANNEL_COUNT; k++) {
                        const char *channel = dawn_channel_name((enum dawn_channel_kind)k);
                        if (!ways->channels[k] && !cJSON_GetObjectItemCaseSensitive(queue, channel))
                                continue;
                        for (int s = 0; s < DAWN_DELIVERY_STATE_COUNT; s++) {
                                const char *state = dawn_delivery_state_name((enum dawn_delivery_state)s);
                                snprintf(labels, sizeof(labels), "channel=\"%s\",state=\"%s\"", channel, state);
                                dawn_metrics_write_gauge(f, "dawn_deliveries",
                                                         "Deliveries in the outbox, by channel and state.", labels,
                                                         count_of(queue, channel, state), first);
                                first = 0;
                        }
                }
                first = 1;
                for (int k = 0; k < DAWN_CHANNEL_COUNT; k++) {
                        const char *channel = dawn_channel_name((enum dawn_channel_kind)k);
                        if (!ways->channels[k] && !cJSON_GetObjectItemCaseSensitive(queue, channel))
                                continue;
                        snprintf(labels, sizeof(labels), "channel=\"%s\"", channel);
                        dawn_metrics_write_gauge(f, "dawn_outbox_queue_depth",
                                                 "Deliveries waiting to be sent (pending or retrying), by channel.",
                                                 labels,
                                                 count_of(queue, channel, "pending") + count_of(queue, channel, "retrying"),
                                                 first);
                        first = 0;
                }
        }
        cJSON_Delete(queue);
        write_pause_gauges(ways, f);
}

/* No token: the counters and gauges hold no personal data (no numbers,
 * addresses or alert text), and the default listening address is loopback;
 * an operator who exposes the API limits /metrics at the proxy. */
/* Which node this is, and every node the store has seen (several nodes on
 * PostgreSQL, issue 15): Prometheus scrapes each node on its own, and its
 * instance label tells the scrapes apart; these say which dawnd node that
 * is, and let any one node's scrape show a node whose heartbeat stopped.
 * The store's figures (dawn_alerts, dawn_deliveries) are the one store's,
 * the same from every node: take max(), not sum(), across nodes. */
static void write_node_gauges(struct dawn_ways *ways, FILE *f)
{
        char node[192], labels[256];
        dawn_metrics_escape(ways->config->node_id, node, sizeof(node));
        snprintf(labels, sizeof(labels), "node=\"%s\",version=\"%s\"", node, DAWN_VERSION);
        dawn_metrics_write_gauge(f, "dawn_node_info",
                                 "1, labelled with this dawnd's node id (daemon.node_id) and version: the "
                                 "counters in this scrape are this node's.",
                                 labels, 1, 1);
        cJSON *nodes = cJSON_CreateArray();
        if (!nodes || dawn_store_nodes_json(ways->store, dawn_now_usec(), nodes) < 0) {
                cJSON_Delete(nodes);
                return; /* a store error: no samples rather than wrong ones */
        }
        for (int pass = 0; pass < 2; pass++) {
                int first = 1;
                const cJSON *n;
                cJSON_ArrayForEach(n, nodes) {
                        const cJSON *id = cJSON_GetObjectItemCaseSensitive(n, "node");
                        const cJSON *v = cJSON_GetObjectItemCaseSensitive(
                                n, pass == 0 ? "heartbeat_age_seconds" : "in_flight");
                        if (!cJSON_IsString(id) || !cJSON_IsNumber(v))
                                continue;
                        dawn_metrics_escape(id->valuestring, node, sizeof(node));
                        snprintf(labels, sizeof(labels), "node=\"%s\"", node);
                        if (pass == 0)
                                dawn_metrics_write_gauge(f, "dawn_node_heartbeat_age_seconds",
                                                         "Seconds since each node the store has seen last beat "
                                                         "(a node whose claims others take over after store.lease).",
                                                         labels, v->valuedouble, first);
                        else
                                dawn_metrics_write_gauge(f, "dawn_node_in_flight",
                                                         "Deliveries each node has claimed and not yet ended.", labels,
                                                         v->valuedouble, first);
                        first = 0;
                }
        }
        cJSON_Delete(nodes);
}

void http_metrics(struct request *rq)
{
        struct dawn_ways *ways = rq->h->ways;
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (!f) {
                http_refuse(rq, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "out of memory; try again");
                return;
        }
        int r = dawn_metrics_write(f);
        write_store_gauges(ways, f);
        dawn_metrics_write_gauge(f, "dawn_outbox_in_flight", "Deliveries handed to a channel and not yet ended.",
                                 NULL, dawn_outbox_in_flight(ways->outbox), 1);
        dawn_metrics_write_gauge(f, "dawn_escalations_waiting",
                                 "Escalation clocks running: subscribers who have not acknowledged yet.", NULL,
                                 (double)dawn_store_count_waiting_escalations(ways->store), 1);
        /* read at scrape time, so it is right after a restart; a count, never a number */
        int64_t public_numbers = dawn_store_public_numbers(ways->store);
        if (public_numbers >= 0)
                dawn_metrics_write_gauge(f, "dawn_public_subscribers",
                                         "Phone numbers subscribed to public text alerts (JOIN).", NULL,
                                         (double)public_numbers, 1);
        write_node_gauges(ways, f);
        dawn_metrics_write_gauge(f, "dawn_up", "1 while dawnd runs.", NULL, 1, 1);
        dawn_metrics_write_gauge(f, "dawn_uptime_seconds", "Seconds since dawnd started.", NULL,
                                 (double)(dawn_now_usec() - ways->started_at) / 1e6, 1);
        if (fclose(f) != 0 || r < 0) {
                free(text);
                http_refuse(rq, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "the metrics could not be written; try again");
                return;
        }
        rq->response = http_text_response(text, len, "text/plain; version=0.0.4; charset=utf-8");
        rq->status = MHD_HTTP_OK;
}

void http_healthz(struct request *rq)
{
        struct dawn_ways *ways = rq->h->ways;
        cJSON *o = cJSON_CreateObject();
        unsigned status = MHD_HTTP_OK;
        int r;
        if (ways->stopping || rq->h->stopping) {
                cJSON_AddStringToObject(o, "status", "stopping");
                status = MHD_HTTP_SERVICE_UNAVAILABLE;
        } else if ((r = dawn_store_check_writable(ways->store)) < 0) {
                /* what the watchdog checks: a store that takes no writes accepts no alerts */
                cJSON_AddStringToObject(o, "status", "store not writable");
                cJSON_AddStringToObject(o, "error", strerror(-r));
                status = MHD_HTTP_SERVICE_UNAVAILABLE;
        } else {
                cJSON_AddStringToObject(o, "status", "ok");
        }
        http_respond_json(rq, status, o);
}
