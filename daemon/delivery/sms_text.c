#include "sms_text.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Units per part: one part alone, or each part of a split message (the
 * rest carries the header that joins the parts on the phone). */
#define GSM_SINGLE 160
#define GSM_MULTI 153
#define UCS2_SINGLE 70
#define UCS2_MULTI 67

/* ---- UTF-8 ---- */

/* Decodes the character at s. Returns its length in bytes, or 0 if s does
 * not start a valid sequence (overlong forms and surrogates included). Stops
 * at the terminating NUL, which is never a continuation byte. */
static size_t utf8_next(const unsigned char *s, uint32_t *cp)
{
        static const uint32_t min_cp[5] = { 0, 0, 0x80, 0x800, 0x10000 };
        size_t len;
        uint32_t c;
        if (s[0] < 0x80) {
                *cp = s[0];
                return 1;
        } else if ((s[0] & 0xe0) == 0xc0) {
                len = 2, c = s[0] & 0x1f;
        } else if ((s[0] & 0xf0) == 0xe0) {
                len = 3, c = s[0] & 0x0f;
        } else if ((s[0] & 0xf8) == 0xf0) {
                len = 4, c = s[0] & 0x07;
        } else {
                return 0;
        }
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                c = (c << 6) | (s[i] & 0x3f);
        }
        if (c < min_cp[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
                return 0;
        *cp = c;
        return len;
}

/* ---- GSM 03.38 ---- */

/* The basic table's characters outside ASCII. */
static const uint16_t gsm_basic_extra[] = {
        0x00a3 /* £ */, 0x00a5 /* ¥ */, 0x00e8 /* è */, 0x00e9 /* é */, 0x00f9 /* ù */, 0x00ec /* ì */,
        0x00f2 /* ò */, 0x00c7 /* Ç */, 0x00d8 /* Ø */, 0x00f8 /* ø */, 0x00c5 /* Å */, 0x00e5 /* å */,
        0x0394 /* Δ */, 0x03a6 /* Φ */, 0x0393 /* Γ */, 0x039b /* Λ */, 0x03a9 /* Ω */, 0x03a0 /* Π */,
        0x03a8 /* Ψ */, 0x03a3 /* Σ */, 0x0398 /* Θ */, 0x039e /* Ξ */, 0x00c6 /* Æ */, 0x00e6 /* æ */,
        0x00df /* ß */, 0x00c9 /* É */, 0x00a4 /* ¤ */, 0x00a1 /* ¡ */, 0x00c4 /* Ä */, 0x00d6 /* Ö */,
        0x00d1 /* Ñ */, 0x00dc /* Ü */, 0x00a7 /* § */, 0x00bf /* ¿ */, 0x00e4 /* ä */, 0x00f6 /* ö */,
        0x00f1 /* ñ */, 0x00fc /* ü */, 0x00e0 /* à */,
};

/* Septets a character takes in GSM-7: 1 in the basic table, 2 in the
 * extension table (an escape, then the character), 0 if it has none. */
static int gsm_septets(uint32_t cp)
{
        if (cp < 0x80) {
                if (cp == '\n' || cp == '\r')
                        return 1;
                if (cp == '\f' || strchr("^{}\\[~]|", (int)cp))
                        return cp ? 2 : 0;
                if (cp < 0x20 || cp == 0x7f || cp == '`')
                        return 0;
                return 1;
        }
        if (cp == 0x20ac) /* € */
                return 2;
        for (size_t i = 0; i < sizeof(gsm_basic_extra) / sizeof(gsm_basic_extra[0]); i++)
                if (gsm_basic_extra[i] == cp)
                        return 1;
        return 0;
}

static int segments_for(size_t units, size_t single, size_t multi)
{
        if (units <= single)
                return 1;
        size_t n = (units + multi - 1) / multi;
        return n > INT_MAX ? INT_MAX : (int)n;
}

struct dawn_sms_size dawn_sms_measure(const char *utf8)
{
        const unsigned char *p = (const unsigned char *)(utf8 ? utf8 : "");
        size_t septets = 0, utf16 = 0;
        bool ucs2 = false;
        while (*p) {
                uint32_t cp;
                size_t len = utf8_next(p, &cp);
                if (len == 0) {
                        ucs2 = true;
                        utf16++;
                        p++;
                        continue;
                }
                int s = gsm_septets(cp);
                if (s == 0)
                        ucs2 = true;
                septets += (size_t)s;
                utf16 += cp > 0xffff ? 2 : 1; /* a surrogate pair */
                p += len;
        }
        struct dawn_sms_size r = { .ucs2 = ucs2, .units = ucs2 ? utf16 : septets };
        r.segments = ucs2 ? segments_for(r.units, UCS2_SINGLE, UCS2_MULTI)
                          : segments_for(r.units, GSM_SINGLE, GSM_MULTI);
        return r;
}

/* ---- a growing string ---- */

struct buf {
        char *s;
        size_t len, cap;
        bool failed;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
        if (b->failed)
                return;
        if (b->len + n + 1 > b->cap) {
                size_t cap = (b->len + n + 1) * 2;
                char *p = realloc(b->s, cap);
                if (!p) {
                        b->failed = true;
                        return;
                }
                b->s = p;
                b->cap = cap;
        }
        memcpy(b->s + b->len, s, n);
        b->len += n;
        b->s[b->len] = '\0';
}

static void buf_adds(struct buf *b, const char *s)
{
        buf_add(b, s, strlen(s));
}

/* The string, or NULL if an allocation failed (then nothing is leaked).
 * An empty buffer gives "". */
static char *buf_steal(struct buf *b)
{
        if (!b->failed && !b->s)
                buf_add(b, "", 0);
        if (b->failed) {
                free(b->s);
                b->s = NULL;
        }
        char *s = b->s;
        *b = (struct buf){ 0 };
        return s;
}

/* ---- cleaning the text up ---- */

/* What typography becomes: a curly apostrophe alone would turn the whole
 * text into UCS-2 and halve the room for the warning. NULL: keep it. */
static const char *typography(uint32_t cp)
{
        switch (cp) {
        case '`': case 0x00b4: case 0x2018: case 0x2019: case 0x201a: case 0x201b: case 0x2032:
                return "'";
        case 0x00ab: case 0x00bb: case 0x201c: case 0x201d: case 0x201e: case 0x201f: case 0x2033:
                return "\"";
        case 0x2010: case 0x2011: case 0x2012: case 0x2013: case 0x2014: case 0x2015: case 0x2022:
        case 0x2212:
                return "-";
        case 0x2026:
                return "...";
        case 0x00a0: case 0x2000: case 0x2001: case 0x2002: case 0x2003: case 0x2004: case 0x2005:
        case 0x2006: case 0x2007: case 0x2008: case 0x2009: case 0x200a: case 0x202f: case 0x205f:
        case 0x3000: case 0x0085: case 0x2028: case 0x2029:
                return " ";
        case 0x00ad: case 0x200b: case 0x2060: case 0xfeff: /* invisible: soft hyphen, zero widths */
                return "";
        }
        return NULL;
}

/* s on one line with typography made GSM, every run of spaces and control
 * characters one space, no space at either end. Invalid UTF-8 (stored text
 * is checked; this is for safety) becomes '?': the output stays valid.
 * Appends to b. */
static void add_clean(struct buf *b, const char *s)
{
        const unsigned char *p = (const unsigned char *)(s ? s : "");
        bool space = false, any = false;
        while (*p) {
                uint32_t cp;
                size_t len = utf8_next(p, &cp);
                const char *out = NULL;
                if (len == 0) {
                        len = 1;
                        out = "?";
                } else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == ' ') {
                        /* C1 controls too, as email_text.c does: a handset or gateway may act on
                         * U+009B (CSI) as a terminal would */
                        out = " ";
                } else {
                        out = typography(cp);
                }
                const char *text = out ? out : (const char *)p;
                size_t n = out ? strlen(out) : len;
                p += len;
                if (n == 1 && text[0] == ' ') {
                        space = any;   /* a leading space is dropped, a trailing one never written */
                        continue;
                }
                if (n == 0)
                        continue;
                if (space)
                        buf_add(b, " ", 1);
                buf_add(b, text, n);
                space = false;
                any = true;
        }
}

