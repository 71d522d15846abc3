#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "text.h"

static int log_to_stderr = 1;
static int log_max_priority = LOG_INFO;

void log_init(int to_stderr, int max_priority)
{
        log_to_stderr = to_stderr;
        log_max_priority = max_priority;
}

/* Messages quote what peers sent (ids, topics, field names, reasons): a
 * newline there could forge a second journal entry, a terminal escape could
 * repaint an operator's screen, and a bidi control could reorder the line
 * they read. Each such character, and each byte that is not UTF-8, becomes
 * one '?', in place (the text only shrinks). One honest line per message. */
static void make_visible(char *msg)
{
        char *out = msg;
        for (const char *in = msg; *in;) {
                uint32_t cp;
                size_t n = dawn_utf8_decode(in, &cp);
                if (n == 0 || dawn_char_is_hidden(cp)) {
                        *out++ = '?';
                        in += n ? n : 1;
                        continue;
                }
                memmove(out, in, n);
                out += n;
                in += n;
        }
        *out = '\0';
}

int log_internal_fieldsv(int priority, int error, const char *alert_id, const char *channel, int64_t delivery_id,
                         const char *fmt, va_list ap)
{
        int saved_errno = errno;
        if (priority > log_max_priority) {
                errno = saved_errno;
                return error < 0 ? error : -error;
        }

        /* "MESSAGE=" then the text, so that the journal entry needs no copy */
        char entry[8 + 2048];
        char *msg = entry + 8;
        memcpy(entry, "MESSAGE=", 8);
        /* %m in fmt means the error given, as systemd's log functions do */
        errno = error < 0 ? -error : error;
        vsnprintf(msg, sizeof(entry) - 8, fmt, ap);
        make_visible(msg);

        if (log_to_stderr) {
                static const char *const prefix[] = { "emerg", "alert", "crit", "error",
                                                      "warning", "notice", "info", "debug" };
                fprintf(stderr, "dawnd: %s: %s\n", prefix[priority & 7], msg);
        } else {
                /* One journal entry; the fields that were given, each "NAME=value". A value
                 * cannot contain a newline here: ids, channel names and numbers never do, and
                 * sd_journal_sendv() handles one in MESSAGE. */
                char prio_field[16], alert_field[24 + 64], channel_field[16 + 32], delivery_field[40];
                struct iovec iov[5];
                int n = 0;
                iov[n++] = (struct iovec){ entry, strlen(entry) };
                snprintf(prio_field, sizeof(prio_field), "PRIORITY=%d", priority & 7);
                iov[n++] = (struct iovec){ prio_field, strlen(prio_field) };
                if (alert_id && *alert_id) {
                        snprintf(alert_field, sizeof(alert_field), "DAWN_ALERT_ID=%.64s", alert_id);
                        iov[n++] = (struct iovec){ alert_field, strlen(alert_field) };
                }
                if (channel && *channel) {
                        snprintf(channel_field, sizeof(channel_field), "DAWN_CHANNEL=%.32s", channel);
                        iov[n++] = (struct iovec){ channel_field, strlen(channel_field) };
                }
                if (delivery_id > 0) {
                        snprintf(delivery_field, sizeof(delivery_field), "DAWN_DELIVERY=%lld",
                                 (long long)delivery_id);
                        iov[n++] = (struct iovec){ delivery_field, strlen(delivery_field) };
                }
                sd_journal_sendv(iov, n);
        }
        errno = saved_errno;
        return error < 0 ? error : -error;
}

int log_internal_fields(int priority, int error, const char *alert_id, const char *channel, int64_t delivery_id,
                        const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = log_internal_fieldsv(priority, error, alert_id, channel, delivery_id, fmt, ap);
        va_end(ap);
        return r;
}

int log_internal(int priority, int error, const char *alert_id, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = log_internal_fieldsv(priority, error, alert_id, NULL, 0, fmt, ap);
        va_end(ap);
        return r;
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
