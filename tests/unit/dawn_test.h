/* What the unit tests share: cmocka's headers in the order it needs, the
 * markers and units they write with, the configuration fixture, and json().
 * Include it first, before the headers of the code under test. */
#ifndef DAWN_TEST_H
#define DAWN_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define UNUSED __attribute__((unused))

/* One second in the daemon's microseconds, signed for time arithmetic. */
#define SEC ((int64_t)DAWN_USEC_PER_SEC)

/* ---- the configuration fixture ----
 *
 * A group's tests read one configuration, loaded from the test's text in
 * its group setup (return dawn_test_config_load(config_text);) and freed by
 * dawn_test_config_free as its group teardown. Every problem the loader
 * finds is printed, so a fixture that stopped loading says why. */
static struct dawn_config *config UNUSED;

static UNUSED int dawn_test_config_load(const char *text)
{
        struct dawn_errors e = { 0 };
        int r = dawn_config_load_string(text, "test.conf", &config, &e);

        for (size_t i = 0; i < e.n; i++)
                fprintf(stderr, "config: %s\n", e.msgs[i]);
        dawn_errors_clear(&e);
        return r;
}

static UNUSED int dawn_test_config_free(void **state UNUSED)
{
        config = dawn_config_free(config);
        return 0;
}

/* ---- JSON ----
 *
 * Alert JSON is written with single quotes for readability; json() turns
 * them into double quotes and parses it, failing the test if cJSON does
 * not accept it (a literal apostrophe is written \u0027). */
static UNUSED cJSON *json(const char *text)
{
        char *s = strdup(text);
        assert_non_null(s);
        for (char *p = s; *p; p++)
                if (*p == '\'')
                        *p = '"';
        cJSON *o = cJSON_Parse(s);
        if (!o)
                print_error("cJSON cannot parse: %s\n", s);
        assert_non_null(o);
        free(s);
        return o;
}

#endif