static char *clean(const char *s)
{
        struct buf b = { 0 };
        add_clean(&b, s);
        return buf_steal(&b);
}

/* ---- the parts of the text ---- */

static bool small_word(const char *w, size_t n)
{
        static const char *const words[] = { "of", "on", "upon", "the", "and", "in", "by", "under", "le" };
        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
                if (strlen(words[i]) == n && memcmp(words[i], w, n) == 0)
                        return true;
        return false;
}

/* Area ids are slugs ("isle-of-wight"); a phone shows "Isle of Wight".
 * Anything not a plain slug is shown as it is. */
static void add_area(struct buf *b, const char *id)
{
        size_t n = id ? strlen(id) : 0;
        if (n == 0 || strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789-") != n || id[0] == '-' ||
            id[n - 1] == '-' || strstr(id, "--")) {
                add_clean(b, id);
                return;
        }
        for (const char *w = id; *w;) {
                size_t len = strcspn(w, "-");
                if (w != id)
                        buf_add(b, " ", 1);
                char first = w[0];
                if (w == id || !small_word(w, len))
                        first = (first >= 'a' && first <= 'z') ? (char)(first - 'a' + 'A') : first;
                buf_add(b, &first, 1);
                buf_add(b, w + 1, len - 1);
                w += len + (w[len] == '-');
        }
}

