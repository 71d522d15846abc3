/* The email channel: one SMTP transaction per delivery, libcurl on the
 * curl loop (so many run at once, none blocks).
 *
 * A delivery is MAIL FROM, one RCPT TO (its recipient) and DATA with the
 * message email_text.c builds; libcurl dot-stuffs it and ends it with
 * CRLF.CRLF. The Message-ID is made from the delivery's reference, the same
 * on every attempt, so a copy sent twice (a crash after the server's 250
 * and before our commit) is recognisable.
 *
 * TLS. smtps:// is TLS from the first byte. smtp:// with tls = "required"
 * (the default) uses STARTTLS with CURLUSESSL_ALL: the transaction fails if
 * the server does not offer it, instead of falling back to plaintext as
 * CURLUSESSL_TRY would (an attacker on the path just deletes the offer).
 * tls = "none" is plaintext, which config.c allows only to a loopback
 * address or with an explicit override. Certificates are always verified.
 *
 * Outcome (CURLINFO_RESPONSE_CODE is the last SMTP reply):
 *   CURLE_OK                                          DELIVERED
 *   a 5xx reply to MAIL, RCPT, DATA or the message    PERMANENT (the server
 *                                                     refuses this message)
 *   a 4xx reply, connection failures, timeouts        TRANSIENT
 *   authentication refused or required (530, 534, 535, 538), STARTTLS
 *   refused, TLS verification failed, a 5xx greeting or HELO:
 *   the server refuses us, not the message; it hits every delivery until
 *   the configuration is fixed, and failing them all for good would lose
 *   them. TRANSIENT, logged once at error level (until a delivery succeeds).
 *   Authentication refused (CURLE_LOGIN_DENIED, 535) is PAUSE_CREDENTIALS:
 *   the outbox pauses the channel until a reload or `dawnctl resume email`.
 */
#include "channel.h"
#include "curl_loop.h"
#include "email_text.h"
#include "log.h"
#include "str.h"
#include "text_cache.h"

#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dawn/protocol.h"

#define DEFAULT_TIMEOUT_USEC (60 * DAWN_USEC_PER_SEC)

struct email_state {
        struct dawn_channel *ch;
        struct dawn_curl *curl;
        char *url;
        char *display;            /* scheme://host:port, no credentials */
        char *from;               /* the From: header as configured */
        char *mail_from;          /* "<address>" for MAIL FROM */
        char *username, *password;
        bool starttls;            /* smtp:// with tls required */
        uint64_t timeout_usec;
        /* an alert's subject and body, rendered once per (revision, action): every recipient of a
         * revision gets the same, around its own Date, To and Message-ID (text_cache.h) */
        struct dawn_text_cache texts;
        bool server_refusing;     /* a refusal of us (not a message) was logged at error level */
        char last_error[160];
        char describe_buf[512];
};

struct email_request {
        struct email_state *st;   /* only valid until dawn_channel_complete() */
        int64_t id;
        char alert_id[DAWN_MAX_ID_CHARS + 1];
        char masked[96];
        char *msg;
        size_t len, off;
        bool upload_started;      /* the server said 354: we are past MAIL and RCPT */
        char errbuf[CURL_ERROR_SIZE];
};

/* ---- the transaction ---- */

static size_t read_message(char *buf, size_t size, size_t nitems, void *userdata)
{
        struct email_request *rq = userdata;
        size_t room = size * nitems, left = rq->len - rq->off;
        size_t n = left < room ? left : room;
        rq->upload_started = true;
        memcpy(buf, rq->msg + rq->off, n);
        rq->off += n;
        return n;
}

/* The server refuses us rather than this message (see the top). */
static bool refuses_us(const struct email_request *rq, CURLcode rc, long code)
{
        if (rc == CURLE_LOGIN_DENIED || rc == CURLE_USE_SSL_FAILED || rc == CURLE_REMOTE_ACCESS_DENIED ||
            rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CONNECT_ERROR ||
            rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT)
                return true;
        /* RFC 4954's authentication required, mechanism too weak, credentials
         * invalid, encryption required: whatever command they answer */
        if (code == 530 || code == 534 || code == 535 || code == 538)
                return true;
        /* a 5xx before the message went: the greeting (curl says the same for
         * a 5xx after the message, so upload_started tells them apart) */
        return rc == CURLE_WEIRD_SERVER_REPLY && code >= 500 && !rq->upload_started;
}

