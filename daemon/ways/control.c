#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "escalation.h"
#include "submit.h"
#include "intake.h"
#include "log.h"
#include "metrics.h"
#include "retention.h"
#include "route.h"
#include "summary.h"
#include "ways.h"

/* How many chunks of input one connection may read in one turn of the loop. */
#define CONTROL_READS_PER_TURN 4
/* A dropped or refused client is logged at most this often per reason. */
#define CONTROL_LOG_INTERVAL_USEC (10 * DAWN_USEC_PER_SEC)

/* An answer that waits for the group commit. */
struct held {
        char *text;
        size_t len;
        bool wrote;            /* the request wrote: a failed commit turns the answer into "not stored" */
        struct held *next;
};

struct conn {
        struct dawn_control *ctl;
        int fd;
        sd_event_source *io;
        sd_event_source *idle;  /* fires DAWN_CONTROL_IDLE_USEC after the last byte read or written,
                                 * or at the line deadline if that comes first */
        struct dawn_peer peer;
        bool allowed;
        char refusal[160];
        char *in;               /* bytes read, not yet a whole line */
        uint64_t line_since;    /* CLOCK_MONOTONIC: when the first byte of the partial line in `in` came, or 0 */
        size_t in_len, in_cap;
        char *out;              /* answers ready: out_len bytes from out + out_off not yet written */
        size_t out_off, out_len, out_cap;
        struct held *held, **held_tail; /* answers waiting for the commit, in order */
        size_t held_bytes;
        struct dawn_ticket ticket;      /* pending while answers are held */
        bool read_done;         /* the peer half-closed: it reads what it is owed, then we close */
        bool closing;           /* close once everything is written */
        bool dead;              /* to be freed on the way out of the current callback */
        struct conn *prev, *next;
};

enum drop_reason {
        DROP_CONNECTIONS, DROP_FDS, DROP_UNREAD, DROP_IDLE, DROP_REFUSED, DROP_PER_UID, DROP_LINE, DROP_REASONS
};

struct dawn_control {
        struct dawn_ways *ways;
        int listen_fd;
        sd_event_source *listen_io;
        sd_event_source *resume;   /* listening again after running out of descriptors */
        int reserve_fd;            /* closed to accept and refuse a client when out of descriptors */
        bool created_path;
        struct conn *conns;
        unsigned n_conns;
        uint64_t full_since;       /* CLOCK_MONOTONIC: when the connection cap was reached, or 0 */
        uint64_t refused_while_full;
        uint64_t logged_at[DROP_REASONS];
        uint64_t unlogged[DROP_REASONS];
};

/* ---- answers ---- */

/* A refusal on this socket: "ok": false first, as every answer here
 * begins, then the refusal every way in gives. Takes e. */
static cJSON *with_ok_false(cJSON *e)
{
        cJSON *o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "ok", false);
        while (e && e->child) {
                cJSON *item = cJSON_DetachItemViaPointer(e, e->child);
                cJSON_AddItemToObject(o, item->string, item);
        }
        cJSON_Delete(e);
        return o;
}

static cJSON *answer_error(const char *field, bool temporary, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static cJSON *answer_error(const char *field, bool temporary, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        cJSON *e = dawn_error_json_v(field, temporary, fmt, ap);
        va_end(ap);
        return with_ok_false(e);
}

static cJSON *answer_ok(void)
{
        cJSON *o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "ok", true);
        return o;
}

static cJSON *answer_input_error(const struct dawn_input_error *e)
{
        return answer_error(e->field, e->temporary, "%s", e->message);
}

/* A store failure, in the words a submitter can act on (the same on every way in). */
static cJSON *answer_store_error(struct dawn_ways *ways, int r)
{
        return with_ok_false(dawn_store_error_json(ways, r, true));
}

static void mask_deliveries(cJSON *array)
{
        cJSON *o;
        cJSON_ArrayForEach(o, array) {
                cJSON *ch = cJSON_GetObjectItemCaseSensitive(o, "channel");
                cJSON *rc = cJSON_GetObjectItemCaseSensitive(o, "recipient");
                /* MQTT recipients are topics; numbers and addresses are personal */
                if (cJSON_IsString(ch) && cJSON_IsString(rc) && strcmp(ch->valuestring, "mqtt") != 0) {
                        char masked[128];
                        cJSON_SetValuestring(rc, dawn_mask_recipient(rc->valuestring, masked, sizeof(masked)));
                }
        }
}

/* ---- requests ---- */

static const char *want_str(const cJSON *req, const char *name)
{
        const cJSON *i = cJSON_GetObjectItemCaseSensitive(req, name);
        return cJSON_IsString(i) ? i->valuestring : NULL;
}

/* Every request names only the arguments its command knows. */
static cJSON *check_args(const cJSON *req, const char *const *allowed)
{
        const cJSON *i;
        cJSON_ArrayForEach(i, req) {
                if (strcmp(i->string, "cmd") == 0)
                        continue;
                bool ok = false;
                for (size_t k = 0; allowed[k]; k++)
                        ok |= strcmp(i->string, allowed[k]) == 0;
                if (!ok && !i->string[0])
                        return answer_error("request", false, "the request has an argument with an empty name");
                if (!ok)
                        return answer_error(i->string, false, "unknown argument '%.*s'",
                                            dawn_utf8_prefix(i->string, 40), i->string);
        }
        return NULL;
}

static cJSON *need_id(const cJSON *req, const char **id)
{
        *id = want_str(req, "id");
        if (!*id || !**id || strlen(*id) > DAWN_MAX_ID_CHARS)
                return answer_error("id", false, "id: required, an alert id such as A17");
        return NULL;
}

static cJSON *alert_answer(const struct dawn_alert *a, const char *flag)
{
        cJSON *ans = answer_ok();
        cJSON *o = dawn_alert_to_json(a);
        if (flag)
                cJSON_AddBoolToObject(o, flag, true);
        cJSON_AddItemToObject(ans, "alert", o);
        return ans;
}

typedef cJSON *(*command_fn)(struct dawn_ways *ways, const struct dawn_peer *p, const cJSON *req);

/* Runs a change inside the batch transaction, in a savepoint of its own so
 * that its failure undoes only its own writes. */
typedef int (*change_fn)(const struct dawn_intake *in, const cJSON *req, struct dawn_alert *result,
                         enum dawn_intake_outcome *outcome, struct dawn_input_error *err);

static int change_issue(const struct dawn_intake *in, const cJSON *req, struct dawn_alert *result,
                        enum dawn_intake_outcome *outcome, struct dawn_input_error *err);

static cJSON *run_change(struct dawn_ways *ways, const struct dawn_peer *p, const cJSON *req, change_fn fn)
{
        bool intake = fn == change_issue;
        int r = dawn_commit_begin(ways->commit);
        if (r < 0) {
                if (intake)
                        dawn_metrics_count(DAWN_M_INTAKE_REJECTED, "control", "storage");
                return answer_store_error(ways, r);
        }
        struct dawn_intake in = { ways->store, ways->config, dawn_now_usec(), p->source, p->actor, DAWN_ROLE_ISSUER };
        struct dawn_alert result;
        dawn_alert_init(&result);
        struct dawn_input_error err = { 0 };
        enum dawn_intake_outcome outcome = intake ? DAWN_INTAKE_NEW : DAWN_INTAKE_CHANGED;
        r = dawn_commit_end(ways->commit, fn(&in, req, &result, &outcome, &err));
        cJSON *ans;
        if (r >= 0) {
                const char *flag = dawn_intake_outcome_flag(outcome);
                if (intake)
                        dawn_metrics_count(DAWN_M_INTAKE_ACCEPTED, "control",
                                           dawn_intake_outcome_word(outcome, result.status));
                ans = alert_answer(&result, flag);
                log_alert(LOG_INFO, result.id, "alert %s: %s %s %s in %s, revision %d, by %s", result.id,
                          flag ? flag : "accepted", dawn_grade_name(result.grade), dawn_type_name(result.type),
                          result.area, result.revision, p->actor);
        } else {
                if (intake)
                        dawn_metrics_count(DAWN_M_INTAKE_REJECTED, "control",
                                           r == -EINVAL && !err.temporary ? "invalid" : "storage");
                ans = r == -EINVAL ? answer_input_error(&err) : answer_store_error(ways, r);
        }
        dawn_alert_clear(&result);
        return ans;
}

