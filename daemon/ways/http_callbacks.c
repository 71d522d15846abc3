/* The SMS gateways' callbacks: Notify's (bearer token, JSON) and Twilio's
 * (X-Twilio-Signature, a form), delivery receipts and incoming texts. */
#include "http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "sms_callback.h"
#include "submit.h"

/* ---- verifying the gateway ---- */

const char *http_provider_of(const struct request *rq)
{
        enum http_auth auth = rq->route ? rq->route->auth : HTTP_AUTH_NONE;
        return auth == HTTP_AUTH_NOTIFY ? "notify" : auth == HTTP_AUTH_TWILIO ? "twilio" : NULL;
}

static void refuse_unverified(struct request *rq, unsigned status, const char *why)
{
        const char *provider = http_provider_of(rq);
        /* a warning, not info: the gateway's secret and ours differ, or someone forges receipts */
        log_warning("http: %s callback %s from %s refused (%u): %s", provider, rq->path, http_remote_of(rq), status, why);
        dawn_metrics_count(DAWN_M_CALLBACKS_REFUSED, provider, "unauthenticated");
        bool bearer = status == MHD_HTTP_UNAUTHORIZED;
        http_respond_json(rq, status, dawn_error_json(bearer ? "Authorization" : "X-Twilio-Signature", false,
                                              "the callback could not be verified"));
        if (bearer)
                http_respond_header(rq, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"dawn\"");
}

/* HTTP_AUTH_NOTIFY: Notify sends the bearer token it was given. */
bool http_admit_notify(struct request *rq)
{
        const char *token = rq->h->secrets.notify_token;
        if (!token) {
                http_refuse(rq, MHD_HTTP_NOT_FOUND, NULL,
                            "Notify callbacks are not configured (channels.sms.callback_token_file)");
                return false;
        }
        const char *auth = http_header(rq, MHD_HTTP_HEADER_AUTHORIZATION);
        if (!dawn_secret_equal(auth ? dawn_bearer_token(auth) : NULL, token)) {
                refuse_unverified(rq, MHD_HTTP_UNAUTHORIZED, "no valid bearer token");
                return false;
        }
        return true;
}

/* HTTP_AUTH_TWILIO: the signature covers the body, so it is checked once
 * the body is here (twilio_form); a request without one is refused now. */
bool http_admit_twilio(struct request *rq)
{
        if (!rq->h->secrets.twilio_auth_token || !rq->h->ways->config->sms.callback_base_url) {
                http_refuse(rq, MHD_HTTP_NOT_FOUND, NULL,
                            "Twilio callbacks are not configured (channels.sms.auth_token_file and "
                            "callback_base_url)");
                return false;
        }
        if (!http_header(rq, "X-Twilio-Signature")) {
                refuse_unverified(rq, MHD_HTTP_FORBIDDEN, "no X-Twilio-Signature");
                return false;
        }
        return true;
}

/* ---- gateway callbacks ---- */

static void callback_invalid(struct request *rq, const struct dawn_input_error *err)
{
        dawn_metrics_count(DAWN_M_CALLBACKS_REFUSED, http_provider_of(rq), "invalid");
        http_refuse(rq, MHD_HTTP_BAD_REQUEST, err->field, "%s", err->message);
}

/* After the store had its say. A receipt or text that was ignored (no such
 * text, another alert's reference, an illegal transition, a replay) is
 * still answered 200, or the gateway would retry it for days; only a store
 * failure is a 503, which the gateway retries. */
static void callback_done(struct request *rq, int r)
{
        struct dawn_ways *ways = rq->h->ways;
        if (r < 0) {
                rq->json = dawn_store_error_json(ways, r, true);
                rq->json_status = MHD_HTTP_SERVICE_UNAVAILABLE;
                rq->twiml = false;
                return;
        }
        if (!rq->twiml) {
                rq->json = cJSON_CreateObject();
                cJSON_AddBoolToObject(rq->json, "ok", true);
                rq->json_status = MHD_HTTP_OK;
        }
}

static void receipt(struct request *rq, const struct dawn_receipt *rc)
{
        bool wrote = false;
        size_t epoch = http_op_begin(rq);
        int r = dawn_ingest_receipt(rq->h->ways, http_provider_of(rq), rc, &wrote);
        http_op_end(rq, 0, wrote, epoch);
        callback_done(rq, r);
}

