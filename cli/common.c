/* What every part of dawnctl uses: cJSON that cannot fail, and reading an answer's keys. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

_Noreturn void out_of_memory(void)
{
        fputs("dawnctl: out of memory\n", stderr);
        exit(EXIT_FAILURE);
}

/* cJSON reports allocation failure as NULL from every constructor; a
 * client cannot do anything useful without memory, so it stops. */
cJSON *must(cJSON *item)
{
        if (!item)
                out_of_memory();
        return item;
}

void must_add(cJSON *object, const char *key, cJSON *item)
{
        if (!cJSON_AddItemToObject(object, key, must(item)))
                out_of_memory();
}

const cJSON *get(const cJSON *object, const char *key)
{
        return cJSON_GetObjectItemCaseSensitive(object, key);
}

const char *get_string(const cJSON *object, const char *key)
{
        const cJSON *item = get(object, key);

        return cJSON_IsString(item) ? item->valuestring : NULL;
}

bool get_true(const cJSON *object, const char *key)
{
        return cJSON_IsTrue(get(object, key));
}

bool ends_with(const char *s, const char *suffix)
{
        size_t n = strlen(s), m = strlen(suffix);

        return n >= m && strcmp(s + n - m, suffix) == 0;
}
