#include "pause.h"

#include <stdio.h>

#include "clock.h"

static const char *const names[DAWN_PAUSE_REASON_COUNT] = { "none", "credentials", "rate_limit" };
static const char *const texts[DAWN_PAUSE_REASON_COUNT] = {
        "not paused",
        "the provider refused our credentials",
        "the provider's rate limit",
};
static const char *const errors[DAWN_PAUSE_REASON_COUNT] = {
        NULL,
        "channel paused: the provider refused our credentials",
        "channel paused: the provider's rate limit",
};

const char *dawn_pause_reason_name(enum dawn_pause_reason r)
{
        return (unsigned)r < DAWN_PAUSE_REASON_COUNT ? names[r] : "?";
}

const char *dawn_pause_reason_text(enum dawn_pause_reason r)
{
        return (unsigned)r < DAWN_PAUSE_REASON_COUNT ? texts[r] : "?";
}

const char *dawn_pause_delivery_error(enum dawn_pause_reason r)
{
        return (unsigned)r < DAWN_PAUSE_REASON_COUNT ? errors[r] : NULL;
}

void dawn_pause_describe(const struct dawn_channel_pause *p, char *buf, size_t n)
{
        char since[40], until[40];
        dawn_time_format(p->since, since, sizeof(since));
        if (p->reason == DAWN_PAUSE_RATE_LIMIT && p->until)
                snprintf(buf, n, "paused: %s since %s until %s", dawn_pause_reason_text(p->reason), since,
                         dawn_time_format(p->until, until, sizeof(until)));
        else
                snprintf(buf, n, "paused: %s since %s", dawn_pause_reason_text(p->reason), since);
}
