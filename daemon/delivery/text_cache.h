/* The texts of one revision, rendered once for all its recipients.
 *
 * The outbox hands a channel the deliveries of one revision together (due
 * rows come oldest first), and every recipient of a revision on a channel
 * gets the same SMS text, public text or email subject and body. Rendering
 * one meant parsing the alert's JSON and fitting the text again for every
 * recipient (7-17 % of dawnd's CPU in a 10,000-recipient fan-out,
 * bench/README.md). A driver keeps a few rendered texts here and asks before
 * it renders.
 *
 * The key is (alert id, revision, action, kind of text), confirmed against
 * the alert's JSON itself: a revision's JSON can change after it was
 * written (a review notice follows the proposal it announces, store.c
 * ST_UPDATE_NOTICE_TEXT), and a text must be the one its JSON says now.
 * What else a text depends on (max_segments, sender_prefix, the provider)
 * is the channel's configuration, fixed for the life of the driver's state:
 * a reload stops the channel and starts a new one, with an empty cache.
 */
#ifndef DAWN_TEXT_CACHE_H
#define DAWN_TEXT_CACHE_H

#include <stdint.h>

#include "dawn/protocol.h"
#include "model.h"

/* Deliveries of one revision come together; a few slots cover a revision
 * dispatched beside its withdrawal, or professional and public texts of
 * the same alert. */
#define DAWN_TEXT_CACHE_SLOTS 4

struct dawn_text_key {
        const char *alert_id;
        int revision;
        enum dawn_delivery_action action;
        int kind;                 /* the driver's: e.g. professional or public text */
        const char *alert_json;   /* the alert as it stands at this revision */
};

struct dawn_text_slot {
        char alert_id[DAWN_MAX_ID_CHARS + 1];
        int revision;
        enum dawn_delivery_action action;
        int kind;
        char *alert_json;         /* NULL: the slot is free */
        void *value;
        uint64_t used;            /* when it was last found: the least recent goes first */
};

struct dawn_text_cache {
        void (*free_value)(void *value);  /* how a value is released (a text may be wiped) */
        struct dawn_text_slot slot[DAWN_TEXT_CACHE_SLOTS];
        uint64_t clock;
};

/* The value kept for key, or NULL: it stays the cache's, valid until the
 * next dawn_text_cache_keep() or _clear(). */
void *dawn_text_cache_find(struct dawn_text_cache *c, const struct dawn_text_key *key);
/* Keeps value (the cache owns it from this call on, whatever the result)
 * for key, in place of the least recently found. Returns value, or NULL
 * when out of memory (value has been released then). */
void *dawn_text_cache_keep(struct dawn_text_cache *c, const struct dawn_text_key *key, void *value);
/* Releases every value. The cache can be used again after. */
void dawn_text_cache_clear(struct dawn_text_cache *c);

#endif
