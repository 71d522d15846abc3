/* The SMS channel: GOV.UK Notify or Twilio over HTTPS, on the curl loop.
 *
 * One delivery is one POST. GOV.UK Notify: POST {base}/v2/notifications/sms
 * with JSON {phone_number, template_id, personalisation: {message},
 * reference} and a bearer JWT of the current second (Notify accepts a
 * token for 30 s only; the texts of one second share one). Twilio: POST {base}/2010-04-01/Accounts/{sid}/
 * Messages.json, form-encoded To, From (or MessagingServiceSid for an "MG"
 * sender) and Body, with basic auth. Every attempt of a delivery carries the
 * same reference, as Notify's "reference" and as an Idempotency-Key header
 * (Twilio: I-Twilio-Idempotency-Token): libcurl may resend a POST by itself
 * on a reused connection that answered nothing, and the outbox resends after
 * a crash, so a gateway (or whoever reads its records) can tell a duplicate.
 * With channels.sms.callback_base_url set, a Twilio request also asks for a
 * delivery receipt: StatusCallback=<callback_base_url>/v1/callbacks/twilio/
 * status?ref=<reference>, Twilio's only way to tell DAWN which delivery a
 * receipt is for (Notify echoes "reference" by itself, to the callback URL
 * set in Notify's own settings).
 *
 * Outcome:
 *   2xx                                  DELIVERED
 *   408, 425, 5xx, 3xx (no redirects are followed), other oddities
 *                                        TRANSIENT, honouring Retry-After
 *   401, 403                             PAUSE_CREDENTIALS: the key (or the
 *                                        clock the JWT is signed with) is
 *                                        refused; every text would be, so the
 *                                        channel waits for a reload or
 *                                        `dawnctl resume sms` (Notify: do not
 *                                        retry a 403 as is, fix the setup)
 *   429                                  PAUSE_RATE: the account's rate limit,
 *                                        for the whole channel, until
 *                                        Retry-After
 *   Twilio 400 with error code 21610     OPTED_OUT: the number replied STOP to
 *                                        Twilio, which blocks texts to it
 *   other 4xx (400, 404, ...)            PERMANENT: resending the same
 *                                        request cannot succeed; Notify says
 *                                        400 must not be retried
 *   curl errors (timeout, refused, reset, nothing received, TLS, DNS)
 *                                        TRANSIENT
 * The error text is "HTTP 400: <the start of the body>" or curl's message.
 * A gateway may quote the number back (Twilio: "The 'To' number +44... is
 * not valid"): it is masked there too, as in every log line.
 *
 * The secret (Notify API key, Twilio auth token) is read once at start,
 * kept only in this state, zeroed on stop, and never logged.
 */
#include "channel.h"
#include "curl_loop.h"
#include "log.h"
#include "notify_jwt.h"
#include "retry_after.h"
#include "public_text.h"
#include "sms_text.h"
#include "text_cache.h"
#include "store.h"
#include "str.h"

#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dawn/protocol.h"

#define RESPONSE_KEEP 1024        /* bytes of a response body kept for the error text */
#define ERROR_BODY_MAX 200        /* bytes of it that reach the error text */
#define USER_AGENT "dawnd/" DAWN_VERSION
#define NOTIFY_DEFAULT_URL "https://api.notifications.service.gov.uk"
#define TWILIO_DEFAULT_URL "https://api.twilio.com"
#define DEFAULT_TIMEOUT_USEC (30 * DAWN_USEC_PER_SEC)

struct sms_state {
        struct dawn_channel *ch;
        struct dawn_curl *curl;
        enum dawn_sms_provider provider;
        char *base_url;           /* without a trailing '/' */
        char *endpoint;           /* the URL every request goes to */
        char *template_id;        /* notify */
        char *account_sid;        /* twilio */
        char *from;               /* twilio */
        char *status_callback;    /* twilio: "<callback_base_url>/v1/callbacks/twilio/status?ref=", or NULL */
        char *secret;             /* notify: the key's secret part; twilio: the auth token */
        char service_id[37];      /* notify */
        int max_segments;
        char *sender_prefix;      /* NULL: none; twilio: put before every text; notify: Notify adds it */
        uint64_t timeout_usec;
        /* an alert's texts, rendered once per (revision, action, kind of text): every
         * recipient of a revision gets the same (text_cache.h) */
        struct dawn_text_cache texts;
        struct dawn_notify_token token; /* notify: the JWT of the current second */
        bool gateway_refusing;    /* a configuration-shaped failure was logged at error level */
        char last_error[160];     /* the last failure, for describe(); "" after a success */
        char describe_buf[512];
};

