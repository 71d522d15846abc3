#include "text_cache.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool matches(const struct dawn_text_slot *s, const struct dawn_text_key *k)
{
        /* the cheap parts first: most misses differ in revision or kind */
        return s->alert_json && s->revision == k->revision && s->action == k->action && s->kind == k->kind &&
               strcmp(s->alert_id, k->alert_id ? k->alert_id : "") == 0 && strcmp(s->alert_json, k->alert_json) == 0;
}

static void slot_release(struct dawn_text_cache *c, struct dawn_text_slot *s)
{
        if (s->value && c->free_value)
                c->free_value(s->value);
        free(s->alert_json);
        memset(s, 0, sizeof(*s));
}

void *dawn_text_cache_find(struct dawn_text_cache *c, const struct dawn_text_key *key)
{
        if (!key->alert_json)
                return NULL;
        for (size_t i = 0; i < DAWN_TEXT_CACHE_SLOTS; i++)
                if (matches(&c->slot[i], key)) {
                        c->slot[i].used = ++c->clock;
                        return c->slot[i].value;
                }
        return NULL;
}

void *dawn_text_cache_keep(struct dawn_text_cache *c, const struct dawn_text_key *key, void *value)
{
        struct dawn_text_slot *victim = &c->slot[0];
        for (size_t i = 0; i < DAWN_TEXT_CACHE_SLOTS; i++) {
                struct dawn_text_slot *s = &c->slot[i];
                if (!s->alert_json || matches(s, key)) {
                        victim = s;
                        break;
                }
                if (s->used < victim->used)
                        victim = s;
        }
        slot_release(c, victim);
        char *json = key->alert_json ? strdup(key->alert_json) : NULL;
        if (!json) {
                if (value && c->free_value)
                        c->free_value(value);
                return NULL;
        }
        snprintf(victim->alert_id, sizeof(victim->alert_id), "%s", key->alert_id ? key->alert_id : "");
        victim->revision = key->revision;
        victim->action = key->action;
        victim->kind = key->kind;
        victim->alert_json = json;
        victim->value = value;
        victim->used = ++c->clock;
        return value;
}

void dawn_text_cache_clear(struct dawn_text_cache *c)
{
        for (size_t i = 0; i < DAWN_TEXT_CACHE_SLOTS; i++)
                slot_release(c, &c->slot[i]);
        c->clock = 0;
}
