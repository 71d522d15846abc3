#include "public_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sms_text.h"

/* a list as "a, b and c" into buf (cut silently at n) */
static void join_list(const struct dawn_strv *v, char *buf, size_t n)
{
        size_t len = 0;
        buf[0] = '\0';
        for (size_t i = 0; i < v->n && len < n; i++)
                len += (size_t)snprintf(buf + len, n - len, "%s%s", i == 0 ? "" : i + 1 == v->n ? " and " : ", ",
                                        v->v[i]);
}

/* s cut to at most max bytes on a UTF-8 boundary, with "..." when cut; malloc'ed */
static char *cut(const char *s, size_t max)
{
        size_t n = strlen(s);
        if (n <= max)
                return strdup(s);
        size_t keep = max > 3 ? max - 3 : 0;
        while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80)
                keep--;
        char *out = malloc(keep + 4);
        if (out)
                snprintf(out, keep + 4, "%.*s...", (int)keep, s);
        return out;
}

static char *compose(const struct dawn_alert *a, const char *summary, const char *found, const char *looks,
                     const char *advice)
{
        char *out = NULL;
        if (asprintf(&out, "DAWN drug alert %s%s: %s%s%s%s%s%s%s%s%s " DAWN_PUBLIC_TEXT_LEAVE, a->id,
                     a->revision > 1 ? " update" : "", summary, *found ? " " : "", found, *looks ? " Looks like: " : "",
                     looks, *looks ? "." : "", *advice ? " " : "", advice, "") < 0)
                return NULL;
        return out;
}

/* with the sender prefix in force (dawn_sms_budget_prefix) */
static bool fits(const char *text, int max_segments)
{
        return dawn_sms_fits(text, max_segments);
}

static char *publish_text(const struct dawn_alert *a, int max_segments)
{
        char sold[400], adult[400], found[900];
        join_list(&a->sold_as, sold, sizeof(sold));
        join_list(&a->adulterants, adult, sizeof(adult));
        found[0] = '\0';
        if (*sold && *adult)
                snprintf(found, sizeof(found), "Sold as %s, found: %s.", sold, adult);
        else if (*sold)
                snprintf(found, sizeof(found), "Sold as %s.", sold);
        else if (*adult)
                snprintf(found, sizeof(found), "Found: %s.", adult);
        const char *summary = a->summary ? a->summary : "";
        const char *looks = a->appearance ? a->appearance : "";
        const char *advice = a->advice ? a->advice : "";

        char *text = compose(a, summary, found, looks, advice);
        if (!text || fits(text, max_segments))
                return text;
        /* least needed first: the appearance, then the advice, then the summary, then
         * what was found; the id and how to leave stay */
        free(text);
        text = compose(a, summary, found, "", advice);
        if (!text || fits(text, max_segments))
                return text;
        const char *parts[3] = { advice, summary, found };
        char *cuts[3] = { NULL, NULL, NULL };
        for (int p = 0; p < 3; p++) {
                size_t len = strlen(parts[p]);
                /* shorten in steps; each try is one measure of a text of a few hundred bytes */
                for (size_t max = len; ; max = max > 8 ? max - 8 : 0) {
                        free(cuts[p]);
                        cuts[p] = max ? cut(parts[p], max) : strdup("");
                        free(text);
                        text = NULL;
                        if (!cuts[p])
                                goto out;
                        text = compose(a, cuts[1] ? cuts[1] : summary, cuts[2] ? cuts[2] : found, "",
                                       cuts[0] ? cuts[0] : advice);
                        if (!text || fits(text, max_segments) || max == 0)
                                break;
                }
                if (!text || fits(text, max_segments))
                        break;
        }
out:
        for (int p = 0; p < 3; p++)
                free(cuts[p]);
        return text;
}

char *dawn_public_text(const struct dawn_alert *a, enum dawn_delivery_action action, int max_segments)
{
        if (max_segments < 1)
                max_segments = 1;
        if (action != DAWN_ACTION_WITHDRAW)
                return publish_text(a, max_segments);
        char *text = NULL;
        const char *why = a->status == DAWN_STATUS_EXPIRED ? "it has run its course."
                          : a->cancel_reason && *a->cancel_reason ? a->cancel_reason : "it was cancelled.";
        char *reason = cut(why, 200);
        if (reason && asprintf(&text, "DAWN drug alert %s withdrawn: %s " DAWN_PUBLIC_TEXT_LEAVE, a->id, reason) < 0)
                text = NULL;
        free(reason);
        return text;
}