struct sms_request {
        struct sms_state *st;     /* only valid until dawn_channel_complete() */
        int64_t id;
        char alert_id[DAWN_MAX_ID_CHARS + 1];
        char *recipient;
        char masked[64];
        char errbuf[CURL_ERROR_SIZE];
        char body[RESPONSE_KEEP + 1];
        size_t body_len;
};

static const char *provider_name(enum dawn_sms_provider p)
{
        return p == DAWN_SMS_TWILIO ? "twilio" : "notify";
}

/* ---- the response ---- */

static size_t keep_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
        struct sms_request *rq = userdata;
        size_t n = size * nmemb;
        size_t room = RESPONSE_KEEP - rq->body_len;
        size_t take = n < room ? n : room;
        memcpy(rq->body + rq->body_len, ptr, take);
        rq->body_len += take;
        rq->body[rq->body_len] = '\0';
        return n;
}

/* The response body for the error text: the recipient masked wherever it
 * appears, each run of control characters and spaces one space,
 * at most ERROR_BODY_MAX bytes, not cut inside a UTF-8 character. */
static void body_excerpt(const struct sms_request *rq, char *out, size_t n)
{
        char masked_body[RESPONSE_KEEP + 64];
        size_t o = 0, rlen = strlen(rq->recipient), mlen = strlen(rq->masked);
        for (size_t i = 0; i < rq->body_len && o + mlen + 1 < sizeof(masked_body);) {
                if (rlen >= 4 && strncmp(rq->body + i, rq->recipient, rlen) == 0) {
                        memcpy(masked_body + o, rq->masked, mlen);
                        o += mlen;
                        i += rlen;
                } else {
                        masked_body[o++] = rq->body[i++];
                }
        }
        masked_body[o] = '\0';

        size_t k = 0, i = 0;
        size_t max = n - 1 < ERROR_BODY_MAX ? n - 1 : ERROR_BODY_MAX;
        for (; masked_body[i] && k < max; i++) {
                unsigned char c = (unsigned char)masked_body[i];
                if (c <= 0x20 || c == 0x7f) {
                        if (k > 0 && out[k - 1] != ' ')
                                out[k++] = ' ';
                        continue;
                }
                out[k++] = (char)c;
        }
        /* cut short: do not end inside a multi-byte character */
        if (masked_body[i] && k > 0) {
                size_t lead = k - 1;
                while (lead > 0 && ((unsigned char)out[lead] & 0xc0) == 0x80)
                        lead--;
                unsigned char c = (unsigned char)out[lead];
                size_t want = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
                if (k - lead < want)
                        k = lead;
        }
        while (k > 0 && out[k - 1] == ' ')
                k--;
        out[k] = '\0';
}