static int change_issue(const struct dawn_intake *in, const cJSON *req, struct dawn_alert *result,
                        enum dawn_intake_outcome *outcome, struct dawn_input_error *err)
{
        const cJSON *alert = cJSON_GetObjectItemCaseSensitive(req, "alert");
        if (!alert)
                return dawn_input_error_set(err, "alert", "alert: required, the alert object");
        return dawn_intake_issue(in, alert, result, outcome, err);
}

static int change_update(const struct dawn_intake *in, const cJSON *req, struct dawn_alert *result,
                         enum dawn_intake_outcome *outcome, struct dawn_input_error *err)
{
        const cJSON *alert = cJSON_GetObjectItemCaseSensitive(req, "alert");
        if (!alert)
                return dawn_input_error_set(err, "alert", "alert: required, the fields to change");
        return dawn_intake_update(in, want_str(req, "id"), alert, result, err);
}

static int change_cancel(const struct dawn_intake *in, const cJSON *req, struct dawn_alert *result,
                         enum dawn_intake_outcome *outcome, struct dawn_input_error *err)
{
        const char *reason = want_str(req, "reason");
        if (!reason)
                return dawn_input_error_set(err, "reason", "reason: required: recipients are told why");
        return dawn_intake_cancel(in, want_str(req, "id"), reason, result, err);
}

static cJSON *cmd_issue(struct dawn_ways *ways, const struct dawn_peer *p, const cJSON *req)
{
        static const char *const args[] = { "alert", NULL };
        cJSON *bad = check_args(req, args);
        return bad ? bad : run_change(ways, p, req, change_issue);
}

static cJSON *cmd_update(struct dawn_ways *ways, const struct dawn_peer *p, const cJSON *req)
{
        static const char *const args[] = { "id", "alert", NULL };
        const char *id;
        cJSON *bad = check_args(req, args);
        if (!bad)
                bad = need_id(req, &id);
        return bad ? bad : run_change(ways, p, req, change_update);
}

static cJSON *cmd_cancel(struct dawn_ways *ways, const struct dawn_peer *p, const cJSON *req)
{
        static const char *const args[] = { "id", "reason", NULL };
        const char *id;
        cJSON *bad = check_args(req, args);
        if (!bad)
                bad = need_id(req, &id);
        return bad ? bad : run_change(ways, p, req, change_cancel);
}

static cJSON *list_alerts(struct dawn_ways *ways, bool all, const char *only_status)
{
        cJSON *arr = cJSON_CreateArray();
        int r = dawn_store_list_alerts(ways->store, all, arr);
        if (r < 0) {
                cJSON_Delete(arr);
                return answer_store_error(ways, r);
        }
        if (only_status) {
                for (int i = cJSON_GetArraySize(arr) - 1; i >= 0; i--) {
                        const char *s = want_str(cJSON_GetArrayItem(arr, i), "status");
                        if (!s || strcmp(s, only_status) != 0)
                                cJSON_DeleteItemFromArray(arr, i);
                }
        }
        cJSON *ans = answer_ok();
        cJSON_AddItemToObject(ans, "alerts", arr);
        return ans;
}

static cJSON *cmd_list(struct dawn_ways *ways, const struct dawn_peer *p, const cJSON *req)
{
        static const char *const args[] = { "all", NULL };
        cJSON *bad = check_args(req, args);
        if (bad)
                return bad;
        const cJSON *all = cJSON_GetObjectItemCaseSensitive(req, "all");
        if (all && !cJSON_IsBool(all))
                return answer_error("all", false, "all: must be true or false");
        return list_alerts(ways, cJSON_IsTrue(all), NULL);
}

/* The review queue: pending alerts (a reporter's report, a cluster) and
 * proposed grade rises of active ones, oldest proposal last; each item says
 * which kind it is ("alert" or "proposal"), and approve and reject take
 * either id. */
static cJSON *cmd_pending(struct dawn_ways *ways, const struct dawn_peer *p, const cJSON *req)
{
        static const char *const args[] = { NULL };
        cJSON *bad = check_args(req, args);
        if (bad)
                return bad;
        cJSON *ans = list_alerts(ways, false, "pending");
        cJSON *alerts = cJSON_GetObjectItemCaseSensitive(ans, "alerts");
        if (!cJSON_IsArray(alerts))
                return ans; /* a refusal */
        cJSON *item;
        cJSON_ArrayForEach(item, alerts)
                cJSON_AddStringToObject(item, "kind", "alert");
        int r = dawn_store_waiting_proposals_json(ways->store, alerts);
        if (r < 0) {
                cJSON_Delete(ans);
                return answer_store_error(ways, r);
        }
        cJSON_AddItemToObject(ans, "pending", cJSON_DetachItemViaPointer(ans, alerts));
        return ans;
}

static cJSON *cmd_show(struct dawn_ways *ways, const struct dawn_peer *p, const cJSON *req)
{
        static const char *const args[] = { "id", NULL };
        const char *id;
        cJSON *bad = check_args(req, args);
        if (!bad)
                bad = need_id(req, &id);
        if (bad)
                return bad;
        struct dawn_alert a;
        dawn_alert_init(&a);
        int r = dawn_store_load_alert(ways->store, id, &a);
        if (r <= 0) {
                dawn_alert_clear(&a);
                return r == 0 ? answer_error("id", false, "no alert with id '%s'", id) : answer_store_error(ways, r);
        }
        cJSON *o = dawn_alert_to_json(&a);
        dawn_alert_clear(&a);
        cJSON *deliveries = cJSON_AddArrayToObject(o, "deliveries");
        cJSON *corroborations = cJSON_AddArrayToObject(o, "corroborations");
        cJSON *acks = cJSON_AddArrayToObject(o, "acks");
        cJSON *escalations = cJSON_AddArrayToObject(o, "escalations");
        r = dawn_store_deliveries_json(ways->store, id, deliveries);
        if (r == 0)
                r = dawn_store_acks_json(ways->store, id, acks);
        if (r == 0)
                r = dawn_store_escalations_json(ways->store, id, escalations);
        if (r == 0)
                r = dawn_store_corroborations_json(ways->store, id, corroborations);
        if (r < 0) {
                cJSON_Delete(o);
                return answer_store_error(ways, r);
        }
        mask_deliveries(deliveries);
        /* pruned by retention: the counts that were kept, and since when the rows are gone */
        int64_t pruned_at = dawn_store_pruned_at(ways->store, id);
        if (pruned_at > 0) {
                char when[40];
                cJSON *totals = cJSON_AddObjectToObject(o, "delivery_totals");
                r = dawn_store_delivery_totals_json(ways->store, id, totals);
                cJSON_AddStringToObject(o, "details_removed_at", dawn_time_format(pruned_at, when, sizeof(when)));
        } else {
                r = (int)pruned_at;
        }
        if (r < 0) {
                cJSON_Delete(o);
                return answer_store_error(ways, r);
        }
        cJSON *ans = answer_ok();
        cJSON_AddItemToObject(ans, "alert", o);
        return ans;
}

static cJSON *cmd_route(struct dawn_ways *ways, const struct dawn_peer *p, const cJSON *req)
{
        static const char *const args[] = { "area", "type", "grade", NULL };
        cJSON *bad = check_args(req, args);
        if (bad)
                return bad;
        const char *area = want_str(req, "area"), *type = want_str(req, "type"), *grade = want_str(req, "grade");
        if (!area || dawn_config_area_index(ways->config, area) < 0)
                return answer_error("area", false, "area: '%.*s' is not in the configured area tree",
                                    dawn_utf8_prefix(area ? area : "", 40), area ? area : "");
        int t = dawn_type_from_name(type ? type : "batch");
        if (t < 0)
                return answer_error("type", false, "type: '%.*s' is not one of batch, cluster, nfod",
                                    dawn_utf8_prefix(type, 20), type);
        int g = dawn_grade_from_name(grade ? grade : "warning");
        if (g < 0)
                return answer_error("grade", false, "grade: '%.*s' is not one of logged, info, warning, critical",
                                    dawn_utf8_prefix(grade, 20), grade);
        struct dawn_route route;
        if (dawn_route_alert(ways->config, "<id>", area, (enum dawn_type)t, (enum dawn_grade)g, &route) < 0)
                return answer_error(NULL, true, "out of memory");
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; i < route.n; i++) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "subscriber", route.v[i].subscriber);
                cJSON_AddStringToObject(o, "kind", route.v[i].kind);
                cJSON_AddStringToObject(o, "channel", dawn_channel_name(route.v[i].channel));
                cJSON_AddStringToObject(o, "recipient", route.v[i].recipient);
                cJSON_AddItemToArray(arr, o);
        }
        dawn_route_clear(&route);
        mask_deliveries(arr);
        cJSON *ans = answer_ok();
        cJSON_AddItemToObject(ans, "deliveries", arr);
        return ans;
}

