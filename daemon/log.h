/* Logging: stderr with -f, the journal (with structured fields) otherwise.
 * Only top-level code logs; library-like modules return -errno. Each log
 * function keeps errno, and returns the negative error it was given so that
 * "return log_error_errno(r, ...)" reads naturally. */
#ifndef DAWN_LOG_H
#define DAWN_LOG_H

#include <stddef.h>
#include <syslog.h>

void log_init(int to_stderr, int max_priority);
void log_set_max_priority(int p);
int log_internal(int priority, int error, const char *alert_id, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

#define log_debug(...) log_internal(LOG_DEBUG, 0, NULL, __VA_ARGS__)
#define log_info(...) log_internal(LOG_INFO, 0, NULL, __VA_ARGS__)
#define log_notice(...) log_internal(LOG_NOTICE, 0, NULL, __VA_ARGS__)
#define log_warning(...) log_internal(LOG_WARNING, 0, NULL, __VA_ARGS__)
#define log_error(...) log_internal(LOG_ERR, 0, NULL, __VA_ARGS__)
#define log_error_errno(r, ...) log_internal(LOG_ERR, (r), NULL, __VA_ARGS__)
#define log_warning_errno(r, ...) log_internal(LOG_WARNING, (r), NULL, __VA_ARGS__)
/* With the DAWN_ALERT_ID= journal field. */
#define log_alert(prio, id, ...) log_internal((prio), 0, (id), __VA_ARGS__)

/* "+447700900123" -> "+4477******23"; "nights@booth-house.example" ->
 * "n*****@booth-house.example". Writes into buf (size n) and returns it. */
const char *dawn_mask_recipient(const char *recipient, char *buf, size_t n);

#endif
