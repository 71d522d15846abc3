#include "channel.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const struct dawn_channel_driver *const dawn_channel_drivers[] = {
        &dawn_channel_mqtt,
        &dawn_channel_sms,
        &dawn_channel_email,
        NULL,
};

const struct dawn_channel_driver *dawn_channel_driver_find(enum dawn_channel_kind kind)
{
        for (size_t i = 0; dawn_channel_drivers[i]; i++)
                if (dawn_channel_drivers[i]->kind == kind)
                        return dawn_channel_drivers[i];
        return NULL;
}

int dawn_channel_new(const struct dawn_channel_driver *driver, sd_event *loop,
                     const struct dawn_config *cfg, dawn_channel_complete_fn on_complete,
                     dawn_channel_ready_fn on_ready, void *userdata, struct dawn_channel **out)
{
        struct dawn_channel *ch = calloc(1, sizeof(*ch));
        if (!ch)
                return -ENOMEM;
        ch->driver = driver;
        ch->on_complete = on_complete;
        ch->on_ready = on_ready;
        ch->userdata = userdata;
        if (driver->state_size) {
                ch->state = calloc(1, driver->state_size);
                if (!ch->state) {
                        free(ch);
                        return -ENOMEM;
                }
        }
        int r = driver->start(ch, loop, cfg);
        if (r < 0) {
                free(ch->state);
                free(ch);
                return r;
        }
        *out = ch;
        return 0;
}

struct dawn_channel *dawn_channel_free(struct dawn_channel *ch)
{
        if (!ch)
                return NULL;
        ch->driver->stop(ch);
        free(ch->state);
        free(ch);
        return NULL;
}

void dawn_channel_complete(struct dawn_channel *ch, int64_t delivery_id, enum dawn_send_result result,
                           const char *error, uint64_t retry_after_usec)
{
        if (ch->on_complete)
                ch->on_complete(ch, delivery_id, result, error, retry_after_usec, ch->userdata);
}

void dawn_channel_ready_changed(struct dawn_channel *ch)
{
        if (ch->on_ready)
                ch->on_ready(ch, ch->userdata);
}

int dawn_channel_read_secret(const char *path, char **out)
{
        char buf[DAWN_SECRET_MAX + 2];
        /* O_NONBLOCK, and regular files only: a FIFO at that path would
         * otherwise stop the event loop in open() or read() (secrets are read
         * again at every reload) */
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
                return -errno;
        struct stat st;
        int kind = fstat(fd, &st) < 0 ? -errno : S_ISREG(st.st_mode) ? 0 : S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
        if (kind < 0) {
                close(fd);
                return kind;
        }
        FILE *f = fdopen(fd, "re");
        if (!f) {
                int r = -errno;
                close(fd);
                return r;
        }
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        int r = ferror(f) ? -EIO : 0;
        fclose(f);
        if (r == 0 && n > DAWN_SECRET_MAX)
                r = -EFBIG;
        /* a NUL would end the secret there: "k\0<31 random bytes>" would be the
         * one-character token "k" (a key made with head -c 32 /dev/urandom has
         * a NUL in it about one time in eight) */
        if (r == 0 && memchr(buf, '\0', n))
                r = -EINVAL;
        if (r == 0) {
                /* editors add a final newline; a secret never ends in one */
                buf[n] = '\0';
                while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
                        buf[--n] = '\0';
                if (n == 0)
                        r = -ENODATA;
        }
        if (r == 0) {
                *out = strdup(buf);
                r = *out ? 0 : -ENOMEM;
        }
        explicit_bzero(buf, sizeof(buf));
        return r;
}