static cJSON *cmd_status(struct dawn_ways *ways, const struct dawn_peer *p, const cJSON *req)
{
        static const char *const args[] = { NULL };
        cJSON *bad = check_args(req, args);
        if (bad)
                return bad;
        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "version", DAWN_VERSION);
        cJSON_AddNumberToObject(s, "pid", getpid());
        cJSON_AddNumberToObject(s, "uptime_seconds", (double)((dawn_now_usec() - ways->started_at) / 1000000));
        cJSON_AddStringToObject(s, "config", ways->config_path);
        cJSON_AddStringToObject(s, "store", ways->db_path);
        int open = dawn_store_count_open_alerts(ways->store);
        if (open >= 0)
                cJSON_AddNumberToObject(s, "active_alerts", open);
        cJSON *channels = cJSON_AddObjectToObject(s, "channels");
        dawn_outbox_status(ways->outbox, channels);
        /* status is what an officer asks when something is wrong: with the store away
         * (PostgreSQL failing over, silent) it still answers, with what dawnd itself
         * knows, and says why the store's figures are missing rather than showing none */
        cJSON *queue = cJSON_CreateObject();
        int r = queue ? dawn_store_queue_counts(ways->store, queue) : -ENOMEM;
        if (r >= 0)
                cJSON_AddItemToObject(s, "deliveries", queue);
        else
                cJSON_Delete(queue);
        /* the dawnd nodes on this store: on SQLite this one; on PostgreSQL every node seen */
        cJSON *nodes = r >= 0 ? cJSON_CreateArray() : NULL;
        if (nodes && (r = dawn_store_nodes_json(ways->store, dawn_now_usec(), nodes)) >= 0)
                cJSON_AddItemToObject(s, "nodes", nodes);
        else
                cJSON_Delete(nodes);
        if (open < 0 || r < 0)
                cJSON_AddStringToObject(s, "store_error", r == -ENOMEM ? "out of memory" : dawn_store_errmsg(ways->store));
        cJSON *ans = answer_ok();
        cJSON_AddItemToObject(ans, "status", s);
        return ans;
}

static cJSON *cmd_reload(struct dawn_ways *ways, const struct dawn_peer *p, const cJSON *req)
{
        static const char *const args[] = { NULL };
        cJSON *bad = check_args(req, args);
        if (bad)
                return bad;
        char msg[2048];
        log_info("reload requested by %s", p->actor);
        if (!ways->reload)
                return answer_error("cmd", false, "reload is not available in this process");
        int r = ways->reload(ways->reload_userdata, msg, sizeof(msg));
        dawn_audit_reload(ways, p->actor, r, msg);
        if (r < 0)
                return answer_error("config", false, "configuration not reloaded, the old one stays: %s", msg);
        cJSON *ans = answer_ok();
        cJSON_AddBoolToObject(ans, "reloaded", true);
        return ans;
}

static int change_approve(const struct dawn_intake *in, const cJSON *req, struct dawn_alert *result,
                          enum dawn_intake_outcome *outcome, struct dawn_input_error *err)
{
        const char *id = want_str(req, "id");
        *outcome = id && id[0] == 'P' ? DAWN_INTAKE_PROPOSAL_APPROVED : DAWN_INTAKE_APPROVED;
        return dawn_intake_approve(in, id, result, err);
}

static int change_reject(const struct dawn_intake *in, const cJSON *req, struct dawn_alert *result,
                         enum dawn_intake_outcome *outcome, struct dawn_input_error *err)
{
        const char *reason = want_str(req, "reason");
        if (!reason)
                return dawn_input_error_set(err, "reason", "reason: required: the audit log keeps why");
        const char *id = want_str(req, "id");
        *outcome = id && id[0] == 'P' ? DAWN_INTAKE_PROPOSAL_REJECTED : DAWN_INTAKE_REJECTED;
        return dawn_intake_reject(in, id, reason, result, err);
}

static cJSON *cmd_approve(struct dawn_ways *ways, const struct dawn_peer *p, const cJSON *req)
{
        static const char *const args[] = { "id", NULL };
        const char *id;
        cJSON *bad = check_args(req, args);
        if (!bad)
                bad = need_id(req, &id);
        return bad ? bad : run_change(ways, p, req, change_approve);
}

static cJSON *cmd_reject(struct dawn_ways *ways, const struct dawn_peer *p, const cJSON *req)
{
        static const char *const args[] = { "id", "reason", NULL };
        const char *id;
        cJSON *bad = check_args(req, args);
        if (!bad)
                bad = need_id(req, &id);
        return bad ? bad : run_change(ways, p, req, change_reject);
}

/* The numbers that replied STOP, masked, with whose they are. */
static cJSON *cmd_optouts(struct dawn_ways *ways, const struct dawn_peer *p, const cJSON *req)
{
        static const char *const args[] = { NULL };
        cJSON *bad = check_args(req, args);
        if (bad)
                return bad;
        cJSON *arr = cJSON_CreateArray();
        int r = dawn_store_opt_outs_json(ways->store, arr);
        if (r < 0) {
                cJSON_Delete(arr);
                return answer_store_error(ways, r);
        }
        cJSON *o;
        cJSON_ArrayForEach(o, arr) {
                cJSON *num = cJSON_GetObjectItemCaseSensitive(o, "number");
                cJSON *subs = cJSON_AddArrayToObject(o, "subscribers");
                for (size_t i = 0; cJSON_IsString(num) && i < ways->config->n_subscribers; i++) {
                        const struct dawn_subscriber *sub = &ways->config->subscribers[i];
                        for (size_t k = 0; k < sub->n_sms; k++)
                                if (strcmp(sub->sms[k], num->valuestring) == 0) {
                                        cJSON_AddItemToArray(subs, cJSON_CreateString(sub->id));
                                        break;
                                }
                }
                if (cJSON_IsString(num)) {
                        char masked[64];
                        cJSON_SetValuestring(num, dawn_mask_recipient(num->valuestring, masked, sizeof(masked)));
                }
        }
        cJSON *ans = answer_ok();
        cJSON_AddItemToObject(ans, "optouts", arr);
        return ans;
}

/* ---- history and audit ---- */

static cJSON *cmd_history(struct dawn_ways *ways, const struct dawn_peer *p, const cJSON *req)
{
        static const char *const args[] = { "id", NULL };
        const char *id;
        cJSON *bad = check_args(req, args);
        if (!bad)
                bad = need_id(req, &id);
        if (bad)
                return bad;
        struct dawn_alert a;
        dawn_alert_init(&a);
        int r = dawn_store_load_alert(ways->store, id, &a);
        dawn_alert_clear(&a);
        if (r <= 0)
                return r == 0 ? answer_error("id", false, "no alert with id '%.*s'", dawn_utf8_prefix(id, 40), id)
                              : answer_store_error(ways, r);
        cJSON *events = cJSON_CreateArray();
        bool more = false;
        r = dawn_store_history_json(ways->store, id, DAWN_HISTORY_MAX_EVENTS, events, &more);
        if (r < 0) {
                cJSON_Delete(events);
                return answer_store_error(ways, r);
        }
        cJSON *ans = answer_ok();
        cJSON_AddItemToObject(ans, "history", events);
        cJSON_AddBoolToObject(ans, "more", more);
        return ans;
}

