/* libFuzzer harness: the body of POST /v1/alerts, as a partner sends it.
 *
 * The bytes go through dawn_http_alerts_body(), the function the HTTP
 * server calls once a body is in: the size limits (one alert or a batch),
 * the depth check that runs before cJSON, cJSON with an explicit length,
 * the object-or-array dispatch, and the per-report answers of a batch. In
 * dawnd each report then goes to dawn_ingest_report(); here it goes to the
 * parts of it that need no store: dawn_alert_parse_input() and
 * dawn_alert_check() against a small config. No daemon, socket or store.
 *
 * Checked on every input, beyond the sanitizers:
 *   - the status is one the API documents (200, 201, 400, 413), and a body
 *     refused before any report was looked at says why ("too_large" or
 *     "invalid") with the field "body";
 *   - an object body longer than DAWN_MAX_REQUEST_BYTES is always 413;
 *   - one object is handed over once, with index -1; a batch is answered by
 *     an array as long as the batch, in order, each result carrying its
 *     "index", its "http_status", and a field (if any) naming the report;
 *   - every answer prints as one line, and as valid UTF-8 when the body was
 *     valid UTF-8 without escapes (JSON is UTF-8).
 *
 * An input whose first byte is 0x01 is the rest of the input followed by
 * white space past the one-alert limit: libFuzzer's inputs are a few KiB,
 * and this reaches the limit without a 64 KiB corpus file.
 *
 * Build and run: BUILD=build-fuzz tests/fuzz/run.sh tests/fuzz/fuzz_http_body.c */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "alert.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "utf8_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static const char config_text[] =
        "areas = { pan-hampshire = { southampton = {}; portsmouth = {};\n"
        "          hampshire = { fareham = {}; gosport = {}; }; }; };\n"
        "grading = { high_risk_adulterants = [ \"nitazene\", \"fentanyl\", \"xylazine\" ]; };\n"
        "channels = { mqtt = { host = \"127.0.0.1\"; port = 1883; qos = 1; }; };\n"
        "sources = ( { id = \"portsmouth-ph\"; role = \"issuer\"; } );\n"
        "subscribers = ( { id = \"booth-house\"; kind = \"hostel\"; area = \"southampton\"; mqtt = true; } );\n";

static struct dawn_config *config;

struct seen {
        int calls;
        int last_index;
        bool single;
};

#define fail(...)                                                  \
        do {                                                       \
                fprintf(stderr, "fuzz_http_body: " __VA_ARGS__);   \
                fputc('\n', stderr);                               \
                abort();                                           \
        } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        struct dawn_errors errs = { 0 };
        log_init(1, LOG_CRIT);
        if (dawn_config_load_string(config_text, "fuzz_http_body.conf", &config, &errs) < 0) {
                for (size_t i = 0; i < errs.n; i++)
                        fprintf(stderr, "fuzz_http_body: config: %s\n", errs.msgs[i]);
                abort(); /* the harness itself is broken: say so rather than fuzz nothing */
        }
        dawn_errors_clear(&errs);
        return 0;
}

/* dawn_ingest_report() without the store: validate, and answer as it does. */
static cJSON *validate(const cJSON *report, int index, int *http_status, void *userdata)
{
        struct seen *s = userdata;
        if (index == -1) {
                if (s->calls)
                        fail("a single report handed over twice");
                s->single = true;
        } else if (s->single || index != s->calls) {
                fail("report %d handed over after %d report(s)", index, s->calls);
        }
        s->calls++;
        s->last_index = index;

        struct dawn_alert a;
        dawn_alert_init(&a);
        unsigned fields = 0;
        struct dawn_input_error err = { 0 };
        int r = dawn_alert_parse_input(report, &a, &fields, &err);
        if (r == 0)
                r = dawn_alert_check(&a, config, dawn_now_usec(), &err);
        dawn_alert_clear(&a);
        cJSON *answer = cJSON_CreateObject();
        if (!answer)
                abort();
        if (r == 0) {
                *http_status = 201;
                cJSON_AddStringToObject(answer, "id", "A1");
                cJSON_AddStringToObject(answer, "status", "active");
                cJSON_AddStringToObject(answer, "outcome", "new");
        } else {
                if (!err.message[0])
                        fail("a refused report without a reason");
                *http_status = 400;
                cJSON_AddStringToObject(answer, "error", err.message);
                if (err.field[0])
                        cJSON_AddStringToObject(answer, "field", err.field);
        }
        return answer;
}

