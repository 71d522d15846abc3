/* What every part of dawnctl uses. */
#pragma once

#include <cJSON.h>
#include <stdbool.h>

/* Room for a time as text, RFC 3339 or local. */
#define TIME_TEXT_MAX 64

/* cJSON reports allocation failure as NULL from every constructor; a
 * client cannot do anything useful without memory, so it stops. */
_Noreturn void out_of_memory(void);
cJSON *must(cJSON *item);
void must_add(cJSON *object, const char *key, cJSON *item);

/* An answer's or a request's keys, by exact name. */
const cJSON *get(const cJSON *object, const char *key);
const char *get_string(const cJSON *object, const char *key);
bool get_true(const cJSON *object, const char *key);

bool ends_with(const char *s, const char *suffix);