/* The words of a list, cleaned, empty ones dropped. */
static int clean_words(const struct dawn_strv *v, struct dawn_strv *out)
{
        for (size_t i = 0; i < v->n; i++) {
                char *w = clean(v->v[i]);
                int r = !w ? -1 : *w ? dawn_strv_add(out, w) : 0;
                free(w);
                if (r < 0)
                        return -1;
        }
        return 0;
}

/* Joined: "diazepam/xanax", or with last_sep before the last word
 * ("nitazene, fentanyl and xylazine"). */
static void add_words(struct buf *b, const struct dawn_strv *w, const char *sep, const char *last_sep)
{
        for (size_t i = 0; i < w->n; i++) {
                if (i > 0)
                        buf_adds(b, i + 1 == w->n ? last_sep : sep);
                buf_adds(b, w->v[i]);
        }
}

/* What the type is called in a text: "batch", "overdose cluster". */
static const char *type_words(enum dawn_type t)
{
        switch (t) {
        case DAWN_TYPE_CLUSTER: return "overdose cluster";
        case DAWN_TYPE_NFOD: return "non-fatal overdose";
        default: return "batch";
        }
}

/* "<lead>, heroin with nitazene, Southampton, <trailer>." Either phrase may
 * be NULL. The alert's own text says "overdose cluster, ..." with no word
 * for a batch, since a warning about drugs is a batch unless it says not. */
static char *headline(const struct dawn_alert *a, const char *lead, const char *trailer)
{
        struct buf b = { 0 };
        struct dawn_strv sold = { 0 }, found = { 0 };
        if (clean_words(&a->sold_as, &sold) < 0 || clean_words(&a->adulterants, &found) < 0)
                b.failed = true;
        if (lead && *lead) {
                buf_adds(&b, lead);
                buf_adds(&b, ", ");
        }
        add_words(&b, &sold, "/", "/");
        if (found.n) {
                buf_adds(&b, sold.n ? " with " : "drugs with ");
                add_words(&b, &found, ", ", " and ");
        }
        if (sold.n || found.n)
                buf_adds(&b, ", ");
        add_area(&b, a->area);
        /* an area that cleaned to nothing leaves ", " at the end */
        while (!b.failed && b.len > 0 && (b.s[b.len - 1] == ' ' || b.s[b.len - 1] == ','))
                b.s[--b.len] = '\0';
        if (trailer && *trailer) {
                if (b.len > 0)
                        buf_adds(&b, ", ");
                buf_adds(&b, trailer);
        }
        if (b.len > 0)
                buf_adds(&b, ".");
        dawn_strv_clear(&sold);
        dawn_strv_clear(&found);
        return buf_steal(&b);
}