static void on_done(CURL *easy, CURLcode rc, long code, void *userdata)
{
        struct email_request *rq = userdata;
        struct email_state *st = rq->st;
        enum dawn_send_result result = DAWN_SEND_TRANSIENT;
        char error[320] = "";
        bool us = false;
        (void)easy;

        if (rc == CURLE_OK) {
                result = DAWN_SEND_DELIVERED;
        } else {
                const char *what = rq->errbuf[0] ? rq->errbuf : curl_easy_strerror(rc);
                if (code >= 400)
                        snprintf(error, sizeof(error), "SMTP %ld: %s", code, what);
                else
                        snprintf(error, sizeof(error), "%s", what);
                us = refuses_us(rq, rc, code);
                if (rc == CURLE_LOGIN_DENIED || code == 535)
                        result = DAWN_SEND_PAUSE_CREDENTIALS; /* the outbox pauses the channel, and logs it */
                else if (!us && code >= 500 && code < 600)
                        result = DAWN_SEND_PERMANENT;
        }

        if (result == DAWN_SEND_DELIVERED) {
                if (st->server_refusing)
                        log_notice("email: %s accepts messages again", st->display);
                st->server_refusing = false;
                st->last_error[0] = '\0';
                log_delivery(LOG_DEBUG, rq->alert_id, "email", rq->id, "email: %s accepted %s for %s (delivery %lld)",
                          st->display, rq->alert_id, rq->masked, (long long)rq->id);
        } else {
                snprintf(st->last_error, sizeof(st->last_error), "%s", error);
                if (result == DAWN_SEND_PAUSE_CREDENTIALS) {
                        log_delivery(LOG_DEBUG, rq->alert_id, "email", rq->id, "email: %s refused our login: %s",
                                     st->display, error);
                } else if (us && !st->server_refusing) {
                        st->server_refusing = true;
                        log_delivery(LOG_ERR, rq->alert_id, "email", rq->id,
                                  "email: %s refuses us: %s (check the email channel's configuration)",
                                  st->display, error);
                } else {
                        log_delivery(LOG_WARNING, rq->alert_id, "email", rq->id, "email: %s to %s failed%s: %s", rq->alert_id,
                                  rq->masked, result == DAWN_SEND_PERMANENT ? " for good" : ", will retry",
                                  error);
                }
        }
        /* The last use of st: the outbox may stop this channel from in here. */
        dawn_channel_complete(st->ch, rq->id, result, error[0] ? error : NULL, 0);
}

static void request_free(void *userdata)
{
        struct email_request *rq = userdata;
        if (!rq)
                return;
        free(rq->msg);
        free(rq);
}

/* An address we put between < and > in an SMTP command: no white space,
 * controls or angle brackets, one '@' with something on both sides. */
static bool address_ok(const char *a)
{
        const char *at = strchr(a, '@');
        if (!at || at == a || !at[1] || strchr(at + 1, '@'))
                return false;
        for (; *a; a++)
                if ((unsigned char)*a <= ' ' || *a == 0x7f || *a == '<' || *a == '>')
                        return false;
        return true;
}

/* The alert as it stood at the delivery's revision, rendered: an escalation
 * (which reads live facts about one subscriber) for itself alone, into
 * *owned; an alert's own message once for all its recipients, kept in the
 * cache. */
static int rendered_for(struct email_state *st, const struct dawn_delivery *d,
                        const struct dawn_email_rendered **out, struct dawn_email_rendered **owned)
{
        struct dawn_text_key key = { .alert_id = d->alert_id, .revision = d->revision, .action = d->action,
                                     .alert_json = d->alert_json };
        *owned = NULL;
        if (!d->escalation && (*out = dawn_text_cache_find(&st->texts, &key)))
                return 0;
        cJSON *json = cJSON_Parse(d->alert_json);
        if (!json)
                return -EINVAL;
        struct dawn_alert a;
        dawn_alert_init(&a);
        int r = dawn_alert_from_json(json, &a);
        cJSON_Delete(json);
        struct dawn_email_rendered *fresh = NULL;
        if (r >= 0) {
                fresh = d->escalation ? dawn_email_render_escalation(&a, d->escalation)
                                      : dawn_email_render(&a, d->action);
                r = fresh ? 0 : -ENOMEM;
        }
        dawn_alert_clear(&a);
        if (r < 0)
                return r;
        st->ch->work.texts_rendered++;
        if (d->escalation) {
                *out = *owned = fresh;
                return 0;
        }
        *out = dawn_text_cache_keep(&st->texts, &key, fresh);
        return *out ? 0 : -ENOMEM;
}

