/* dawnctl's side of the control socket: one request line out, one answer
 * line back, within one deadline and under one size cap (transport.h). */

#include <cJSON.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "dawn/protocol.h"
#include "transport.h"

static int connect_dawnd(const char *path)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct timeval timeout = { .tv_sec = ANSWER_TIMEOUT_SECONDS };
        size_t len = strlen(path);
        int fd, saved;

        if (len >= sizeof sa.sun_path) {
                errno = ENAMETOOLONG;
                return -1;
        }
        memcpy(sa.sun_path, path, len + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -1;
        /* Without the timeouts a stuck daemon would hang the officer's
         * terminal; failing to set them only loses that protection. */
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
        if (connect(fd, (const struct sockaddr *)&sa, sizeof sa) < 0) {
                saved = errno;
                close(fd);
                errno = saved;
                return -1;
        }
        return fd;
}

/* The whole exchange has one deadline: SO_RCVTIMEO alone bounds each
 * recv(), and a peer that sent a byte every few seconds would hold the
 * officer's terminal for weeks. Milliseconds on the monotonic clock. */
int64_t now_msec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for events or the deadline passes (-ETIMEDOUT). */
static int wait_ready(int fd, short events, int64_t deadline)
{
        for (;;) {
                struct pollfd p = { .fd = fd, .events = events };
                int64_t left = deadline - now_msec();
                int r;

                if (left <= 0)
                        return -ETIMEDOUT;
                r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                return r == 0 ? -ETIMEDOUT : 0;
        }
}

static int send_all(int fd, const char *buf, size_t len, int64_t deadline)
{
        while (len > 0) {
                ssize_t n;
                int r = wait_ready(fd, POLLOUT, deadline);

                if (r < 0)
                        return r;
                /* MSG_NOSIGNAL: a daemon that went away is an error to
                 * report, not a SIGPIPE that kills us silently. */
                n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                                continue;
                        return -errno;
                }
                buf += n;
                len -= (size_t)n;
        }
        return 0;
}

/* Reads the answer: one line, by the deadline. Returns 0 with *line set
 * (empty if dawnd closed without a word), or -errno: -EMSGSIZE past
 * ANSWER_MAX_BYTES, -ETIMEDOUT past the deadline. */
int read_answer(int fd, int64_t deadline, char **line, size_t *len)
{
        size_t size = 0, used = 0;
        char *buf = NULL;

        for (;;) {
                ssize_t n;
                char *nl;
                int r;

                if (used + 1 >= size) {
                        if (size >= ANSWER_MAX_BYTES + 1) {
                                free(buf);
                                return -EMSGSIZE;
                        }
                        size = size ? size * 2 : 4096;
                        if (size > ANSWER_MAX_BYTES + 1)
                                size = ANSWER_MAX_BYTES + 1;
                        buf = realloc(buf, size);
                        if (!buf)
                                out_of_memory();
                }
                r = wait_ready(fd, POLLIN, deadline);
                if (r < 0) {
                        free(buf);
                        return r;
                }
                n = recv(fd, buf + used, size - used - 1, MSG_DONTWAIT);
                if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
                        continue;
                if (n < 0) {
                        r = -errno;
                        free(buf);
                        return r;
                }
                if (n == 0)
                        break; /* what came without a newline is still parsed */
                nl = memchr(buf + used, '\n', (size_t)n);
                used += (size_t)n;
                if (nl) {
                        used = (size_t)(nl - buf);
                        break;
                }
        }
        buf[used] = '\0';
        *line = buf;
        *len = used;
        return 0;
}

static int exchange(int fd, const char *path, const char *request, int64_t deadline, cJSON **answer)
{
        char *line = NULL;
        size_t len = 0;
        int r;

        r = send_all(fd, request, strlen(request), deadline);
        /* EPIPE, ECONNRESET: a dawnd at one of its limits answers why and hangs up,
         * maybe before reading the request; that answer is still worth reading */
        if (r == -ETIMEDOUT) {
                fprintf(stderr, "dawnctl: dawnd at %s did not take the request within %d seconds\n", path,
                        ANSWER_TIMEOUT_SECONDS);
                return DAWN_EXIT_UNREACHABLE;
        } else if (r < 0 && r != -EPIPE && r != -ECONNRESET) {
                fprintf(stderr, "dawnctl: cannot send to dawnd at %s: %s\n", path, strerror(-r));
                return DAWN_EXIT_UNREACHABLE;
        }
        r = read_answer(fd, deadline, &line, &len);
        if (r == -ETIMEDOUT || r == -EAGAIN || r == -EWOULDBLOCK)
                fprintf(stderr, "dawnctl: no answer from dawnd at %s within %d seconds\n", path,
                        ANSWER_TIMEOUT_SECONDS);
        else if (r == -EMSGSIZE)
                fprintf(stderr, "dawnctl: the answer from dawnd at %s is larger than %u bytes\n", path,
                        ANSWER_MAX_BYTES);
        else if (r < 0)
                fprintf(stderr, "dawnctl: lost the connection to dawnd at %s: %s\n", path, strerror(-r));
        else if (len == 0)
                fprintf(stderr, "dawnctl: dawnd at %s closed the connection without answering\n", path);
        else if (!(*answer = cJSON_ParseWithLength(line, len)))
                fprintf(stderr, "dawnctl: the answer from dawnd at %s is not JSON\n", path);
        free(line);
        return *answer ? DAWN_EXIT_OK : DAWN_EXIT_UNREACHABLE;
}

/* Sends one request line and reads one answer line, all within
 * ANSWER_TIMEOUT_SECONDS. Says why on stderr and returns
 * DAWN_EXIT_UNREACHABLE when there is no usable answer. */
int call_dawnd(const char *path, const cJSON *request, cJSON **answer)
{
        int64_t deadline = now_msec() + ANSWER_TIMEOUT_SECONDS * 1000;
        char *text, *line;
        size_t len;
        int fd, r;

        *answer = NULL;
        fd = connect_dawnd(path);
        if (fd < 0) {
                fprintf(stderr, "dawnctl: cannot reach dawnd at %s: %s\n", path, strerror(errno));
                return DAWN_EXIT_UNREACHABLE;
        }
        text = cJSON_PrintUnformatted(request);
        if (!text)
                out_of_memory();
        len = strlen(text);
        line = malloc(len + 2);
        if (!line)
                out_of_memory();
        memcpy(line, text, len);
        memcpy(line + len, "\n", 2);
        cJSON_free(text);
        r = exchange(fd, path, line, deadline, answer);
        free(line);
        close(fd);
        return r;
}