/* "DAWN CRITICAL:" */
static char *grade_prefix(enum dawn_grade g)
{
        char up[16];
        snprintf(up, sizeof(up), "%s", dawn_grade_name(g));
        for (char *c = up; *c; c++)
                if (*c >= 'a' && *c <= 'z')
                        *c = (char)(*c - 'a' + 'A');
        struct buf b = { 0 };
        buf_adds(&b, "DAWN ");
        buf_adds(&b, up);
        buf_adds(&b, ":");
        return buf_steal(&b);
}

/* "Ref A17 r2": the id a recipient quotes to acknowledge, and which
 * revision this is. */
static char *reference(const struct dawn_alert *a)
{
        struct buf b = { 0 };
        if (a->id[0]) {
                buf_adds(&b, "Ref ");
                buf_adds(&b, a->id);
                if (a->revision > 0) {
                        char rev[16];
                        snprintf(rev, sizeof(rev), " r%d", a->revision);
                        buf_adds(&b, rev);
                }
        }
        return buf_steal(&b);
}

/* ---- fitting ---- */

/* channels.sms.sender_prefix while dawn_sms_text_prefixed() runs (or between
 * dawn_sms_budget_prefix() calls): what the
 * handset shows before the text counts in its budget, measured together
 * with it (a prefix outside GSM-7 makes the whole text UCS-2). One loop,
 * one thread: a file-static is enough. */
static const char *budget_prefix;

static bool fits(const char *text, int max_segments)
{
        if (budget_prefix && *budget_prefix) {
                char *whole = NULL;
                if (asprintf(&whole, "%s%s", budget_prefix, text) < 0)
                        return false; /* out of memory: no text fits, and the caller says so */
                bool ok = dawn_sms_measure(whole).segments <= max_segments;
                free(whole);
                return ok;
        }
        return dawn_sms_measure(text).segments <= max_segments;
}

/* The non-empty parts joined by single spaces. */
static char *join(const char *const *parts, size_t n)
{
        struct buf b = { 0 };
        for (size_t i = 0; i < n; i++) {
                if (!parts[i] || !*parts[i])
                        continue;
                if (b.len)
                        buf_add(&b, " ", 1);
                buf_adds(&b, parts[i]);
        }
        return buf_steal(&b);
}

/* A word a cut should not end on: "Carry naloxone and..." says less than
 * "Carry naloxone..." and reads as if something was lost mid-thought. */
static bool dangling_word(const char *w, size_t n)
{
        static const char *const words[] = { "a", "an", "and", "or", "but", "the", "to", "of", "with",
                                             "if", "in", "on", "for", "at", "by", "from", "not" };
        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
                if (strlen(words[i]) == n && strncasecmp(words[i], w, n) == 0)
                        return true;
        return false;
}

/* before, piece[0..k) with an ellipsis, after. The cut drops the spaces and
 * punctuation it ends on ("use it;" -> "use it...") and a dangling small
 * word ("and", "the") after the first word. The ellipsis is "..."
 * in a GSM-7 text and "…" (one unit) in a UCS-2 one, so that it never
 * changes the encoding. NULL if the cut leaves nothing, or on failure
 * (*oom set). */
