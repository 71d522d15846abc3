/* dawnctl history and audit without a daemon: the command line -> the
 * control request (--since as seconds, --actor, --limit, each checked and
 * named when wrong), and the answer -> one aligned line per event in local
 * time, the detail never cut, a note when entries were left out.
 *
 * Like test_dawnctl_args.c, cli/dawnctl.c is compiled in with DAWNCTL_NO_MAIN. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DAWNCTL_NO_MAIN
#include "../../cli/common.h"
#include "../../cli/dawnctl.c"
#include "../../cli/grammar.h"
#include "../../cli/render.h"

static int parse(struct invocation *inv, char **argv)
{
        int argc = 0;

        while (argv[argc])
                argc++;
        return dawnctl_parse(inv, argc, argv);
}

/* The request argv makes, printed unformatted. */
static char *request_of(char **argv)
{
        struct invocation inv;
        char *text;

        assert_int_equal(parse(&inv, argv), DAWN_EXIT_OK);
        assert_non_null(inv.request);
        text = cJSON_PrintUnformatted(inv.request);
        dawnctl_invocation_done(&inv);
        return text;
}

static void assert_request(char **argv, const char *want)
{
        char *got = request_of(argv);

        assert_string_equal(got, want);
        free(got);
}

static void assert_usage_error(char **argv, const char *needle)
{
        struct invocation inv;

        assert_int_equal(parse(&inv, argv), DAWN_EXIT_USAGE);
        assert_null(inv.request);
        if (!strstr(inv.error, needle))
                fail_msg("usage error \"%s\" does not mention \"%s\"", inv.error, needle);
        dawnctl_invocation_done(&inv);
}

static void test_history_request(void **state)
{
        (void)state;
        assert_request((char *[]){ "history", "A17", NULL }, "{\"cmd\":\"history\",\"id\":\"A17\"}");
        assert_usage_error((char *[]){ "history", NULL }, "missing the alert ID");
        assert_usage_error((char *[]){ "history", "A1", "A2", NULL }, "unexpected argument 'A2'");
        assert_usage_error((char *[]){ "history", "A1", "--since", "1d", NULL }, "unknown option '--since'");
}

static void test_audit_request(void **state)
{
        (void)state;
        assert_request((char *[]){ "audit", NULL }, "{\"cmd\":\"audit\"}");
        assert_request((char *[]){ "audit", "--since", "7d", NULL }, "{\"cmd\":\"audit\",\"since_seconds\":604800}");
        assert_request((char *[]){ "audit", "--since", "1d12h", "--actor", "uid 1000 (alice)", "--limit", "50", NULL },
                       "{\"cmd\":\"audit\",\"since_seconds\":129600,\"actor\":\"uid 1000 (alice)\",\"limit\":50}");
        assert_request((char *[]){ "audit", "--since=30m", NULL }, "{\"cmd\":\"audit\",\"since_seconds\":1800}");
}

static void test_audit_bad_options_are_named(void **state)
{
        (void)state;
        assert_usage_error((char *[]){ "audit", "--since", "7x", NULL }, "--since wants a duration");
        assert_usage_error((char *[]){ "audit", "--since", "", NULL }, "--since wants a duration");
        assert_usage_error((char *[]){ "audit", "--since", "-1d", NULL }, "--since wants a duration");
        assert_usage_error((char *[]){ "audit", "--since", "99999999999d", NULL }, "--since wants a duration");
        assert_usage_error((char *[]){ "audit", "--since", NULL }, "option '--since' needs a value");
        assert_usage_error((char *[]){ "audit", "--since", "1d", "--since", "2d", NULL }, "--since given more than once");
        assert_usage_error((char *[]){ "audit", "--limit", "0", NULL }, "--limit wants a whole number from 1 to 10000");
        assert_usage_error((char *[]){ "audit", "--limit", "10001", NULL }, "--limit");
        assert_usage_error((char *[]){ "audit", "--limit", "+5", NULL }, "--limit");
        assert_usage_error((char *[]){ "audit", "--actor", "", NULL }, "--actor wants a name");
        assert_usage_error((char *[]){ "audit", "extra", NULL }, "unexpected argument 'extra'");
}

/* What show(request, answer) prints on stdout. */
static char *printed(void (*show)(const cJSON *, const cJSON *), const char *request, const char *answer)
{
        cJSON *req = cJSON_Parse(request), *ans = cJSON_Parse(answer);
        char path[] = "/tmp/dawnctl-history-test.XXXXXX";
        int fd = mkstemp(path), saved;
        char *text = calloc(1, 8192);

        assert_true(fd >= 0 && req && ans);
        fflush(stdout);
        saved = dup(STDOUT_FILENO);
        dup2(fd, STDOUT_FILENO);
        show(req, ans);
        fflush(stdout);
        dup2(saved, STDOUT_FILENO);
        close(saved);
        assert_true(pread(fd, text, 8191, 0) >= 0);
        close(fd);
        unlink(path);
        cJSON_Delete(req);
        cJSON_Delete(ans);
        return text;
}

