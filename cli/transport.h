/* dawnctl's side of the control socket (include/dawn/protocol.h): connect,
 * send one request line, read one answer line. */
#pragma once

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* A "show" of a busy alert lists every delivery, so answers can be far
 * larger than requests; the cap only stops a broken peer filling memory. */
#define ANSWER_MAX_BYTES (16u * 1024 * 1024)
/* dawnd answers from its event loop in milliseconds; a minute without an
 * answer means it is stuck, and an officer should not wait forever. One
 * deadline for the whole exchange (connect, request, answer), not per read. */
#define ANSWER_TIMEOUT_SECONDS 60

/* Sends request to dawnd at path and reads its answer into *answer (the
 * caller's to free), all within ANSWER_TIMEOUT_SECONDS. Says why on stderr
 * and returns DAWN_EXIT_UNREACHABLE when there is no usable answer. */
int call_dawnd(const char *path, const cJSON *request, cJSON **answer);

/* Exposed for the unit tests: milliseconds on the monotonic clock, and
 * reading one answer line from fd by deadline (0, or -errno: -EMSGSIZE
 * past ANSWER_MAX_BYTES, -ETIMEDOUT past the deadline). */
int64_t now_msec(void);
int read_answer(int fd, int64_t deadline, char **line, size_t *len);