/* A whole number in lo..hi, or absent (*v left as it is). */
static cJSON *want_count(const cJSON *req, const char *name, double lo, double hi, double *v)
{
        const cJSON *i = cJSON_GetObjectItemCaseSensitive(req, name);
        if (!i)
                return NULL;
        if (!cJSON_IsNumber(i) || i->valuedouble < lo || i->valuedouble > hi ||
            i->valuedouble != (double)(int64_t)i->valuedouble)
                return answer_error(name, false, "%s: a whole number from %.0f to %.0f", name, lo, hi);
        *v = i->valuedouble;
        return NULL;
}

static cJSON *cmd_audit(struct dawn_ways *ways, const struct dawn_peer *p, const cJSON *req)
{
        static const char *const args[] = { "since_seconds", "actor", "limit", NULL };
        /* a century back is "all of it"; the bound keeps now - since from overflowing */
        double since = -1, limit = DAWN_AUDIT_DEFAULT_ROWS;
        cJSON *bad = check_args(req, args);
        if (!bad)
                bad = want_count(req, "since_seconds", 0, 100.0 * 366 * 86400, &since);
        if (!bad)
                bad = want_count(req, "limit", 1, DAWN_AUDIT_MAX_ROWS, &limit);
        const cJSON *actor = cJSON_GetObjectItemCaseSensitive(req, "actor");
        if (!bad && actor && (!cJSON_IsString(actor) || !actor->valuestring[0] || strlen(actor->valuestring) > 256))
                bad = answer_error("actor", false, "actor: the actor's name as the audit log has it (1..256 bytes)");
        if (bad)
                return bad;
        int64_t from = since < 0 ? 0 : dawn_now_usec() - (int64_t)since * DAWN_USEC_PER_SEC;
        cJSON *rows = cJSON_CreateArray();
        bool more = false;
        int r = dawn_store_audit_json(ways->store, from, actor ? actor->valuestring : NULL, (int)limit, rows, &more);
        if (r < 0) {
                cJSON_Delete(rows);
                return answer_store_error(ways, r);
        }
        cJSON *ans = answer_ok();
        cJSON_AddItemToObject(ans, "audit", rows);
        cJSON_AddBoolToObject(ans, "more", more);
        return ans;
}

/* ---- retention ---- */

/* How many alert ids a dry run lists (it counts them all). */
#define PRUNE_LIST_MAX 50

static void prune_counts_json(cJSON *o, const struct dawn_prune_counts *c)
{
        cJSON_AddNumberToObject(o, "alerts", (double)c->alerts);
        cJSON_AddNumberToObject(o, "deliveries", (double)c->deliveries);
        cJSON *ch = cJSON_AddObjectToObject(o, "channels");
        for (int k = 0; k < DAWN_CHANNEL_COUNT; k++)
                if (c->by_channel[k])
                        cJSON_AddNumberToObject(ch, dawn_channel_name((enum dawn_channel_kind)k),
                                                (double)c->by_channel[k]);
}

/* dawnctl prune [--dry-run]: what retention would remove now, or one step
 * of it now (the rest follows by itself: retention.h). */
static cJSON *cmd_prune(struct dawn_ways *ways, const struct dawn_peer *p, const cJSON *req)
{
        static const char *const args[] = { "dry_run", NULL };
        cJSON *bad = check_args(req, args);
        if (bad)
                return bad;
        const cJSON *dry = cJSON_GetObjectItemCaseSensitive(req, "dry_run");
        if (dry && !cJSON_IsBool(dry))
                return answer_error("dry_run", false, "dry_run: must be true or false");
        if (!ways->retention)
                return answer_error("cmd", false, "prune is not available in this process");
        int64_t now = dawn_now_usec();
        int64_t cutoff = dawn_retention_cutoff(ways->retention, now);
        char when[40];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "dry_run", cJSON_IsTrue(dry));
        cJSON_AddStringToObject(o, "ended_before", dawn_time_format(cutoff, when, sizeof(when)));
        struct dawn_prune_counts c;
        int r;
        if (cJSON_IsTrue(dry)) {
                cJSON *ids = cJSON_CreateArray();
                r = dawn_store_prune_preview(ways->store, cutoff, PRUNE_LIST_MAX, ids, &c);
                prune_counts_json(o, &c);
                cJSON_AddItemToObject(o, "alert_ids", ids);
        } else {
                r = dawn_retention_prune_now(ways->retention, p->actor, &c);
                prune_counts_json(o, &c);
                cJSON_AddNumberToObject(o, "audit_rows", (double)c.audit_rows);
                log_info("retention: %s asked to prune now: %lld alert(s), %lld deliveries in this step%s", p->actor,
                         (long long)c.alerts, (long long)c.deliveries, c.more ? "; more follow" : "");
        }
        cJSON_AddBoolToObject(o, "more", c.more);
        if (r < 0) {
                cJSON_Delete(o);
                return answer_store_error(ways, r);
        }
        cJSON *ans = answer_ok();
        cJSON_AddItemToObject(ans, "prune", o);
        return ans;
}

/* Active alerts' subscribers who have not acknowledged, with where their
 * escalation stands (README "Escalation"); at most DAWN_UNACKED_MAX rows. */
static cJSON *cmd_unacked(struct dawn_ways *ways, const struct dawn_peer *p, const cJSON *req)
{
        static const char *const args[] = { NULL };
        cJSON *bad = check_args(req, args);
        (void)p;
        if (bad)
                return bad;
        cJSON *rows = cJSON_CreateArray();
        int n = rows ? dawn_store_unacked_json(ways->store, DAWN_UNACKED_MAX + 1, rows) : -ENOMEM;
        if (n < 0) {
                cJSON_Delete(rows);
                return answer_store_error(ways, n);
        }
        if (n > DAWN_UNACKED_MAX)
                cJSON_DeleteItemFromArray(rows, DAWN_UNACKED_MAX);
        cJSON *ans = answer_ok();
        cJSON_AddItemToObject(ans, "unacked", rows);
        cJSON_AddBoolToObject(ans, "truncated", n > DAWN_UNACKED_MAX);
        return ans;
}

/* ---- public text subscriptions (issue 13 part 2) ---- */

/* Counts per area, never numbers; with "remove": a number's subscriptions
 * removed on request (right to erasure), audited as "public-remove". */
static cJSON *cmd_public(struct dawn_ways *ways, const struct dawn_peer *p, const cJSON *req)
{
        static const char *const args[] = { "remove", NULL };
        cJSON *bad = check_args(req, args);
        if (bad)
                return bad;
        const cJSON *rm = cJSON_GetObjectItemCaseSensitive(req, "remove");
        cJSON *ans = answer_ok();
        if (rm) {
                char number[24], masked[64], detail[120];
                if (!cJSON_IsString(rm) || dawn_e164_normalise(rm->valuestring, number) < 0) {
                        cJSON_Delete(ans);
                        return answer_error("remove", false,
                                            "remove: a phone number in international form, e.g. +447700900123");
                }
                dawn_mask_recipient(number, masked, sizeof(masked));
                int n = 0, r = dawn_commit_begin(ways->commit);
                if (r >= 0) {
                        r = n = dawn_store_public_leave(ways->store, number, dawn_now_usec());
                        if (r >= 0)
                                r = dawn_store_erase_public_number(ways->store, number);
                        if (r >= 0) {
                                snprintf(detail, sizeof(detail), "%s removed from public texts (%d area(s))", masked,
                                         n);
                                r = dawn_store_audit(ways->store, p->actor, "public-remove", NULL, detail,
                                                     dawn_now_usec());
                        }
                        r = dawn_commit_end(ways->commit, r < 0 ? r : 0);
                        if (r >= 0)
                                dawn_retention_erased(ways->retention);
                }
                if (r < 0) {
                        cJSON_Delete(ans);
                        return answer_store_error(ways, r);
                }
                log_notice("public texts: %s removed by %s (%d area(s))", masked, p->actor, n);
                cJSON_AddStringToObject(ans, "removed", masked);
                cJSON_AddNumberToObject(ans, "areas_removed", n);
        }
        cJSON *arr = cJSON_CreateArray();
        int r = dawn_store_public_counts_json(ways->store, arr);
        int64_t numbers = r < 0 ? r : dawn_store_public_numbers(ways->store);
        if (r < 0 || numbers < 0) {
                cJSON_Delete(arr);
                cJSON_Delete(ans);
                return answer_store_error(ways, r < 0 ? r : (int)numbers);
        }
        cJSON *o;
        cJSON_ArrayForEach(o, arr) {
                const cJSON *area = cJSON_GetObjectItemCaseSensitive(o, "area");
                char name[128];
                int idx = cJSON_IsString(area) ? dawn_config_area_index(ways->config, area->valuestring) : -1;
                cJSON_AddStringToObject(o, "name", idx >= 0 ? dawn_config_area_name(ways->config, idx, name, sizeof(name))
                                                            : "(not in the config now)");
        }
        cJSON_AddBoolToObject(ans, "enabled", ways->config->public_texts.enabled);
        cJSON_AddNumberToObject(ans, "numbers", (double)numbers);
        cJSON_AddNumberToObject(ans, "max_subscribers", ways->config->public_texts.max_subscribers);
        cJSON_AddItemToObject(ans, "areas", arr);
        return ans;
}

