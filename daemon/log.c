#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-journal.h>

static int log_to_stderr = 1;
static int log_max_priority = LOG_INFO;

void log_init(int to_stderr, int max_priority)
{
        log_to_stderr = to_stderr;
        log_max_priority = max_priority;
}

void log_set_max_priority(int p)
{
        log_max_priority = p;
}

int log_internal(int priority, int error, const char *alert_id, const char *fmt, ...)
{
        int saved_errno = errno;
        if (priority > log_max_priority) {
                errno = saved_errno;
                return error < 0 ? error : -error;
        }

        char msg[2048];
        va_list ap;
        va_start(ap, fmt);
        /* %m in fmt means the error given, as systemd's log functions do */
        errno = error < 0 ? -error : error;
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);

        if (log_to_stderr) {
                static const char *const prefix[] = { "emerg", "alert", "crit", "error",
                                                      "warning", "notice", "info", "debug" };
                fprintf(stderr, "dawnd: %s: %s\n", prefix[priority & 7], msg);
        } else if (alert_id) {
                sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", priority, "DAWN_ALERT_ID=%s",
                                alert_id, NULL);
        } else {
                sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", priority, NULL);
        }
        errno = saved_errno;
        return error < 0 ? error : -error;
}

const char *dawn_mask_recipient(const char *recipient, char *buf, size_t n)
{
        if (n == 0)
                return buf;
        size_t len = strlen(recipient);
        const char *at = strchr(recipient, '@');
        if (at) {
                /* keep the first character of the local part and the domain */
                size_t local = (size_t)(at - recipient);
                snprintf(buf, n, "%.1s*****%s", local ? recipient : "", at);
                return buf;
        }
        if (len <= 6) {
                snprintf(buf, n, "******");
                return buf;
        }
        /* a phone number: keep the country and network prefix and the last two digits */
        size_t keep_head = len >= 12 ? 5 : 3;
        snprintf(buf, n, "%.*s%s%s", (int)keep_head, recipient, "******", recipient + len - 2);
        return buf;
}
