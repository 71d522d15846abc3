#include "route.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool dawn_route_subscriber_matches(const struct dawn_config *c, const struct dawn_subscriber *s, int area,
                                   enum dawn_type type, enum dawn_grade grade)
{
        return grade != DAWN_GRADE_LOGGED && grade >= s->min_grade && (s->types & DAWN_TYPE_BIT(type)) &&
               dawn_config_areas_related(c, s->area, area);
}

char *dawn_route_area_topic(const struct dawn_config *c, int area, const char *alert_id)
{
        char *t;
        if (asprintf(&t, "%s/alerts/%s/%s", c->mqtt.topic_prefix, c->areas[area].path, alert_id) < 0)
                return NULL;
        return t;
}

/* "<prefix>/subscribers/<sub>/<what>/<id>": what is "alerts" or "review" */
static char *subscriber_topic(const struct dawn_config *c, const char *subscriber, const char *what,
                              const char *alert_id)
{
        char *t;
        if (asprintf(&t, "%s/subscribers/%s/%s/%s", c->mqtt.topic_prefix, subscriber, what, alert_id) < 0)
                return NULL;
        return t;
}

char *dawn_route_subscriber_topic(const struct dawn_config *c, const char *subscriber, const char *alert_id)
{
        return subscriber_topic(c, subscriber, "alerts", alert_id);
}

static int add_target(struct dawn_route *r, const char *subscriber, const char *kind,
                      enum dawn_channel_kind channel, char *recipient_owned)
{
        if (!recipient_owned)
                return -ENOMEM;
        struct dawn_route_target *v = realloc(r->v, (r->n + 1) * sizeof(*v));
        if (!v) {
                free(recipient_owned);
                return -ENOMEM;
        }
        r->v = v;
        r->v[r->n++] = (struct dawn_route_target){ subscriber, kind, channel, recipient_owned };
        return 0;
}

/* Every channel of a subscriber; its MQTT topic is .../<what>/<alert id>. */
static int add_subscriber(const struct dawn_config *c, const struct dawn_subscriber *s, const char *what,
                          const char *alert_id, struct dawn_route *r)
{
        int ret = 0;
        if (s->mqtt && c->mqtt.enabled)
                ret = add_target(r, s->id, s->kind, DAWN_CHANNEL_MQTT, subscriber_topic(c, s->id, what, alert_id));
        for (size_t i = 0; ret == 0 && i < s->n_sms; i++)
                ret = add_target(r, s->id, s->kind, DAWN_CHANNEL_SMS, strdup(s->sms[i]));
        for (size_t i = 0; ret == 0 && i < s->n_email; i++)
                ret = add_target(r, s->id, s->kind, DAWN_CHANNEL_EMAIL, strdup(s->email[i]));
        return ret;
}

int dawn_route_alert(const struct dawn_config *c, const char *alert_id, const char *area,
                     enum dawn_type type, enum dawn_grade grade, struct dawn_route *out)
{
        memset(out, 0, sizeof(*out));
        int a = dawn_config_area_index(c, area);
        if (a < 0)
                return -EINVAL;
        if (grade == DAWN_GRADE_LOGGED)
                return 0;
        int r = 0;
        /* the area tree's own topic: every dashboard of the area, and of the areas above it, can follow */
        if (c->mqtt.enabled)
                r = add_target(out, DAWN_AREA_FEED, "area-feed", DAWN_CHANNEL_MQTT,
                               dawn_route_area_topic(c, a, alert_id));
        for (size_t i = 0; r == 0 && i < c->n_subscribers; i++)
                if (dawn_route_subscriber_matches(c, &c->subscribers[i], a, type, grade))
                        r = add_subscriber(c, &c->subscribers[i], "alerts", alert_id, out);
        if (r < 0)
                dawn_route_clear(out);
        return r;
}

int dawn_route_review(const struct dawn_config *c, const char *alert_id, const char *area, struct dawn_route *out)
{
        memset(out, 0, sizeof(*out));
        int a = dawn_config_area_index(c, area);
        if (a < 0)
                return -EINVAL;
        int r = 0;
        for (size_t i = 0; r == 0 && i < c->n_subscribers; i++) {
                const struct dawn_subscriber *s = &c->subscribers[i];
                if (strcmp(s->kind, "public-health") == 0 && dawn_config_areas_related(c, s->area, a))
                        r = add_subscriber(c, s, "review", alert_id, out);
        }
        if (r < 0)
                dawn_route_clear(out);
        return r;
}

void dawn_route_clear(struct dawn_route *r)
{
        for (size_t i = 0; i < r->n; i++)
                free(r->v[i].recipient);
        free(r->v);
        r->v = NULL;
        r->n = 0;
}
