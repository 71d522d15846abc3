/* For the fuzz harnesses: is this valid UTF-8? JSON is UTF-8, so whatever
 * dawnd answers a valid request must be too. */
#ifndef DAWN_FUZZ_UTF8_CHECK_H
#define DAWN_FUZZ_UTF8_CHECK_H

#include <stdbool.h>
#include <stddef.h>

/* Valid UTF-8 (no overlongs, no surrogates), NUL-free, n bytes. */
static inline bool utf8_ok(const unsigned char *s, size_t n)
{
        for (size_t i = 0; i < n;) {
                unsigned c = s[i];
                size_t len;
                unsigned cp;
                if (c == 0)
                        return false;
                if (c < 0x80) {
                        i++;
                        continue;
                } else if ((c & 0xe0) == 0xc0) {
                        len = 2, cp = c & 0x1f;
                } else if ((c & 0xf0) == 0xe0) {
                        len = 3, cp = c & 0x0f;
                } else if ((c & 0xf8) == 0xf0) {
                        len = 4, cp = c & 0x07;
                } else {
                        return false;
                }
                if (i + len > n)
                        return false;
                for (size_t k = 1; k < len; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (s[i + k] & 0x3f);
                }
                static const unsigned min_cp[5] = { 0, 0, 0x80, 0x800, 0x10000 };
                if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                i += len;
        }
        return true;
}

#endif
