#include "email_text.h"
#include "escalation_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BODY_WIDTH 76          /* characters per body line before encoding */
#define LABEL_WIDTH 14         /* "Adulterants:  " */
#define HEADER_WIDTH 78        /* fold plain headers beyond this */
#define ENCODED_LINE_MAX 76    /* RFC 2047: a line with encoded-words */
#define QP_LINE_MAX 76         /* RFC 2045: an encoded body line */
#define HEADER_VALUE_MAX 900   /* bytes; far below SMTP's 998 per line */
#define SUBJECT_WHAT_MAX 80    /* characters of "heroin with nitazene" in the subject */

/* ---- small text helpers ---- */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s)
{
        if (s[0] < 0x80)
                return 1;
        size_t n;
        unsigned cp;
        if (s[0] >= 0xc2 && s[0] <= 0xdf) {
                n = 2;
                cp = s[0] & 0x1f;
        } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
                n = 3;
                cp = s[0] & 0x0f;
        } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
                n = 4;
                cp = s[0] & 0x07;
        } else {
                return 0;
        }
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if (n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
                return 0; /* overlong, or a surrogate */
        if (n == 4 && (cp < 0x10000 || cp > 0x10ffff))
                return 0;
        return n;
}

/* A copy of s on one line: every control character (C0, DEL, C1) is a
 * space, invalid UTF-8 bytes are '?', runs of spaces are one, no space at
 * either end, at most max bytes (cut at a character boundary). */
static char *one_line(const char *s, size_t max)
{
        size_t len = strlen(s);
        char *out = malloc(len + 1);
        if (!out)
                return NULL;
        size_t o = 0;
        const unsigned char *p = (const unsigned char *)s;
        while (*p) {
                size_t n = utf8_len(p);
                bool space = false;
                if (n == 0) {
                        n = 1;
                        if (o + 1 > max)
                                break;
                        out[o++] = '?';
                        p += n;
                        continue;
                }
                if (n == 1 && (*p < 0x20 || *p == 0x7f || *p == ' '))
                        space = true;
                else if (n == 2 && p[0] == 0xc2 && p[1] < 0xa0)
                        space = true; /* C1 controls U+0080..U+009F */
                if (space) {
                        if (o > 0 && out[o - 1] != ' ' && o + 1 <= max)
                                out[o++] = ' ';
                } else {
                        if (o + n > max)
                                break;
                        memcpy(out + o, p, n);
                        o += n;
                }
                p += n;
        }
        while (o > 0 && out[o - 1] == ' ')
                o--;
        out[o] = '\0';
        return out;
}

static bool is_ascii(const char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s >= 0x80)
                        return false;
        return true;
}

/* Characters (code points) in the first n bytes of UTF-8 text. */
static size_t chars(const char *s, size_t n)
{
        size_t c = 0;
        for (size_t i = 0; i < n; i++)
                if (((unsigned char)s[i] & 0xc0) != 0x80)
                        c++;
        return c;
}

static char *finish_stream(FILE *f, char **buf, bool ok)
{
        if (fclose(f) != 0)
                ok = false;
        if (!ok) {
                free(*buf);
                *buf = NULL;
        }
        return *buf;
}

/* ---- names for people ---- */

static const char *type_title(enum dawn_type t)
{
        switch (t) {
        case DAWN_TYPE_BATCH: return "Dangerous batch";
        case DAWN_TYPE_CLUSTER: return "Overdose cluster";
        case DAWN_TYPE_NFOD: return "Non-fatal overdose report";
        default: return "Alert";
        }
}

/* "isle-of-wight" -> "Isle of Wight": area ids are lower-case words joined
 * by hyphens; small words stay lower case except at the start. */
static void area_title(FILE *f, const char *id)
{
        static const char *const small[] = { "of", "and", "on", "the", "upon", "in", "by", NULL };
        const char *p = id ? id : "";
        bool first = true;
        while (*p) {
                size_t n = strcspn(p, "-_ ");
                bool is_small = false;
                for (size_t i = 0; small[i]; i++)
                        if (strlen(small[i]) == n && strncmp(p, small[i], n) == 0)
                                is_small = true;
                if (n > 0) {
                        if (!first)
                                fputc(' ', f);
                        char c = p[0];
                        if (!is_small || first)
                                c = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
                        fputc(c, f);
                        fwrite(p + 1, 1, n - 1, f);
                        first = false;
                }
                p += n;
                if (*p)
                        p++;
        }
}