/* The panel's summary of the alerts issued in the last since_seconds
 * (default 7 days). Read only, and bounded (summary.h). */
#define SUMMARY_DEFAULT_SECONDS (7 * 86400)
#define SUMMARY_MAX_SECONDS (100LL * 366 * 86400)
static cJSON *cmd_summary(struct dawn_ways *ways, const struct dawn_peer *p, const cJSON *req)
{
        static const char *const args[] = { "since_seconds", NULL };
        double seconds = SUMMARY_DEFAULT_SECONDS;
        cJSON *bad = check_args(req, args);
        if (!bad)
                bad = want_count(req, "since_seconds", 1, SUMMARY_MAX_SECONDS, &seconds);
        if (bad)
                return bad;
        int64_t until = dawn_now_usec();
        cJSON *summary;
        int r = dawn_summary_json(ways->store, ways->config, until - (int64_t)seconds * 1000000, until, &summary);
        if (r < 0)
                return answer_store_error(ways, r);
        /* the answer says so too; the log is for whoever wonders why a figure looks small */
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(summary, "capped")))
                log_notice("summary for %s: a figure reached its limit of %d rows and counts only those", p->actor,
                           DAWN_SUMMARY_MAX_ROWS);
        cJSON *ans = answer_ok();
        cJSON_AddItemToObject(ans, "summary", summary);
        return ans;
}

/* "dawnctl resume CHANNEL": the operator says the cause of a pause (a
 * refused key, a skewed clock) is fixed; what waited goes out. */
static cJSON *cmd_resume(struct dawn_ways *ways, const struct dawn_peer *p, const cJSON *req)
{
        static const char *const args[] = { "channel", NULL };
        cJSON *bad = check_args(req, args);
        if (bad)
                return bad;
        const char *name = want_str(req, "channel");
        if (!name)
                return answer_error("channel", false, "channel: required: mqtt, sms or email");
        int kind = dawn_channel_from_name(name);
        if (kind < 0)
                return answer_error("channel", false, "channel: '%.20s' is not a channel (mqtt, sms or email)", name);
        int r = dawn_outbox_resume(ways->outbox, (enum dawn_channel_kind)kind, p->actor);
        if (r == -ENOENT)
                return answer_error("channel", false, "channel: %s is not configured in this dawnd", name);
        cJSON *ans = answer_ok();
        cJSON_AddStringToObject(ans, "channel", dawn_channel_name((enum dawn_channel_kind)kind));
        cJSON_AddBoolToObject(ans, "resumed", r > 0);
        if (r > 0)
                log_info("channel %s resumed by %s", name, p->actor);
        return ans;
}

static const struct {
        const char *name;
        command_fn fn;
} commands[] = {
        { "issue", cmd_issue },   { "update", cmd_update },   { "cancel", cmd_cancel },
        { "list", cmd_list },     { "pending", cmd_pending }, { "show", cmd_show },
        { "route", cmd_route },   { "status", cmd_status },   { "reload", cmd_reload },
        { "approve", cmd_approve }, { "reject", cmd_reject }, { "optouts", cmd_optouts },
        { "history", cmd_history }, { "audit", cmd_audit },
        { "prune", cmd_prune },
        { "unacked", cmd_unacked },
        { "public", cmd_public },
        { "summary", cmd_summary },
        { "resume", cmd_resume },
};

static bool is_write(command_fn fn)
{
        return fn == cmd_issue || fn == cmd_update || fn == cmd_cancel || fn == cmd_approve || fn == cmd_reject ||
               fn == cmd_prune || /* a dry run writes nothing: its answer waits for no batch */
               fn == cmd_public;
}

cJSON *dawn_control_handle(struct dawn_ways *ways, const struct dawn_peer *peer, const char *line, size_t len,
                           bool *wrote)
{
        *wrote = false;
        if (len > DAWN_MAX_REQUEST_BYTES)
                return answer_error("request", false, "request of %zu bytes is larger than the limit of %d bytes", len,
                                    DAWN_MAX_REQUEST_BYTES);
        if (!dawn_json_depth_ok(line, len, DAWN_MAX_JSON_DEPTH))
                return answer_error("request", false, "request nests deeper than %d levels", DAWN_MAX_JSON_DEPTH);
        const char *end = NULL;
        cJSON *req = cJSON_ParseWithLengthOpts(line, len, &end, false);
        if (!req) {
                size_t at = end ? (size_t)(end - line) : 0;
                return answer_error("request", false, "malformed JSON near byte %zu", at);
        }
        char nul_at[DAWN_JSON_PATH_MAX];
        if (dawn_json_find_nul(line, (size_t)(end - line), "request", nul_at, sizeof(nul_at))) {
                cJSON_Delete(req);
                return answer_error(nul_at, false, DAWN_JSON_NUL_REFUSAL, nul_at);
        }
        /* one object per line and nothing after it: '{"cmd":"status"} {"cmd":"issue",...}'
         * is not two requests, nor one with an ignored tail */
        size_t at = (size_t)(end - line);
        while (at < len && (line[at] == ' ' || line[at] == '\t' || line[at] == '\r'))
                at++;
        if (at < len) {
                cJSON_Delete(req);
                return answer_error("request", false, "unexpected bytes after the request object at byte %zu; "
                                    "send one JSON object per line", at);
        }
        cJSON *ans = NULL;
        const char *cmd = want_str(req, "cmd");
        if (!cJSON_IsObject(req))
                ans = answer_error("request", false, "the request must be a JSON object");
        else if (!cmd)
                ans = answer_error("cmd", false, "cmd: required, the command name");
        for (size_t i = 0; !ans && i < sizeof(commands) / sizeof(commands[0]); i++) {
                if (strcmp(commands[i].name, cmd) != 0)
                        continue;
                ans = commands[i].fn(ways, peer, req);
                *wrote = is_write(commands[i].fn);
        }
        if (!ans)
                ans = answer_error("cmd", false, "unknown command '%.*s'", dawn_utf8_prefix(cmd, 40), cmd);
        cJSON_Delete(req);
        return ans;
}

/* ---- connections ----
 *
 * A connection's life: requests are read (at most CONTROL_READS_PER_TURN
 * chunks per turn of the loop, so that one fast writer cannot keep the
 * loop to itself) and answered in order. An answer that must wait for the
 * group commit is held, and the connection's ticket brings the commit's
 * outcome. Whatever happens, the connection costs a bounded amount:
 *
 * - hang-up (both directions closed, EPOLLHUP): the connection is freed at
 *   once and its ticket cancelled; what it asked to write still commits.
 * - half-close (EOF on read only): nothing more is read; the answers owed
 *   are still written, then the connection is closed. While it only waits
 *   for a commit, epoll is not asked about it at all (a hung-up socket is
 *   reported for ever, whatever events are asked for).
 * - a client that never reads: past DAWN_CONTROL_MAX_UNREAD_BYTES of answers
 *   not yet read it is dropped.
 * - idle: no byte read or written for DAWN_CONTROL_IDLE_USEC while no commit is
 *   awaited, and it is closed. */

