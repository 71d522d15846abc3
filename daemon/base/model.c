#include "model.h"

#include <string.h>

#define NAME_TABLE(fn_name, fn_from, enum_t, count, ...)                        \
        static const char *const fn_name##_table[count] = { __VA_ARGS__ };     \
        const char *fn_name(enum_t v)                                           \
        {                                                                       \
                return ((unsigned)v < (unsigned)(count)) ? fn_name##_table[v] : "?"; \
        }                                                                       \
        int fn_from(const char *name)                                           \
        {                                                                       \
                if (!name)                                                      \
                        return -1;                                              \
                for (int i = 0; i < (int)(count); i++)                          \
                        if (strcmp(fn_name##_table[i], name) == 0)              \
                                return i;                                       \
                return -1;                                                      \
        }

NAME_TABLE(dawn_type_name, dawn_type_from_name, enum dawn_type, DAWN_TYPE_COUNT,
           "batch", "cluster", "nfod")
NAME_TABLE(dawn_grade_name, dawn_grade_from_name, enum dawn_grade, DAWN_GRADE_COUNT,
           "logged", "info", "warning", "critical")
NAME_TABLE(dawn_status_name, dawn_status_from_name, enum dawn_status, DAWN_STATUS_COUNT,
           "pending", "active", "cancelled", "expired")
NAME_TABLE(dawn_evidence_name, dawn_evidence_from_name, enum dawn_evidence, DAWN_EVIDENCE_COUNT,
           "reported", "clinical", "toxicology")
NAME_TABLE(dawn_scope_name, dawn_scope_from_name, enum dawn_scope, DAWN_SCOPE_COUNT,
           "professional", "public")
NAME_TABLE(dawn_channel_name, dawn_channel_from_name, enum dawn_channel_kind, DAWN_CHANNEL_COUNT,
           "mqtt", "sms", "email")
NAME_TABLE(dawn_delivery_state_name, dawn_delivery_state_from_name, enum dawn_delivery_state,
           DAWN_DELIVERY_STATE_COUNT,
           "pending", "in-flight", "delivered", "retrying", "failed", "superseded", "sent", "opted-out")
NAME_TABLE(dawn_action_name, dawn_action_from_name, enum dawn_delivery_action, DAWN_ACTION_COUNT,
           "publish", "withdraw", "review")