/* twiml: answer with the reply as TwiML (Twilio texts it back), not JSON */
static void sms_reply(struct request *rq, const struct dawn_inbound_sms *sms, bool twiml)
{
        char reply[480] = "";
        bool wrote = false;
        size_t epoch = http_op_begin(rq);
        int r = dawn_ingest_sms_reply(rq->h->ways, http_provider_of(rq), sms, reply, sizeof(reply), &wrote);
        http_op_end(rq, 0, wrote, epoch);
        if (r >= 0 && twiml) {
                rq->twiml = true;
                rq->twiml_reply = strdup(reply);
        }
        callback_done(rq, r);
        /* Notify does not text an answer back: the reply was queued with the text's
         * effect (r == 1) and the SMS channel sends it; it is in the answer too, for
         * the record (and tests); see README "Replies by text" */
        if (r >= 0 && !twiml && reply[0] && rq->json) {
                cJSON_AddStringToObject(rq->json, "reply", reply);
                cJSON_AddBoolToObject(rq->json, "reply_queued", r == 1);
        }
}

void http_notify_status(struct request *rq)
{
        struct dawn_input_error err = { 0 };
        struct dawn_receipt rc;
        if (dawn_receipt_parse_notify(rq->body ? rq->body : "", rq->len, &rc, &err) < 0)
                callback_invalid(rq, &err);
        else
                receipt(rq, &rc);
}

void http_notify_inbound(struct request *rq)
{
        struct dawn_input_error err = { 0 };
        struct dawn_inbound_sms sms;
        if (dawn_inbound_parse_notify(rq->body ? rq->body : "", rq->len, &sms, &err) < 0)
                callback_invalid(rq, &err);
        else
                sms_reply(rq, &sms, false);
}

/* Twilio signs the URL it called (this API's public base URL, the path and
 * the query exactly as sent) and the form's fields. */
static bool twilio_signed(struct request *rq, const struct dawn_form *form)
{
        const char *base = rq->h->ways->config->sms.callback_base_url;
        size_t n = dawn_url_base_len(base);
        char *url = NULL;
        if (asprintf(&url, "%.*s%s", (int)n, base, rq->uri) < 0)
                return false;
        bool ok = dawn_twilio_signature_ok(rq->h->secrets.twilio_auth_token, url, form,
                                           http_header(rq, "X-Twilio-Signature"));
        free(url);
        return ok;
}

/* The form Twilio posted, once its signature is checked; false when the
 * request was refused (answered). form is to be cleared either way. */
static bool twilio_form(struct request *rq, struct dawn_form *form)
{
        if (dawn_form_parse(rq->body ? rq->body : "", rq->len, form) < 0) {
                struct dawn_input_error err = { 0 };
                dawn_input_error_set(&err, "body", "the body is not a valid form (application/x-www-form-urlencoded)");
                callback_invalid(rq, &err);
                return false;
        }
        if (!twilio_signed(rq, form)) {
                refuse_unverified(rq, MHD_HTTP_FORBIDDEN, "X-Twilio-Signature does not match");
                return false;
        }
        return true;
}

void http_twilio_status(struct request *rq)
{
        struct dawn_form form = { 0 };
        if (twilio_form(rq, &form)) {
                struct dawn_input_error err = { 0 };
                struct dawn_receipt rc;
                const char *ref = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "ref");
                if (dawn_receipt_parse_twilio(&form, ref, &rc, &err) < 0)
                        callback_invalid(rq, &err);
                else
                        receipt(rq, &rc);
        }
        dawn_form_clear(&form);
}

void http_twilio_inbound(struct request *rq)
{
        struct dawn_form form = { 0 };
        if (twilio_form(rq, &form)) {
                struct dawn_input_error err = { 0 };
                struct dawn_inbound_sms sms;
                if (dawn_inbound_parse_twilio(&form, &sms, &err) < 0)
                        callback_invalid(rq, &err);
                else
                        sms_reply(rq, &sms, true);
        }
        dawn_form_clear(&form);
}

/* ---- answering Twilio ---- */

static char *xml_escape(const char *s)
{
        size_t n = 0;
        for (const char *p = s; *p; p++)
                n += *p == '&' ? 5 : *p == '<' || *p == '>' ? 4 : *p == '"' || *p == '\'' ? 6 : 1;
        char *out = malloc(n + 1), *o = out;
        if (!out)
                return NULL;
        for (const char *p = s; *p; p++) {
                const char *rep = *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : *p == '>' ? "&gt;" :
                                  *p == '"' ? "&quot;" : *p == '\'' ? "&apos;" : NULL;
                if (rep)
                        o = stpcpy(o, rep);
                else
                        *o++ = *p;
        }
        *o = '\0';
        return out;
}

/* Twilio texts the reply back to the sender when its webhook answers TwiML. */
void http_respond_twiml(struct request *rq, const char *reply)
{
        char *escaped = xml_escape(reply ? reply : "");
        char *text = NULL;
        int n = escaped ? asprintf(&text, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>%s%s%s</Response>",
                                   *escaped ? "<Message>" : "", escaped, *escaped ? "</Message>" : "")
                        : -1;
        free(escaped);
        if (rq->response)
                MHD_destroy_response(rq->response);
        rq->response = n >= 0 ? http_text_response(text, (size_t)n, "text/xml; charset=utf-8") : NULL;
        rq->status = MHD_HTTP_OK;
}