/* "a", "a and b", "a, b and c" */
static void join_words(FILE *f, const struct dawn_strv *s, const char *sep, const char *last)
{
        for (size_t i = 0; i < s->n; i++) {
                if (i > 0)
                        fputs(i + 1 == s->n ? last : sep, f);
                fputs(s->v[i], f);
        }
}

/* What the subject says about the substance: "heroin/crack with nitazene
 * and xylazine", or the start of the summary. */
static void what_phrase(FILE *f, const struct dawn_alert *a)
{
        if (a->sold_as.n || a->adulterants.n) {
                join_words(f, &a->sold_as, "/", "/");
                if (a->sold_as.n && a->adulterants.n)
                        fputs(" with ", f);
                join_words(f, &a->adulterants, ", ", " and ");
        } else if (a->summary) {
                fputs(a->summary, f);
        }
}

/* The what-phrase on one line, at most SUBJECT_WHAT_MAX characters, cut at
 * a word with "..." when longer. */
static char *subject_what(const struct dawn_alert *a)
{
        char *raw = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&raw, &len);
        if (!f)
                return NULL;
        what_phrase(f, a);
        if (!finish_stream(f, &raw, true))
                return NULL;
        char *line = one_line(raw, HEADER_VALUE_MAX);
        free(raw);
        if (!line || chars(line, strlen(line)) <= SUBJECT_WHAT_MAX)
                return line;
        size_t cut = 0, n = 0;
        for (size_t i = 0; line[i] && n < SUBJECT_WHAT_MAX - 3; i++) {
                if (((unsigned char)line[i] & 0xc0) != 0x80)
                        n++;
                if (line[i] == ' ')
                        cut = i;
        }
        if (cut == 0) /* one long word: cut at a character boundary */
                for (size_t i = 0, k = 0; line[i]; i++)
                        if (((unsigned char)line[i] & 0xc0) != 0x80 && k++ == SUBJECT_WHAT_MAX - 3) {
                                cut = i;
                                break;
                        }
        strcpy(line + cut, "...");
        return line;
}

static void upper(FILE *f, const char *s)
{
        for (; *s; s++)
                fputc((*s >= 'a' && *s <= 'z') ? *s - 'a' + 'A' : *s, f);
}

char *dawn_email_subject(const struct dawn_alert *a, enum dawn_delivery_action action)
{
        char *what = subject_what(a);
        if (!what)
                return NULL;
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f) {
                free(what);
                return NULL;
        }
        if (action == DAWN_ACTION_WITHDRAW || action == DAWN_ACTION_REVIEW) {
                /* no grade in brackets: a review notice is not an alert, and
                 * a withdrawal's grade no longer matters */
                fprintf(f, "[DAWN] %s: %s %s in ", action == DAWN_ACTION_REVIEW ? "Review needed" : "WITHDRAWN",
                        a->id, type_title(a->type));
                area_title(f, a->area);
                if (*what)
                        fprintf(f, ": %s", what);
        } else {
                fputs("[DAWN ", f);
                upper(f, dawn_grade_name(a->grade));
                fprintf(f, "] %s in ", type_title(a->type));
                area_title(f, a->area);
                if (*what)
                        fprintf(f, ": %s", what);
                if (a->revision > 1)
                        fprintf(f, " (%s, update %d)", a->id, a->revision - 1);
                else
                        fprintf(f, " (%s)", a->id);
        }
        free(what);
        return finish_stream(f, &buf, true);
}

/* ---- the body ---- */

/* Writes text word-wrapped to BODY_WIDTH: the first line after `first`
 * characters already on it, the others indented by `indent` spaces. Line
 * breaks in the text are kept (a bare CR or LF, or CRLF, is one break);
 * other control characters are spaces. */
