#include "alert.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "text.h"

int dawn_input_error_set(struct dawn_input_error *e, const char *field, const char *fmt, ...)
{
        if (e) {
                field = field ? field : "";
                snprintf(e->field, sizeof(e->field), "%.*s", dawn_utf8_prefix(field, sizeof(e->field) - 1), field);
                va_list ap;
                va_start(ap, fmt);
                int len = vsnprintf(e->message, sizeof(e->message), fmt, ap);
                va_end(ap);
                if (len >= (int)sizeof(e->message))
                        e->message[dawn_utf8_prefix(e->message, sizeof(e->message) - 1)] = '\0';
                e->temporary = false;
        }
        return -EINVAL;
}

/* ---- the alert's life ---- */

void dawn_alert_init(struct dawn_alert *a)
{
        memset(a, 0, sizeof(*a));
        a->casualties = -1;
        a->fatalities = -1;
        a->evidence = DAWN_EVIDENCE_REPORTED;
        a->scope = DAWN_SCOPE_PROFESSIONAL;
        a->status = DAWN_STATUS_ACTIVE;
}

void dawn_alert_clear(struct dawn_alert *a)
{
        free(a->area);
        free(a->summary);
        free(a->appearance);
        free(a->advice);
        free(a->source_ref);
        free(a->cancel_reason);
        dawn_strv_clear(&a->sold_as);
        dawn_strv_clear(&a->adulterants);
        dawn_strv_clear(&a->grade_reasons);
        dawn_strv_clear(&a->sources);
        dawn_alert_init(a);
}

static int dup_opt(char **dst, const char *src)
{
        free(*dst);
        *dst = NULL;
        if (!src)
                return 0;
        *dst = strdup(src);
        return *dst ? 0 : -ENOMEM;
}

int dawn_alert_copy(struct dawn_alert *dst, const struct dawn_alert *src)
{
        dawn_alert_clear(dst);
        struct dawn_alert tmp = *src;
        /* scalars by assignment, then every owned pointer duplicated */
        tmp.area = tmp.summary = tmp.appearance = tmp.advice = NULL;
        tmp.source_ref = tmp.cancel_reason = NULL;
        tmp.sold_as = tmp.adulterants = tmp.grade_reasons = tmp.sources = (struct dawn_strv){ 0 };
        *dst = tmp;
        if (dup_opt(&dst->area, src->area) < 0 || dup_opt(&dst->summary, src->summary) < 0 ||
            dup_opt(&dst->appearance, src->appearance) < 0 || dup_opt(&dst->advice, src->advice) < 0 ||
            dup_opt(&dst->source_ref, src->source_ref) < 0 ||
            dup_opt(&dst->cancel_reason, src->cancel_reason) < 0 ||
            dawn_strv_copy(&dst->sold_as, &src->sold_as) < 0 ||
            dawn_strv_copy(&dst->adulterants, &src->adulterants) < 0 ||
            dawn_strv_copy(&dst->grade_reasons, &src->grade_reasons) < 0 ||
            dawn_strv_copy(&dst->sources, &src->sources) < 0)
                return -ENOMEM;
        return 0;
}

/* ---- text rules ---- */

/* Counts UTF-8 characters; -1 if s is not valid UTF-8 (overlongs and
 * surrogates included) or holds a control character other than those in
 * allowed_controls. */
static long utf8_chars(const char *s, const char *allowed_controls)
{
        const unsigned char *p = (const unsigned char *)s;
        long n = 0;
        while (*p) {
                unsigned c = *p;
                size_t len;
                unsigned cp;
                if (c < 0x80) {
                        if ((c < 0x20 || c == 0x7f) && !(c && strchr(allowed_controls, (int)c)))
                                return -1;
                        p++;
                        n++;
                        continue;
                } else if ((c & 0xe0) == 0xc0) {
                        len = 2, cp = c & 0x1f;
                } else if ((c & 0xf0) == 0xe0) {
                        len = 3, cp = c & 0x0f;
                } else if ((c & 0xf8) == 0xf0) {
                        len = 4, cp = c & 0x07;
                } else {
                        return -1;
                }
                for (size_t i = 1; i < len; i++) {
                        if ((p[i] & 0xc0) != 0x80)
                                return -1;
                        cp = (cp << 6) | (p[i] & 0x3f);
                }
                static const unsigned min_cp[5] = { 0, 0, 0x80, 0x800, 0x10000 };
                if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return -1;
                /* C1 controls are controls too: U+009B is a terminal's CSI */
                if (cp >= 0x80 && cp < 0xa0)
                        return -1;
                p += len;
                n++;
        }
        return n;
}