static void check_batch_results(const cJSON *results, int calls)
{
        if (!cJSON_IsArray(results) || cJSON_GetArraySize(results) != calls)
                fail("a batch of %d report(s) answered by %d result(s)", calls, cJSON_GetArraySize(results));
        const cJSON *r;
        int i = 0;
        cJSON_ArrayForEach(r, results) {
                const cJSON *index = cJSON_GetObjectItemCaseSensitive(r, "index");
                const cJSON *status = cJSON_GetObjectItemCaseSensitive(r, "http_status");
                if (!cJSON_IsNumber(index) || index->valueint != i)
                        fail("result %d has no index %d", i, i);
                if (!cJSON_IsNumber(status) || (status->valueint != 201 && status->valueint != 400))
                        fail("result %d has no http_status", i);
                const cJSON *field = cJSON_GetObjectItemCaseSensitive(r, "field");
                char prefix[24];
                snprintf(prefix, sizeof(prefix), "alert[%d]", i);
                if (field && (!cJSON_IsString(field) || strncmp(field->valuestring, prefix, strlen(prefix)) != 0))
                        fail("result %d: field does not name the report", i);
                i++;
        }
}

/* A body refused for a NUL inside a string names where it is instead of "body". */
static bool nul_refusal(const cJSON *answer)
{
        const cJSON *error = cJSON_GetObjectItemCaseSensitive(answer, "error");
        const cJSON *field = cJSON_GetObjectItemCaseSensitive(answer, "field");
        return cJSON_IsString(error) && strstr(error->valuestring, ": holds the NUL character") &&
               cJSON_IsString(field) && field->valuestring[0];
}

static void check_answer(const char *body, size_t len, const struct dawn_http_answer *ans, const struct seen *s)
{
        const cJSON *field = cJSON_GetObjectItemCaseSensitive(ans->body, "field");
        switch (ans->http_status) {
        case 413:
        case 400:
                if (s->calls == 0 && (!ans->rejected || !cJSON_IsString(field) ||
                                      (strcmp(field->valuestring, "body") && !nul_refusal(ans->body))))
                        fail("a body refused (%d) before any report without the reason or the field", ans->http_status);
                if (ans->http_status == 413 && (!ans->rejected || strcmp(ans->rejected, "too_large")))
                        fail("413 not counted as too_large");
                if (ans->http_status == 400 && s->calls == 0 && strcmp(ans->rejected, "invalid"))
                        fail("400 before any report not counted as invalid");
                break;
        case 200:
                check_batch_results(ans->body, s->calls);
                break;
        case 201:
                if (!s->single)
                        fail("201 for something other than one report");
                break;
        default:
                fail("status %d", ans->http_status);
        }
        if (ans->rejected && s->calls)
                fail("reports handed over, yet the body counted as refused");
        if (!ans->rejected && s->calls == 0)
                fail("neither refused nor handed over");
        size_t start = 0;
        while (start < len && strchr(" \t\r\n", body[start]))
                start++;
        if (start < len && body[start] != '[' && len > DAWN_MAX_REQUEST_BYTES && ans->http_status != 413)
                fail("an object body of %zu bytes was not refused as too large", len);

        char *text = cJSON_PrintUnformatted(ans->body);
        if (!text)
                abort();
        if (strchr(text, '\n'))
                fail("an answer that is not one line");
        if (utf8_ok((const unsigned char *)body, len) && !memchr(body, '\\', len) &&
            !utf8_ok((const unsigned char *)text, strlen(text)))
                fail("a valid UTF-8 body got an answer that is not UTF-8: %s", text);
        free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        size_t len = size;
        bool pad = size > 0 && data[0] == 0x01;
        if (pad)
                len = DAWN_MAX_REQUEST_BYTES + 1 > size - 1 ? DAWN_MAX_REQUEST_BYTES + 1 : size - 1;
        /* exactly len bytes, not terminated: ASan catches any read past the body, as MHD's
         * buffer would not stop one either */
        char *body = malloc(len ? len : 1);
        if (!body)
                return 0;
        if (pad) {
                memcpy(body, data + 1, size - 1);
                memset(body + size - 1, ' ', len - (size - 1));
        } else {
                memcpy(body, data, size);
        }
        struct seen s = { 0 };
        struct dawn_http_answer ans;
        if (dawn_http_alerts_body(body, len, validate, &s, &ans) < 0 || !ans.body)
                fail("out of memory reported with memory to spare");
        check_answer(body, len, &ans, &s);
        cJSON_Delete(ans.body);
        free(body);
        return 0;
}
