/* Text from elsewhere, shown to a person. A partner's report reaches an
 * officer's terminal through dawnctl: characters that change what the
 * reader sees without being seen themselves (terminal controls, and the
 * Unicode bidirectional controls that reorder the text around them, as in
 * "Trojan Source", CVE-2021-42574) must be made visible there, and refused
 * outright where the text is an identifier. */
#ifndef DAWN_TEXT_H
#define DAWN_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The code point of the UTF-8 character at s (NUL-terminated) into *cp;
 * returns its length in bytes, or 0 if s does not start a valid one
 * (overlong forms, surrogates and code points past U+10FFFF are invalid). */
size_t dawn_utf8_decode(const char *s, uint32_t *cp);

/* U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069: the marks,
 * embeddings, overrides and isolates of the Unicode bidirectional algorithm. */
bool dawn_char_is_bidi_control(uint32_t cp);

/* A character that is not shown as itself: C0 controls, DEL, C1 controls,
 * the bidi controls, and the line and paragraph separators U+2028/U+2029. */
bool dawn_char_is_hidden(uint32_t cp);

/* The first bidi control in s (NUL-terminated UTF-8), or NULL. Invalid
 * UTF-8 is skipped over: refusing it is dawn_text_check()'s business. */
const char *dawn_text_find_bidi(const char *s);

/* For JSON printed by cJSON, which escapes C0 controls but passes DEL, C1,
 * bidi controls and invalid UTF-8 through: a malloc'ed copy with each of
 * those written as a \u escape (invalid bytes as \ufffd), so that the JSON
 * means the same and a terminal showing it shows every such character.
 * Only valid for cJSON's output, where these bytes can only stand inside
 * strings. NULL when out of memory. */
char *dawn_json_escape_hidden(const char *json);

/* The length of the longest prefix of s of at most max bytes that does not
 * end inside a UTF-8 character: for "%.*s" in messages that quote input, so
 * that an error about valid UTF-8 is valid UTF-8 itself. */
int dawn_utf8_prefix(const char *s, size_t max);

#endif