static bool is_blank(const char *s)
{
        for (; *s; s++)
                if (!isspace((unsigned char)*s))
                        return false;
        return true;
}

int dawn_text_check(const char *field, const char *s, long max_chars, bool multiline,
                    struct dawn_input_error *err)
{
        long n = utf8_chars(s, multiline ? "\n" : "");
        if (n < 0)
                return dawn_input_error_set(err, field, "%s: not valid UTF-8 text, or holds a control character%s",
                                            field, multiline ? " other than a newline" : "");
        if (n == 0 || is_blank(s))
                return dawn_input_error_set(err, field, "%s: must not be empty", field);
        if (n > max_chars)
                return dawn_input_error_set(err, field, "%s: %ld characters, at most %ld allowed", field, n,
                                            max_chars);
        return 0;
}

/* ---- input ---- */

typedef int (*field_parser)(const cJSON *item, struct dawn_alert *a, struct dawn_input_error *err);

static int want_string(const cJSON *item, const char *field, long max, bool multiline,
                       struct dawn_input_error *err)
{
        if (!cJSON_IsString(item))
                return dawn_input_error_set(err, field, "%s: must be a string", field);
        return dawn_text_check(field, item->valuestring, max, multiline, err);
}

static int want_name(const cJSON *item, const char *field, int (*from_name)(const char *),
                     const char *choices, int *out, struct dawn_input_error *err)
{
        if (!cJSON_IsString(item))
                return dawn_input_error_set(err, field, "%s: must be a string, one of %s", field, choices);
        int v = from_name(item->valuestring);
        if (v < 0) {
                char shown[40];
                /* show what was sent, cut short: it may be long or strange */
                snprintf(shown, sizeof(shown), "%.*s", dawn_utf8_prefix(item->valuestring, sizeof(shown) - 1),
                         item->valuestring);
                for (char *p = shown; *p; p++)
                        if ((unsigned char)*p < 0x20 || *p == 0x7f)
                                *p = '?';
                return dawn_input_error_set(err, field, "%s: '%s' is not one of %s", field, shown, choices);
        }
        *out = v;
        return 0;
}

static int want_count(const cJSON *item, const char *field, int64_t *out, struct dawn_input_error *err)
{
        /* cJSON numbers are doubles and valueint saturates: check the double */
        if (!cJSON_IsNumber(item))
                return dawn_input_error_set(err, field, "%s: must be a whole number", field);
        double d = item->valuedouble;
        if (!isfinite(d) || d != floor(d) || d < 0 || d > 1000000)
                return dawn_input_error_set(err, field, "%s: must be a whole number from 0 to 1000000", field);
        *out = (int64_t)d;
        return 0;
}

static int want_time(const cJSON *item, const char *field, int64_t *out, struct dawn_input_error *err)
{
        if (!cJSON_IsString(item) || dawn_time_parse(item->valuestring, out) < 0)
                return dawn_input_error_set(err, field, "%s: must be an RFC 3339 time such as 2026-11-23T03:10:00Z",
                                            field);
        return 0;
}