static void wrap(FILE *f, const char *text, size_t first, size_t indent)
{
        size_t col = first;
        bool line_has_word = false;
        const char *p = text;
        while (*p) {
                if (*p == '\r' || *p == '\n') {
                        p += (p[0] == '\r' && p[1] == '\n') ? 2 : 1;
                        fprintf(f, "\r\n%*s", (int)indent, "");
                        col = indent;
                        line_has_word = false;
                        continue;
                }
                if ((unsigned char)*p <= ' ' || *p == 0x7f) {
                        p++;
                        continue;
                }
                size_t n = 0;
                while (p[n] && (unsigned char)p[n] > ' ' && p[n] != 0x7f)
                        n++;
                size_t w = chars(p, n);
                if (line_has_word && col + 1 + w > BODY_WIDTH) {
                        fprintf(f, "\r\n%*s", (int)indent, "");
                        col = indent;
                        line_has_word = false;
                }
                if (line_has_word) {
                        fputc(' ', f);
                        col++;
                }
                fwrite(p, 1, n, f);
                col += w;
                line_has_word = true;
                p += n;
        }
        fputs("\r\n", f);
}

/* "Label:        value" with the value wrapped under itself. */
static void field(FILE *f, const char *label, const char *value)
{
        if (!value || !*value)
                return;
        fprintf(f, "%s:%*s", label, (int)(LABEL_WIDTH - strlen(label) - 1), "");
        wrap(f, value, LABEL_WIDTH, LABEL_WIDTH);
}

static void field_list(FILE *f, const char *label, const struct dawn_strv *s)
{
        if (!s->n)
                return;
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        if (!m)
                return;
        join_words(m, s, ", ", ", ");
        if (finish_stream(m, &buf, true))
                field(f, label, buf);
        free(buf);
}

static void field_count(FILE *f, const char *label, int64_t n)
{
        if (n < 0)
                return;
        char buf[32];
        snprintf(buf, sizeof(buf), "%lld", (long long)n);
        field(f, label, buf);
}