static char *cut_text(const char *before, const char *piece, size_t k, const char *after, bool *oom)
{
        for (;;) {
                while (k > 0 && strchr(" .,;:-", piece[k - 1]))
                        k--;
                size_t w = k;
                while (w > 0 && piece[w - 1] != ' ')
                        w--;
                if (w == 0 || !dangling_word(piece + w, k - w))
                        break;
                k = w;
        }
        if (k == 0)
                return NULL;
        struct buf mid = { 0 };
        buf_add(&mid, piece, k);
        buf_adds(&mid, "...");
        char *m = buf_steal(&mid);
        if (!m) {
                *oom = true;
                return NULL;
        }
        const char *parts[3] = { before, m, after };
        char *text = join(parts, 3);
        if (text && dawn_sms_measure(text).ucs2) {
                strcpy(m + k, "\xe2\x80\xa6"); /* "…" is as long as "..." in bytes */
                free(text);
                text = join(parts, 3);
        }
        free(m);
        if (!text)
                *oom = true;
        return text;
}

enum cut_level { CUT_CLAUSE, CUT_WORD, CUT_CHAR };

/* Where piece may be cut at this level, ascending (byte offsets, never
 * inside a UTF-8 sequence); the whole piece is not one of them. */
static size_t cut_points(const char *piece, enum cut_level level, size_t *out)
{
        size_t n = 0;
        for (size_t k = 1; piece[k]; k++) {
                bool ok;
                if (level == CUT_CHAR)
                        ok = ((unsigned char)piece[k] & 0xc0) != 0x80;
                else if (level == CUT_WORD)
                        ok = piece[k] == ' ';
                else
                        ok = piece[k] == ' ' && strchr(".;:!?", piece[k - 1]);
                if (ok)
                        out[n++] = k;
        }
        return n;
}

/* The longest cut of piece at this level that fits, by bisection: a longer
 * cut never takes fewer parts (adding a character adds units, and a switch
 * to UCS-2 never lowers the count). Each answer is measured, so a cut that
 * does not fit is never returned. NULL if none fits. */
static char *best_cut(const char *before, const char *piece, const char *after, enum cut_level level,
                      int max_segments, bool *oom)
{
        size_t *pts = malloc((strlen(piece) + 1) * sizeof(*pts));
        if (!pts) {
                *oom = true;
                return NULL;
        }
        size_t n = cut_points(piece, level, pts);
        char *best = NULL;
        size_t lo = 0, hi = n; /* candidates [lo, hi) not yet ruled out */
        while (lo < hi && !*oom) {
                size_t mid = lo + (hi - lo) / 2;
                char *text = cut_text(before, piece, pts[mid], after, oom);
                if (text && fits(text, max_segments)) {
                        free(best);
                        best = text;
                        lo = mid + 1;
                } else {
                        free(text);
                        hi = mid;
                }
        }
        free(pts);
        if (*oom) {
                free(best);
                return NULL;
        }
        return best;
}

/* before piece after, with piece shortened until the whole fits: whole
 * clauses first (a half sentence of advice can mislead), then words, then
 * characters. NULL if even the shortest cut does not fit. */
static char *fit_piece(const char *before, const char *piece, const char *after, int max_segments, bool *oom)
{
        for (enum cut_level level = CUT_CLAUSE; level <= CUT_CHAR && !*oom; level++) {
                char *text = best_cut(before, piece, after, level, max_segments, oom);
                if (text)
                        return text;
        }
        return NULL;
}

/* The first of the parts' arrangements that fits: all of it, the last
 * variable part cut, then without it, and so on; finally the fixed parts
 * alone whatever their size. parts: fixed head, variable parts in order of
 * importance, fixed tail. */
static char *fit(const char *head, const char *const *var, size_t n_var, const char *tail, int max_segments)
{
        bool oom = false;
        for (size_t keep = n_var; keep > 0; keep--) {
                /* var[0..keep) whole */
                const char *parts[8] = { head };
                size_t n = 1;
                for (size_t i = 0; i < keep && n < 7; i++)
                        parts[n++] = var[i];
                parts[n++] = tail;
                char *text = join(parts, n);
                if (!text || fits(text, max_segments))
                        return text;
                free(text);
                /* var[0..keep-1) whole, var[keep-1] cut */
                char *before = join(parts, n - 2);
                if (!before)
                        return NULL;
                const char *piece = var[keep - 1];
                text = *piece ? fit_piece(before, piece, tail, max_segments, &oom) : NULL;
                free(before);
                if (text || oom)
                        return text;
        }
        const char *parts[2] = { head, tail };
        return join(parts, 2);
}

