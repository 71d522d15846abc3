/* An alert revision as CAP 1.2, and the Atom feed of them (see cap.h). */
#include "cap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/xmlwriter.h>

#include "text.h"

#define CAP_NS "urn:oasis:names:tc:emergency:cap:1.2"
#define ATOM_NS "http://www.w3.org/2005/Atom"

/* ---- the mapping ---- */

const char *dawn_cap_msg_type(const struct dawn_alert *a, bool first)
{
        if (first)
                return "Alert";
        return a->status == DAWN_STATUS_CANCELLED ? "Cancel" : "Update";
}

/* Immediate: act now (a batch about that can kill); Expected: soon; Future:
 * worth knowing; Past: the revision ends the alert (cancelled or expired). */
const char *dawn_cap_urgency(const struct dawn_alert *a)
{
        if (a->status == DAWN_STATUS_CANCELLED || a->status == DAWN_STATUS_EXPIRED)
                return "Past";
        switch (a->grade) {
        case DAWN_GRADE_CRITICAL: return "Immediate";
        case DAWN_GRADE_WARNING: return "Expected";
        case DAWN_GRADE_INFO: return "Future";
        default: return "Unknown";
        }
}

const char *dawn_cap_severity(enum dawn_grade g)
{
        switch (g) {
        case DAWN_GRADE_CRITICAL: return "Extreme";
        case DAWN_GRADE_WARNING: return "Severe";
        case DAWN_GRADE_INFO: return "Moderate";
        case DAWN_GRADE_LOGGED: return "Minor";
        default: return "Unknown";
        }
}

/* Toxicology found it (Observed); a clinician saw it (Likely); someone said
 * so (Possible). */
const char *dawn_cap_certainty(enum dawn_evidence e)
{
        switch (e) {
        case DAWN_EVIDENCE_TOXICOLOGY: return "Observed";
        case DAWN_EVIDENCE_CLINICAL: return "Likely";
        case DAWN_EVIDENCE_REPORTED: return "Possible";
        default: return "Unknown";
        }
}

const char *dawn_cap_event(enum dawn_type t)
{
        switch (t) {
        case DAWN_TYPE_BATCH: return "Dangerous drug batch";
        case DAWN_TYPE_CLUSTER: return "Cluster of drug-related harm";
        case DAWN_TYPE_NFOD: return "Non-fatal overdose";
        default: return "Drug alert";
        }
}

/* ---- identifiers and times ---- */

bool dawn_cap_valid_sender(const char *s)
{
        if (!s || !*s || strlen(s) > DAWN_CAP_SENDER_MAX)
                return false;
        for (; *s; s++)
                if (*s <= ' ' || *s >= 0x7f || *s == ',' || *s == '<' || *s == '&')
                        return false;
        return true;
}

int dawn_cap_identifier(const char *sender, const char *alert_id, int revision, char *buf, size_t n)
{
        int len = snprintf(buf, n, "%s.%s.r%d", sender ? sender : "", alert_id ? alert_id : "", revision);
        if (len < 0 || (size_t)len >= n || !alert_id || !*alert_id || !dawn_cap_valid_sender(sender) ||
            strlen(buf) > DAWN_CAP_SENDER_MAX + 64) {
                if (n)
                        buf[0] = '\0';
                return -EINVAL;
        }
        for (const char *p = buf; *p; p++)
                if (*p <= ' ' || *p >= 0x7f || *p == ',' || *p == '<' || *p == '&') {
                        buf[0] = '\0';
                        return -EINVAL;
                }
        return 0;
}

char *dawn_cap_time(int64_t usec, char *buf, size_t n)
{
        time_t t = (time_t)(usec / 1000000);
        struct tm tm;
        if (n)
                buf[0] = '\0';
        if (usec < 0 || !gmtime_r(&t, &tm) || strftime(buf, n, "%Y-%m-%dT%H:%M:%S+00:00", &tm) == 0) {
                if (n)
                        buf[0] = '\0';
        }
        return buf;
}

int dawn_cap_reference(const char *sender, const struct dawn_alert *a, char *buf, size_t n)
{
        char id[DAWN_CAP_SENDER_MAX + 96], sent[32];
        if (dawn_cap_identifier(sender, a->id, a->revision, id, sizeof(id)) < 0 ||
            !*dawn_cap_time(a->updated_at, sent, sizeof(sent)))
                return -EINVAL;
        int len = snprintf(buf, n, "%s,%s,%s", sender, id, sent);
        return len < 0 || (size_t)len >= n ? -EINVAL : 0;
}

/* ---- text that XML can hold ---- */

static size_t put_replacement(char *o)
{
        memcpy(o, "\xef\xbf\xbd", 3);
        return 3;
}