static uint64_t retry_after(CURL *easy)
{
        struct curl_header *h = NULL;
        uint64_t delay = 0;
        if (curl_easy_header(easy, "Retry-After", 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !h->value)
                return 0;
        if (dawn_parse_retry_after(h->value, dawn_now_usec(), &delay) < 0)
                return 0; /* nonsense: the outbox's own backoff applies */
        return delay;
}

/* Twilio's error code from its JSON error body ({"code": 21610, ...}), or 0. */
static long twilio_code(const struct sms_request *rq)
{
        cJSON *o = cJSON_ParseWithLength(rq->body, rq->body_len);
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(o, "code");
        long n = cJSON_IsNumber(code) ? (long)code->valuedouble : 0;
        cJSON_Delete(o);
        return n;
}

static bool retryable_status(long status)
{
        return status == 408 || status == 425 || status == 429 || status >= 500 || status < 400;
}

/* Failures that will hit every delivery until someone fixes the
 * configuration (key, account, template, TLS trust): worth an error. */
static bool config_shaped(CURLcode rc, long status)
{
        if (rc != CURLE_OK)
                return rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
                       rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_UNSUPPORTED_PROTOCOL ||
                       rc == CURLE_URL_MALFORMAT || rc == CURLE_COULDNT_RESOLVE_HOST;
        return status == 401 || status == 403 || status == 404 || (status >= 300 && status < 400);
}

static void on_done(CURL *easy, CURLcode rc, long status, void *userdata)
{
        struct sms_request *rq = userdata;
        struct sms_state *st = rq->st;
        enum dawn_send_result result;
        char error[320] = "";
        uint64_t delay = 0;

        if (rc != CURLE_OK) {
                result = DAWN_SEND_TRANSIENT;
                snprintf(error, sizeof(error), "%s", rq->errbuf[0] ? rq->errbuf : curl_easy_strerror(rc));
        } else if (status >= 200 && status < 300) {
                result = DAWN_SEND_DELIVERED;
        } else {
                char excerpt[ERROR_BODY_MAX + 1];
                body_excerpt(rq, excerpt, sizeof(excerpt));
                snprintf(error, sizeof(error), "HTTP %ld%s%s", status, excerpt[0] ? ": " : "", excerpt);
                if (status == 401 || status == 403) {
                        result = DAWN_SEND_PAUSE_CREDENTIALS;
                } else if (status == 429) {
                        result = DAWN_SEND_PAUSE_RATE;
                        delay = retry_after(easy);
                } else if (st->provider == DAWN_SMS_TWILIO && status == 400 && twilio_code(rq) == 21610) {
                        result = DAWN_SEND_OPTED_OUT;
                } else if (retryable_status(status)) {
                        result = DAWN_SEND_TRANSIENT;
                        if (status >= 500)
                                delay = retry_after(easy);
                } else {
                        result = DAWN_SEND_PERMANENT;
                }
        }

        if (result == DAWN_SEND_DELIVERED) {
                if (st->gateway_refusing)
                        log_notice("SMS: %s accepts messages again", provider_name(st->provider));
                st->gateway_refusing = false;
                st->last_error[0] = '\0';
                log_delivery(LOG_DEBUG, rq->alert_id, "sms", rq->id, "SMS: %s accepted %s for %s (delivery %lld)",
                          provider_name(st->provider), rq->alert_id, rq->masked, (long long)rq->id);
        } else {
                snprintf(st->last_error, sizeof(st->last_error), "%s", error);
                if (result == DAWN_SEND_PAUSE_CREDENTIALS || result == DAWN_SEND_PAUSE_RATE) {
                        /* the outbox pauses the channel and says so once, at error level */
                        log_delivery(LOG_DEBUG, rq->alert_id, "sms", rq->id, "SMS: %s refused %s: %s",
                                     provider_name(st->provider), rq->masked, error);
                } else if (result == DAWN_SEND_OPTED_OUT) {
                        log_delivery(LOG_NOTICE, rq->alert_id, "sms", rq->id,
                                     "SMS: %s says %s opted out of texts (it replied STOP to %s)", rq->alert_id,
                                     rq->masked, provider_name(st->provider));
                } else if (config_shaped(rc, status) && !st->gateway_refusing) {
                        st->gateway_refusing = true;
                        log_delivery(LOG_ERR, rq->alert_id, "sms", rq->id,
                                  "SMS: %s at %s refuses us: %s (check the sms channel's configuration)",
                                  provider_name(st->provider), st->base_url, error);
                } else {
                        log_delivery(LOG_WARNING, rq->alert_id, "sms", rq->id, "SMS: %s to %s via %s failed%s: %s",
                                  rq->alert_id, rq->masked, provider_name(st->provider),
                                  result == DAWN_SEND_PERMANENT ? " for good" : ", will retry", error);
                }
        }
        /* The last use of st: the outbox may stop this channel from in here. */
        dawn_channel_complete(st->ch, rq->id, result, error[0] ? error : NULL, delay);
}

static void request_free(void *userdata)
{
        struct sms_request *rq = userdata;
        if (!rq)
                return;
        free(rq->recipient);
        free(rq);
}

/* ---- building requests ---- */

static bool header_safe(const char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return false;
        return true;
}

static int add_header(struct curl_slist **list, const char *fmt, const char *value)
{
        char *line = NULL;
        if (asprintf(&line, fmt, value) < 0)
                return -ENOMEM;
        struct curl_slist *l = curl_slist_append(*list, line);
        free(line);
        if (!l)
                return -ENOMEM;
        *list = l;
        return 0;
}

static char *notify_body(const struct sms_state *st, const struct dawn_delivery *d, const char *text)
{
        cJSON *o = cJSON_CreateObject(), *p = NULL;
        char *out = NULL;
        if (o && cJSON_AddStringToObject(o, "phone_number", d->recipient) &&
            cJSON_AddStringToObject(o, "template_id", st->template_id) &&
            (p = cJSON_AddObjectToObject(o, "personalisation")) &&
            cJSON_AddStringToObject(p, "message", text) &&
            cJSON_AddStringToObject(o, "reference", d->reference))
                out = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        return out;
}

static int notify_prepare(struct sms_state *st, const struct dawn_delivery *d, const char *text, CURL *easy,
                          struct curl_slist **headers)
{
        bool made = false;
        const char *jwt = dawn_notify_token_get(&st->token, st->service_id, st->secret, (int64_t)time(NULL), &made);
        if (!jwt)
                return -ENOMEM;
        st->ch->work.tokens_signed += made;
        int r = add_header(headers, "Authorization: Bearer %s", jwt);
        if (r >= 0)
                r = add_header(headers, "%s", "Content-Type: application/json");
        if (r >= 0)
                r = add_header(headers, "Idempotency-Key: %s", d->reference);
        if (r < 0)
                return r;
        char *body = notify_body(st, d, text);
        if (!body)
                return -ENOMEM;
        CURLcode rc = curl_easy_setopt(easy, CURLOPT_COPYPOSTFIELDS, body);
        free(body);
        return rc == CURLE_OK ? 0 : -ENOMEM;
}

/* "name=value" for a form, value percent-encoded. */
static int form_add(CURL *easy, FILE *f, const char *name, const char *value, bool first)
{
        char *esc = curl_easy_escape(easy, value, 0);
        if (!esc)
                return -ENOMEM;
        fprintf(f, "%s%s=%s", first ? "" : "&", name, esc);
        curl_free(esc);
        return 0;
}

static int twilio_prepare(struct sms_state *st, const struct dawn_delivery *d, const char *text, CURL *easy,
                          struct curl_slist **headers)
{
        int r = add_header(headers, "I-Twilio-Idempotency-Token: %s", d->reference);
        if (r < 0)
                return r;
        char *body = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&body, &len);
        if (!f)
                return -ENOMEM;
        bool service = strncmp(st->from, "MG", 2) == 0;
        r = form_add(easy, f, "To", d->recipient, true);
        if (r >= 0)
                r = form_add(easy, f, service ? "MessagingServiceSid" : "From", st->from, false);
        if (r >= 0)
                r = form_add(easy, f, "Body", text, false);
        if (r >= 0 && st->status_callback) {
                /* the reference escaped inside the URL's query, then the
                 * whole URL escaped again as a form value: Twilio calls
                 * (and signs) the URL exactly as given */
                char *ref = curl_easy_escape(easy, d->reference, 0);
                char *url = NULL;
                if (!ref || asprintf(&url, "%s%s", st->status_callback, ref) < 0) {
                        url = NULL;
                        r = -ENOMEM;
                }
                curl_free(ref);
                if (r >= 0)
                        r = form_add(easy, f, "StatusCallback", url, false);
                free(url);
        }
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r >= 0 && (curl_easy_setopt(easy, CURLOPT_COPYPOSTFIELDS, body) != CURLE_OK ||
                       curl_easy_setopt(easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC) != CURLE_OK ||
                       curl_easy_setopt(easy, CURLOPT_USERNAME, st->account_sid) != CURLE_OK ||
                       curl_easy_setopt(easy, CURLOPT_PASSWORD, st->secret) != CURLE_OK))
                r = -ENOMEM;
        free(body);
        return r;
}

