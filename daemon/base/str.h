/* Small string owners: a list of strings, a secret that is wiped before
 * its memory is given back, a URL base that API paths are appended to. */
#ifndef DAWN_STR_H
#define DAWN_STR_H

#include <stdbool.h>
#include <stddef.h>

/* A list of owned strings, usually embedded in another struct. */
struct dawn_strv {
        char **v;
        size_t n;
};
int dawn_strv_add(struct dawn_strv *s, const char *str);
bool dawn_strv_contains(const struct dawn_strv *s, const char *str);
/* Frees the strings and leaves *s empty (the struct itself is the caller's). */
void dawn_strv_clear(struct dawn_strv *s);
int dawn_strv_copy(struct dawn_strv *dst, const struct dawn_strv *src);

/* A token, password or key: overwritten with zeros before free(), so that
 * it does not linger in freed memory (a core dump, a later heap overread).
 * NULL is fine. _clear also sets *s to NULL. */
void dawn_secret_free(char *s);
void dawn_secret_clear(char **s);

/* The length of url without its trailing '/'s: API paths ("/v2/...") are
 * appended to a base URL, which an operator may have written with one. */
size_t dawn_url_base_len(const char *url);

#endif
