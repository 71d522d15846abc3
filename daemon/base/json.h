/* JSON from a peer, read within bounds before cJSON sees it, and the
 * refusal every way in answers with. */
#ifndef DAWN_JSON_H
#define DAWN_JSON_H

#include <cJSON.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* The refusal every way in answers with: {"error": "<sentence>", "field":
 * "<name>" (when one is to blame), "temporary": true (when trying again
 * later may work)}. The sentence is cut on a character boundary at 511
 * bytes. NULL only when out of memory. */
cJSON *dawn_error_json(const char *field, bool temporary, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
cJSON *dawn_error_json_v(const char *field, bool temporary, const char *fmt, va_list ap)
        __attribute__((format(printf, 3, 0)));

/* True if no object or array in buf (len bytes) nests deeper than max.
 * Run before cJSON: its own limit is compiled into the system library. */
bool dawn_json_depth_ok(const char *buf, size_t len, int max);
/* True if a string in the JSON text (len bytes that cJSON has accepted) holds
 * the NUL character, escaped as \u0000 or as a raw byte: cJSON decodes it
 * into its C strings, which then end there ("portsmouth\u0000evil" would be
 * read as "portsmouth"), so it must be refused before anything reads them.
 * Member names count too. path (size bytes, DAWN_JSON_PATH_MAX will do)
 * gets where it is, e.g. "alert.area", "sold_as[2]", "[1].source_ref", or
 * root when the whole value is that string. */
#define DAWN_JSON_PATH_MAX 128
bool dawn_json_find_nul(const char *text, size_t len, const char *root, char *path, size_t size);
/* The sentence every way in refuses it with; one %s, the path. */
#define DAWN_JSON_NUL_REFUSAL \
        "%s: holds the NUL character (\\u0000), which DAWN refuses in any text: it would cut the text short there"
/* One JSON value from a peer's bytes, bounded before cJSON sees them: at
 * most max_bytes, nested at most max_depth levels, nothing but white
 * space after it, and no NUL in any string (dawn_json_find_nul). Returns
 * the value, or NULL with *err set to a refusal naming "body", or the
 * path of the string with a NUL ("area", or in a batch "alert[1].area";
 * what, e.g. "a report", names the thing in its sentence) and *too_large
 * telling a refusal for size from the others. */
cJSON *dawn_json_parse_bounded(const char *text, size_t len, size_t max_bytes, int max_depth, const char *what,
                               bool *too_large, cJSON **err);

#endif