static int build_message(struct email_state *st, const struct dawn_delivery *d, char **out)
{
        const struct dawn_email_rendered *rendered = NULL;
        struct dawn_email_rendered *owned = NULL;
        int r = rendered_for(st, d, &rendered, &owned);
        if (r < 0)
                return r;
        struct dawn_email_envelope env = {
                .from = st->from,
                .to = d->recipient,
                .reference = d->reference,
                .date_usec = dawn_now_usec(),
        };
        *out = dawn_email_assemble(rendered, &env);
        dawn_email_rendered_free(owned);
        return *out ? 0 : -ENOMEM;
}

static void rendered_free(void *rendered)
{
        dawn_email_rendered_free(rendered);
}

static int email_send(struct dawn_channel *ch, const struct dawn_delivery *d)
{
        struct email_state *st = ch->state;
        if (!d->recipient || !d->alert_json || !d->reference || d->action >= DAWN_ACTION_COUNT ||
            !address_ok(d->recipient))
                return -EINVAL;
        if (!st->curl)
                return -EAGAIN;

        struct email_request *rq = calloc(1, sizeof(*rq));
        if (!rq)
                return -ENOMEM;
        int r = build_message(st, d, &rq->msg);
        if (r < 0) {
                request_free(rq);
                return r;
        }
        rq->st = st;
        rq->id = d->id;
        rq->len = strlen(rq->msg);
        snprintf(rq->alert_id, sizeof(rq->alert_id), "%s", d->alert_id ? d->alert_id : "");
        dawn_mask_recipient(d->recipient, rq->masked, sizeof(rq->masked));

        char *rcpt_arg = NULL;
        struct curl_slist *rcpt = NULL;
        long use_ssl = st->starttls ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_NONE;
        CURL *easy = dawn_curl_easy_new(st->url, "smtp,smtps", st->timeout_usec);
        if (easy && asprintf(&rcpt_arg, "<%s>", d->recipient) >= 0)
                rcpt = curl_slist_append(NULL, rcpt_arg);
        free(rcpt_arg);
        if (!easy || !rcpt ||
            curl_easy_setopt(easy, CURLOPT_MAIL_FROM, st->mail_from) != CURLE_OK ||
            curl_easy_setopt(easy, CURLOPT_MAIL_RCPT, rcpt) != CURLE_OK ||
            curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L) != CURLE_OK ||
            curl_easy_setopt(easy, CURLOPT_READFUNCTION, read_message) != CURLE_OK ||
            curl_easy_setopt(easy, CURLOPT_READDATA, rq) != CURLE_OK ||
            curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->len) != CURLE_OK ||
            curl_easy_setopt(easy, CURLOPT_USE_SSL, use_ssl) != CURLE_OK ||
            curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, rq->errbuf) != CURLE_OK ||
            (st->username && curl_easy_setopt(easy, CURLOPT_USERNAME, st->username) != CURLE_OK) ||
            (st->password && curl_easy_setopt(easy, CURLOPT_PASSWORD, st->password) != CURLE_OK)) {
                curl_slist_free_all(rcpt);
                curl_easy_cleanup(easy);
                request_free(rq);
                return -ENOMEM;
        }
        /* easy and rcpt are the loop's from here, whatever happens */
        r = dawn_curl_start(st->curl, easy, rcpt, on_done, request_free, rq);
        if (r < 0)
                request_free(rq);
        return r;
}

static bool email_ready(struct dawn_channel *ch)
{
        struct email_state *st = ch->state;
        return st->curl != NULL;
}

static const char *email_describe(struct dawn_channel *ch)
{
        struct email_state *st = ch->state;
        size_t n = dawn_curl_in_flight(st->curl);
        if (st->last_error[0])
                snprintf(st->describe_buf, sizeof(st->describe_buf),
                         "%s (%zu in flight; last attempt failed: %s)", st->display, n, st->last_error);
        else
                snprintf(st->describe_buf, sizeof(st->describe_buf), "%s (%zu in flight)", st->display, n);
        return st->describe_buf;
}

/* ---- start and stop ---- */