static bool cont(unsigned char c)
{
        return (c & 0xc0) == 0x80;
}

/* The length of the valid UTF-8 character at s that XML 1.0 allows, or 0. */
static size_t xml_char_len(const unsigned char *s)
{
        unsigned char c = s[0];
        if (c < 0x80)
                return c >= 0x20 || c == '\t' || c == '\n' || c == '\r' ? 1 : 0;
        if (c >= 0xc2 && c <= 0xdf)
                return cont(s[1]) ? 2 : 0;
        if (c >= 0xe0 && c <= 0xef) {
                if (!cont(s[1]) || !cont(s[2]))
                        return 0;
                if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0)) /* overlong, surrogate */
                        return 0;
                if (c == 0xef && s[1] == 0xbf && (s[2] == 0xbe || s[2] == 0xbf)) /* U+FFFE, U+FFFF */
                        return 0;
                return 3;
        }
        if (c >= 0xf0 && c <= 0xf4) {
                if (!cont(s[1]) || !cont(s[2]) || !cont(s[3]))
                        return 0;
                if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
                        return 0;
                return 4;
        }
        return 0;
}

/* A malloc'ed copy of s that XML can hold: each character it cannot (or
 * byte that is not UTF-8) becomes U+FFFD; with one_line, line breaks and
 * tabs become spaces. */
static char *xml_clean(const char *s, bool one_line)
{
        size_t n = strlen(s);
        char *out = malloc(n * 3 + 1);
        if (!out)
                return NULL;
        const unsigned char *p = (const unsigned char *)s;
        size_t o = 0;
        while (*p) {
                size_t len = xml_char_len(p);
                if (len == 0) {
                        o += put_replacement(out + o);
                        /* a well-formed character XML does not allow (a surrogate, U+FFFE, U+FFFF)
                         * is one replacement; a stray byte is one each */
                        p += *p >= 0xe0 && *p <= 0xef && cont(p[1]) && cont(p[2]) ? 3 : 1;
                } else if (one_line && len == 1 && (*p == '\n' || *p == '\r' || *p == '\t')) {
                        out[o++] = ' ';
                        p++;
                } else {
                        memcpy(out + o, p, len);
                        o += len;
                        p += len;
                }
        }
        out[o] = '\0';
        return out;
}

/* ---- writing ---- */

struct writer {
        xmlBufferPtr buf;
        xmlTextWriterPtr w;
        int err;                /* the first failure: -ENOMEM or -EINVAL */
};

static int writer_open(struct writer *x)
{
        x->err = 0;
        x->buf = xmlBufferCreate();
        x->w = x->buf ? xmlNewTextWriterMemory(x->buf, 0) : NULL;
        if (!x->w) {
                if (x->buf)
                        xmlBufferFree(x->buf);
                return -ENOMEM;
        }
        xmlTextWriterSetIndent(x->w, 1);
        xmlTextWriterSetIndentString(x->w, BAD_CAST "  ");
        if (xmlTextWriterStartDocument(x->w, NULL, "UTF-8", NULL) < 0)
                x->err = -ENOMEM;
        return 0;
}

static void check(struct writer *x, int rc)
{
        if (rc < 0 && !x->err)
                x->err = -ENOMEM;
}

static void start(struct writer *x, const char *name)
{
        if (!x->err)
                check(x, xmlTextWriterStartElement(x->w, BAD_CAST name));
}

static void end(struct writer *x)
{
        if (!x->err)
                check(x, xmlTextWriterEndElement(x->w));
}

static void attr(struct writer *x, const char *name, const char *value)
{
        if (!x->err)
                check(x, xmlTextWriterWriteAttribute(x->w, BAD_CAST name, BAD_CAST value));
}

/* <name>text</name>, text cleaned (see xml_clean); nothing for NULL. */
static void element(struct writer *x, const char *name, const char *text, bool one_line)
{
        if (x->err || !text)
                return;
        char *clean = xml_clean(text, one_line);
        if (!clean) {
                x->err = -ENOMEM;
                return;
        }
        check(x, xmlTextWriterWriteElement(x->w, BAD_CAST name, BAD_CAST clean));
        free(clean);
}

static void time_element(struct writer *x, const char *name, int64_t usec)
{
        char t[32];
        if (!x->err && !*dawn_cap_time(usec, t, sizeof(t)))
                x->err = -EINVAL;
        element(x, name, t, true);
}