/* A part of an alert's text and how it may be made shorter. */
struct part {
        const char *text;
        bool cuttable;   /* shortened with an ellipsis (fit_piece); else whole or left out */
        size_t min_kept; /* a cut keeping fewer bytes of it leaves it out instead */
};

/* "Check..." or "Do not..." is noise, or worse; "Carry naloxone..." (14)
 * still says what to do. */
#define ADVICE_MIN_KEPT 12

/* head, then parts in order of importance (which is also their order in the
 * text), then tail. Each part in turn goes in whole if it fits with the ones
 * kept before it; if not, a cuttable part is shortened to fill the room that
 * is left and nothing after it goes in, and a part that cannot be cut is
 * left out while the less important ones after it still get their chance
 * (a long appearance left out still leaves the advice room). So when room
 * runs short the least important parts go first; head and tail (grade, id)
 * never go: if they alone do not fit they are returned anyway. */
static char *fit_parts(const char *head, const struct part *parts, size_t n, const char *tail, int max_segments)
{
        bool oom = false;
        char *before = strdup(head);
        for (size_t i = 0; i < n && before; i++) {
                const char *piece = parts[i].text;
                if (!piece || !*piece)
                        continue;
                const char *with[2] = { before, piece };
                char *longer = join(with, 2);
                if (!longer)
                        break;
                const char *all[2] = { longer, tail };
                char *text = join(all, 2);
                if (text && fits(text, max_segments)) {
                        free(text);
                        free(before);
                        before = longer;
                        continue;
                }
                free(text);
                free(longer);
                if (!parts[i].cuttable)
                        continue;
                text = fit_piece(before, piece, tail, max_segments, &oom);
                if (oom) {
                        free(before);
                        return NULL;
                }
                /* the kept bytes: the text less what came before, the ellipsis ("..." or "…",
                 * both 3 bytes), the tail and the two spaces around the piece */
                size_t around = strlen(before) + 1 + 3 + (*tail ? 1 + strlen(tail) : 0);
                if (text && strlen(text) >= around + parts[i].min_kept) {
                        free(before);
                        return text;
                }
                free(text);
        }
        if (!before)
                return NULL;
        const char *all[2] = { before, tail };
        char *text = join(all, 2);
        free(before);
        return text;
}

/* "4 overdoses, 1 death.": the harm so far, in words a shift worker reads
 * at a glance. Counts not given (-1) are left out; no deaths among known
 * overdoses is said ("2 overdoses, none fatal."), since that is news too. */
static char *harm(const struct dawn_alert *a)
{
        struct buf b = { 0 };
        char n[32];
        if (a->casualties > 0) {
                snprintf(n, sizeof(n), "%lld overdose%s", (long long)a->casualties, a->casualties == 1 ? "" : "s");
                buf_adds(&b, n);
        }
        if (a->fatalities > 0) {
                snprintf(n, sizeof(n), "%s%lld death%s", b.len ? ", " : "", (long long)a->fatalities,
                         a->fatalities == 1 ? "" : "s");
                buf_adds(&b, n);
        } else if (a->fatalities == 0 && a->casualties > 0) {
                buf_adds(&b, ", none fatal");
        }
        if (b.len)
                buf_adds(&b, ".");
        return buf_steal(&b);
}

/* "Looks like light brown powder, wraps in blue cling film.": how staff
 * recognise the batch in someone's hand. */
static char *appearance(const struct dawn_alert *a)
{
        struct buf b = { 0 };
        char *look = clean(a->appearance);
        if (!look)
                b.failed = true;
        else if (*look) {
                buf_adds(&b, "Looks like ");
                buf_adds(&b, look);
                if (!strchr(".!?", look[strlen(look) - 1]))
                        buf_adds(&b, ".");
        }
        free(look);
        return buf_steal(&b);
}