/* The message text for a delivery, from the alert as it stood: room is left
 * for channels.sms.sender_prefix in every kind of text. */
static int build_body(const struct sms_state *st, const struct dawn_delivery *d, char **out)
{
        if (d->text) {
                *out = strdup(d->text);
                return *out ? 0 : -ENOMEM;
        }
        if (d->escalation) {
                *out = dawn_escalation_sms(d->escalation, st->max_segments);
                return *out ? 0 : -ENOMEM;
        }
        cJSON *json = cJSON_Parse(d->alert_json);
        if (!json)
                return -EINVAL;
        struct dawn_alert a;
        dawn_alert_init(&a);
        int r = dawn_alert_from_json(json, &a);
        cJSON_Delete(json);
        if (r >= 0) {
                /* a text to a member of the public says only what is safe for anyone */
                bool public_text = d->subscriber && strcmp(d->subscriber, DAWN_PUBLIC_SUBSCRIBER) == 0;
                *out = public_text ? dawn_public_text(&a, d->action, st->max_segments)
                                   : dawn_sms_text(&a, d->action, st->max_segments);
                r = *out ? 0 : -ENOMEM;
        }
        dawn_alert_clear(&a);
        return r;
}

static int build_text(const struct sms_state *st, const struct dawn_delivery *d, char **out)
{
        const char *saved = dawn_sms_budget_prefix(st->sender_prefix);
        int r = build_body(st, d, out);
        dawn_sms_budget_prefix(saved);
        /* Notify puts its service name in front itself; for Twilio DAWN does */
        if (r == 0 && st->sender_prefix && st->provider == DAWN_SMS_TWILIO) {
                char *whole = NULL;
                if (asprintf(&whole, "%s%s", st->sender_prefix, *out) < 0)
                        whole = NULL;
                dawn_secret_free(*out);
                *out = whole;
                r = whole ? 0 : -ENOMEM;
        }
        return r;
}

