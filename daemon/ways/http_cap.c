/* GET /v1/cap/alerts/<id>[/<revision>] (a revision as CAP 1.2) and GET
 * /v1/cap/feed.atom (the active alerts as Atom entries linking theirs).
 *
 * Who sees what: an alert whose scope is public (now, and at the revision
 * asked for) is anyone's, as it is in the public texts; any other needs a
 * source's bearer token, and then the rules of GET /v1/alerts/<id> apply (a
 * source sees every active alert and its own). Without a token, an alert
 * that is not public and one that does not exist get the same 401, so ids
 * tell nothing. A token given is checked from the headers (the routes'
 * HTTP_AUTH_SOURCE_IF_GIVEN): a wrong one is 401 and a source over its rate
 * 429, as on GET /v1/alerts; rq->source is then the source, else NULL.
 * A revision recipients never saw (a reporter's report waiting for review,
 * a review notice) is never a CAP document: 404. */
#include "http_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "cap.h"
#include "config.h"
#include "log.h"
#include "submit.h"

/* The feed lists at most this many alerts, the newest first: a bounded
 * answer, and far more than are ever active at once. */
#define CAP_FEED_MAX_ENTRIES 500

static void refuse_anonymous(struct request *rq, const char *id)
{
        /* one answer for "not public" and "no such alert": no hint which */
        rq->json = dawn_error_json("Authorization", false,
                                   "no public alert with id '%.*s': other alerts need a source's bearer token",
                                   dawn_utf8_prefix(id, DAWN_MAX_ID_CHARS), id);
        rq->json_status = MHD_HTTP_UNAUTHORIZED;
}

static void not_found(struct request *rq, const char *id, const char *what)
{
        rq->json = dawn_error_json("id", false, "no %s of alert '%.*s'", what,
                                   dawn_utf8_prefix(id, DAWN_MAX_ID_CHARS), id);
        rq->json_status = MHD_HTTP_NOT_FOUND;
}

/* "17" -> 17; -1 for anything but 1-9 digits. */
static int parse_revision(const char *s)
{
        size_t n = strspn(s, "0123456789");
        if (n == 0 || n > 9 || s[n] || s[0] == '0')
                return -1;
        return atoi(s);
}

static bool may_see(const struct request *rq, const struct dawn_alert *now, const struct dawn_alert *rev)
{
        if (now->scope == DAWN_SCOPE_PUBLIC && rev->scope == DAWN_SCOPE_PUBLIC)
                return true;
        if (!rq->source)
                return false;
        return now->status == DAWN_STATUS_ACTIVE || dawn_strv_contains(&now->sources, rq->source);
}

static int alert_of(const char *json, struct dawn_alert *a)
{
        cJSON *o = json ? cJSON_Parse(json) : NULL;
        int r = o ? dawn_alert_from_json(o, a) : -EIO;
        cJSON_Delete(o);
        return r;
}

/* The CAP document of rev (prev before it, or NULL) into rq->text. */
static void answer_cap(struct request *rq, const struct dawn_alert *rev, const struct dawn_alert *prev)
{
        const struct dawn_config *c = rq->h->ways->config;
        char name[128];
        int idx = rev->area ? dawn_config_area_index(c, rev->area) : -1;
        struct dawn_cap_doc d = {
                .sender = c->cap_sender,
                .alert = rev,
                .prev = prev,
                .area_name = idx >= 0 ? dawn_config_area_name(c, idx, name, sizeof(name)) : rev->area,
                .gss = idx >= 0 ? c->areas[idx].gss : NULL,
        };
        int r = dawn_cap_write(&d, &rq->text, &rq->text_len);
        if (r < 0) {
                log_error("http: the CAP document of %s revision %d could not be written: %s", rev->id, rev->revision,
                          strerror(-r));
                rq->json = dawn_error_json(NULL, true, "the CAP document could not be written; try again");
                rq->json_status = MHD_HTTP_SERVICE_UNAVAILABLE;
                return;
        }
        rq->text_type = DAWN_CAP_CONTENT_TYPE "; charset=utf-8";
        rq->json_status = MHD_HTTP_OK;
}