static void conn_free(struct conn *c)
{
        struct dawn_control *ctl = c->ctl;
        if (c->prev)
                c->prev->next = c->next;
        else
                ctl->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        ctl->n_conns--;
        dawn_ticket_cancel(&c->ticket);
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->idle);
        if (c->fd >= 0)
                close(c->fd);
        while (c->held) {
                struct held *h = c->held;
                c->held = h->next;
                free(h->text);
                free(h);
        }
        free(c->in);
        free(c->out);
        free(c);
        /* room again: a listener paused by the cap may take the next one */
        if (ctl->full_since && ctl->n_conns < DAWN_CONTROL_MAX_CONNECTIONS) {
                log_notice("control: below %d connections again (%llu refused meanwhile)", DAWN_CONTROL_MAX_CONNECTIONS,
                           (unsigned long long)ctl->refused_while_full);
                ctl->full_since = 0;
                ctl->refused_while_full = 0;
        }
}

/* Marks the connection for freeing: every entry point (I/O, the idle timer,
 * the ticket's answer) frees it on the way out, so that nothing below it in
 * the call stack touches freed memory. */
static void conn_kill(struct conn *c)
{
        c->dead = true;
        c->io = sd_event_source_disable_unref(c->io);
        c->idle = sd_event_source_disable_unref(c->idle);
}

/* Logs a dropped client at most once per LOG_INTERVAL per reason, with how
 * many went the same way in between: a flood must not flood the journal. */
static void note_drop(struct dawn_control *ctl, enum drop_reason why, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void note_drop(struct dawn_control *ctl, enum drop_reason why, const char *fmt, ...)
{
        static const char *const names[] = { "over_limit", "out_of_fds", "unread_output", "idle",
                                             "refused",    "per_uid",    "line_deadline" };
        dawn_metrics_count(DAWN_M_CONTROL_DROPPED, names[why], NULL);
        uint64_t now = 0;
        sd_event_now(ctl->ways->loop, CLOCK_MONOTONIC, &now);
        if (ctl->logged_at[why] && now - ctl->logged_at[why] < CONTROL_LOG_INTERVAL_USEC) {
                ctl->unlogged[why]++;
                return;
        }
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (ctl->unlogged[why])
                log_warning("control: %s (and %llu more like it in the last %llu s)", msg,
                            (unsigned long long)ctl->unlogged[why],
                            (unsigned long long)((now - ctl->logged_at[why]) / DAWN_USEC_PER_SEC));
        else
                log_warning("control: %s", msg);
        ctl->logged_at[why] = now;
        ctl->unlogged[why] = 0;
}

static void conn_update_events(struct conn *c)
{
        if (c->dead)
                return;
        uint32_t events = (c->read_done || c->closing ? 0 : EPOLLIN) | (c->out_len ? EPOLLOUT : 0);
        if (events == 0) {
                sd_event_source_set_enabled(c->io, SD_EVENT_OFF);
                return;
        }
        sd_event_source_set_io_events(c->io, events);
        sd_event_source_set_enabled(c->io, SD_EVENT_ON);
}

/* A partial request line is waiting for its newline, against the deadline. */
static bool line_pending(const struct conn *c)
{
        return c->in_len && c->line_since && !c->closing && !c->read_done;
}

/* Rearms the timer: DAWN_CONTROL_IDLE_USEC from now, or sooner if a partial
 * line's deadline comes first. A byte read extends the idle time but never
 * the line deadline: a byte every few seconds must not hold a slot for ever. */
static void conn_touch(struct conn *c)
{
        uint64_t now = 0;
        sd_event_now(c->ctl->ways->loop, CLOCK_MONOTONIC, &now);
        uint64_t at = now + DAWN_CONTROL_IDLE_USEC;
        if (line_pending(c) && c->line_since + DAWN_CONTROL_LINE_USEC < at)
                at = c->line_since + DAWN_CONTROL_LINE_USEC;
        sd_event_source_set_time(c->idle, at);
        sd_event_source_set_enabled(c->idle, SD_EVENT_ONESHOT);
}

/* Writes what it can; closes when everything owed is written and the
 * connection is done with. */
static void conn_flush(struct conn *c)
{
        while (c->out_len && !c->dead) {
                ssize_t n = send(c->fd, c->out + c->out_off, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                break;
                        conn_kill(c); /* EPIPE: the reader went away; its answers go with it */
                        return;
                }
                c->out_off += (size_t)n;
                c->out_len -= (size_t)n;
                conn_touch(c);
        }
        if (c->out_len == 0) {
                c->out_off = 0;
                /* a connection that once had a long answer does not keep its buffer */
                if (c->out_cap > 65536) {
                        free(c->out);
                        c->out = NULL;
                        c->out_cap = 0;
                }
        }
        if (c->dead)
                return;
        if ((c->closing || c->read_done) && c->out_len == 0 && !c->held) {
                conn_kill(c);
                return;
        }
        conn_update_events(c);
}

static bool over_cap(struct conn *c, size_t len)
{
        size_t unread = c->out_len + c->held_bytes;
        /* one answer always fits (a long list), however large; more than the cap of them does not */
        if (unread == 0 || unread + len <= DAWN_CONTROL_MAX_UNREAD_BYTES)
                return false;
        note_drop(c->ctl, DROP_UNREAD, "dropped %s: more than %d bytes of answers not read",
                  c->peer.actor[0] ? c->peer.actor : "a client", DAWN_CONTROL_MAX_UNREAD_BYTES);
        conn_kill(c);
        return true;
}

/* Makes room for need bytes, doubling: appending answer after answer must
 * not copy the buffer each time. */
static bool reserve(char **buf, size_t *cap, size_t need)
{
        if (need <= *cap)
                return true;
        size_t n = *cap ? *cap : 4096;
        while (n < need)
                n *= 2;
        char *p = realloc(*buf, n);
        if (!p)
                return false;
        *buf = p;
        *cap = n;
        return true;
}

static void conn_queue_out(struct conn *c, char *text, size_t len)
{
        if (c->out_off && c->out_off + c->out_len + len + 1 > c->out_cap) {
                memmove(c->out, c->out + c->out_off, c->out_len);
                c->out_off = 0;
        }
        if (!reserve(&c->out, &c->out_cap, c->out_off + c->out_len + len + 1)) {
                free(text);
                conn_kill(c);
                return;
        }
        char *end = c->out + c->out_off + c->out_len;
        memcpy(end, text, len);
        end[len] = '\n';
        c->out_len += len + 1;
        free(text);
}

static void after_commit(int r, void *owner)
{
        struct conn *c = owner;
        while (c->held && !c->dead) {
                struct held *h = c->held;
                c->held = h->next;
                c->held_bytes -= h->len + 1;
                if (r < 0 && h->wrote) {
                        /* the commit failed: nothing this request wrote exists, and the submitter must know */
                        cJSON *e = answer_store_error(c->ctl->ways, r);
                        free(h->text);
                        h->text = e ? cJSON_PrintUnformatted(e) : NULL;
                        cJSON_Delete(e);
                        h->len = h->text ? strlen(h->text) : 0;
                }
                if (h->text)
                        conn_queue_out(c, h->text, h->len);
                else
                        conn_kill(c);
                free(h);
        }
        c->held_tail = &c->held;
        conn_flush(c);
        if (c->dead)
                conn_free(c);
}

/* Answers in order: now, or held until the open batch commits (nobody hears
 * "accepted", nor reads what others wrote, before it is durable), and behind
 * any answer already held. Takes ans. */
static void conn_answer(struct conn *c, cJSON *ans, bool wrote)
{
        char *text = ans ? cJSON_PrintUnformatted(ans) : NULL;
        cJSON_Delete(ans);
        if (!text) {
                conn_kill(c);
                return;
        }
        size_t len = strlen(text);
        if (over_cap(c, len + 1)) {
                free(text);
                return;
        }
        struct dawn_commit *commit = c->ctl->ways->commit;
        if (!c->held && !dawn_commit_is_open(commit)) {
                conn_queue_out(c, text, len);
                conn_flush(c);
                return;
        }
        struct held *h = malloc(sizeof(*h));
        if (!h) {
                free(text);
                conn_kill(c);
                return;
        }
        *h = (struct held){ text, len, wrote, NULL };
        *c->held_tail = h;
        c->held_tail = &h->next;
        c->held_bytes += len + 1;
        if (!dawn_ticket_pending(&c->ticket))
                dawn_commit_ticket(commit, &c->ticket, after_commit, c);
}

static void conn_line(struct conn *c, const char *line, size_t len)
{
        bool wrote = false;
        cJSON *ans = dawn_control_handle(c->ctl->ways, &c->peer, line, len, &wrote);
        conn_answer(c, ans, wrote);
}

/* Takes every whole line out of the input. */
static void conn_lines(struct conn *c)
{
        size_t start = 0;
        char *nl;
        while (!c->dead && !c->closing && (nl = memchr(c->in + start, '\n', c->in_len - start))) {
                conn_line(c, c->in + start, (size_t)(nl - (c->in + start)));
                start = (size_t)(nl - c->in) + 1;
                c->line_since = 0; /* what is left began in the chunk just read */
        }
        if (c->dead)
                return;
        memmove(c->in, c->in + start, c->in_len - start);
        c->in_len -= start;
        if (c->in_len > DAWN_MAX_REQUEST_BYTES && !c->closing) {
                /* no newline in sight: answer once, then hang up, since the stream cannot be resynchronised */
                conn_answer(c, answer_error("request", false, "request larger than the limit of %d bytes",
                                            DAWN_MAX_REQUEST_BYTES),
                            false);
                c->closing = true;
                c->in_len = 0;
                c->line_since = 0;
                conn_flush(c);
        }
}

/* The partial line cannot become a request: say so, naming "request", and
 * hang up once the answers owed are written. */
static void conn_refuse_partial(struct conn *c, const char *why)
{
        c->in_len = 0;
        c->line_since = 0;
        conn_answer(c, answer_error("request", false, "%s", why), false);
        c->closing = true;
}

static void conn_read(struct conn *c, bool hangup)
{
        char buf[16384];
        for (int k = 0; k < CONTROL_READS_PER_TURN && !c->dead && !c->closing; k++) {
                ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        break;
                if (n < 0 || (n == 0 && hangup)) {
                        /* gone for good: what it asked to write still commits, its answers are dropped */
                        conn_kill(c);
                        return;
                }
                if (n == 0) {
                        /* half-closed: it still reads what it is owed. A request without
                         * its newline is not run (the framing is one line per request),
                         * but the client hears why rather than nothing. */
                        if (c->in_len)
                                conn_refuse_partial(c, "request not terminated by a newline; nothing was done");
                        c->read_done = true;
                        break;
                }
                if (!reserve(&c->in, &c->in_cap, c->in_len + (size_t)n)) {
                        conn_kill(c);
                        return;
                }
                memcpy(c->in + c->in_len, buf, (size_t)n);
                c->in_len += (size_t)n;
                conn_lines(c);
                if (c->dead)
                        return;
                if (c->in_len && !c->line_since)
                        sd_event_now(c->ctl->ways->loop, CLOCK_MONOTONIC, &c->line_since);
                conn_touch(c);
        }
        conn_flush(c);
}

static int on_conn_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct conn *c = userdata;
        bool hangup = revents & (EPOLLHUP | EPOLLERR);
        if (revents & EPOLLOUT)
                conn_flush(c);
        if (!c->dead && (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !c->read_done && !c->closing)
                conn_read(c, hangup);
        else if (!c->dead && hangup)
                conn_kill(c);
        if (c->dead)
                conn_free(c);
        return 0;
}

static int on_conn_idle(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct conn *c = userdata;
        uint64_t now = 0;
        sd_event_now(c->ctl->ways->loop, CLOCK_MONOTONIC, &now);
        if (line_pending(c) && now >= c->line_since + DAWN_CONTROL_LINE_USEC) {
                note_drop(c->ctl, DROP_LINE, "closed %s's connection: request line not complete within %llu s",
                          c->peer.actor, (unsigned long long)(DAWN_CONTROL_LINE_USEC / DAWN_USEC_PER_SEC));
                char why[80];
                snprintf(why, sizeof(why), "request line not complete within %llu s",
                         (unsigned long long)(DAWN_CONTROL_LINE_USEC / DAWN_USEC_PER_SEC));
                conn_refuse_partial(c, why);
                conn_flush(c);
                /* a client not reading its answer is then closed as idle */
                if (!c->dead)
                        conn_touch(c);
                if (c->dead)
                        conn_free(c);
                return 0;
        }
        if (c->held) {
                /* waiting for the commit is not idling: the commit has a deadline of its own */
                conn_touch(c);
                return 0;
        }
        note_drop(c->ctl, DROP_IDLE, "closed %s's connection: nothing read or written for %llu s",
                  c->peer.actor[0] ? c->peer.actor : "a client",
                  (unsigned long long)(DAWN_CONTROL_IDLE_USEC / DAWN_USEC_PER_SEC));
        conn_free(c);
        return 0;
}

static bool peer_in_group(int fd, uid_t uid, gid_t gid, gid_t group)
{
        if (gid == group)
                return true;
        gid_t groups[256];
        socklen_t len = sizeof(groups);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0) {
                for (size_t i = 0; i < len / sizeof(gid_t); i++)
                        if (groups[i] == group)
                                return true;
        }
        return false;
}