/* The kinds of an alert's own text: who it is for decides what it says. */
enum { TEXT_PROFESSIONAL, TEXT_PUBLIC };

static void text_free(void *text)
{
        dawn_secret_free(text);
}

/* The text a delivery sends: an alert's own from the cache, rendered at the
 * first of its recipients; a reply or an escalation (which reads live facts
 * about one subscriber) built for it alone, into *owned for the caller to
 * free. */
static int delivery_text(struct sms_state *st, const struct dawn_delivery *d, const char **text, char **owned)
{
        *text = *owned = NULL;
        if (d->text || d->escalation) {
                int r = build_text(st, d, owned);
                st->ch->work.texts_rendered += r == 0 && d->escalation;
                *text = *owned;
                return r;
        }
        bool public_text = d->subscriber && strcmp(d->subscriber, DAWN_PUBLIC_SUBSCRIBER) == 0;
        struct dawn_text_key key = { .alert_id = d->alert_id, .revision = d->revision, .action = d->action,
                                     .kind = public_text ? TEXT_PUBLIC : TEXT_PROFESSIONAL,
                                     .alert_json = d->alert_json };
        if ((*text = dawn_text_cache_find(&st->texts, &key)))
                return 0;
        char *fresh = NULL;
        int r = build_text(st, d, &fresh);
        if (r < 0)
                return r;
        st->ch->work.texts_rendered++;
        *text = dawn_text_cache_keep(&st->texts, &key, fresh);
        return *text ? 0 : -ENOMEM;
}