static int writer_close(struct writer *x, char **out, size_t *len)
{
        if (!x->err)
                check(x, xmlTextWriterEndDocument(x->w));
        xmlFreeTextWriter(x->w); /* flushes into buf */
        int r = x->err;
        if (r == 0) {
                const xmlChar *content = xmlBufferContent(x->buf);
                size_t n = (size_t)xmlBufferLength(x->buf);
                *out = malloc(n + 1);
                if (!*out)
                        r = -ENOMEM;
                else {
                        memcpy(*out, content, n);
                        (*out)[n] = '\0';
                        *len = n;
                }
        }
        xmlBufferFree(x->buf);
        return r;
}

/* "a, b, c" of a list; NULL when empty (malloc'ed). */
static char *joined(const struct dawn_strv *v, int *err)
{
        size_t n = 0;
        for (size_t i = 0; i < v->n; i++)
                n += strlen(v->v[i]) + 2;
        if (n == 0)
                return NULL;
        char *s = malloc(n + 1);
        if (!s) {
                *err = -ENOMEM;
                return NULL;
        }
        s[0] = '\0';
        for (size_t i = 0; i < v->n; i++) {
                if (i)
                        strcat(s, ", ");
                strcat(s, v->v[i]);
        }
        return s;
}

static void parameter(struct writer *x, const char *name, const char *value)
{
        if (x->err || !value || !*value)
                return;
        start(x, "parameter");
        element(x, "valueName", name, true);
        element(x, "value", value, true);
        end(x);
}

static void list_parameter(struct writer *x, const char *name, const struct dawn_strv *v)
{
        char *s = joined(v, &x->err);
        parameter(x, name, s);
        free(s);
}

static void count_parameter(struct writer *x, const char *name, int64_t n)
{
        char s[24];
        if (n < 0)
                return;
        snprintf(s, sizeof(s), "%lld", (long long)n);
        parameter(x, name, s);
}

static const char *response_type(const struct dawn_alert *a)
{
        if (a->status != DAWN_STATUS_ACTIVE)
                return NULL;
        return a->type == DAWN_TYPE_BATCH ? "Avoid" : "Monitor";
}

/* The headline: the summary's first DAWN_CAP_HEADLINE_CHARS bytes on one line. */
static void headline(struct writer *x, const char *summary)
{
        if (!summary)
                return;
        char h[DAWN_CAP_HEADLINE_CHARS + 1];
        int n = dawn_utf8_prefix(summary, DAWN_CAP_HEADLINE_CHARS);
        snprintf(h, sizeof(h), "%.*s", n, summary);
        element(x, "headline", h, true);
}

static void info(struct writer *x, const struct dawn_cap_doc *d)
{
        const struct dawn_alert *a = d->alert;
        start(x, "info");
        element(x, "language", "en-GB", true);
        element(x, "category", "Health", true);
        element(x, "event", dawn_cap_event(a->type), true);
        element(x, "responseType", response_type(a), true);
        element(x, "urgency", dawn_cap_urgency(a), true);
        element(x, "severity", dawn_cap_severity(a->grade), true);
        element(x, "certainty", dawn_cap_certainty(a->evidence), true);
        if (a->occurred_at > 0)
                time_element(x, "onset", a->occurred_at);
        if (a->expires_at > 0)
                time_element(x, "expires", a->expires_at);
        element(x, "senderName", "DAWN", true);
        headline(x, a->summary);
        element(x, "description", a->summary, false);
        element(x, "instruction", a->advice, false);
        list_parameter(x, "sold-as", &a->sold_as);
        list_parameter(x, "adulterants", &a->adulterants);
        parameter(x, "appearance", a->appearance);
        parameter(x, "evidence", dawn_evidence_name(a->evidence));
        parameter(x, "grade", dawn_grade_name(a->grade));
        count_parameter(x, "casualties", a->casualties);
        count_parameter(x, "fatalities", a->fatalities);
        start(x, "area");
        element(x, "areaDesc", d->area_name && *d->area_name ? d->area_name : a->area ? a->area : "unknown", true);
        if (d->gss && *d->gss) {
                start(x, "geocode");
                element(x, "valueName", DAWN_CAP_GSS_VALUE_NAME, true);
                element(x, "value", d->gss, true);
                end(x);
        }
        end(x);
        end(x);
}

/* The alert-level <note>: why a revision ends the alert. */
static char *note_of(const struct dawn_alert *a)
{
        char *s = NULL;
        if (a->status == DAWN_STATUS_CANCELLED) {
                if (asprintf(&s, "Cancelled%s%s", a->cancel_reason ? ": " : ".",
                             a->cancel_reason ? a->cancel_reason : "") < 0)
                        return NULL;
        } else if (a->status == DAWN_STATUS_EXPIRED) {
                s = strdup("Expired: this alert has ended.");
        }
        return s;
}