static void identify_peer(struct dawn_control *ctl, struct conn *c)
{
        struct ucred cred;
        socklen_t len = sizeof(cred);
        if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
                snprintf(c->refusal, sizeof(c->refusal), "permission denied: cannot identify the caller");
                return;
        }
        c->peer.uid = cred.uid;
        struct passwd pw, *pwp = NULL;
        char pwbuf[1024];
        const char *name = NULL;
        if (getpwuid_r(cred.uid, &pw, pwbuf, sizeof(pwbuf), &pwp) == 0 && pwp)
                name = pwp->pw_name;
        if (name) {
                snprintf(c->peer.actor, sizeof(c->peer.actor), "uid %u (%.32s)", (unsigned)cred.uid, name);
                snprintf(c->peer.source, sizeof(c->peer.source), "local:%.32s", name);
        } else {
                snprintf(c->peer.actor, sizeof(c->peer.actor), "uid %u", (unsigned)cred.uid);
                snprintf(c->peer.source, sizeof(c->peer.source), "local:uid%u", (unsigned)cred.uid);
        }
        const struct dawn_config *cfg = ctl->ways->config;
        c->allowed = cred.uid == 0 || cred.uid == geteuid() ||
                     (cfg->has_control_gid && peer_in_group(c->fd, cred.uid, cred.gid, cfg->control_gid));
        if (!c->allowed)
                snprintf(c->refusal, sizeof(c->refusal),
                         "permission denied: uid %u is not root and not in group '%.40s'; nothing was done",
                         (unsigned)cred.uid, cfg->control_group);
}

/* Tells a client it cannot be served now, in the protocol's words, and
 * hangs up. What it sent is read first: closing a Unix socket with unread
 * data would make its reads fail with ECONNRESET before it sees why. */