static const char *const weekday[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const month[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* "Mon 23 Nov 2026 18:23 UTC" */
static void field_time(FILE *f, const char *label, int64_t usec)
{
        if (!usec)
                return;
        time_t t = (time_t)(usec / 1000000);
        struct tm tm;
        if (!gmtime_r(&t, &tm))
                return;
        char buf[48];
        snprintf(buf, sizeof(buf), "%s %d %s %d %02d:%02d UTC", weekday[tm.tm_wday], tm.tm_mday,
                 month[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min);
        field(f, label, buf);
}

static void paragraph(FILE *f, const char *heading, const char *text, size_t indent)
{
        if (!text || !*text)
                return;
        if (heading)
                fprintf(f, "%s:\r\n", heading);
        fprintf(f, "%*s", (int)indent, "");
        wrap(f, text, indent, indent);
        fputs("\r\n", f);
}

static void details(FILE *f, const struct dawn_alert *a)
{
        char *area = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&area, &len);
        if (m) {
                area_title(m, a->area);
                if (a->area)
                        fprintf(m, " (%s)", a->area);
                finish_stream(m, &area, true);
        }
        field(f, "Alert", a->id);
        field(f, "Type", type_title(a->type));
        field(f, "Area", area);
        free(area);
        field(f, "Grade", dawn_grade_name(a->grade));
        if (a->grade_reasons.n) {
                fputs("Why this grade:\r\n", f);
                for (size_t i = 0; i < a->grade_reasons.n; i++) {
                        fputs("  - ", f);
                        wrap(f, a->grade_reasons.v[i], 4, 4);
                }
        }
        field_list(f, "Sold as", &a->sold_as);
        field_list(f, "Adulterants", &a->adulterants);
        field(f, "Appearance", a->appearance);
        field(f, "Evidence", dawn_evidence_name(a->evidence));
        field_count(f, "Casualties", a->casualties);
        field_count(f, "Fatalities", a->fatalities);
        field_time(f, "Occurred", a->occurred_at);
        /* a report in the review queue has not been issued yet, only received */
        field_time(f, a->status == DAWN_STATUS_PENDING ? "Received" : "Issued", a->issued_at);
        field_time(f, "Updated", a->updated_at);
        field_time(f, "Expires", a->expires_at);
        if (a->sources.n)
                field_count(f, "Sources", (int64_t)a->sources.n);
        field_count(f, "Revision", a->revision);
        field(f, "Status", dawn_status_name(a->status));
        field(f, "Cancelled", a->status == DAWN_STATUS_CANCELLED ? a->cancel_reason : NULL);
}

static void signature(FILE *f, enum dawn_delivery_action action)
{
        fputs("-- \r\n", f);
        /* a review notice goes to the public-health team itself */
        wrap(f,
             action == DAWN_ACTION_REVIEW
                     ? "Sent automatically by DAWN, the drug alert warning network, to the public-health "
                       "team that reviews reports. Replies are not read."
                     : "Sent automatically by DAWN, the drug alert warning network. Replies are not read: "
                       "contact the public-health team that issued this alert.",
             0, 0);
}

/* What a review notice asks for: who reported it (a partner with the
 * reporter role, or the sources of a cluster dawnd raised), that nothing
 * has gone out, and the two commands as the officer would type them. */
static void review_request(FILE *f, const struct dawn_alert *a)
{
        wrap(f,
             "This report waits in the review queue. Nothing has been sent to subscribers: it "
             "goes out only if an officer approves it.",
             0, 0);
        fputs("\r\n", f);
        if (a->sources.n) {
                char *who = NULL;
                size_t len = 0;
                FILE *m = open_memstream(&who, &len);
                if (m) {
                        join_words(m, &a->sources, ", ", " and ");
                        if (finish_stream(m, &who, true))
                                field(f, "Reported by", who);
                        free(who);
                }
                fputs("\r\n", f);
        }
}

static void review_commands(FILE *f, const struct dawn_alert *a)
{
        fputs("To approve it, so that it goes out as an alert:\r\n", f);
        fprintf(f, "  dawnctl approve %s\r\n", a->id);
        fputs("To reject it (nothing is sent; the reason is kept with the report):\r\n", f);
        fprintf(f, "  dawnctl reject %s --reason TEXT\r\n", a->id);
        fputs("To see everything waiting for review:\r\n", f);
        fputs("  dawnctl pending\r\n\r\n", f);
}

static void withdraw_reason(FILE *f, const struct dawn_alert *a)
{
        if (a->status == DAWN_STATUS_CANCELLED) {
                fputs("This alert has been cancelled.\r\n", f);
                paragraph(f, "Reason", a->cancel_reason, 2);
        } else if (a->status == DAWN_STATUS_EXPIRED) {
                fputs("This alert has expired.\r\n\r\n", f);
        } else {
                wrap(f,
                     "This alert was changed and no longer matches what you receive (area, type "
                     "or grade). You will not receive further updates about it.",
                     0, 0);
                fputs("\r\n", f);
        }
}

/* "Dangerous batch in Southampton: heroin with nitazene", wrapped, then a blank line. */
static void headline(FILE *f, const struct dawn_alert *a, const char *what)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        if (!m)
                return;
        fprintf(m, "%s in ", type_title(a->type));
        area_title(m, a->area);
        if (what && *what)
                fprintf(m, ": %s", what);
        if (finish_stream(m, &buf, true))
                wrap(f, buf, 0, 0);
        free(buf);
        fputs("\r\n", f);
}

char *dawn_email_body(const struct dawn_alert *a, enum dawn_delivery_action action)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        char *what = subject_what(a);
        bool ok = what != NULL;
        if (action == DAWN_ACTION_WITHDRAW) {
                fprintf(f, "DAWN: ALERT %s WITHDRAWN\r\n", a->id);
                headline(f, a, what);
                withdraw_reason(f, a);
                fputs("The alert as it stood:\r\n\r\n", f);
                paragraph(f, "Summary", a->summary, 2);
        } else if (action == DAWN_ACTION_REVIEW) {
                fprintf(f, "DAWN: REPORT %s NEEDS REVIEW\r\n", a->id);
                headline(f, a, what);
                review_request(f, a);
                paragraph(f, "Summary", a->summary, 2);
                paragraph(f, "Advice (as reported)", a->advice, 2);
        } else {
                fputs("DAWN ", f);
                upper(f, dawn_grade_name(a->grade));
                fprintf(f, " ALERT %s%s\r\n", a->id, a->revision > 1 ? " (UPDATED)" : "");
                headline(f, a, what);
                paragraph(f, NULL, a->summary, 0);
                paragraph(f, "Advice", a->advice, 2);
        }
        free(what);
        details(f, a);
        fputs("\r\n", f);
        if (action == DAWN_ACTION_WITHDRAW && a->advice)
                paragraph(f, "Advice given", a->advice, 2);
        else if (action == DAWN_ACTION_REVIEW)
                review_commands(f, a);
        signature(f, action);
        return finish_stream(f, &buf, ok);
}

