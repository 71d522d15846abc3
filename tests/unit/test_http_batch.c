/* Tests for a batch of reports taken in slices (daemon/ways/http_alerts.c):
 * POST /v1/alerts with an array is taken HTTP_SLICE_REPORTS at a time, one
 * slice per turn of the loop, so that a thousand reports do not hold every
 * other client back (issue 15). What the partner reads must not show it:
 * the answer is the one a batch taken whole gets. */
#include "dawn_test.h"

#include <errno.h>

#include "http.h"
#include "json.h"

/* A report() that answers each report with its "n", refuses one without an
 * "area" as the intake does (field "area"), and counts its calls. */
struct seen {
        int calls;
};

static cJSON *answer_report(const cJSON *report, int index, int *http_status, void *userdata)
{
        struct seen *s = userdata;
        s->calls++;
        cJSON *a = cJSON_CreateObject();
        if (!cJSON_GetObjectItemCaseSensitive(report, "area")) {
                *http_status = 400;
                cJSON_AddStringToObject(a, "field", "area");
                cJSON_AddStringToObject(a, "error", "area: required");
                return a;
        }
        *http_status = 201;
        cJSON_AddNumberToObject(a, "n", cJSON_GetObjectItemCaseSensitive(report, "n")->valuedouble);
        cJSON_AddNumberToObject(a, "seen_as", index);
        return a;
}

static char *batch_of(int n)
{
        size_t cap = (size_t)n * 40 + 8;
        char *body = malloc(cap);
        size_t len = 0;
        body[len++] = '[';
        for (int i = 0; i < n; i++)
                len += (size_t)snprintf(body + len, cap - len, "%s{\"n\":%d%s}", i ? "," : "", i,
                                        i % 7 == 3 ? "" : ",\"area\":\"fareham\"");
        body[len++] = ']';
        body[len] = '\0';
        return body;
}

static char *printed(const cJSON *j)
{
        char *s = cJSON_PrintUnformatted(j);
        assert_non_null(s);
        return s;
}

/* 50 reports in slices of 16: four steps, the first three saying more
 * remain, and the answer is byte for byte the one taken whole. */
static void test_a_batch_in_slices_answers_as_one_taken_whole(void **state UNUSED)
{
        char *body = batch_of(50);
        struct seen whole_seen = { 0 }, sliced_seen = { 0 };
        struct dawn_http_answer whole, sliced;
        assert_int_equal(dawn_http_alerts_body(body, strlen(body), answer_report, &whole_seen, &whole), 0);

        struct dawn_http_batch *b = NULL;
        assert_int_equal(dawn_http_alerts_body_begin(body, strlen(body), NULL, answer_report, &sliced_seen, &sliced, &b),
                         0);
        assert_non_null(b);
        assert_int_equal(sliced_seen.calls, 0); /* nothing taken before the first slice */
        int steps = 0, r;
        while ((r = dawn_http_batch_step(&b, answer_report, &sliced_seen, 16, &sliced)) == 1) {
                steps++;
                assert_int_equal(sliced_seen.calls, steps * 16);
        }
        assert_int_equal(r, 0);
        assert_null(b);
        assert_int_equal(steps, 3);
        assert_int_equal(sliced_seen.calls, 50);
        assert_int_equal(sliced.http_status, 200);

        char *a = printed(whole.body), *s = printed(sliced.body);
        assert_string_equal(s, a);
        /* the partner still learns which report was refused, by its place */
        const cJSON *fourth = cJSON_GetArrayItem(sliced.body, 3);
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(fourth, "field")->valuestring, "alert[3].area");
        assert_int_equal(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(sliced.body, 49), "index")->valueint, 49);
        free(a);
        free(s);
        free(body);
        cJSON_Delete(whole.body);
        cJSON_Delete(sliced.body);
}

/* One alert, a refusal and an empty array are answered at once: no batch
 * is left to take. */
static void test_what_is_not_a_batch_is_answered_at_once(void **state UNUSED)
{
        static const char *const bodies[] = { "{\"n\":1,\"area\":\"fareham\"}", "[]", "[1,", "\"x\"" };
        static const int statuses[] = { 201, 400, 400, 400 };
        for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
                struct seen seen = { 0 };
                struct dawn_http_answer ans;
                struct dawn_http_batch *b = (struct dawn_http_batch *)&seen; /* must be set to NULL */
                assert_int_equal(
                        dawn_http_alerts_body_begin(bodies[i], strlen(bodies[i]), NULL, answer_report, &seen, &ans, &b),
                        0);
                assert_null(b);
                assert_int_equal(ans.http_status, statuses[i]);
                assert_non_null(ans.body);
                cJSON_Delete(ans.body);
        }
}

/* A batch the source's rate does not admit is refused whole, before any of
 * it is taken. */
static cJSON *refuse_all(int n, int *http_status, void *userdata UNUSED)
{
        *http_status = 429;
        return dawn_error_json(NULL, true, "%d alerts is more than your rate allows now", n);
}

static void test_a_batch_refused_by_the_rate_takes_nothing(void **state UNUSED)
{
        char *body = batch_of(20);
        struct seen seen = { 0 };
        struct dawn_http_answer ans;
        struct dawn_http_batch *b = NULL;
        assert_int_equal(dawn_http_alerts_body_begin(body, strlen(body), refuse_all, answer_report, &seen, &ans, &b), 0);
        assert_null(b);
        assert_int_equal(ans.http_status, 429);
        assert_string_equal(ans.rejected, "rate_limited");
        assert_int_equal(seen.calls, 0);
        cJSON_Delete(ans.body);
        free(body);
}

/* A batch abandoned half taken (dawnd stopping) frees what it held. */
static void test_a_batch_abandoned_half_taken_is_freed(void **state UNUSED)
{
        char *body = batch_of(40);
        struct seen seen = { 0 };
        struct dawn_http_answer ans;
        struct dawn_http_batch *b = NULL;
        assert_int_equal(dawn_http_alerts_body_begin(body, strlen(body), NULL, answer_report, &seen, &ans, &b), 0);
        assert_int_equal(dawn_http_batch_step(&b, answer_report, &seen, 16, &ans), 1);
        dawn_http_batch_free(b); /* ASan's leak check is the assertion */
        dawn_http_batch_free(NULL);
        assert_int_equal(seen.calls, 16);
        free(body);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_a_batch_in_slices_answers_as_one_taken_whole),
                cmocka_unit_test(test_what_is_not_a_batch_is_answered_at_once),
                cmocka_unit_test(test_a_batch_refused_by_the_rate_takes_nothing),
                cmocka_unit_test(test_a_batch_abandoned_half_taken_is_freed),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
