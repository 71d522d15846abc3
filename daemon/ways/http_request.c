/* A request and its answer: building answers and refusals, waiting for the
 * group commit before answering a write, and taking in the body. */
#include "http_int.h"

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"
#include "submit.h"

static bool is_space(char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

size_t http_skip_space(const char *s, size_t i, size_t len)
{
        while (i < len && is_space(s[i]))
                i++;
        return i;
}

/* ---- answers ---- */

struct MHD_Response *http_text_response(char *text, size_t len, const char *content_type)
{
        struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
        if (!resp) {
                free(text);
                return NULL;
        }
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
        return resp;
}

/* Makes the answer ready to go; takes body. */
void http_respond_json(struct request *rq, unsigned status, cJSON *body)
{
        char *text = body ? cJSON_PrintUnformatted(body) : NULL;
        cJSON_Delete(body);
        if (rq->response)
                MHD_destroy_response(rq->response);
        rq->response = text ? http_text_response(text, strlen(text), "application/json; charset=utf-8") : NULL;
        rq->status = status;
}

void http_respond_header(struct request *rq, const char *name, const char *value)
{
        if (rq->response)
                MHD_add_response_header(rq->response, name, value);
}

/* The client's address for logs. From a proxy in daemon.trusted_proxies,
 * the last address of its X-Forwarded-For (the one it appended: earlier ones
 * are whatever the client claimed), shown with the proxy's. */
const char *http_remote_of(struct request *rq)
{
        if (rq->remote[0])
                return rq->remote;
        const struct dawn_config *c = rq->h->ways->config;
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const struct sockaddr *sa = ci ? ci->client_addr : NULL;
        socklen_t len = !sa ? 0 : sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
        char peer[INET6_ADDRSTRLEN + 1], client[INET6_ADDRSTRLEN + 1];
        if (!sa || getnameinfo(sa, len, peer, sizeof(peer), NULL, 0, NI_NUMERICHOST) != 0)
                snprintf(peer, sizeof(peer), "an unknown address");
        else if (c->n_trusted_proxies && dawn_cidr_contains(c->trusted_proxies, c->n_trusted_proxies, sa) &&
                 dawn_forwarded_for_last(http_header(rq, "X-Forwarded-For"), client, sizeof(client))) {
                snprintf(rq->remote, sizeof(rq->remote), "%s via %s", client, peer);
                return rq->remote;
        }
        snprintf(rq->remote, sizeof(rq->remote), "%s", peer);
        return rq->remote;
}

void http_refuse(struct request *rq, unsigned status, const char *field, const char *fmt, ...)
{
        char msg[400];
        va_list ap;
        va_start(ap, fmt);
        int len = vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (len >= (int)sizeof(msg))
                msg[dawn_utf8_prefix(msg, sizeof(msg) - 1)] = '\0';
        /* unknown paths and methods are what scanners send: not worth an operator's attention */
        int prio = status == MHD_HTTP_NOT_FOUND || status == MHD_HTTP_METHOD_NOT_ALLOWED ? LOG_DEBUG : LOG_INFO;
        log_internal(prio, 0, NULL, "http: %s %s from %s refused (%u): %s", rq->method, rq->path, http_remote_of(rq),
                     status, msg);
        http_respond_json(rq, status, dawn_error_json(field, status == MHD_HTTP_SERVICE_UNAVAILABLE, "%s", msg));
}

/* ---- waiting for the group commit ----
 *
 * Whatever a request wrote, or read while a transaction was open, is
 * answered only after that transaction has committed. The group commit
 * never commits inside a write, so one request's reports normally share one
 * batch; still each report remembers which of this request's commits
 * ("epochs") it belongs to, and only the reports in a commit that failed are
 * answered "not stored". */

static void record_epoch(struct request *rq, int r)
{
        int *v = realloc(rq->epoch_result, (rq->n_epochs + 1) * sizeof(*v));
        if (!v) {
                rq->epochs_lost = true;
                rq->n_epochs++;
                return;
        }
        rq->epoch_result = v;
        v[rq->n_epochs++] = r;
}

static void on_commit(int r, void *userdata)
{
        struct request *rq = userdata;
        rq->watching = false;
        rq->waiting--;
        record_epoch(rq, r);
        if (rq->completed) {
                /* the client went away and MHD is done with it: nobody to answer */
                if (!rq->waiting)
                        http_request_free(rq);
                return;
        }
        if (rq->waiting || !rq->processed || rq->alerts)
                return; /* more to wait for, or a batch still being taken: answered when it ends */
        http_finish(rq);
        if (rq->suspended) {
                rq->suspended = false;
                MHD_resume_connection(rq->conn);
                /* MHD picks a resumed connection up only when it runs next */
                sd_event_source_set_enabled(rq->h->kick, SD_EVENT_ONESHOT);
        }
}

/* Makes sure this request hears how the transaction open now ends. */
static void watch_commit(struct request *rq)
{
        struct dawn_commit *c = rq->h->ways->commit;
        if (rq->watching || !dawn_commit_is_open(c))
                return;
        dawn_commit_ticket(c, &rq->ticket, on_commit, rq);
        rq->watching = true;
        rq->waiting++;
}

/* Around every store operation: the operation belongs to the commit that
 * is this request's next epoch, whether the transaction was open before,
 * opened by it, or committed inside it. */
size_t http_op_begin(struct request *rq)
{
        watch_commit(rq);
        return rq->n_epochs;
}

void http_op_end(struct request *rq, int slot, bool touched, size_t epoch)
{
        watch_commit(rq);
        if ((size_t)slot >= rq->n_touched) {
                size_t n = rq->n_touched ? rq->n_touched : 1;
                while (n <= (size_t)slot)
                        n *= 2;
                int *v = realloc(rq->touched, n * sizeof(*v));
                if (!v) {
                        rq->epochs_lost |= touched;
                        return;
                }
                for (size_t i = rq->n_touched; i < n; i++)
                        v[i] = -1;
                rq->touched = v;
                rq->n_touched = n;
        }
        rq->touched[slot] = touched ? (int)epoch : -1;
}

/* 0 if the work in slot is durable (or there was none), else the error. */
static int slot_result(const struct request *rq, int slot)
{
        if ((size_t)slot >= rq->n_touched || rq->touched[slot] < 0)
                return 0;
        if (rq->epochs_lost)
                return -ENOMEM;
        size_t e = (size_t)rq->touched[slot];
        /* an epoch that never saw a commit had no transaction: its reads were of committed data */
        return e < rq->n_epochs ? rq->epoch_result[e] : 0;
}

static void finish_batch(struct request *rq)
{
        cJSON *item;
        int i = 0;
        cJSON_ArrayForEach(item, rq->json) {
                int r = slot_result(rq, i);
                if (r < 0) {
                        cJSON *e = dawn_store_error_json(rq->h->ways, r, true);
                        if (e) {
                                cJSON_AddNumberToObject(e, "index", i);
                                cJSON_AddNumberToObject(e, "http_status", 503);
                                cJSON_ReplaceItemViaPointer(rq->json, item, e);
                                item = e;
                        }
                }
                i++;
        }
}

/* The decided answer becomes the response, now that the commits it waited for have ended. */
void http_finish(struct request *rq)
{
        if (rq->response)
                return;
        if (rq->batch) {
                finish_batch(rq);
        } else {
                int r = slot_result(rq, 0);
                if (r < 0) {
                        cJSON_Delete(rq->json);
                        rq->json = dawn_store_error_json(rq->h->ways, r, strcmp(rq->method, "POST") == 0);
                        rq->json_status = MHD_HTTP_SERVICE_UNAVAILABLE;
                        rq->twiml = false;
                }
        }
        if (rq->text && !rq->json) {
                rq->response = http_text_response(rq->text, rq->text_len, rq->text_type);
                rq->status = rq->json_status;
                rq->text = NULL;
                return;
        }
        if (rq->twiml)
                http_respond_twiml(rq, rq->twiml_reply);
        else
                http_respond_json(rq, rq->json_status, rq->json);
        rq->json = NULL;
        /* a 401 decided after a store read (CAP: not a public alert) challenges as one from the headers does */
        if (rq->status == MHD_HTTP_UNAUTHORIZED)
                http_respond_header(rq, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"dawn\"");
}

/* ---- a request's life ---- */

void http_request_unlink(struct request *rq)
{
        if (!rq->linked)
                return;
        if (rq->prev)
                rq->prev->next = rq->next;
        else
                rq->h->requests = rq->next;
        if (rq->next)
                rq->next->prev = rq->prev;
        rq->linked = false;
}

static void slicing_unlink(struct request *rq)
{
        struct dawn_http *h = rq->h;
        struct request *prev = NULL;
        for (struct request *q = h->slicing; q; prev = q, q = q->slice_next)
                if (q == rq) {
                        if (prev)
                                prev->slice_next = rq->slice_next;
                        else
                                h->slicing = rq->slice_next;
                        if (h->slicing_tail == rq)
                                h->slicing_tail = prev;
                        rq->slice_next = NULL;
                        return;
                }
}

void http_request_free(struct request *rq)
{
        dawn_ticket_cancel(&rq->ticket); /* freed while waiting (shutdown): the commit must not call it */
        http_request_unlink(rq);
        if (rq->alerts) {
                slicing_unlink(rq);
                dawn_http_batch_free(rq->alerts);
        }
        if (rq->response)
                MHD_destroy_response(rq->response);
        cJSON_Delete(rq->json);
        free(rq->uri);
        free(rq->path);
        free(rq->alert_id);
        free(rq->source);
        free(rq->body);
        free(rq->twiml_reply);
        free(rq->text);
        free(rq->epoch_result);
        free(rq->touched);
        free(rq);
}

const char *http_header(struct request *rq, const char *name)
{
        return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

/* Copies a piece of the body, never more than the limit; false when the
 * client should be cut off (it keeps sending after its body was too large). */
bool http_take_body(struct request *rq, const char *data, size_t size)
{
        if (!rq->too_large && !rq->limit_known) {
                size_t i = http_skip_space(data, 0, size);
                if (i < size) {
                        rq->limit = dawn_http_body_limit(data[i]);
                        rq->limit_known = true;
                }
        }
        size_t limit = rq->limit_known ? rq->limit : DAWN_MAX_REQUEST_BYTES;
        if (!rq->too_large && size > limit - rq->len) {
                rq->too_large = true;
                rq->discarded = rq->len;
                free(rq->body);
                rq->body = NULL;
                rq->len = rq->cap = 0;
        }
        if (rq->too_large) {
                rq->discarded += size;
                return rq->discarded <= HTTP_MAX_DISCARD;
        }
        if (rq->len + size + 1 > rq->cap) {
                size_t cap = rq->cap ? rq->cap * 2 : 4096;
                if (rq->content_length <= limit && cap < rq->content_length + 1)
                        cap = (size_t)rq->content_length + 1;
                while (cap < rq->len + size + 1)
                        cap *= 2;
                if (cap > limit + 1)
                        cap = limit + 1;
                char *b = realloc(rq->body, cap);
                if (!b)
                        return false;
                rq->body = b;
                rq->cap = cap;
        }
        memcpy(rq->body + rq->len, data, size);
        rq->len += size;
        rq->body[rq->len] = '\0';
        return true;
}