/* ---- headers ---- */

static void base64(FILE *f, const unsigned char *p, size_t n)
{
        static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (size_t i = 0; i < n; i += 3) {
                unsigned v = (unsigned)p[i] << 16;
                if (i + 1 < n)
                        v |= (unsigned)p[i + 1] << 8;
                if (i + 2 < n)
                        v |= p[i + 2];
                fputc(tab[(v >> 18) & 63], f);
                fputc(tab[(v >> 12) & 63], f);
                fputc(i + 1 < n ? tab[(v >> 6) & 63] : '=', f);
                fputc(i + 2 < n ? tab[v & 63] : '=', f);
        }
}

/* RFC 2047 B encoded-words, each line at most ENCODED_LINE_MAX characters,
 * never splitting a UTF-8 character between two words. */
static void encoded_words(FILE *f, const char *v, size_t col)
{
        const char *p = v;
        while (*p) {
                /* "=?UTF-8?B?" + base64 + "?=": 12 characters besides the base64 */
                size_t room = ENCODED_LINE_MAX > col + 12 ? ENCODED_LINE_MAX - col - 12 : 4;
                size_t max_bytes = room / 4 * 3;
                if (max_bytes < 4)
                        max_bytes = 4; /* any one character must fit */
                size_t n = 0;
                while (p[n]) {
                        size_t k = utf8_len((const unsigned char *)p + n);
                        if (k == 0)
                                k = 1;
                        if (n + k > max_bytes)
                                break;
                        n += k;
                }
                fputs("=?UTF-8?B?", f);
                base64(f, (const unsigned char *)p, n);
                fputs("?=", f);
                p += n;
                if (*p) {
                        fputs("\r\n ", f);
                        col = 1;
                }
        }
}

/* Plain text, folded at spaces before HEADER_WIDTH where possible. */
static void folded(FILE *f, const char *v, size_t col)
{
        const char *p = v;
        bool first = true;
        while (*p) {
                size_t n = strcspn(p, " ");
                if (!first && col + 1 + n > HEADER_WIDTH) {
                        fputs("\r\n", f);
                        col = 0;
                }
                if (!first) {
                        fputc(' ', f);
                        col++;
                }
                fwrite(p, 1, n, f);
                col += n;
                first = false;
                p += n;
                while (*p == ' ')
                        p++;
        }
}

char *dawn_email_header(const char *name, const char *value, bool encode)
{
        char *v = one_line(value ? value : "", HEADER_VALUE_MAX);
        if (!v)
                return NULL;
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f) {
                free(v);
                return NULL;
        }
        fprintf(f, "%s: ", name);
        if (encode && !is_ascii(v))
                encoded_words(f, v, strlen(name) + 2);
        else
                folded(f, v, strlen(name) + 2);
        fputs("\r\n", f);
        free(v);
        return finish_stream(f, &buf, true);
}

static bool put_header(FILE *f, const char *name, const char *value, bool encode)
{
        char *h = dawn_email_header(name, value, encode);
        if (!h)
                return false;
        fputs(h, f);
        free(h);
        return true;
}

/* A Message-ID's left part may hold only atext and dots (RFC 5322 3.6.4). */
static void message_id(FILE *f, const char *reference)
{
        static const char atext[] = "!#$%&'*+-/=?^_`{|}~.";
        fputs("Message-ID: <", f);
        for (const char *p = reference && *reference ? reference : "unknown"; *p; p++) {
                char c = *p;
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                          strchr(atext, c);
                fputc(ok ? c : '_', f);
        }
        fputs("@dawn.invalid>\r\n", f);
}

