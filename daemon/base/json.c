/* JSON from a peer, read within bounds, and the refusal every way in
 * answers with. */
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "text.h"

/* ---- JSON depth ---- */

bool dawn_json_depth_ok(const char *buf, size_t len, int max)
{
        int depth = 0;
        bool in_string = false;
        for (size_t i = 0; i < len; i++) {
                char c = buf[i];
                if (in_string) {
                        if (c == '\\')
                                i++;
                        else if (c == '"')
                                in_string = false;
                        continue;
                }
                if (c == '"')
                        in_string = true;
                else if (c == '{' || c == '[') {
                        if (++depth > max)
                                return false;
                } else if (c == '}' || c == ']')
                        depth--;
        }
        return true;
}

/* Where in the JSON path being scanned: one frame per open object or array. */
struct json_frame {
        bool object;
        bool want_key;  /* in an object: the next string is a member name */
        size_t index;   /* in an array: the element being read */
        size_t key_at, key_len;  /* in an object: the member being read, raw */
};
#define JSON_PATH_FRAMES 16

static void path_append(char *path, size_t size, size_t *used, const char *s, size_t n)
{
        for (size_t i = 0; i < n && *used + 1 < size; i++) {
                unsigned char c = (unsigned char)s[i];
                /* a name is shown as sent, escapes and all, but in printable ASCII
                 * only (DAWN's own names are): the path ends up in logs, answers
                 * and terminals, where a control or a bidi mark would hide it */
                path[(*used)++] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
        }
        path[*used] = '\0';
}

static void path_render(const char *text, const struct json_frame *f, int depth, const char *root, char *path,
                        size_t size)
{
        size_t used = 0;
        char index[24];

        path[0] = '\0';
        for (int d = 0; d < depth && d < JSON_PATH_FRAMES; d++) {
                if (f[d].object) {
                        if (used)
                                path_append(path, size, &used, ".", 1);
                        size_t n = f[d].key_len > 48 ? 48 : f[d].key_len;
                        path_append(path, size, &used, text + f[d].key_at, n);
                } else {
                        int n = snprintf(index, sizeof(index), "[%zu]", f[d].index);
                        path_append(path, size, &used, index, (size_t)n);
                }
        }
        if (depth > JSON_PATH_FRAMES)
                path_append(path, size, &used, "...", 3);
        if (!used)
                path_append(path, size, &used, root, strlen(root));
}

bool dawn_json_find_nul(const char *text, size_t len, const char *root, char *path, size_t size)
{
        struct json_frame f[JSON_PATH_FRAMES];
        int depth = 0;
        bool in_string = false, in_key = false, found = false;
        size_t string_at = 0;

        for (size_t i = 0; i < len; i++) {
                char c = text[i];
                struct json_frame *top = depth > 0 && depth <= JSON_PATH_FRAMES ? &f[depth - 1] : NULL;
                if (in_string) {
                        if (c == '\0') {
                                found = true;
                        } else if (c == '\\') {
                                /* the escaped character is skipped, so "\\u0000" (a
                                 * backslash, then "u0000") is not taken for one */
                                if (i + 5 < len && memcmp(text + i + 1, "u0000", 5) == 0)
                                        found = true;
                                i++;
                        } else if (c == '"') {
                                in_string = false;
                                if (in_key && top) {
                                        top->key_at = string_at;
                                        top->key_len = i - string_at;
                                }
                                if (found)
                                        break;
                        }
                        continue;
                }
                switch (c) {
                case '{':
                case '[':
                        if (depth < JSON_PATH_FRAMES)
                                f[depth] = (struct json_frame){ .object = c == '{', .want_key = c == '{' };
                        depth++;
                        break;
                case '}':
                case ']':
                        if (depth > 0)
                                depth--;
                        break;
                case ',':
                        if (top && top->object)
                                top->want_key = true;
                        else if (top)
                                top->index++;
                        break;
                case ':':
                        if (top)
                                top->want_key = false;
                        break;
                case '"':
                        in_string = true;
                        string_at = i + 1;
                        in_key = top && top->object && top->want_key;
                        break;
                default:
                        break;
                }
        }
        if (found && path && size)
                path_render(text, f, depth, root, path, size);
        return found;
}

/* ---- the refusal ---- */

cJSON *dawn_error_json(const char *field, bool temporary, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        cJSON *o = dawn_error_json_v(field, temporary, fmt, ap);
        va_end(ap);
        return o;
}

cJSON *dawn_error_json_v(const char *field, bool temporary, const char *fmt, va_list ap)
{
        char msg[512];
        int len = vsnprintf(msg, sizeof(msg), fmt, ap);
        if (len >= (int)sizeof(msg))
                msg[dawn_utf8_prefix(msg, sizeof(msg) - 1)] = '\0';
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        cJSON_AddStringToObject(o, "error", msg);
        if (field && *field)
                cJSON_AddStringToObject(o, "field", field);
        if (temporary)
                cJSON_AddBoolToObject(o, "temporary", true);
        return o;
}

cJSON *dawn_json_parse_bounded(const char *text, size_t len, size_t max_bytes, int max_depth, const char *what,
                               bool *too_large, cJSON **err)
{
        *too_large = len > max_bytes;
        if (*too_large) {
                *err = dawn_error_json("body", false, "%s of %zu bytes is larger than the limit of %zu bytes", what, len,
                                       max_bytes);
                return NULL;
        }
        if (!dawn_json_depth_ok(text, len, max_depth)) {
                *err = dawn_error_json("body", false, "%s nests deeper than %d levels", what, max_depth);
                return NULL;
        }
        const char *end = NULL;
        cJSON *doc = cJSON_ParseWithLengthOpts(text, len, &end, false);
        if (!doc) {
                size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
                *err = dawn_error_json("body", false, "malformed JSON near byte %zu", at);
                return NULL;
        }
        size_t after = (size_t)(end - text);
        while (after < len && (text[after] == ' ' || text[after] == '\t' || text[after] == '\r' || text[after] == '\n'))
                after++;
        if (after < len) {
                *err = dawn_error_json("body", false, "unexpected data after the JSON value, at byte %zu", after);
                cJSON_Delete(doc);
                return NULL;
        }
        /* "alert" before a batch's index, as the answers for its reports name them ("alert[1].area") */
        char path[DAWN_JSON_PATH_MAX] = "alert";
        size_t root = cJSON_IsArray(doc) ? strlen(path) : 0;
        if (dawn_json_find_nul(text, (size_t)(end - text), "body", path + root, sizeof(path) - root)) {
                if (root && path[root] != '[')
                        memmove(path, path + root, strlen(path + root) + 1); /* the batch itself: "body" */
                *err = dawn_error_json(path, false, DAWN_JSON_NUL_REFUSAL, path);
                cJSON_Delete(doc);
                return NULL;
        }
        return doc;
}
