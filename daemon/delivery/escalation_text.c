#include "escalation_text.h"

#include <cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sms_text.h"

/* How far a delivery got, worst first: the phrase names the best. */
static int rank(enum dawn_delivery_state s)
{
        switch (s) {
        case DAWN_DELIVERY_SUPERSEDED:
                return 0;
        case DAWN_DELIVERY_OPTED_OUT:
                return 1;
        case DAWN_DELIVERY_FAILED:
                return 2;
        case DAWN_DELIVERY_PENDING:
        case DAWN_DELIVERY_RETRYING:
        case DAWN_DELIVERY_INFLIGHT:
                return 3;
        case DAWN_DELIVERY_SENT:
                return 4;
        case DAWN_DELIVERY_DELIVERED:
                return 5;
        default:
                return 0;
        }
}

void dawn_escalation_seen_add(struct dawn_escalation_seen *s, enum dawn_channel_kind channel,
                              enum dawn_delivery_state state)
{
        if ((unsigned)channel >= DAWN_CHANNEL_COUNT)
                return;
        if (!s->any[channel] || rank(state) > rank(s->best[channel]))
                s->best[channel] = state;
        s->any[channel] = true;
}

static const char *state_words(enum dawn_channel_kind channel, enum dawn_delivery_state s)
{
        if (channel == DAWN_CHANNEL_MQTT)
                /* the broker has the retained alert: the dashboard shows it when it is open */
                return rank(s) == 5 ? "dashboard updated" : "dashboard not reached";
        switch (rank(s)) {
        case 5:
                return "delivered";
        case 4:
                return "sent, not confirmed";
        case 3:
                return "not yet sent";
        case 2:
                return "failed";
        case 1:
                return "not sent (opted out)";
        default:
                return "not sent";
        }
}

void dawn_escalation_phrase(const struct dawn_escalation_seen *s, char *buf, size_t size)
{
        static const struct {
                enum dawn_channel_kind kind;
                const char *word;
        } order[] = { { DAWN_CHANNEL_SMS, "SMS" }, { DAWN_CHANNEL_EMAIL, "email" }, { DAWN_CHANNEL_MQTT, NULL } };
        size_t len = 0;

        if (!size)
                return;
        buf[0] = '\0';
        for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
                enum dawn_channel_kind k = order[i].kind;
                if (!s->any[k])
                        continue;
                int n = snprintf(buf + len, size - len, "%s%s%s%s", len ? ", " : "", order[i].word ? order[i].word : "",
                                 order[i].word ? " " : "", state_words(k, s->best[k]));
                if (n < 0 || (size_t)n >= size - len)
                        return;
                len += (size_t)n;
        }
        if (!len)
                snprintf(buf, size, "nothing was sent");
}

void dawn_escalation_duration(int64_t usec, char *buf, size_t size)
{
        int64_t sec = usec > 0 ? usec / 1000000 : 0;

        if (sec < 90)
                snprintf(buf, size, "%lld s", (long long)sec);
        else if (sec < 2 * 3600)
                snprintf(buf, size, "%lld min", (long long)((sec + 30) / 60));
        else if (sec < 2 * 86400)
                snprintf(buf, size, "%lld h %lld min", (long long)(sec / 3600), (long long)(sec % 3600 / 60));
        else
                snprintf(buf, size, "%lld d", (long long)(sec / 86400));
}

static void upper(char *s)
{
        for (; *s; s++)
                *s = (char)toupper((unsigned char)*s);
}

/* "DAWN A17 CRITICAL not acknowledged by Booth House (hostel) 15 min after it was issued;" */
static char *head(const struct dawn_escalation_facts *f)
{
        char grade[16], after[40], *out = NULL;

        snprintf(grade, sizeof(grade), "%s", dawn_grade_name(f->grade));
        upper(grade);
        dawn_escalation_duration(f->after_usec, after, sizeof(after));
        if (asprintf(&out, "DAWN %s %s not acknowledged by %s (%s) %s after it was issued;", f->alert_id, grade,
                     f->name && *f->name ? f->name : f->about, f->kind ? f->kind : "subscriber", after) < 0)
                return NULL;
        return out;
}

static char *sentence(const char *s)
{
        char *out = NULL;
        size_t n = s ? strlen(s) : 0;

        if (!n)
                return strdup("");
        if (asprintf(&out, "%s%s", s, strchr(".!?", s[n - 1]) ? "" : ".") < 0)
                return NULL;
        return out;
}

char *dawn_escalation_sms(const struct dawn_escalation_facts *f, int max_segments)
{
        char *h = head(f), *d = sentence(f->deliveries), *text = NULL;

        if (h && d) {
                const char *var[2] = { d, f->summary ? f->summary : "" };
                text = dawn_sms_fit(h, var, 2, "", max_segments);
        }
        free(h);
        free(d);
        return text;
}

char *dawn_escalation_subject(const struct dawn_escalation_facts *f)
{
        char grade[16], *out = NULL;

        snprintf(grade, sizeof(grade), "%s", dawn_grade_name(f->grade));
        upper(grade);
        if (asprintf(&out, "[DAWN %s] %s not acknowledged by %s (%s)", grade, f->alert_id,
                     f->name && *f->name ? f->name : f->about, f->kind ? f->kind : "subscriber") < 0)
                return NULL;
        return out;
}

char *dawn_escalation_body(const struct dawn_escalation_facts *f)
{
        char *h = head(f), *d = sentence(f->deliveries), *out = NULL;

        if (h && d &&
            asprintf(&out,
                     "%s %s\r\n\r\n%s%s"
                     "You are told because you are the escalation contact for %s (%s).\r\n"
                     "Please check that they have seen alert %s, and acknowledge it yourself\r\n"
                     "(reply ACK %s to a text, or use the dashboard).\r\n",
                     h, d, f->summary ? f->summary : "", f->summary && *f->summary ? "\r\n\r\n" : "",
                     f->name && *f->name ? f->name : f->about, f->about, f->alert_id, f->alert_id) < 0)
                out = NULL;
        free(h);
        free(d);
        return out;
}

char *dawn_escalation_json(const struct dawn_escalation_facts *f)
{
        cJSON *o = cJSON_CreateObject();
        char *text = dawn_escalation_sms(f, 10), *out = NULL;

        if (o && text) {
                cJSON_AddStringToObject(o, "alert", f->alert_id);
                cJSON_AddStringToObject(o, "grade", dawn_grade_name(f->grade));
                cJSON_AddStringToObject(o, "subscriber", f->about);
                cJSON_AddStringToObject(o, "name", f->name && *f->name ? f->name : f->about);
                cJSON_AddStringToObject(o, "kind", f->kind ? f->kind : "");
                cJSON_AddNumberToObject(o, "after_seconds", (double)(f->after_usec / 1000000));
                cJSON_AddStringToObject(o, "deliveries", f->deliveries ? f->deliveries : "");
                cJSON_AddStringToObject(o, "summary", f->summary ? f->summary : "");
                cJSON_AddStringToObject(o, "text", text);
                out = cJSON_PrintUnformatted(o);
        }
        cJSON_Delete(o);
        free(text);
        return out;
}