static void refuse_connection(int fd, bool temporary, const char *why)
{
        char buf[4096];
        for (int k = 0; k < 16 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0; k++)
                ;
        cJSON *e = answer_error(NULL, temporary, "%s", why);
        char *text = e ? cJSON_PrintUnformatted(e) : NULL;
        cJSON_Delete(e);
        if (text) {
                size_t len = strlen(text);
                text[len] = '\n'; /* replaces the terminator: sent by length */
                (void)!send(fd, text, len + 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        free(text);
        close(fd);
}

static int on_accept_resume(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct dawn_control *ctl = userdata;
        if (ctl->listen_io)
                sd_event_source_set_enabled(ctl->listen_io, SD_EVENT_ON);
        return 0;
}

/* accept() failed for want of file descriptors. Retrying at once would spin
 * (the connection stays in the backlog, so the socket stays readable): tell
 * the waiting clients why, with the descriptor kept in reserve for this, and
 * stop listening for DAWN_CONTROL_ACCEPT_PAUSE_USEC. */
static void out_of_fds(struct dawn_control *ctl, int err)
{
        note_drop(ctl, DROP_FDS, "cannot accept connections: %s; pausing the control socket for %llu ms",
                  strerror(err), (unsigned long long)(DAWN_CONTROL_ACCEPT_PAUSE_USEC / 1000));
        for (int k = 0; k < 16 && ctl->reserve_fd >= 0; k++) {
                close(ctl->reserve_fd);
                int cfd = accept4(ctl->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd >= 0)
                        refuse_connection(cfd, true, "dawnd has run out of file descriptors; try again shortly");
                ctl->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (cfd < 0)
                        break;
        }
        uint64_t now = 0;
        sd_event_now(ctl->ways->loop, CLOCK_MONOTONIC, &now);
        sd_event_source_set_enabled(ctl->listen_io, SD_EVENT_OFF);
        sd_event_source_set_time(ctl->resume, now + DAWN_CONTROL_ACCEPT_PAUSE_USEC);
        sd_event_source_set_enabled(ctl->resume, SD_EVENT_ONESHOT);
}

static unsigned conns_of_uid(const struct dawn_control *ctl, uid_t uid)
{
        unsigned n = 0;
        for (const struct conn *c = ctl->conns; c; c = c->next)
                n += c->peer.uid == uid;
        return n;
}

/* Serves c (identified, allowed, under the caps) or frees it. */
static void new_conn(struct dawn_control *ctl, struct conn *c)
{
        int cfd = c->fd;
        uint64_t now = 0;
        sd_event_now(ctl->ways->loop, CLOCK_MONOTONIC, &now);
        if (sd_event_add_io(ctl->ways->loop, &c->io, cfd, EPOLLIN, on_conn_io, c) < 0 ||
            sd_event_add_time(ctl->ways->loop, &c->idle, CLOCK_MONOTONIC, now + DAWN_CONTROL_IDLE_USEC,
                              DAWN_USEC_PER_SEC / 10, on_conn_idle, c) < 0) {
                sd_event_source_disable_unref(c->io);
                close(cfd);
                free(c);
                return;
        }
        c->next = ctl->conns;
        if (c->next)
                c->next->prev = c;
        ctl->conns = c;
        ctl->n_conns++;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct dawn_control *ctl = userdata;
        /* a few per turn: a flood of connections must not keep the loop to itself */
        for (int k = 0; k < 16; k++) {
                int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd < 0) {
                        if (errno == EMFILE || errno == ENFILE)
                                out_of_fds(ctl, errno);
                        return 0; /* EAGAIN, or the peer gave up already */
                }
                struct conn *c = calloc(1, sizeof(*c));
                if (!c) {
                        close(cfd);
                        continue;
                }
                c->ctl = ctl;
                c->fd = cfd;
                c->held_tail = &c->held;
                identify_peer(ctl, c);
                /* someone who may not use the socket is told so now, not after a
                 * request line: it must not hold one of the connections meanwhile */
                if (!c->allowed) {
                        note_drop(ctl, DROP_REFUSED, "refused %s: not root and not in group %s",
                                  c->peer.actor[0] ? c->peer.actor : "a client", ctl->ways->config->control_group);
                        refuse_connection(cfd, false, c->refusal);
                        free(c);
                        continue;
                }
                uid_t uid = c->peer.uid;
                if (uid != 0 && uid != geteuid() && ctl->n_conns < DAWN_CONTROL_MAX_CONNECTIONS &&
                    conns_of_uid(ctl, uid) >= DAWN_CONTROL_MAX_PER_UID) {
                        note_drop(ctl, DROP_PER_UID, "%s has %d connections open, the limit per user: refusing more",
                                  c->peer.actor, DAWN_CONTROL_MAX_PER_UID);
                        char why[160];
                        snprintf(why, sizeof(why),
                                 "dawnd is busy: uid %u has %d control connections open, the limit per user; "
                                 "try again shortly",
                                 (unsigned)uid, DAWN_CONTROL_MAX_PER_UID);
                        refuse_connection(cfd, true, why);
                        free(c);
                        continue;
                }
                if (ctl->n_conns < DAWN_CONTROL_MAX_CONNECTIONS) {
                        new_conn(ctl, c);
                        continue;
                }
                free(c);
                if (!ctl->full_since)
                        sd_event_now(ctl->ways->loop, CLOCK_MONOTONIC, &ctl->full_since);
                ctl->refused_while_full++;
                note_drop(ctl, DROP_CONNECTIONS, "%d connections open, the limit: refusing new ones",
                          DAWN_CONTROL_MAX_CONNECTIONS);
                refuse_connection(cfd, true, "dawnd is busy: too many control connections are open; try again shortly");
        }
        return 0;
}

static int listen_on_path(struct dawn_control *ctl)
{
        const struct dawn_config *cfg = ctl->ways->config;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(cfg->control_socket) >= sizeof(sa.sun_path))
                return log_error_errno(-ENAMETOOLONG, "control socket path too long: %s", cfg->control_socket);
        strcpy(sa.sun_path, cfg->control_socket);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return log_error_errno(-errno, "control socket: %m");
        /* a socket file left by a crash would make bind fail; nobody can be listening on it
         * if connecting fails */
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
                close(fd);
                return log_error_errno(-EADDRINUSE, "control socket %s: another dawnd is listening there",
                                       cfg->control_socket);
        }
        unlink(cfg->control_socket);
        mode_t old = umask(0777 & ~(mode_t)cfg->control_socket_mode);
        int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
        umask(old);
        if (r < 0 || listen(fd, 128) < 0) {
                r = -errno;
                close(fd);
                return log_error_errno(r, "control socket %s: %m", cfg->control_socket);
        }
        if (cfg->has_control_gid && chown(cfg->control_socket, (uid_t)-1, cfg->control_gid) < 0)
                log_warning_errno(-errno, "control socket: cannot give it to group %s: %m, ignoring",
                                  cfg->control_group);
        chmod(cfg->control_socket, (mode_t)cfg->control_socket_mode);
        ctl->created_path = true;
        return fd;
}

int dawn_control_new(struct dawn_ways *ways, int fd, struct dawn_control **out)
{
        struct dawn_control *ctl = calloc(1, sizeof(*ctl));
        if (!ctl)
                return -ENOMEM;
        ctl->ways = ways;
        ctl->reserve_fd = -1;
        ctl->listen_fd = fd >= 0 ? fd : listen_on_path(ctl);
        if (ctl->listen_fd < 0) {
                int r = ctl->listen_fd;
                free(ctl);
                return r;
        }
        /* a socket passed by systemd may be blocking; accept() is called until EAGAIN */
        int flags = fcntl(ctl->listen_fd, F_GETFL);
        if (flags >= 0 && !(flags & O_NONBLOCK))
                (void)fcntl(ctl->listen_fd, F_SETFL, flags | O_NONBLOCK);
        ctl->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        int r = sd_event_add_io(ways->loop, &ctl->listen_io, ctl->listen_fd, EPOLLIN, on_accept, ctl);
        if (r >= 0)
                r = sd_event_add_time(ways->loop, &ctl->resume, CLOCK_MONOTONIC, UINT64_MAX, DAWN_USEC_PER_SEC / 100,
                                      on_accept_resume, ctl);
        if (r >= 0)
                r = sd_event_source_set_enabled(ctl->resume, SD_EVENT_OFF);
        if (r < 0) {
                dawn_control_free(ctl);
                return r;
        }
        *out = ctl;
        return 0;
}

void dawn_control_stop_listening(struct dawn_control *ctl)
{
        if (!ctl || ctl->listen_fd < 0)
                return;
        ctl->listen_io = sd_event_source_disable_unref(ctl->listen_io);
        ctl->resume = sd_event_source_disable_unref(ctl->resume);
        close(ctl->listen_fd);
        ctl->listen_fd = -1;
        if (ctl->created_path)
                unlink(ctl->ways->config->control_socket);
}

struct dawn_control *dawn_control_free(struct dawn_control *ctl)
{
        if (!ctl)
                return NULL;
        dawn_control_stop_listening(ctl);
        while (ctl->conns)
                conn_free(ctl->conns);
        if (ctl->reserve_fd >= 0)
                close(ctl->reserve_fd);
        free(ctl);
        return NULL;
}