int dawn_cap_write(const struct dawn_cap_doc *d, char **out, size_t *len)
{
        const struct dawn_alert *a = d->alert;
        char id[DAWN_CAP_SENDER_MAX + 96];
        char ref[2 * DAWN_CAP_SENDER_MAX + 160];
        *out = NULL;
        *len = 0;
        /* a first revision that ends the alert (a rejected report) never reached anyone */
        if (!d->prev && a->status != DAWN_STATUS_ACTIVE)
                return -EINVAL;
        if (a->status == DAWN_STATUS_PENDING || (d->prev && d->prev->status == DAWN_STATUS_PENDING))
                return -EINVAL;
        if (dawn_cap_identifier(d->sender, a->id, a->revision, id, sizeof(id)) < 0)
                return -EINVAL;
        if (d->prev && dawn_cap_reference(d->sender, d->prev, ref, sizeof(ref)) < 0)
                return -EINVAL;
        char *note = note_of(a);
        if (!note && a->status != DAWN_STATUS_ACTIVE)
                return -ENOMEM;

        struct writer x;
        if (writer_open(&x) < 0) {
                free(note);
                return -ENOMEM;
        }
        start(&x, "alert");
        attr(&x, "xmlns", CAP_NS);
        element(&x, "identifier", id, true);
        element(&x, "sender", d->sender, true);
        time_element(&x, "sent", a->updated_at);
        element(&x, "status", "Actual", true);
        element(&x, "msgType", dawn_cap_msg_type(a, d->prev == NULL), true);
        element(&x, "scope", a->scope == DAWN_SCOPE_PUBLIC ? "Public" : "Restricted", true);
        if (a->scope != DAWN_SCOPE_PUBLIC)
                element(&x, "restriction", DAWN_CAP_RESTRICTION, true);
        element(&x, "note", note, false);
        if (d->prev)
                element(&x, "references", ref, true);
        info(&x, d);
        end(&x);
        free(note);
        return writer_close(&x, out, len);
}

/* ---- the Atom feed ---- */

int dawn_cap_feed(const char *sender, const char *self_href, const struct dawn_cap_entry *entries, size_t n,
                  int64_t now, char **out, size_t *len)
{
        char id[DAWN_CAP_SENDER_MAX + 128];
        *out = NULL;
        *len = 0;
        if (!dawn_cap_valid_sender(sender))
                return -EINVAL;
        int64_t updated = 0;
        for (size_t i = 0; i < n; i++)
                if (entries[i].alert->updated_at > updated)
                        updated = entries[i].alert->updated_at;
        struct writer x;
        if (writer_open(&x) < 0)
                return -ENOMEM;
        start(&x, "feed");
        attr(&x, "xmlns", ATOM_NS);
        snprintf(id, sizeof(id), "urn:dawn:cap-feed:%s", sender);
        element(&x, "id", id, true);
        element(&x, "title", "DAWN drug alerts (CAP 1.2)", true);
        time_element(&x, "updated", updated ? updated : now);
        start(&x, "author");
        element(&x, "name", sender, true);
        end(&x);
        start(&x, "link");
        attr(&x, "rel", "self");
        attr(&x, "type", DAWN_CAP_ATOM_CONTENT_TYPE);
        attr(&x, "href", self_href);
        end(&x);
        for (size_t i = 0; i < n && !x.err; i++) {
                const struct dawn_alert *a = entries[i].alert;
                char cap_id[DAWN_CAP_SENDER_MAX + 96], title[DAWN_CAP_HEADLINE_CHARS + 64];
                if (dawn_cap_identifier(sender, a->id, a->revision, cap_id, sizeof(cap_id)) < 0) {
                        x.err = -EINVAL;
                        break;
                }
                start(&x, "entry");
                snprintf(id, sizeof(id), "urn:dawn:cap:%s", cap_id);
                element(&x, "id", id, true);
                const char *s = a->summary ? a->summary : dawn_cap_event(a->type);
                snprintf(title, sizeof(title), "%s %s: %.*s", a->id, dawn_grade_name(a->grade),
                         dawn_utf8_prefix(s, DAWN_CAP_HEADLINE_CHARS), s);
                element(&x, "title", title, true);
                time_element(&x, "updated", a->updated_at);
                if (a->issued_at > 0)
                        time_element(&x, "published", a->issued_at);
                start(&x, "link");
                attr(&x, "rel", "alternate");
                attr(&x, "type", DAWN_CAP_CONTENT_TYPE);
                attr(&x, "href", entries[i].href);
                end(&x);
                start(&x, "category");
                attr(&x, "term", a->scope == DAWN_SCOPE_PUBLIC ? "Public" : "Restricted");
                end(&x);
                element(&x, "summary", a->summary, false);
                end(&x);
        }
        end(&x);
        return writer_close(&x, out, len);
}
