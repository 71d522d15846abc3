/* Small string owners: lists of strings, secrets, URL bases. */
#include "str.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- string lists ---- */

int dawn_strv_add(struct dawn_strv *s, const char *str)
{
        char **v = realloc(s->v, (s->n + 1) * sizeof(*v));
        if (!v)
                return -ENOMEM;
        s->v = v;
        s->v[s->n] = strdup(str);
        if (!s->v[s->n])
                return -ENOMEM;
        s->n++;
        return 0;
}

bool dawn_strv_contains(const struct dawn_strv *s, const char *str)
{
        for (size_t i = 0; i < s->n; i++)
                if (strcmp(s->v[i], str) == 0)
                        return true;
        return false;
}

void dawn_strv_clear(struct dawn_strv *s)
{
        for (size_t i = 0; i < s->n; i++)
                free(s->v[i]);
        free(s->v);
        s->v = NULL;
        s->n = 0;
}

int dawn_strv_copy(struct dawn_strv *dst, const struct dawn_strv *src)
{
        dawn_strv_clear(dst);
        for (size_t i = 0; i < src->n; i++)
                if (dawn_strv_add(dst, src->v[i]) < 0)
                        return -ENOMEM;
        return 0;
}

/* ---- secrets ---- */

void dawn_secret_free(char *s)
{
        if (s) {
                explicit_bzero(s, strlen(s));
                free(s);
        }
}

void dawn_secret_clear(char **s)
{
        dawn_secret_free(*s);
        *s = NULL;
}

/* ---- URLs ---- */

size_t dawn_url_base_len(const char *url)
{
        size_t n = strlen(url);
        while (n > 0 && url[n - 1] == '/')
                n--;
        return n;
}
