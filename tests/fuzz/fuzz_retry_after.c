/* libFuzzer harness: a Retry-After header value from an SMS or email
 * gateway, which is whatever the peer (or something between) sends.
 *
 * The bytes, NUL-terminated, are parsed against several "now"s, the ends of
 * the range included. A value is either refused with -EINVAL or gives a
 * delay of at most a day; a date, one second later, is one second nearer.
 *
 * Build and run: BUILD=build-fuzz tests/fuzz/run.sh tests/fuzz/fuzz_retry_after.c */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "retry_after.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEC INT64_C(1000000)
#define DAY (86400 * SEC)

static void check_one(const char *value, int64_t now)
{
        uint64_t delay = UINT64_MAX;
        int r = dawn_parse_retry_after(value, now, &delay);
        if (r != 0 && r != -EINVAL) {
                fprintf(stderr, "fuzz_retry_after: '%s': returned %d\n", value, r);
                abort();
        }
        if (r == -EINVAL) {
                if (delay != UINT64_MAX) {
                        fprintf(stderr, "fuzz_retry_after: '%s': refused but wrote a delay\n", value);
                        abort();
                }
                return;
        }
        if (delay > (uint64_t)DAY) {
                fprintf(stderr, "fuzz_retry_after: '%s': delay %llu beyond a day\n", value,
                        (unsigned long long)delay);
                abort();
        }
        /* a second later: seconds stay the same; a date comes one second
         * nearer (or stays passed) */
        if (now > INT64_MAX - SEC)
                return;
        uint64_t later = UINT64_MAX;
        if (dawn_parse_retry_after(value, now + SEC, &later) != 0) {
                fprintf(stderr, "fuzz_retry_after: '%s': accepted at %lld, refused a second later\n", value,
                        (long long)now);
                abort();
        }
        bool same = later == delay;
        bool nearer = later == (delay >= (uint64_t)SEC ? delay - (uint64_t)SEC : 0);
        if (!same && !nearer) {
                fprintf(stderr, "fuzz_retry_after: '%s': %llu then %llu a second later\n", value,
                        (unsigned long long)delay, (unsigned long long)later);
                abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *value = malloc(size + 1);
        if (!value)
                return 0;
        memcpy(value, data, size);
        value[size] = '\0';

        static const int64_t nows[] = {
                INT64_C(784111777) * SEC - 90 * SEC,   /* just before RFC 9110's example date */
                INT64_C(1795435200) * SEC + 123456,    /* 2026, with a fraction of a second */
                (INT64_C(4102444800) - 30) * SEC,      /* the end of 2099: two-digit years turn over */
                0,
                -1,
                INT64_MIN,
                INT64_MAX,
        };
        for (size_t i = 0; i < sizeof(nows) / sizeof(nows[0]); i++)
                check_one(value, nows[i]);
        free(value);
        return 0;
}