static void date_header(FILE *f, int64_t usec)
{
        time_t t = (time_t)(usec / 1000000);
        struct tm tm;
        if (!gmtime_r(&t, &tm))
                memset(&tm, 0, sizeof(tm));
        fprintf(f, "Date: %s, %02d %s %d %02d:%02d:%02d +0000\r\n", weekday[tm.tm_wday % 7], tm.tm_mday,
                month[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* ---- quoted-printable (RFC 2045 6.7) ---- */

static void qp_line(FILE *f, const char *p, size_t n)
{
        static const char hex[] = "0123456789ABCDEF";
        size_t col = 0;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)p[i];
                bool last = i + 1 == n;
                bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last);
                size_t w = literal ? 1 : 3;
                /* leave room for the soft break's "=" unless this ends the line */
                if (col + w > (last ? QP_LINE_MAX : QP_LINE_MAX - 1)) {
                        fputs("=\r\n", f);
                        col = 0;
                }
                if (literal) {
                        fputc(c, f);
                } else {
                        fputc('=', f);
                        fputc(hex[c >> 4], f);
                        fputc(hex[c & 15], f);
                }
                col += w;
        }
        fputs("\r\n", f);
}

/* body has CRLF line endings (dawn_email_body's). */
static void quoted_printable(FILE *f, const char *body)
{
        const char *p = body;
        while (*p) {
                const char *eol = strstr(p, "\r\n");
                size_t n = eol ? (size_t)(eol - p) : strlen(p);
                qp_line(f, p, n);
                p += n + (eol ? 2 : 0);
        }
}

static struct dawn_email_rendered *render(const struct dawn_alert *a, char *subject, char *body);

struct dawn_email_rendered *dawn_email_render(const struct dawn_alert *a, enum dawn_delivery_action action)
{
        return render(a, dawn_email_subject(a, action), dawn_email_body(a, action));
}

struct dawn_email_rendered *dawn_email_render_escalation(const struct dawn_alert *a,
                                                         const struct dawn_escalation_facts *f)
{
        return render(a, dawn_escalation_subject(f), dawn_escalation_body(f));
}

struct dawn_email_rendered *dawn_email_rendered_free(struct dawn_email_rendered *r)
{
        if (r) {
                free(r->subject);
                free(r->rest);
                free(r);
        }
        return NULL;
}

static char *whole(struct dawn_email_rendered *r, const struct dawn_email_envelope *env)
{
        char *msg = r ? dawn_email_assemble(r, env) : NULL;
        dawn_email_rendered_free(r);
        return msg;
}

char *dawn_email_message(const struct dawn_alert *a, enum dawn_delivery_action action,
                         const struct dawn_email_envelope *env)
{
        return whole(dawn_email_render(a, action), env);
}

char *dawn_email_escalation_message(const struct dawn_alert *a, const struct dawn_escalation_facts *f,
                                    const struct dawn_email_envelope *env)
{
        return whole(dawn_email_render_escalation(a, f), env);
}

/* Takes subject and body (either may be NULL: out of memory). */
static struct dawn_email_rendered *render(const struct dawn_alert *a, char *subject, char *body)
{
        struct dawn_email_rendered *r = subject && body ? calloc(1, sizeof(*r)) : NULL;
        char *buf = NULL;
        size_t len = 0;
        FILE *f = r ? open_memstream(&buf, &len) : NULL;
        if (!f) {
                free(r);
                free(subject);
                free(body);
                return NULL;
        }
        r->subject = dawn_email_header("Subject", subject, true);
        fputs("MIME-Version: 1.0\r\n"
              "Content-Type: text/plain; charset=utf-8\r\n"
              "Content-Transfer-Encoding: quoted-printable\r\n"
              "Auto-Submitted: auto-generated\r\n",
              f);
        char num[32];
        snprintf(num, sizeof(num), "%d", a->revision);
        bool ok = put_header(f, "X-DAWN-Alert", a->id, false) && put_header(f, "X-DAWN-Revision", num, false) &&
                  put_header(f, "X-DAWN-Grade", dawn_grade_name(a->grade), false);
        fputs("\r\n", f);
        quoted_printable(f, body);
        free(subject);
        free(body);
        r->rest = finish_stream(f, &buf, ok);
        if (!r->subject || !r->rest)
                return dawn_email_rendered_free(r);
        return r;
}

char *dawn_email_assemble(const struct dawn_email_rendered *r, const struct dawn_email_envelope *env)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        date_header(f, env->date_usec);
        bool ok = put_header(f, "From", env->from, false) && put_header(f, "To", env->to, false);
        fputs(r->subject, f);
        message_id(f, env->reference);
        fputs(r->rest, f);
        return finish_stream(f, &buf, ok);
}