/* "scheme://host:port" from the URL: no user name or password in logs. */
static int display_url(const char *url, char **out, bool *smtps)
{
        CURLU *u = curl_url();
        char *scheme = NULL, *host = NULL, *port = NULL;
        int r = -EINVAL;
        if (!u)
                return -ENOMEM;
        if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK &&
            (strcmp(scheme, "smtp") == 0 || strcmp(scheme, "smtps") == 0)) {
                *smtps = strcmp(scheme, "smtps") == 0;
                r = asprintf(out, "%s://%s:%s", scheme, host, port) < 0 ? -ENOMEM : 0;
        }
        curl_free(scheme);
        curl_free(host);
        curl_free(port);
        curl_url_cleanup(u);
        return r;
}

/* "DAWN <alerts@example.org>" or "alerts@example.org" -> "<alerts@example.org>" */
static int envelope_from(const char *from, char **out)
{
        const char *lt = strrchr(from, '<'), *gt = lt ? strchr(lt, '>') : NULL;
        char *addr = lt && gt ? strndup(lt + 1, (size_t)(gt - lt - 1)) : strdup(from);
        if (!addr)
                return -ENOMEM;
        int r = address_ok(addr) ? 0 : -EINVAL;
        if (r == 0 && asprintf(out, "<%s>", addr) < 0)
                r = -ENOMEM;
        free(addr);
        return r;
}

static int copy_config(struct email_state *st, const struct dawn_email_config *c)
{
        if (!c->url || !c->from)
                return log_error_errno(-EINVAL, "email: url and from are required");
        bool smtps = false;
        int r = display_url(c->url, &st->display, &smtps);
        if (r == -EINVAL)
                return log_error_errno(r, "email: url must be smtp://host[:port] or smtps://host[:port]");
        if (r < 0)
                return r;
        r = envelope_from(c->from, &st->mail_from);
        if (r == -EINVAL)
                return log_error_errno(r, "email: from does not hold an address: \"%s\"", c->from);
        if (r < 0)
                return r;
        st->starttls = c->require_tls && !smtps;
        st->timeout_usec = c->timeout_usec ? c->timeout_usec : DEFAULT_TIMEOUT_USEC;
        if (!(st->url = strdup(c->url)) || !(st->from = strdup(c->from)) ||
            (c->username && !(st->username = strdup(c->username))))
                return -ENOMEM;
        if (c->password_file) {
                r = dawn_channel_read_secret(c->password_file, &st->password);
                if (r < 0)
                        return log_error_errno(r, "email: cannot read the password from %s: %m",
                                               c->password_file);
        }
        return 0;
}

static void email_stop(struct dawn_channel *ch);

static int email_start(struct dawn_channel *ch, sd_event *loop, const struct dawn_config *cfg)
{
        struct email_state *st = ch->state;
        st->ch = ch;
        st->texts.free_value = rendered_free;
        int r = copy_config(st, &cfg->email);
        if (r >= 0)
                r = dawn_curl_new(loop, &st->curl);
        if (r >= 0 && cfg->email.ca_file)
                r = dawn_curl_trust(st->curl, cfg->email.ca_file, "channels.email");
        if (r < 0) {
                email_stop(ch);
                return r;
        }
        const char *tls = st->starttls                            ? " (STARTTLS required)"
                          : strncmp(st->display, "smtps:", 6) == 0 ? " (TLS)"
                                                                   : " (no TLS)";
        log_info("email: sending through %s%s", st->display, tls);
        return 0;
}

/* Transactions still running are dropped without an outcome: the outbox
 * treats their deliveries as it does rows left in flight at start-up. */
static void email_stop(struct dawn_channel *ch)
{
        struct email_state *st = ch->state;
        st->curl = dawn_curl_free(st->curl);
        dawn_text_cache_clear(&st->texts);
        dawn_secret_free(st->password);
        free(st->username);
        free(st->url);
        free(st->display);
        free(st->from);
        free(st->mail_from);
        st->password = st->username = st->url = st->display = st->from = st->mail_from = NULL;
}

const struct dawn_channel_driver dawn_channel_email = {
        .name = "email",
        .kind = DAWN_CHANNEL_EMAIL,
        .state_size = sizeof(struct email_state),
        .start = email_start,
        .stop = email_stop,
        .ready = email_ready,
        .send = email_send,
        .describe = email_describe,
};
