/* Logging: stderr with -f, the journal (with structured fields) otherwise.
 * Only top-level code logs; library-like modules return -errno. Each log
 * function keeps errno, and returns the negative error it was given so that
 * "return log_error_errno(r, ...)" reads naturally. */
#ifndef DAWN_LOG_H
#define DAWN_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <syslog.h>

void log_init(int to_stderr, int max_priority);
int log_internal(int priority, int error, const char *alert_id, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* The same with every structured field DAWN knows. alert_id and channel may
 * be NULL and delivery_id 0 (the outbox row id: never 0 for a real row), and
 * those fields are then left out. In the journal: DAWN_ALERT_ID=,
 * DAWN_CHANNEL=, DAWN_DELIVERY=; on stderr (-f) only the message, as ever. */
int log_internal_fields(int priority, int error, const char *alert_id, const char *channel, int64_t delivery_id,
                        const char *fmt, ...) __attribute__((format(printf, 6, 7)));
int log_internal_fieldsv(int priority, int error, const char *alert_id, const char *channel, int64_t delivery_id,
                         const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));

#define log_debug(...) log_internal(LOG_DEBUG, 0, NULL, __VA_ARGS__)
#define log_info(...) log_internal(LOG_INFO, 0, NULL, __VA_ARGS__)
#define log_notice(...) log_internal(LOG_NOTICE, 0, NULL, __VA_ARGS__)
#define log_warning(...) log_internal(LOG_WARNING, 0, NULL, __VA_ARGS__)
#define log_error(...) log_internal(LOG_ERR, 0, NULL, __VA_ARGS__)
#define log_error_errno(r, ...) log_internal(LOG_ERR, (r), NULL, __VA_ARGS__)
#define log_warning_errno(r, ...) log_internal(LOG_WARNING, (r), NULL, __VA_ARGS__)
/* With the DAWN_ALERT_ID= journal field. */
#define log_alert(prio, id, ...) log_internal((prio), 0, (id), __VA_ARGS__)
/* About one delivery: DAWN_ALERT_ID=, DAWN_CHANNEL= ("mqtt") and
 * DAWN_DELIVERY= (the outbox row id), so that
 * "journalctl -u dawnd DAWN_ALERT_ID=A17" shows an alert's whole story. */
#define log_delivery(prio, id, channel, delivery_id, ...) \
        log_internal_fields((prio), 0, (id), (channel), (delivery_id), __VA_ARGS__)
#define log_delivery_errno(prio, r, id, channel, delivery_id, ...) \
        log_internal_fields((prio), (r), (id), (channel), (delivery_id), __VA_ARGS__)

/* "+447700900123" -> "+4477******23"; "nights@booth-house.example" ->
 * "n*****@booth-house.example". Writes into buf (size n) and returns it. */
const char *dawn_mask_recipient(const char *recipient, char *buf, size_t n);

#endif
