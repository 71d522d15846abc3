/* libFuzzer harness: an alert object as a submitter sends it.
 *
 * The bytes go the way a request's "alert" goes in dawnd: the depth check
 * that runs before cJSON, cJSON with an explicit length, the refusal of a
 * NUL inside a string, the field parser,
 * the checks that need the configuration, grading and routing (pure), the
 * fingerprint that deduplication matches on, and the round trip through the
 * public JSON form that the store keeps. Every allocation is freed, so
 * LeakSanitizer reports any leak on the way.
 *
 * Build and run: BUILD=build-fuzz tests/fuzz/run.sh tests/fuzz/fuzz_alert.c */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "alert.h"
#include "config.h"
#include "grade.h"
#include "log.h"
#include "route.h"
#include "utf8_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Areas two levels deep, a high-risk list, an MQTT channel and a subscriber:
 * enough for every check and for routing to produce targets. */
static const char config_text[] =
        "areas = { pan-hampshire = { southampton = {}; portsmouth = {};\n"
        "          hampshire = { fareham = {}; gosport = {}; }; }; };\n"
        "grading = { high_risk_adulterants = [ \"nitazene\", \"fentanyl\", \"xylazine\" ];\n"
        "            cluster = { window = \"24h\"; threshold = 3; }; };\n"
        "dedup = { window = \"72h\"; };\n"
        "expiry = { batch = \"14d\"; cluster = \"7d\"; nfod = \"72h\"; };\n"
        "channels = { mqtt = { host = \"127.0.0.1\"; port = 1883; qos = 1; }; };\n"
        "subscribers = (\n"
        "  { id = \"booth-house\"; kind = \"hostel\"; area = \"southampton\"; mqtt = true; },\n"
        "  { id = \"ph-duty-officer\"; kind = \"public-health\"; area = \"pan-hampshire\"; mqtt = true;\n"
        "    types = [ \"batch\", \"cluster\", \"nfod\" ]; }\n"
        ");\n";

static struct dawn_config *config;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        struct dawn_errors errs = { 0 };
        log_init(1, LOG_CRIT);
        if (dawn_config_load_string(config_text, "fuzz_alert.conf", &config, &errs) < 0) {
                for (size_t i = 0; i < errs.n; i++)
                        fprintf(stderr, "fuzz_alert: config: %s\n", errs.msgs[i]);
                abort(); /* the harness itself is broken: say so rather than fuzz nothing */
        }
        dawn_errors_clear(&errs);
        return 0;
}

/* What dawnd does with a valid alert before storing it; also checks that
 * what it prints, it reads back the same. */
static void exercise_valid(struct dawn_alert *a)
{
        struct dawn_grading g;
        if (dawn_grade_alert(a, NULL, 0, config, &g) == 0) {
                a->grade = g.grade;
                dawn_strv_clear(&a->grade_reasons);
                a->grade_reasons = g.reasons;
                g.reasons = (struct dawn_strv){ 0 };
        }
        dawn_grading_clear(&g);

        struct dawn_route route;
        if (dawn_route_alert(config, "A1", a->area, a->type, a->grade, &route) == 0)
                dawn_route_clear(&route);

        snprintf(a->id, sizeof(a->id), "A%u", 1u);
        a->revision = 1;
        a->issued_at = a->updated_at = dawn_now_usec();
        if (dawn_strv_add(&a->sources, "local:fuzz") < 0)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *buf = (const char *)data;
        if (!dawn_json_depth_ok(buf, size, DAWN_MAX_JSON_DEPTH))
                return 0;
        const char *end = NULL;
        cJSON *in = cJSON_ParseWithLengthOpts(buf, size, &end, false);
        if (!in)
                return 0;
        /* as every way in does: a string with a NUL would be cut short, so it
         * is refused, naming where it is in printable ASCII */
        char path[DAWN_JSON_PATH_MAX];
        if (dawn_json_find_nul(buf, (size_t)(end - buf), "alert", path, sizeof(path))) {
                for (const char *p = path; *p; p++)
                        if (*p < 0x20 || *p >= 0x7f) {
                                fprintf(stderr, "fuzz_alert: a NUL's path is not printable: '%s'\n", path);
                                abort();
                        }
                if (!path[0]) {
                        fprintf(stderr, "fuzz_alert: a NUL refused without a path\n");
                        abort();
                }
                cJSON_Delete(in);
                return 0;
        }

        struct dawn_alert a;
        struct dawn_input_error err = { 0 };
        unsigned seen = 0;
        dawn_alert_init(&a);
        int r = dawn_alert_parse_input(in, &a, &seen, &err);
        if (r == 0) {
                r = dawn_alert_check(&a, config, dawn_now_usec(), &err);
                if (r == 0)
                        exercise_valid(&a);
        } else if (!err.message[0] || (!err.field[0] && !cJSON_GetObjectItemCaseSensitive(in, ""))) {
                /* promise 5: bad input gets a clear error that names the field
                 * (which is "" only when the offending key itself is "") */
                fprintf(stderr, "fuzz_alert: refused without naming the field: '%s' '%s'\n", err.field,
                        err.message);
                abort();
        }

        /* a valid UTF-8 input (without escapes, which can spell anything)
         * gets an error in valid UTF-8: quoting part of it must not cut a
         * character in two */
        if (r != 0 && utf8_ok(data, size) && !memchr(data, '\\', size) &&
            (!utf8_ok((const unsigned char *)err.field, strlen(err.field)) ||
             !utf8_ok((const unsigned char *)err.message, strlen(err.message)))) {
                fprintf(stderr, "fuzz_alert: an error that is not UTF-8: field '%s': %s\n", err.field, err.message);
                abort();
        }

        /* The fingerprint and the JSON form are computed for whatever the
         * parser left, valid or not: neither may trip over a partial alert. */
        char *fp = dawn_alert_fingerprint(&a);
        free(fp);

        cJSON *out = dawn_alert_to_json(&a);
        if (out) {
                char *text = cJSON_PrintUnformatted(out);
                struct dawn_alert back;
                dawn_alert_init(&back);
                int rb = dawn_alert_from_json(out, &back);
                if (r == 0 && rb == 0) {
                        /* a valid alert survives the store's round trip: same fingerprint */
                        char *f1 = dawn_alert_fingerprint(&a), *f2 = dawn_alert_fingerprint(&back);
                        if (f1 && f2 && strcmp(f1, f2) != 0) {
                                fprintf(stderr, "fuzz_alert: fingerprint changed in the round trip: '%s' -> '%s'\n",
                                        f1, f2);
                                abort();
                        }
                        free(f1);
                        free(f2);
                }
                if (text) {
                        /* and the printed form parses again */
                        cJSON *again = cJSON_Parse(text);
                        cJSON_Delete(again);
                }
                free(text);
                dawn_alert_clear(&back);
                cJSON_Delete(out);
        }

        dawn_alert_clear(&a);
        cJSON_Delete(in);
        return 0;
}