static int sms_send(struct dawn_channel *ch, const struct dawn_delivery *d)
{
        struct sms_state *st = ch->state;
        if (!d->recipient || !*d->recipient || (!d->alert_json && !d->text) || !d->reference ||
            d->action >= DAWN_ACTION_COUNT || !header_safe(d->recipient) || !header_safe(d->reference))
                return -EINVAL;
        if (!st->curl)
                return -EAGAIN;

        const char *text = NULL;
        char *owned = NULL;
        int r = delivery_text(st, d, &text, &owned);
        if (r < 0)
                return r;

        struct sms_request *rq = calloc(1, sizeof(*rq));
        CURL *easy = dawn_curl_easy_new(st->endpoint, "http,https", st->timeout_usec);
        struct curl_slist *headers = NULL;
        if (!rq || !easy || !(rq->recipient = strdup(d->recipient))) {
                r = -ENOMEM;
                goto fail;
        }
        rq->st = st;
        rq->id = d->id;
        snprintf(rq->alert_id, sizeof(rq->alert_id), "%s", d->alert_id ? d->alert_id : "");
        dawn_mask_recipient(d->recipient, rq->masked, sizeof(rq->masked));

        r = st->provider == DAWN_SMS_TWILIO ? twilio_prepare(st, d, text, easy, &headers)
                                            : notify_prepare(st, d, text, easy, &headers);
        if (r >= 0 && add_header(&headers, "%s", "Accept: application/json") < 0)
                r = -ENOMEM;
        if (r >= 0 && (curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers) != CURLE_OK ||
                       curl_easy_setopt(easy, CURLOPT_USERAGENT, USER_AGENT) != CURLE_OK ||
                       curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, rq->errbuf) != CURLE_OK ||
                       curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, keep_body) != CURLE_OK ||
                       curl_easy_setopt(easy, CURLOPT_WRITEDATA, rq) != CURLE_OK))
                r = -ENOMEM;
        if (r < 0)
                goto fail;
        dawn_secret_free(owned);
        /* easy and headers are the loop's from here, whatever happens */
        r = dawn_curl_start(st->curl, easy, headers, on_done, request_free, rq);
        if (r < 0)
                request_free(rq);
        return r;

fail:
        dawn_secret_free(owned);
        curl_slist_free_all(headers);
        curl_easy_cleanup(easy);
        request_free(rq);
        return r;
}

static bool sms_ready(struct dawn_channel *ch)
{
        struct sms_state *st = ch->state;
        return st->curl != NULL;
}

static const char *sms_describe(struct dawn_channel *ch)
{
        struct sms_state *st = ch->state;
        size_t n = dawn_curl_in_flight(st->curl);
        if (st->last_error[0])
                snprintf(st->describe_buf, sizeof(st->describe_buf),
                         "%s at %s (%zu in flight; last attempt failed: %s)", provider_name(st->provider),
                         st->base_url, n, st->last_error);
        else
                snprintf(st->describe_buf, sizeof(st->describe_buf), "%s at %s (%zu in flight)",
                         provider_name(st->provider), st->base_url, n);
        return st->describe_buf;
}

/* ---- start and stop ---- */

