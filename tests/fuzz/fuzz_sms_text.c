/* libFuzzer harness: the SMS text built from an alert, whatever its fields
 * hold.
 *
 * The first bytes choose the alert's type, grade, status, revision and id,
 * the delivery's action and sms.max_segments (1..10); the rest is split at
 * 0x1f into area, summary, advice, cancel_reason, sold_as, adulterants,
 * sources (the lists split again at ',') and appearance; the header bytes
 * also give casualties and fatalities (-1 to 5, -1 to 3). Field bytes go in raw, invalid
 * UTF-8 included: stored alerts are checked, but the SMS must not depend on
 * it.
 *
 * Every text must: exist, be valid UTF-8 without control characters, fit
 * max_segments parts by dawn_sms_measure(), and carry the alert id (for an
 * alert, end with its reference; for a withdrawal or a review notice, start
 * with what it is). Every action is tried: the chosen one at the chosen
 * limit, the others at the tightest. dawn_sms_measure() is also run on the
 * raw bytes. Every allocation is freed, so LeakSanitizer reports leaks.
 *
 * Build and run: BUILD=build-fuzz tests/fuzz/run.sh tests/fuzz/fuzz_sms_text.c */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "sms_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEADER_BYTES 6
#define SEP 0x1f

enum { F_AREA, F_SUMMARY, F_ADVICE, F_CANCEL_REASON, F_SOLD_AS, F_ADULTERANTS, F_SOURCES, F_APPEARANCE, F_COUNT };

static char *dup_bytes(const uint8_t *p, size_t n)
{
        char *s = malloc(n + 1);
        if (!s)
                abort();
        memcpy(s, p, n);
        s[n] = '\0'; /* an embedded NUL just ends the field early */
        return s;
}

static void add_list(struct dawn_strv *v, const char *s)
{
        const char *p = s;
        for (;;) {
                size_t n = strcspn(p, ",");
                char *w = dup_bytes((const uint8_t *)p, n);
                if (dawn_strv_add(v, w) < 0)
                        abort();
                free(w);
                if (!p[n])
                        break;
                p += n + 1;
        }
}

static void fail(const char *why, const char *text, const struct dawn_alert *a, int max)
{
        fprintf(stderr, "fuzz_sms_text: %s (id %s, max %d): '%s'\n", why, a->id, max, text ? text : "(null)");
        abort();
}

static void check(const struct dawn_alert *a, enum dawn_delivery_action action, int max)
{
        char *text = dawn_sms_text(a, action, max);
        if (!text)
                fail("no text", NULL, a, max);
        if (dawn_text_check("sms", text, LONG_MAX, false, NULL) < 0)
                fail("not valid UTF-8, or a control character", text, a, max);
        struct dawn_sms_size m = dawn_sms_measure(text);
        if (m.segments > max)
                fail("too many parts", text, a, max);
        if (!strstr(text, a->id))
                fail("the alert id is missing", text, a, max);
        if (action == DAWN_ACTION_PUBLISH) {
                char ref[64];
                snprintf(ref, sizeof(ref), " Ref %s r%d", a->id, a->revision);
                size_t n = strlen(text), r = strlen(ref);
                if (n < r || strcmp(text + n - r, ref) != 0)
                        fail("does not end with the reference", text, a, max);
        } else {
                char head[64];
                snprintf(head, sizeof(head), "DAWN %s %s", a->id,
                         action == DAWN_ACTION_REVIEW ? "REVIEW NEEDED" : "WITHDRAWN");
                if (strncmp(text, head, strlen(head)) != 0)
                        fail(action == DAWN_ACTION_REVIEW ? "does not start with the review notice"
                                                          : "does not start with the withdrawal",
                             text, a, max);
        }
        free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        /* the raw bytes as an SMS: measuring must cope with anything */
        char *raw = dup_bytes(data, size);
        struct dawn_sms_size m = dawn_sms_measure(raw);
        if (m.segments < 1 || m.units > 2 * size) /* at most 2 units a byte: "[" is 2 septets */
                abort();
        free(raw);

        if (size < HEADER_BYTES)
                return 0;
        struct dawn_alert a;
        dawn_alert_init(&a);
        a.type = (enum dawn_type)(data[0] % DAWN_TYPE_COUNT);
        a.grade = (enum dawn_grade)(data[1] % DAWN_GRADE_COUNT);
        a.status = (enum dawn_status)(data[2] % DAWN_STATUS_COUNT);
        a.revision = 1 + data[3];
        snprintf(a.id, sizeof(a.id), "A%u", 1u + data[4] * 997u);
        enum dawn_delivery_action action = (enum dawn_delivery_action)(data[5] % DAWN_ACTION_COUNT);
        int max = 1 + (data[5] / DAWN_ACTION_COUNT) % 10;
        a.casualties = (int64_t)(data[4] % 7) - 1;
        a.fatalities = (int64_t)(data[3] % 5) - 1;

        const uint8_t *p = data + HEADER_BYTES, *end = data + size;
        for (int f = 0; f < F_COUNT && p <= end; f++) {
                const uint8_t *sep = memchr(p, SEP, (size_t)(end - p));
                size_t n = (size_t)((sep ? sep : end) - p);
                char *s = dup_bytes(p, n);
                switch (f) {
                case F_AREA: a.area = s; s = NULL; break;
                case F_SUMMARY: a.summary = s; s = NULL; break;
                case F_ADVICE: a.advice = s; s = NULL; break;
                case F_CANCEL_REASON: a.cancel_reason = s; s = NULL; break;
                case F_SOLD_AS: add_list(&a.sold_as, s); break;
                case F_ADULTERANTS: add_list(&a.adulterants, s); break;
                case F_SOURCES: add_list(&a.sources, s); break;
                case F_APPEARANCE: a.appearance = s; s = NULL; break;
                }
                free(s);
                if (!sep)
                        break;
                p = sep + 1;
        }

        check(&a, action, max);
        /* and every other action, at the tightest limit */
        for (int other = 0; other < DAWN_ACTION_COUNT; other++)
                if (other != (int)action)
                        check(&a, (enum dawn_delivery_action)other, 1);
        dawn_alert_clear(&a);
        return 0;
}
