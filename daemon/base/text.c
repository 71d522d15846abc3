#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t dawn_utf8_decode(const char *s, uint32_t *cp)
{
        const unsigned char *p = (const unsigned char *)s;
        static const uint32_t min_cp[5] = { 0, 0, 0x80, 0x800, 0x10000 };
        size_t len;
        uint32_t v;

        if (p[0] < 0x80) {
                *cp = p[0];
                return 1;
        }
        if ((p[0] & 0xe0) == 0xc0)
                len = 2, v = p[0] & 0x1f;
        else if ((p[0] & 0xf0) == 0xe0)
                len = 3, v = p[0] & 0x0f;
        else if ((p[0] & 0xf8) == 0xf0)
                len = 4, v = p[0] & 0x07;
        else
                return 0;
        /* a NUL terminator is not a continuation byte: never reads past it */
        for (size_t i = 1; i < len; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                v = (v << 6) | (p[i] & 0x3f);
        }
        if (v < min_cp[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
                return 0;
        *cp = v;
        return len;
}

bool dawn_char_is_bidi_control(uint32_t cp)
{
        return cp == 0x061c || cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
               (cp >= 0x2066 && cp <= 0x2069);
}

bool dawn_char_is_hidden(uint32_t cp)
{
        return cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == 0x2028 || cp == 0x2029 ||
               dawn_char_is_bidi_control(cp);
}

const char *dawn_text_find_bidi(const char *s)
{
        while (*s) {
                uint32_t cp;
                size_t n = dawn_utf8_decode(s, &cp);

                if (n && dawn_char_is_bidi_control(cp))
                        return s;
                s += n ? n : 1;
        }
        return NULL;
}

char *dawn_json_escape_hidden(const char *json)
{
        /* at most six bytes ("\ufffd") for each byte of input */
        size_t len = strlen(json);
        char *out = malloc(len * 6 + 1), *o = out;

        if (!out)
                return NULL;
        while (*json) {
                uint32_t cp;
                size_t n = dawn_utf8_decode(json, &cp);

                if (n == 0) {
                        o += sprintf(o, "\\ufffd");
                        json++;
                } else if (cp >= 0x20 && dawn_char_is_hidden(cp)) {
                        o += sprintf(o, "\\u%04x", (unsigned)cp);
                        json += n;
                } else {
                        memcpy(o, json, n);
                        o += n;
                        json += n;
                }
        }
        *o = '\0';
        return out;
}

int dawn_utf8_prefix(const char *s, size_t max)
{
        size_t n = strnlen(s, max + 1);
        if (n <= max)
                return (int)n;
        n = max;
        /* back up over the continuation bytes of the character that was cut: at most three,
         * as no UTF-8 character is longer; invalid input is cut where it falls */
        for (int k = 0; k < 3 && n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80; k++)
                n--;
        return (int)n;
}