static int copy_config(struct sms_state *st, const struct dawn_sms_config *c)
{
        st->provider = c->provider;
        const char *base = c->base_url                         ? c->base_url
                           : st->provider == DAWN_SMS_TWILIO ? TWILIO_DEFAULT_URL
                                                               : NOTIFY_DEFAULT_URL;
        st->base_url = strndup(base, dawn_url_base_len(base));
        st->max_segments = c->max_segments > 0 ? c->max_segments : 2;
        if (c->sender_prefix && *c->sender_prefix && !(st->sender_prefix = strdup(c->sender_prefix)))
                return -ENOMEM;
        st->timeout_usec = c->timeout_usec ? c->timeout_usec : DEFAULT_TIMEOUT_USEC;
        if (!st->base_url)
                return -ENOMEM;
        if (st->provider == DAWN_SMS_TWILIO) {
                if (!c->account_sid || !c->auth_token_file || !c->from)
                        return log_error_errno(-EINVAL,
                                               "SMS: twilio needs account_sid, auth_token_file and from");
                if (!(st->account_sid = strdup(c->account_sid)) || !(st->from = strdup(c->from)))
                        return -ENOMEM;
                if (c->callback_base_url) {
                        size_t n = dawn_url_base_len(c->callback_base_url);
                        if (asprintf(&st->status_callback, "%.*s/v1/callbacks/twilio/status?ref=", (int)n,
                                     c->callback_base_url) < 0) {
                                st->status_callback = NULL;
                                return -ENOMEM;
                        }
                }
                char *esc = curl_easy_escape(NULL, c->account_sid, 0);
                int r = esc ? asprintf(&st->endpoint, "%s/2010-04-01/Accounts/%s/Messages.json",
                                       st->base_url, esc)
                            : -1;
                curl_free(esc);
                if (r < 0) {
                        st->endpoint = NULL;
                        return -ENOMEM;
                }
                r = dawn_channel_read_secret(c->auth_token_file, &st->secret);
                if (r < 0)
                        return log_error_errno(r, "SMS: cannot read the Twilio auth token from %s: %m",
                                               c->auth_token_file);
                return 0;
        }
        if (!c->api_key_file || !c->template_id)
                return log_error_errno(-EINVAL, "SMS: notify needs api_key_file and template_id");
        if (!(st->template_id = strdup(c->template_id)) ||
            asprintf(&st->endpoint, "%s/v2/notifications/sms", st->base_url) < 0) {
                st->endpoint = NULL;
                return -ENOMEM;
        }
        char *key = NULL;
        int r = dawn_channel_read_secret(c->api_key_file, &key);
        if (r < 0)
                return log_error_errno(r, "SMS: cannot read the GOV.UK Notify API key from %s: %m",
                                       c->api_key_file);
        char secret[37];
        r = dawn_notify_key_parse(key, st->service_id, secret);
        dawn_secret_clear(&key);
        if (r < 0) {
                explicit_bzero(secret, sizeof(secret));
                return log_error_errno(r, "SMS: %s does not hold a GOV.UK Notify API key "
                                          "(\"{key name}-{service id}-{secret}\")",
                                       c->api_key_file);
        }
        st->secret = strdup(secret);
        explicit_bzero(secret, sizeof(secret));
        return st->secret ? 0 : -ENOMEM;
}

static void sms_stop(struct dawn_channel *ch);

static int sms_start(struct dawn_channel *ch, sd_event *loop, const struct dawn_config *cfg)
{
        struct sms_state *st = ch->state;
        st->ch = ch;
        st->texts.free_value = text_free;
        int r = copy_config(st, &cfg->sms);
        if (r >= 0)
                r = dawn_curl_new(loop, &st->curl);
        if (r >= 0 && cfg->sms.ca_file)
                r = dawn_curl_trust(st->curl, cfg->sms.ca_file, "channels.sms");
        if (r < 0) {
                sms_stop(ch);
                return r;
        }
        log_info("SMS: sending through %s at %s", provider_name(st->provider), st->base_url);
        return 0;
}

/* Transfers still running are dropped without an outcome: the outbox
 * treats their deliveries as it does rows left in flight at start-up. */
static void sms_stop(struct dawn_channel *ch)
{
        struct sms_state *st = ch->state;
        st->curl = dawn_curl_free(st->curl);
        dawn_text_cache_clear(&st->texts);
        dawn_notify_token_clear(&st->token);
        dawn_secret_clear(&st->secret);
        explicit_bzero(st->service_id, sizeof(st->service_id));
        free(st->base_url);
        free(st->endpoint);
        free(st->template_id);
        free(st->account_sid);
        free(st->from);
        free(st->status_callback);
        free(st->sender_prefix);
        st->sender_prefix = NULL;
        st->base_url = st->endpoint = st->template_id = st->account_sid = st->from = st->status_callback = NULL;
}

const struct dawn_channel_driver dawn_channel_sms = {
        .name = "sms",
        .kind = DAWN_CHANNEL_SMS,
        .state_size = sizeof(struct sms_state),
        .start = sms_start,
        .stop = sms_stop,
        .ready = sms_ready,
        .send = sms_send,
        .describe = sms_describe,
};