/* ---- the texts: an alert, its withdrawal, a report to review ---- */

/* "DAWN CRITICAL: heroin with nitazene, Southampton. 4 overdoses, 1 death.
 * Looks like light brown powder, wraps in blue cling film. Carry naloxone
 * and use it; ... Call 999. Ref A17 r1"
 * Order of importance, which is also the order in the text:
 *   1. grade ("DAWN CRITICAL:")                  never cut
 *   2. what it was sold as, what was found, where  cut with "..." (clause, word, character)
 *   3. harm ("4 overdoses, 1 death.")             whole or left out
 *   4. appearance ("Looks like ...")              whole or left out: half a description
 *                                                  could match the wrong batch
 *   5. advice (or the summary if no advice)       cut with "..." at a clause, else a word
 *                                                  (a character only if it is one long word);
 *                                                  left out if under ADVICE_MIN_KEPT would remain
 *   6. the id and revision ("Ref A17 r1")          never cut
 * The least important that does not fit goes first (fit_parts). */
static char *publish_text(const struct dawn_alert *a, int max_segments)
{
        char *head = grade_prefix(a->grade);
        char *what = headline(a, a->type == DAWN_TYPE_BATCH ? NULL : type_words(a->type), NULL);
        char *hurt = harm(a);
        char *look = appearance(a);
        /* the advice is what to do; without it, the summary says what is happening */
        char *advice = clean(a->advice);
        if (advice && !*advice) {
                free(advice);
                advice = clean(a->summary);
        }
        char *ref = reference(a);
        char *text = NULL;
        if (head && what && hurt && look && advice && ref) {
                const struct part parts[] = {
                        { what, true, 0 }, { hurt, false, 0 }, { look, false, 0 },
                        { advice, true, ADVICE_MIN_KEPT },
                };
                text = fit_parts(head, parts, sizeof(parts) / sizeof(parts[0]), ref, max_segments);
        }
        free(head);
        free(what);
        free(hurt);
        free(look);
        free(advice);
        free(ref);
        return text;
}

static const char *default_reason(const struct dawn_alert *a)
{
        switch (a->status) {
        case DAWN_STATUS_CANCELLED:
                return "cancelled.";
        case DAWN_STATUS_EXPIRED:
                return "expired.";
        default:
                /* an update moved it out of this recipient's area, types or grade */
                return "no longer applies to you.";
        }
}

static char *withdraw_text(const struct dawn_alert *a, int max_segments)
{
        struct buf b = { 0 };
        buf_adds(&b, "DAWN");
        if (a->id[0]) {
                buf_adds(&b, " ");
                buf_adds(&b, a->id);
        }
        buf_adds(&b, " WITHDRAWN");
        char *head = buf_steal(&b);
        char *reason = clean(a->cancel_reason);
        if (reason && !*reason) {
                free(reason);
                reason = strdup(default_reason(a));
        }
        char *text = NULL;
        if (head && reason) {
                /* "DAWN A17 WITHDRAWN:" before the reason, "DAWN A17 WITHDRAWN" alone */
                char *colon = malloc(strlen(head) + 2);
                if (colon) {
                        strcpy(colon, head);
                        strcat(colon, ":");
                        const char *var[1] = { reason };
                        text = fit(colon, var, 1, "", max_segments);
                        if (text && strcmp(text, colon) == 0) {
                                free(text);
                                text = strdup(head);
                        }
                        free(colon);
                }
        }
        free(head);
        free(reason);
        return text;
}

/* "reported by ambulance and hospital": who the reviewer is asked to
 * trust. Source ids are the operator's own names, so they stay as written. */
static char *reporters(const struct dawn_alert *a)
{
        struct buf b = { 0 };
        struct dawn_strv who = { 0 };
        if (clean_words(&a->sources, &who) < 0)
                b.failed = true;
        if (who.n) {
                buf_adds(&b, "reported by ");
                add_words(&b, &who, ", ", " and ");
        }
        dawn_strv_clear(&who);
        return buf_steal(&b);
}