static const char history_answer[] =
        "{\"ok\":true,\"more\":false,\"history\":["
        "{\"at\":\"2026-12-05T10:00:00Z\",\"actor\":\"uid 1000 (alice)\",\"event\":\"issue\",\"revision\":1,"
        "\"detail\":\"warning batch in southampton\"},"
        "{\"at\":\"2026-12-05T10:01:00Z\",\"actor\":\"http:lab\",\"event\":\"grade\",\"revision\":2,"
        "\"detail\":\"warning -> critical: adulterant nitazene is on the high-risk list; 1 fatality; 3 casualties; "
        "confirmed by toxicology; corroborated by 2 sources\"},"
        "{\"at\":\"2026-12-05T10:02:00Z\",\"actor\":\"sms:+44…0123 (st-marys)\",\"event\":\"ack\",\"revision\":2,"
        "\"detail\":\"st-marys acknowledged revision 2 by text\"},"
        "{\"at\":\"2026-12-05T10:02:30Z\",\"actor\":\"dawnd (escalation)\",\"event\":\"escalate\","
        "\"detail\":\"not acknowledged by booth-house; told ph-duty-officer\\u001b[2J\"}]}";

static void test_history_lines(void **state)
{
        char *got;

        (void)state;
        setenv("TZ", "Europe/London", 1);
        tzset();
        got = printed(show_history, "{\"cmd\":\"history\",\"id\":\"A1\"}", history_answer);
        /* aligned columns, local time to the second, the long detail whole, a control shown not obeyed */
        assert_string_equal(
                got,
                "WHEN                 ACTOR                    EVENT     REV  DETAIL\n"
                "2026-12-05 10:00:00  uid 1000 (alice)         issue     1    warning batch in southampton\n"
                "2026-12-05 10:01:00  http:lab                 grade     2    warning -> critical: adulterant nitazene "
                "is on the high-risk list; 1 fatality; 3 casualties; confirmed by toxicology; corroborated by 2 "
                "sources\n"
                "2026-12-05 10:02:00  sms:+44…0123 (st-marys)  ack       2    st-marys acknowledged revision 2 by text\n"
                "2026-12-05 10:02:30  dawnd (escalation)       escalate  -    not acknowledged by booth-house; told "
                "ph-duty-officer<U+001B>[2J\n");
        free(got);
        /* summer time is the officer's own clock too */
        got = printed(show_history, "{}",
                      "{\"ok\":true,\"history\":[{\"at\":\"2026-07-01T10:00:00Z\",\"actor\":\"a\",\"event\":\"e\","
                      "\"detail\":\"d\"}],\"more\":true}");
        assert_string_equal(got, "WHEN                 ACTOR  EVENT  REV  DETAIL\n"
                                 "2026-07-01 11:00:00  a      e      -    d\n"
                                 "(only the first 1 events are shown)\n");
        free(got);
        got = printed(show_history, "{}", "{\"ok\":true,\"history\":[],\"more\":false}");
        assert_string_equal(got, "no events recorded\n");
        free(got);
}

static void test_audit_lines(void **state)
{
        char *got;

        (void)state;
        setenv("TZ", "UTC", 1);
        tzset();
        got = printed(show_audit, "{\"cmd\":\"audit\",\"limit\":2}",
                      "{\"ok\":true,\"more\":true,\"audit\":["
                      "{\"at\":\"2026-12-05T10:00:00Z\",\"actor\":\"SIGHUP\",\"action\":\"reload\","
                      "\"detail\":\"applied (13 areas, 8 subscribers)\"},"
                      "{\"at\":\"2026-12-05T10:10:00Z\",\"actor\":\"uid 1000 (alice)\",\"action\":\"cancel\","
                      "\"alert\":\"A1\",\"detail\":\"lab retest negative\"}]}");
        assert_string_equal(got, "WHEN                 ACTOR             ACTION  ALERT  DETAIL\n"
                                 "2026-12-05 10:00:00  SIGHUP            reload  -      applied (13 areas, 8 subscribers)\n"
                                 "2026-12-05 10:10:00  uid 1000 (alice)  cancel  A1     lab retest negative\n"
                                 "(only the newest 2 entries are shown: narrow with --since or --actor, or raise "
                                 "--limit)\n");
        free(got);
        got = printed(show_audit, "{\"cmd\":\"audit\",\"actor\":\"x\"}", "{\"ok\":true,\"audit\":[]}");
        assert_string_equal(got, "no audit entries match\n");
        free(got);
        got = printed(show_audit, "{\"cmd\":\"audit\"}", "{\"ok\":true,\"audit\":[]}");
        assert_string_equal(got, "no audit entries\n");
        free(got);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_history_request),     cmocka_unit_test(test_audit_request),
                cmocka_unit_test(test_audit_bad_options_are_named), cmocka_unit_test(test_history_lines),
                cmocka_unit_test(test_audit_lines),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
