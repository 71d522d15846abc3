/* libFuzzer harness: the configuration file.
 *
 * The bytes (NUL-terminated copy) go to dawn_config_load_string(). A config
 * that loads is then walked the way the daemon uses it: every area looked
 * up by id, the tree's invariants (parents first, depth and path agree),
 * subscribers and sources found by id, and routing for every area, type and
 * grade. A refused config must come with at least one message and no
 * config; an accepted one with none.
 *
 * Inputs containing "@include" are skipped. libconfig's scanner calls
 * exit() on some malformed @include directives (libconfig #292), which
 * libFuzzer would report as a crash of the harness although dawnd never
 * parses an untrusted config in its own process: a reload is checked in a
 * forked child first (dawn_daemon_reload), and dawn_config_load_string()
 * refuses directives in strings itself. Skipping them keeps the run about
 * DAWN's code, not a known libconfig bug.
 *
 * Build and run: BUILD=build-fuzz tests/fuzz/run.sh tests/fuzz/fuzz_config.c */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        log_init(1, LOG_CRIT);
        return 0;
}

#define CHECK(cond)                                                                         \
        do {                                                                                \
                if (!(cond)) {                                                              \
                        fprintf(stderr, "fuzz_config: %s:%d: broken: %s\n", __FILE__, __LINE__, #cond); \
                        abort();                                                            \
                }                                                                           \
        } while (0)

static void walk(const struct dawn_config *c)
{
        CHECK(c->state_dir && c->control_socket);
        for (size_t i = 0; i < c->n_areas; i++) {
                const struct dawn_area *a = &c->areas[i];
                CHECK(a->id && a->path);
                CHECK(dawn_config_area_index(c, a->id) == (int)i);
                if (a->parent < 0) {
                        CHECK(a->depth == 0);
                        CHECK(strcmp(a->path, a->id) == 0);
                } else {
                        CHECK((size_t)a->parent < i); /* parents first */
                        const struct dawn_area *p = &c->areas[a->parent];
                        CHECK(a->depth == p->depth + 1);
                        size_t pl = strlen(p->path);
                        CHECK(strncmp(a->path, p->path, pl) == 0 && a->path[pl] == '/' &&
                              strcmp(a->path + pl + 1, a->id) == 0);
                        CHECK(dawn_config_areas_related(c, (int)i, a->parent));
                        CHECK(dawn_config_areas_related(c, a->parent, (int)i));
                }
                CHECK(dawn_config_areas_related(c, (int)i, (int)i));
        }
        for (size_t i = 0; i < c->n_subscribers; i++) {
                const struct dawn_subscriber *s = &c->subscribers[i];
                CHECK(s->id && s->kind);
                CHECK(s->area >= 0 && (size_t)s->area < c->n_areas);
                CHECK(dawn_config_subscriber(c, s->id) != NULL);
        }
        for (size_t i = 0; i < c->n_sources; i++)
                CHECK(c->sources[i].id && dawn_config_source(c, c->sources[i].id) != NULL);

        /* routing on this config: every area, type and grade (bounded, so a
         * config with thousands of areas does not make one input slow) */
        for (size_t i = 0; i < c->n_areas && i < 64; i++)
                for (int t = 0; t < DAWN_TYPE_COUNT; t++)
                        for (int g = 0; g < DAWN_GRADE_COUNT; g++) {
                                struct dawn_route r;
                                int ret = dawn_route_alert(c, "A1", c->areas[i].id, (enum dawn_type)t,
                                                           (enum dawn_grade)g, &r);
                                CHECK(ret == 0);
                                for (size_t k = 0; k < r.n; k++)
                                        CHECK(r.v[k].recipient && r.v[k].subscriber);
                                dawn_route_clear(&r);
                        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (memmem(data, size, "@include", 8))
                return 0; /* see the comment at the top: libconfig #292 */
        char *text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';

        struct dawn_config *c = NULL;
        struct dawn_errors errs = { 0 };
        int r = dawn_config_load_string(text, "fuzz.conf", &c, &errs);
        if (r == 0) {
                CHECK(c != NULL);
                CHECK(errs.n == 0);
                walk(c);
        } else {
                CHECK(c == NULL);
                CHECK(errs.n > 0);
                for (size_t i = 0; i < errs.n; i++)
                        CHECK(errs.msgs[i] && errs.msgs[i][0]);
        }
        dawn_config_free(c);
        dawn_errors_clear(&errs);
        free(text);
        return 0;
}