/* "warning batch": the grade the report would go out with if approved. */
static char *grade_and_type(const struct dawn_alert *a)
{
        struct buf b = { 0 };
        buf_adds(&b, dawn_grade_name(a->grade));
        buf_adds(&b, " ");
        buf_adds(&b, type_words(a->type));
        return buf_steal(&b);
}

/* The two commands, spelt out so that the officer can type them as read
 * (dawnctl refuses a reject without --reason). No "Approve or reject:"
 * before them: the commands say it, and those 19 characters are what lets
 * a typical notice fit one part whole. */
static char *decision(const struct dawn_alert *a)
{
        struct buf b = { 0 };
        if (a->id[0]) {
                buf_adds(&b, "dawnctl approve ");
                buf_adds(&b, a->id);
                buf_adds(&b, " or dawnctl reject ");
                buf_adds(&b, a->id);
                buf_adds(&b, " --reason TEXT");
        }
        return buf_steal(&b);
}

/* To a public-health officer: a report (a partner's, or a cluster dawnd
 * raised) waits in the review queue. "DAWN A17 REVIEW NEEDED: warning batch, heroin with nitazene,
 * Southampton, reported by ambulance. <summary> dawnctl approve A17 or
 * dawnctl reject A17 --reason TEXT"
 * The summary is cut first, then the headline; the commands go only when
 * an id too long for them leaves no room, and the head never goes. */
static char *review_text(const struct dawn_alert *a, int max_segments)
{
        struct buf b = { 0 };
        buf_adds(&b, "DAWN");
        if (a->id[0]) {
                buf_adds(&b, " ");
                buf_adds(&b, a->id);
        }
        buf_adds(&b, " REVIEW NEEDED:");
        char *head = buf_steal(&b);
        char *lead = grade_and_type(a);
        char *who = reporters(a);
        char *what = lead && who ? headline(a, lead, who) : NULL;
        char *summary = clean(a->summary);
        char *tail = decision(a);
        char *text = NULL;
        if (head && what && summary && tail) {
                const char *var[2] = { what, summary };
                text = fit(head, var, 2, tail, max_segments);
                if (text && !fits(text, max_segments)) {
                        free(text);
                        text = fit(head, var, 2, "", max_segments);
                }
                /* the head alone reads better without its colon */
                if (text && strcmp(text, head) == 0)
                        text[strlen(text) - 1] = '\0';
        }
        free(head);
        free(lead);
        free(who);
        free(what);
        free(summary);
        free(tail);
        return text;
}

char *dawn_sms_text(const struct dawn_alert *a, enum dawn_delivery_action action, int max_segments)
{
        if (max_segments < 1)
                max_segments = 1;
        switch (action) {
        case DAWN_ACTION_WITHDRAW: return withdraw_text(a, max_segments);
        case DAWN_ACTION_REVIEW: return review_text(a, max_segments);
        default: return publish_text(a, max_segments);
        }
}

/* ---- for other texts (escalation_text.c) ---- */

char *dawn_sms_fit(const char *head, const char *const *var, size_t n_var, const char *tail, int max_segments)
{
        if (n_var > 5)
                n_var = 5; /* fit() joins at most 8 parts: head, 5 variable ones, tail */
        return fit(head, var, n_var, tail ? tail : "", max_segments < 1 ? 1 : max_segments);
}

bool dawn_sms_fits(const char *text, int max_segments)
{
        return fits(text, max_segments);
}

const char *dawn_sms_budget_prefix(const char *prefix)
{
        const char *saved = budget_prefix;
        budget_prefix = prefix;
        return saved;
}

char *dawn_sms_text_prefixed(const struct dawn_alert *a, enum dawn_delivery_action action, int max_segments,
                             const char *prefix)
{
        const char *saved = budget_prefix;
        budget_prefix = prefix;
        char *text = dawn_sms_text(a, action, max_segments);
        budget_prefix = saved;
        return text;
}
