/* Routing: which subscribers hear of an alert, on which channels, at which
 * address. Pure (config in, list out) so that `dawnctl route` dry-runs the
 * very code that fans alerts out. */
#ifndef DAWN_ROUTE_H
#define DAWN_ROUTE_H

#include <stddef.h>

#include "config.h"
#include "model.h"

#define DAWN_AREA_FEED "" /* the subscriber name of the area-tree topic's delivery */

struct dawn_route_target {
        const char *subscriber;  /* points into the config; DAWN_AREA_FEED for the area topic */
        const char *kind;        /* the subscriber's kind; "area-feed" for the area topic */
        enum dawn_channel_kind channel;
        char *recipient;         /* owned: topic, number or address */
};

struct dawn_route {
        struct dawn_route_target *v;
        size_t n;
};

/* The targets for an alert of this area, type and grade. alert_id goes into
 * MQTT topics. An alert graded "logged" goes nowhere. Returns 0 or -ENOMEM;
 * -EINVAL if area is not in the config. */
int dawn_route_alert(const struct dawn_config *c, const char *alert_id, const char *area,
                     enum dawn_type type, enum dawn_grade grade, struct dawn_route *out);
void dawn_route_clear(struct dawn_route *r);

/* Who is told that an alert of this area waits in the review queue: the
 * public-health subscribers of its area and of the areas above and below
 * it, on every channel they have, whatever their other rules (deciding is
 * their job); MQTT on "<prefix>/subscribers/<sub>/review/<id>". Returns as
 * dawn_route_alert(). */
int dawn_route_review(const struct dawn_config *c, const char *alert_id, const char *area, struct dawn_route *out);

/* Does this subscriber's rule take an alert of this area, type and grade? */
bool dawn_route_subscriber_matches(const struct dawn_config *c, const struct dawn_subscriber *s, int area,
                                   enum dawn_type type, enum dawn_grade grade);

/* "<prefix>/alerts/<area path>/<id>" and "<prefix>/subscribers/<sub>/alerts/<id>" */
char *dawn_route_area_topic(const struct dawn_config *c, int area, const char *alert_id);
char *dawn_route_subscriber_topic(const struct dawn_config *c, const char *subscriber, const char *alert_id);

#endif