static int want_words(const cJSON *item, const char *field, struct dawn_strv *out,
                      struct dawn_input_error *err)
{
        if (!cJSON_IsArray(item))
                return dawn_input_error_set(err, field, "%s: must be an array of strings", field);
        int n = cJSON_GetArraySize(item);
        if (n > DAWN_MAX_LIST_ITEMS)
                return dawn_input_error_set(err, field, "%s: %d entries, at most %d allowed", field, n,
                                            DAWN_MAX_LIST_ITEMS);
        dawn_strv_clear(out);
        int i = 0;
        const cJSON *w;
        cJSON_ArrayForEach(w, item) {
                char name[64];
                snprintf(name, sizeof(name), "%s[%d]", field, i++);
                int r = want_string(w, name, DAWN_MAX_WORD_CHARS, false, err);
                if (r < 0)
                        return r;
                if (dawn_strv_add(out, w->valuestring) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int set_string(char **dst, const cJSON *item, const char *field, long max, bool multiline,
                      struct dawn_input_error *err)
{
        int r = want_string(item, field, max, multiline, err);
        if (r < 0)
                return r;
        return dup_opt(dst, item->valuestring);
}

/* An area or a source_ref is matched and compared, not read as prose: a
 * bidirectional control in one would make it look like another, and no
 * language needs one there. (Free text may carry them: Arabic or Hebrew
 * text uses marks; dawnctl shows them as <U+...>.) */
static int set_identifier(char **dst, const cJSON *item, const char *field, long max, struct dawn_input_error *err)
{
        int r = want_string(item, field, max, false, err);
        if (r < 0)
                return r;
        const char *bidi = dawn_text_find_bidi(item->valuestring);
        if (bidi) {
                uint32_t cp = 0;
                dawn_utf8_decode(bidi, &cp);
                return dawn_input_error_set(err, field,
                                            "%s: holds U+%04X, a bidirectional control, which an identifier may not "
                                            "contain",
                                            field, (unsigned)cp);
        }
        return dup_opt(dst, item->valuestring);
}

static int parse_type(const cJSON *i, struct dawn_alert *a, struct dawn_input_error *e)
{
        int v = 0;
        int r = want_name(i, "type", dawn_type_from_name, "batch, cluster, nfod", &v, e);
        a->type = (enum dawn_type)v;
        return r;
}
static int parse_area(const cJSON *i, struct dawn_alert *a, struct dawn_input_error *e)
{
        return set_identifier(&a->area, i, "area", 64, e);
}
static int parse_summary(const cJSON *i, struct dawn_alert *a, struct dawn_input_error *e)
{
        return set_string(&a->summary, i, "summary", DAWN_MAX_SUMMARY_CHARS, true, e);
}
static int parse_sold_as(const cJSON *i, struct dawn_alert *a, struct dawn_input_error *e)
{
        return want_words(i, "sold_as", &a->sold_as, e);
}
static int parse_adulterants(const cJSON *i, struct dawn_alert *a, struct dawn_input_error *e)
{
        return want_words(i, "adulterants", &a->adulterants, e);
}
static int parse_appearance(const cJSON *i, struct dawn_alert *a, struct dawn_input_error *e)
{
        return set_string(&a->appearance, i, "appearance", DAWN_MAX_TEXT_CHARS, true, e);
}
static int parse_advice(const cJSON *i, struct dawn_alert *a, struct dawn_input_error *e)
{
        return set_string(&a->advice, i, "advice", DAWN_MAX_TEXT_CHARS, true, e);
}
static int parse_evidence(const cJSON *i, struct dawn_alert *a, struct dawn_input_error *e)
{
        int v = 0;
        int r = want_name(i, "evidence", dawn_evidence_from_name, "reported, clinical, toxicology", &v, e);
        a->evidence = (enum dawn_evidence)v;
        return r;
}
static int parse_casualties(const cJSON *i, struct dawn_alert *a, struct dawn_input_error *e)
{
        return want_count(i, "casualties", &a->casualties, e);
}
static int parse_fatalities(const cJSON *i, struct dawn_alert *a, struct dawn_input_error *e)
{
        return want_count(i, "fatalities", &a->fatalities, e);
}
static int parse_occurred_at(const cJSON *i, struct dawn_alert *a, struct dawn_input_error *e)
{
        return want_time(i, "occurred_at", &a->occurred_at, e);
}
static int parse_expires_at(const cJSON *i, struct dawn_alert *a, struct dawn_input_error *e)
{
        return want_time(i, "expires_at", &a->expires_at, e);
}
static int parse_grade(const cJSON *i, struct dawn_alert *a, struct dawn_input_error *e)
{
        int v = 0;
        /* "logged" is what no officer issues: an alert worth issuing is at least info */
        int r = want_name(i, "grade", dawn_grade_from_name, "info, warning, critical", &v, e);
        if (r == 0 && v == DAWN_GRADE_LOGGED)
                return dawn_input_error_set(e, "grade", "grade: 'logged' is not one of info, warning, critical");
        a->has_grade_override = r == 0;
        a->grade_override = (enum dawn_grade)v;
        return r;
}
static int parse_scope(const cJSON *i, struct dawn_alert *a, struct dawn_input_error *e)
{
        int v = 0;
        int r = want_name(i, "scope", dawn_scope_from_name, "professional, public", &v, e);
        a->scope = (enum dawn_scope)v;
        return r;
}
static int parse_source_ref(const cJSON *i, struct dawn_alert *a, struct dawn_input_error *e)
{
        return set_identifier(&a->source_ref, i, "source_ref", DAWN_MAX_REF_CHARS, e);
}

static const struct {
        const char *name;
        unsigned bit;
        field_parser parse;
} input_fields[] = {
        { "type", DAWN_FIELD_TYPE, parse_type },
        { "area", DAWN_FIELD_AREA, parse_area },
        { "summary", DAWN_FIELD_SUMMARY, parse_summary },
        { "sold_as", DAWN_FIELD_SOLD_AS, parse_sold_as },
        { "adulterants", DAWN_FIELD_ADULTERANTS, parse_adulterants },
        { "appearance", DAWN_FIELD_APPEARANCE, parse_appearance },
        { "advice", DAWN_FIELD_ADVICE, parse_advice },
        { "evidence", DAWN_FIELD_EVIDENCE, parse_evidence },
        { "casualties", DAWN_FIELD_CASUALTIES, parse_casualties },
        { "fatalities", DAWN_FIELD_FATALITIES, parse_fatalities },
        { "occurred_at", DAWN_FIELD_OCCURRED_AT, parse_occurred_at },
        { "expires_at", DAWN_FIELD_EXPIRES_AT, parse_expires_at },
        { "grade", DAWN_FIELD_GRADE, parse_grade },
        { "scope", DAWN_FIELD_SCOPE, parse_scope },
        { "source_ref", DAWN_FIELD_SOURCE_REF, parse_source_ref },
};

static const char *const daemon_fields[] = {
        "id", "revision", "status", "grade_reasons", "sources", "issued_at", "updated_at",
};

int dawn_alert_parse_input(const cJSON *obj, struct dawn_alert *a, unsigned *seen,
                           struct dawn_input_error *err)
{
        if (!cJSON_IsObject(obj))
                return dawn_input_error_set(err, "alert", "the alert must be a JSON object");
        unsigned got = 0;
        const cJSON *item;
        cJSON_ArrayForEach(item, obj) {
                size_t i;
                for (i = 0; i < sizeof(input_fields) / sizeof(input_fields[0]); i++)
                        if (strcmp(item->string, input_fields[i].name) == 0)
                                break;
                if (i == sizeof(input_fields) / sizeof(input_fields[0])) {
                        if (!item->string[0])
                                return dawn_input_error_set(err, "alert", "the alert has a field with an empty name");
                        char shown[48];
                        snprintf(shown, sizeof(shown), "%.*s", dawn_utf8_prefix(item->string, sizeof(shown) - 1),
                                 item->string);
                        /* a name is decoded JSON: "\n" in it would start a forged line
                         * in a log written to stderr */
                        for (char *p = shown; *p; p++)
                                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                                        *p = '?';
                        for (size_t k = 0; k < sizeof(daemon_fields) / sizeof(daemon_fields[0]); k++)
                                if (strcmp(item->string, daemon_fields[k]) == 0)
                                        return dawn_input_error_set(err, shown,
                                                "%s: set by the daemon, not by a submitter", shown);
                        return dawn_input_error_set(err, shown, "unknown field '%s'", shown);
                }
                if (got & input_fields[i].bit)
                        return dawn_input_error_set(err, item->string, "%s: given twice", item->string);
                got |= input_fields[i].bit;
                int r = input_fields[i].parse(item, a, err);
                if (r < 0)
                        return r;
        }
        if (seen)
                *seen = got;
        return 0;
}

int dawn_alert_apply_update(struct dawn_alert *dst, const struct dawn_alert *src, unsigned seen)
{
        int r = 0;
        if (seen & DAWN_FIELD_TYPE)
                dst->type = src->type;
        if (seen & DAWN_FIELD_AREA)
                r |= dup_opt(&dst->area, src->area);
        if (seen & DAWN_FIELD_SUMMARY)
                r |= dup_opt(&dst->summary, src->summary);
        if (seen & DAWN_FIELD_SOLD_AS)
                r |= dawn_strv_copy(&dst->sold_as, &src->sold_as);
        if (seen & DAWN_FIELD_ADULTERANTS)
                r |= dawn_strv_copy(&dst->adulterants, &src->adulterants);
        if (seen & DAWN_FIELD_APPEARANCE)
                r |= dup_opt(&dst->appearance, src->appearance);
        if (seen & DAWN_FIELD_ADVICE)
                r |= dup_opt(&dst->advice, src->advice);
        if (seen & DAWN_FIELD_EVIDENCE)
                dst->evidence = src->evidence;
        if (seen & DAWN_FIELD_CASUALTIES)
                dst->casualties = src->casualties;
        if (seen & DAWN_FIELD_FATALITIES)
                dst->fatalities = src->fatalities;
        if (seen & DAWN_FIELD_OCCURRED_AT)
                dst->occurred_at = src->occurred_at;
        if (seen & DAWN_FIELD_EXPIRES_AT)
                dst->expires_at = src->expires_at;
        if (seen & DAWN_FIELD_GRADE) {
                dst->has_grade_override = src->has_grade_override;
                dst->grade_override = src->grade_override;
        }
        if (seen & DAWN_FIELD_SCOPE)
                dst->scope = src->scope;
        if (seen & DAWN_FIELD_SOURCE_REF)
                r |= dup_opt(&dst->source_ref, src->source_ref);
        return r ? -ENOMEM : 0;
}

int dawn_alert_check(const struct dawn_alert *a, const struct dawn_config *c, int64_t now_usec,
                     struct dawn_input_error *err)
{
        if (!a->area)
                return dawn_input_error_set(err, "area", "area: required");
        if (c && dawn_config_area_index(c, a->area) < 0)
                return dawn_input_error_set(err, "area", "area: unknown area '%.*s'",
                                            dawn_utf8_prefix(a->area, 40), a->area);
        if (a->type == DAWN_TYPE_NFOD && a->has_grade_override)
                return dawn_input_error_set(err, "grade",
                                            "grade: a single non-fatal overdose report is logged, not graded by "
                                            "hand; issue a batch or cluster alert to warn people");
        if (a->type != DAWN_TYPE_NFOD && !a->summary)
                return dawn_input_error_set(err, "summary", "summary: required for a %s alert",
                                            dawn_type_name(a->type));
        if (a->expires_at && a->expires_at <= now_usec)
                return dawn_input_error_set(err, "expires_at", "expires_at: lies in the past");
        if (a->occurred_at && a->occurred_at > now_usec + 300 * (int64_t)DAWN_USEC_PER_SEC)
                return dawn_input_error_set(err, "occurred_at", "occurred_at: lies in the future");
        if (a->casualties >= 0 && a->fatalities > a->casualties)
                return dawn_input_error_set(err, "fatalities",
                                            "fatalities: %lld is more than the %lld casualties",
                                            (long long)a->fatalities, (long long)a->casualties);
        return 0;
}

/* ---- output ---- */

static void add_strv(cJSON *o, const char *name, const struct dawn_strv *s)
{
        cJSON *arr = cJSON_AddArrayToObject(o, name);
        for (size_t i = 0; arr && i < s->n; i++)
                cJSON_AddItemToArray(arr, cJSON_CreateString(s->v[i]));
}

static void add_time(cJSON *o, const char *name, int64_t usec)
{
        char buf[40];
        if (usec)
                cJSON_AddStringToObject(o, name, dawn_time_format(usec, buf, sizeof(buf)));
}

cJSON *dawn_alert_to_json(const struct dawn_alert *a)
{
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        if (a->id[0])
                cJSON_AddStringToObject(o, "id", a->id);
        cJSON_AddNumberToObject(o, "revision", a->revision);
        cJSON_AddStringToObject(o, "status", dawn_status_name(a->status));
        cJSON_AddStringToObject(o, "type", dawn_type_name(a->type));
        if (a->area)
                cJSON_AddStringToObject(o, "area", a->area);
        cJSON_AddStringToObject(o, "grade", dawn_grade_name(a->grade));
        add_strv(o, "grade_reasons", &a->grade_reasons);
        if (a->has_grade_override)
                cJSON_AddStringToObject(o, "grade_override", dawn_grade_name(a->grade_override));
        if (a->summary)
                cJSON_AddStringToObject(o, "summary", a->summary);
        add_strv(o, "sold_as", &a->sold_as);
        add_strv(o, "adulterants", &a->adulterants);
        if (a->appearance)
                cJSON_AddStringToObject(o, "appearance", a->appearance);
        if (a->advice)
                cJSON_AddStringToObject(o, "advice", a->advice);
        cJSON_AddStringToObject(o, "evidence", dawn_evidence_name(a->evidence));
        if (a->casualties >= 0)
                cJSON_AddNumberToObject(o, "casualties", (double)a->casualties);
        if (a->fatalities >= 0)
                cJSON_AddNumberToObject(o, "fatalities", (double)a->fatalities);
        cJSON_AddStringToObject(o, "scope", dawn_scope_name(a->scope));
        add_strv(o, "sources", &a->sources);
        if (a->source_ref)
                cJSON_AddStringToObject(o, "source_ref", a->source_ref);
        add_time(o, "occurred_at", a->occurred_at);
        add_time(o, "issued_at", a->issued_at);
        add_time(o, "updated_at", a->updated_at);
        add_time(o, "expires_at", a->expires_at);
        if (a->cancel_reason)
                cJSON_AddStringToObject(o, "cancel_reason", a->cancel_reason);
        return o;
}

static int read_strv(const cJSON *o, const char *name, struct dawn_strv *out)
{
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, name), *w;
        cJSON_ArrayForEach(w, arr)
                if (cJSON_IsString(w) && dawn_strv_add(out, w->valuestring) < 0)
                        return -ENOMEM;
        return 0;
}

static const char *get_str(const cJSON *o, const char *name)
{
        const cJSON *i = cJSON_GetObjectItemCaseSensitive(o, name);
        return cJSON_IsString(i) ? i->valuestring : NULL;
}

static int64_t get_time(const cJSON *o, const char *name)
{
        int64_t t = 0;
        const char *s = get_str(o, name);
        if (s && dawn_time_parse(s, &t) < 0)
                t = 0;
        return t;
}

static int64_t get_count(const cJSON *o, const char *name)
{
        const cJSON *i = cJSON_GetObjectItemCaseSensitive(o, name);
        return cJSON_IsNumber(i) ? (int64_t)i->valuedouble : -1;
}

int dawn_alert_from_json(const cJSON *o, struct dawn_alert *a)
{
        if (!cJSON_IsObject(o))
                return -EINVAL;
        int v;
        const char *s = get_str(o, "id");
        snprintf(a->id, sizeof(a->id), "%s", s ? s : "");
        const cJSON *rev = cJSON_GetObjectItemCaseSensitive(o, "revision");
        a->revision = cJSON_IsNumber(rev) ? rev->valueint : 0;
        if ((v = dawn_status_from_name(get_str(o, "status"))) >= 0)
                a->status = (enum dawn_status)v;
        if ((v = dawn_type_from_name(get_str(o, "type"))) < 0)
                return -EINVAL;
        a->type = (enum dawn_type)v;
        if ((v = dawn_grade_from_name(get_str(o, "grade"))) >= 0)
                a->grade = (enum dawn_grade)v;
        if ((v = dawn_grade_from_name(get_str(o, "grade_override"))) >= 0) {
                a->has_grade_override = true;
                a->grade_override = (enum dawn_grade)v;
        }
        if ((v = dawn_evidence_from_name(get_str(o, "evidence"))) >= 0)
                a->evidence = (enum dawn_evidence)v;
        if ((v = dawn_scope_from_name(get_str(o, "scope"))) >= 0)
                a->scope = (enum dawn_scope)v;
        a->casualties = get_count(o, "casualties");
        a->fatalities = get_count(o, "fatalities");
        a->occurred_at = get_time(o, "occurred_at");
        a->issued_at = get_time(o, "issued_at");
        a->updated_at = get_time(o, "updated_at");
        a->expires_at = get_time(o, "expires_at");
        if (dup_opt(&a->area, get_str(o, "area")) < 0 || dup_opt(&a->summary, get_str(o, "summary")) < 0 ||
            dup_opt(&a->appearance, get_str(o, "appearance")) < 0 ||
            dup_opt(&a->advice, get_str(o, "advice")) < 0 ||
            dup_opt(&a->source_ref, get_str(o, "source_ref")) < 0 ||
            dup_opt(&a->cancel_reason, get_str(o, "cancel_reason")) < 0 ||
            read_strv(o, "sold_as", &a->sold_as) < 0 || read_strv(o, "adulterants", &a->adulterants) < 0 ||
            read_strv(o, "grade_reasons", &a->grade_reasons) < 0 || read_strv(o, "sources", &a->sources) < 0)
                return -ENOMEM;
        return 0;
}

/* ---- fingerprint ---- */

static char *normalise_word(const char *w)
{
        while (isspace((unsigned char)*w))
                w++;
        size_t len = strlen(w);
        while (len && isspace((unsigned char)w[len - 1]))
                len--;
        char *out = strndup(w, len);
        if (!out)
                return NULL;
        /* collapse inner runs of space and fold ASCII case; "Crack  Cocaine" == "crack cocaine" */
        char *d = out;
        for (char *p = out; *p; p++) {
                if (isspace((unsigned char)*p)) {
                        if (d > out && d[-1] == ' ')
                                continue;
                        *d++ = ' ';
                } else {
                        *d++ = (char)tolower((unsigned char)*p);
                }
        }
        *d = '\0';
        return out;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends the normalised, sorted, unique words of s to buf, comma-separated. */
static int append_words(char **buf, size_t *len, const struct dawn_strv *s)
{
        char **w = calloc(s->n ? s->n : 1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        int r = 0;
        for (size_t i = 0; i < s->n; i++)
                if (!(w[i] = normalise_word(s->v[i])))
                        r = -ENOMEM;
        if (r == 0) {
                qsort(w, s->n, sizeof(*w), cmp_str);
                FILE *f = open_memstream(buf, len);
                if (!f) {
                        r = -ENOMEM;
                } else {
                        for (size_t i = 0; i < s->n; i++)
                                if (i == 0 || strcmp(w[i], w[i - 1]) != 0)
                                        fprintf(f, "%s%s", i ? "\x1f" : "", w[i]);
                        fclose(f);
                }
        }
        for (size_t i = 0; i < s->n; i++)
                free(w[i]);
        free(w);
        return r;
}

char *dawn_alert_fingerprint(const struct dawn_alert *a)
{
        char *sold = NULL, *adult = NULL, *out = NULL;
        size_t l1 = 0, l2 = 0;
        if (append_words(&sold, &l1, &a->sold_as) == 0 && append_words(&adult, &l2, &a->adulterants) == 0)
                if (asprintf(&out, "%s\x1e%s\x1e%s\x1e%s", dawn_type_name(a->type), a->area ? a->area : "",
                             sold ? sold : "", adult ? adult : "") < 0)
                        out = NULL;
        free(sold);
        free(adult);
        return out;
}