void http_cap_alert(struct request *rq)
{
        struct dawn_ways *ways = rq->h->ways;
        char id[DAWN_MAX_ID_CHARS + 1];
        int at_most = DAWN_PROPOSAL_REVISION_BASE - 1;
        const char *slash = strchr(rq->alert_id, '/');
        size_t idlen = slash ? (size_t)(slash - rq->alert_id) : strlen(rq->alert_id);
        if (idlen > DAWN_MAX_ID_CHARS) {
                http_refuse(rq, rq->source ? MHD_HTTP_NOT_FOUND : MHD_HTTP_UNAUTHORIZED, "id", "no such alert");
                return;
        }
        memcpy(id, rq->alert_id, idlen);
        id[idlen] = '\0';
        if (slash && (at_most = parse_revision(slash + 1)) < 0) {
                http_refuse(rq, MHD_HTTP_NOT_FOUND, "revision", "a revision is a number: /v1/cap/alerts/%s/2", id);
                return;
        }

        struct dawn_alert now, rev, prev;
        dawn_alert_init(&now);
        dawn_alert_init(&rev);
        dawn_alert_init(&prev);
        char *json[2] = { NULL, NULL };
        size_t epoch = http_op_begin(rq);
        int r = dawn_store_load_alert(ways->store, id, &now);
        int n = r > 0 ? dawn_store_cap_revisions(ways->store, id, at_most, json) : 0;
        http_op_end(rq, 0, true, epoch);
        if (r >= 0 && n < 0)
                r = n;
        if (r > 0 && n > 0 && (alert_of(json[0], &rev) < 0 || (n > 1 && alert_of(json[1], &prev) < 0)))
                r = -EIO;
        if (r < 0) {
                rq->json = dawn_store_error_json(ways, r, false);
                rq->json_status = MHD_HTTP_SERVICE_UNAVAILABLE;
        } else if (r == 0 || n == 0 || !may_see(rq, &now, n ? &rev : &now)) {
                /* nothing recipients saw (only a pending report), or not this requester's */
                if (rq->source)
                        not_found(rq, id, slash ? "such revision" : "published revision");
                else
                        refuse_anonymous(rq, id);
        } else if (slash && rev.revision != at_most) {
                not_found(rq, id, "published revision with this number");
        } else if (n == 1 && rev.status != DAWN_STATUS_ACTIVE) {
                /* ended before anyone saw it (a report rejected in review, or expired waiting) */
                not_found(rq, id, "published revision");
        } else {
                answer_cap(rq, &rev, n > 1 ? &prev : NULL);
        }
        free(json[0]);
        free(json[1]);
        dawn_alert_clear(&now);
        dawn_alert_clear(&rev);
        dawn_alert_clear(&prev);
}

/* The feed's limit was hit: a line at most once an hour, not once a request. */
static void feed_truncated(void)
{
        static int64_t logged_at;
        int64_t now = dawn_monotonic_usec();
        if (logged_at && now - logged_at < (int64_t)(3600 * DAWN_USEC_PER_SEC))
                return;
        logged_at = now;
        log_warning("http: /v1/cap/feed.atom lists only the newest %d alerts: more are active", CAP_FEED_MAX_ENTRIES);
}

void http_cap_feed(struct request *rq)
{
        struct dawn_ways *ways = rq->h->ways;
        cJSON *list = cJSON_CreateArray();
        size_t epoch = http_op_begin(rq);
        int r = list ? dawn_store_list_alerts(ways->store, false, list) : -ENOMEM;
        http_op_end(rq, 0, true, epoch);
        struct dawn_alert *alerts = calloc(CAP_FEED_MAX_ENTRIES, sizeof(*alerts));
        struct dawn_cap_entry *entries = calloc(CAP_FEED_MAX_ENTRIES, sizeof(*entries));
        char (*hrefs)[64] = calloc(CAP_FEED_MAX_ENTRIES, sizeof(*hrefs));
        size_t n = 0;
        if (r == 0 && (!alerts || !entries || !hrefs))
                r = -ENOMEM;
        const cJSON *o;
        const cJSON *listed = r == 0 ? list : NULL;
        cJSON_ArrayForEach(o, listed) {
                if (n == CAP_FEED_MAX_ENTRIES) {
                        feed_truncated();
                        break;
                }
                struct dawn_alert *a = &alerts[n];
                dawn_alert_init(a);
                if (dawn_alert_from_json(o, a) < 0 || a->status != DAWN_STATUS_ACTIVE ||
                    (a->scope != DAWN_SCOPE_PUBLIC && !rq->source)) {
                        dawn_alert_clear(a);
                        continue;
                }
                snprintf(hrefs[n], sizeof(hrefs[n]), "/v1/cap/alerts/%s/%d", a->id, a->revision);
                entries[n] = (struct dawn_cap_entry){ .alert = a, .href = hrefs[n] };
                n++;
        }
        if (r == 0)
                r = dawn_cap_feed(ways->config->cap_sender, "/v1/cap/feed.atom", entries, n, dawn_now_usec(),
                                  &rq->text, &rq->text_len);
        if (r == 0) {
                rq->text_type = DAWN_CAP_ATOM_CONTENT_TYPE "; charset=utf-8";
                rq->json_status = MHD_HTTP_OK;
        } else {
                rq->json = dawn_store_error_json(ways, r, false);
                rq->json_status = MHD_HTTP_SERVICE_UNAVAILABLE;
        }
        for (size_t i = 0; i < n; i++)
                dawn_alert_clear(&alerts[i]);
        free(alerts);
        free(entries);
        free(hrefs);
        cJSON_Delete(list);
}
