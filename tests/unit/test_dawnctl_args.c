/* dawnctl's command line -> control request, without a daemon.
 *
 * cli/dawnctl.c is compiled into this test (DAWNCTL_NO_MAIN leaves its
 * main() out); the Makefile links the rest of the client, libdawnctl.a. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DAWNCTL_NO_MAIN
#include "../../cli/common.h"
#include "../../cli/dawnctl.c"
#include "../../cli/grammar.h"
#include "../../cli/render.h"
#include "model.h"

static int parse(struct invocation *inv, char **argv)
{
        int argc = 0;

        while (argv[argc])
                argc++;
        return dawnctl_parse(inv, argc, argv);
}

static const cJSON *alert_of(const struct invocation *inv)
{
        const cJSON *alert = get(inv->request, "alert");

        assert_true(cJSON_IsObject(alert));
        return alert;
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

/* A --file whose text is not one JSON object is refused input: exit 1. */
static void assert_input_refused(char **argv, const char *needle)
{
        struct invocation inv;

        assert_int_equal(parse(&inv, argv), DAWN_EXIT_REFUSED);
        assert_null(inv.request);
        if (!strstr(inv.error, needle))
                fail_msg("refusal \"%s\" does not mention \"%s\"", inv.error, needle);
        dawnctl_invocation_done(&inv);
}

static void test_issue_repeated_sold_as_builds_an_array(void **state)
{
        char *argv[] = { "issue", "--area", "southampton", "--sold-as", "mdma", "--adulterant", "nitazene",
                         "--sold-as", "ecstasy", "Yellow pills", NULL };
        struct invocation inv;
        const cJSON *alert, *sold_as;

        assert_int_equal(parse(&inv, argv), DAWN_EXIT_OK);
        assert_string_equal(get_string(inv.request, "cmd"), "issue");
        alert = alert_of(&inv);
        sold_as = get(alert, "sold_as");
        assert_true(cJSON_IsArray(sold_as));
        assert_int_equal(cJSON_GetArraySize(sold_as), 2);
        assert_string_equal(cJSON_GetArrayItem(sold_as, 0)->valuestring, "mdma");
        assert_string_equal(cJSON_GetArrayItem(sold_as, 1)->valuestring, "ecstasy");
        assert_string_equal(cJSON_GetArrayItem(get(alert, "adulterants"), 0)->valuestring, "nitazene");
        assert_string_equal(get_string(alert, "summary"), "Yellow pills");
        assert_string_equal(get_string(alert, "type"), "batch"); /* the default */
        dawnctl_invocation_done(&inv);
}

static void test_issue_counts_are_numbers(void **state)
{
        char *argv[] = { "issue", "--casualties", "3", "--fatalities", "0", "--type", "cluster", NULL };
        struct invocation inv;
        const cJSON *alert;

        assert_int_equal(parse(&inv, argv), DAWN_EXIT_OK);
        alert = alert_of(&inv);
        assert_true(cJSON_IsNumber(get(alert, "casualties")));
        assert_int_equal(get(alert, "casualties")->valueint, 3);
        assert_int_equal(get(alert, "fatalities")->valueint, 0);
        assert_string_equal(get_string(alert, "type"), "cluster");
        dawnctl_invocation_done(&inv);
}

static void test_bad_counts_are_usage_errors(void **state)
{
        char *negative[] = { "issue", "--area", "x", "--casualties", "-1", NULL };
        char *fraction[] = { "issue", "--fatalities", "1.5", NULL };
        char *words[] = { "issue", "--casualties", "three", NULL };
        char *huge[] = { "issue", "--casualties", "99999999999999999999", NULL };

        assert_usage_error(negative, "--casualties");
        assert_usage_error(fraction, "--fatalities");
        assert_usage_error(words, "--casualties");
        assert_usage_error(huge, "--casualties");
}

static void test_expires_duration_becomes_a_utc_time(void **state)
{
        char *argv[] = { "issue", "--expires", "24h", NULL };
        struct invocation inv;
        time_t before = time(NULL), after, expires;
        const char *text;

        assert_int_equal(parse(&inv, argv), DAWN_EXIT_OK);
        after = time(NULL);
        text = get_string(alert_of(&inv), "expires_at");
        assert_non_null(text);
        assert_int_equal(strlen(text), strlen("2025-06-01T10:00:00Z"));
        assert_int_equal(text[strlen(text) - 1], 'Z');
        assert_int_equal(parse_rfc3339(text, &expires), 0);
        assert_true(expires >= before + 24 * 3600 && expires <= after + 24 * 3600);
        dawnctl_invocation_done(&inv);
}

static void test_expires_time_is_passed_through(void **state)
{
        char *argv[] = { "update", "A17", "--expires", "2030-01-02T03:04:05+01:00", NULL };
        struct invocation inv;

        assert_int_equal(parse(&inv, argv), DAWN_EXIT_OK);
        assert_string_equal(get_string(alert_of(&inv), "expires_at"), "2030-01-02T03:04:05+01:00");
        dawnctl_invocation_done(&inv);
}

static void test_bad_expires_is_a_usage_error(void **state)
{
        char *typo[] = { "issue", "--expires", "24hr", NULL };
        char *zero[] = { "issue", "--expires", "0h", NULL };
        char *word[] = { "issue", "--expires", "tomorrow", NULL };

        assert_usage_error(typo, "--expires");
        assert_usage_error(zero, "--expires");
        assert_usage_error(word, "--expires");
}

/* The words the bash completion offers for an option's value are ones dawnd
 * takes, and every command it offers is one dawnctl parses, with the options
 * its help lists: the completion reads all of it from "dawnctl --complete". */
static void test_completion_table_matches_the_grammar(void **state)
{
        static const struct {
                const char *option;
                int (*from_name)(const char *name);
        } checked[] = {
                { "--type", dawn_type_from_name },
                { "--evidence", dawn_evidence_from_name },
                { "--grade", dawn_grade_from_name },
                { "--scope", dawn_scope_from_name },
        };
        char *text = NULL, *line, *save = NULL, *word, *save_word;
        char *help_text = NULL;
        size_t len = 0, help_len = 0, worded = 0, commands = 0;
        FILE *f = open_memstream(&text, &len), *help;

        (void)state;
        assert_non_null(f);
        print_completion(f);
        fclose(f);
        for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *kind = strtok_r(line, " ", &save_word), *name = strtok_r(NULL, " ", &save_word);

                assert_non_null(name);
                if (strcmp(kind, "command") == 0) {
                        const struct command *cmd = find_command(name);
                        char *operand = strtok_r(NULL, " ", &save_word);

                        assert_non_null(cmd);
                        assert_non_null(operand);
                        commands++;
                        /* each option it offers is one its help lists */
                        help = open_memstream(&help_text, &help_len);
                        assert_non_null(help);
                        print_command_help(help, cmd);
                        fclose(help);
                        while ((word = strtok_r(NULL, " ", &save_word))) {
                                char listed[64];

                                snprintf(listed, sizeof listed, " %s", word);
                                if (!strstr(help_text, listed))
                                        fail_msg("completion offers %s %s; its help does not list it", name, word);
                        }
                        free(help_text);
                        help_text = NULL;
                        continue;
                }
                if (strcmp(kind, "option") != 0 || strcmp(strtok_r(NULL, " ", &save_word), "words") != 0)
                        continue;
                for (size_t i = 0; i < sizeof checked / sizeof checked[0]; i++) {
                        if (strcmp(checked[i].option, name) != 0)
                                continue;
                        worded++;
                        while ((word = strtok_r(NULL, " ", &save_word)))
                                if (checked[i].from_name(word) < 0)
                                        fail_msg("completion offers %s %s, which dawnd refuses", name, word);
                }
        }
        assert_int_equal(worded, sizeof checked / sizeof checked[0]);
        assert_int_equal(commands, N_COMMANDS);
        free(text);
}

static void test_durations(void **state)
{
        long long s;

        assert_int_equal(parse_duration("90s", &s), 0);
        assert_int_equal(s, 90);
        assert_int_equal(parse_duration("30m", &s), 0);
        assert_int_equal(s, 1800);
        assert_int_equal(parse_duration("14d", &s), 0);
        assert_int_equal(s, 14 * 86400);
        assert_int_equal(parse_duration("1d12h", &s), 0);
        assert_int_equal(s, 36 * 3600);
        assert_int_equal(parse_duration("", &s), -1);
        assert_int_equal(parse_duration("24", &s), -1);
        assert_int_equal(parse_duration("h", &s), -1);
        assert_int_equal(parse_duration("-1h", &s), -1);
        assert_int_equal(parse_duration("99999999999999999d", &s), -1);
}

static void test_report_overdose_needs_an_area(void **state)
{
        char *without[] = { "report-overdose", "--sold-as", "heroin", NULL };
        char *with[] = { "report-overdose", "--area", "portsmouth", "--sold-as", "heroin", NULL };
        char *typed[] = { "report-overdose", "--area", "portsmouth", "--type", "batch", NULL };
        struct invocation inv;
        const cJSON *alert;

        assert_usage_error(without, "--area");
        assert_usage_error(typed, "--type"); /* always nfod */
        assert_int_equal(parse(&inv, with), DAWN_EXIT_OK);
        assert_string_equal(get_string(inv.request, "cmd"), "issue");
        alert = alert_of(&inv);
        assert_string_equal(get_string(alert, "type"), "nfod");
        assert_string_equal(get_string(alert, "area"), "portsmouth");
        dawnctl_invocation_done(&inv);
}

static void test_update_builds_id_and_alert(void **state)
{
        char *argv[] = { "update", "--grade", "critical", "A17", "--adulterant", "xylazine", NULL };
        char *nothing[] = { "update", "A17", NULL };
        char *no_id[] = { "update", "--grade", "critical", NULL };
        struct invocation inv;
        const cJSON *alert;

        assert_int_equal(parse(&inv, argv), DAWN_EXIT_OK);
        assert_string_equal(get_string(inv.request, "cmd"), "update");
        assert_string_equal(get_string(inv.request, "id"), "A17");
        alert = alert_of(&inv);
        assert_string_equal(get_string(alert, "grade"), "critical");
        assert_null(get(alert, "type")); /* an update sends only what changes */
        assert_int_equal(cJSON_GetArraySize(alert), 2);
        dawnctl_invocation_done(&inv);

        assert_usage_error(nothing, "nothing to change");
        assert_usage_error(no_id, "ID");
}

static void test_unknown_and_malformed_options(void **state)
{
        char *unknown[] = { "issue", "--colour", "red", NULL };
        char *short_unknown[] = { "list", "-x", NULL };
        char *no_value[] = { "issue", "--area", NULL };
        char *flag_value[] = { "list", "--all=yes", NULL };
        char *twice[] = { "issue", "--area", "a", "--area", "b", NULL };
        char *ambiguous[] = { "issue", "--a", "x", NULL };
        struct invocation inv;

        assert_usage_error(unknown, "unknown option '--colour'");
        assert_usage_error(short_unknown, "unknown option '-x'");
        assert_usage_error(no_value, "'--area' needs a value");
        assert_usage_error(flag_value, "'--all' takes no value");
        assert_usage_error(twice, "--area given more than once");
        assert_usage_error(ambiguous, "ambiguous option '--a'");

        char *bogus[] = { "frobnicate", NULL };
        assert_int_equal(parse(&inv, bogus), DAWN_EXIT_USAGE);
        assert_null(inv.command);
        assert_non_null(strstr(inv.error, "unknown command 'frobnicate'"));
}

static void test_cancel_and_reject_need_a_reason(void **state)
{
        char *without[] = { "cancel", "A17", NULL };
        char *reject_without[] = { "reject", "A17", NULL };
        char *with[] = { "cancel", "A17", "--reason", "lab result negative", NULL };
        struct invocation inv;

        assert_usage_error(without, "--reason");
        assert_usage_error(reject_without, "--reason");
        assert_int_equal(parse(&inv, with), DAWN_EXIT_OK);
        assert_string_equal(get_string(inv.request, "cmd"), "cancel");
        assert_string_equal(get_string(inv.request, "id"), "A17");
        assert_string_equal(get_string(inv.request, "reason"), "lab result negative");
        dawnctl_invocation_done(&inv);
}

static void test_simple_requests(void **state)
{
        char *list_all[] = { "list", "--all", NULL };
        char *list[] = { "list", NULL };
        char *route[] = { "route", "--area", "gosport", NULL };
        char *approve[] = { "approve", "R4", NULL };
        char *status[] = { "status", "extra", NULL };
        struct invocation inv;

        assert_int_equal(parse(&inv, list_all), DAWN_EXIT_OK);
        assert_true(cJSON_IsTrue(get(inv.request, "all")));
        dawnctl_invocation_done(&inv);
        assert_int_equal(parse(&inv, list), DAWN_EXIT_OK);
        assert_true(cJSON_IsFalse(get(inv.request, "all")));
        dawnctl_invocation_done(&inv);

        assert_int_equal(parse(&inv, route), DAWN_EXIT_OK);
        assert_string_equal(get_string(inv.request, "area"), "gosport");
        assert_string_equal(get_string(inv.request, "type"), "batch");
        assert_string_equal(get_string(inv.request, "grade"), "warning");
        dawnctl_invocation_done(&inv);

        assert_int_equal(parse(&inv, approve), DAWN_EXIT_OK);
        assert_string_equal(get_string(inv.request, "cmd"), "approve");
        assert_string_equal(get_string(inv.request, "id"), "R4");
        dawnctl_invocation_done(&inv);

        assert_usage_error(status, "unexpected argument 'extra'");
}

static void test_help_sends_nothing(void **state)
{
        char *argv[] = { "issue", "--area", "x", "--help", NULL };
        char *help_cmd[] = { "help", "route", NULL };
        struct invocation inv;

        assert_int_equal(parse(&inv, argv), DAWN_EXIT_OK);
        assert_true(inv.help);
        assert_null(inv.request);
        assert_string_equal(inv.help_for->name, "issue");
        assert_int_equal(parse(&inv, help_cmd), DAWN_EXIT_OK);
        assert_true(inv.help);
        assert_string_equal(inv.help_for->name, "route");
}

static char *write_temp(const char *text)
{
        char *path = strdup("/tmp/dawnctl-test-XXXXXX");
        int fd = mkstemp(path);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
        return path;
}

static void test_issue_file_is_sent_as_is_with_overrides(void **state)
{
        char *path = write_temp("{\"type\":\"cluster\",\"area\":\"fareham\",\"bogus\":1,\"sold_as\":[\"a\"]}\n");
        char *argv[] = { "issue", "--file", path, "--area", "gosport", NULL };
        struct invocation inv;
        const cJSON *alert;

        assert_int_equal(parse(&inv, argv), DAWN_EXIT_OK);
        alert = alert_of(&inv);
        assert_string_equal(get_string(alert, "type"), "cluster");
        assert_string_equal(get_string(alert, "area"), "gosport");
        assert_non_null(get(alert, "bogus")); /* dawnd, not dawnctl, refuses it */
        assert_int_equal(cJSON_GetArraySize(alert), 4);
        dawnctl_invocation_done(&inv);
        unlink(path);
        free(path);
}

static void test_issue_file_must_be_one_json_object(void **state)
{
        char *broken = write_temp("{\"area\": \"x\",\n \"summary\": oops}");
        char *array = write_temp("[{}]");
        char *two = write_temp("{} {}");
        char *argv_broken[] = { "issue", "--file", broken, NULL };
        char *argv_array[] = { "issue", "--file", array, NULL };
        char *argv_two[] = { "issue", "--file", two, NULL };
        char *argv_missing[] = { "issue", "--file", "/nonexistent/alert.json", NULL };

        assert_input_refused(argv_broken, "malformed JSON at line 2");
        assert_input_refused(argv_array, "one JSON object");
        assert_input_refused(argv_two, "more than one value");
        assert_usage_error(argv_missing, "cannot open");
        unlink(broken);
        unlink(array);
        unlink(two);
        free(broken);
        free(array);
        free(two);
}

static void test_text_from_elsewhere_cannot_drive_the_terminal(void **state)
{
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);

        assert_non_null(f);
        put_text(f, "a\033[31mred\xc2\x9b" "2J\nb\xff", SIZE_MAX, -1);
        put_text(f, "|héllo wörld|", 6, -1);
        fclose(f);
        assert_null(strchr(out, '\033'));
        /* controls are shown by their code point, not obeyed and not hidden */
        assert_string_equal(out, "a<U+001B>[31mred<U+009B>2J b?|héll…");
        free(out);
}

static void test_answers_map_to_exit_codes(void **state)
{
        char *argv[] = { "reload", NULL };
        struct invocation inv;
        cJSON *refused = cJSON_Parse("{\"ok\":false,\"error\":\"unknown area 'x'\",\"field\":\"area\"}");
        cJSON *strange = cJSON_Parse("{\"alert\":{}}");
        cJSON *fine = cJSON_Parse("{\"ok\":true,\"reloaded\":true}");

        assert_int_equal(parse(&inv, argv), DAWN_EXIT_OK);
        assert_int_equal(report(&inv, refused, false), DAWN_EXIT_REFUSED);
        assert_int_equal(report(&inv, strange, false), DAWN_EXIT_UNREACHABLE);
        assert_int_equal(report(&inv, fine, true), DAWN_EXIT_OK);
        dawnctl_invocation_done(&inv);
        cJSON_Delete(refused);
        cJSON_Delete(strange);
        cJSON_Delete(fine);
}

static void test_unreachable_daemon(void **state)
{
        char *argv[] = { "dawnctl", "--socket", "/nonexistent/dawn.sock", "status", NULL };

        assert_int_equal(dawnctl_main(4, argv), DAWN_EXIT_UNREACHABLE);
}

/* The request exactly as it goes on the wire. */
static void assert_request(char **argv, const char *want)
{
        struct invocation inv;
        char *text;

        assert_int_equal(parse(&inv, argv), DAWN_EXIT_OK);
        text = cJSON_PrintUnformatted(inv.request);
        assert_non_null(text);
        assert_string_equal(text, want);
        cJSON_free(text);
        dawnctl_invocation_done(&inv);
}

static void test_review_queue_and_optouts_requests(void **state)
{
        char *pending[] = { "pending", NULL };
        char *approve[] = { "approve", "A1", NULL };
        char *reject[] = { "reject", "A1", "--reason", "same batch as A3", NULL };
        char *optouts[] = { "optouts", NULL };
        char *optouts_json[] = { "optouts", "--json", NULL };
        char *optouts_extra[] = { "optouts", "A1", NULL };
        char *optouts_reason[] = { "optouts", "--reason", "x", NULL };
        char *approve_reason[] = { "approve", "A1", "--reason", "x", NULL };
        struct invocation inv;

        assert_request(pending, "{\"cmd\":\"pending\"}");
        assert_request(approve, "{\"cmd\":\"approve\",\"id\":\"A1\"}");
        assert_request(reject, "{\"cmd\":\"reject\",\"id\":\"A1\",\"reason\":\"same batch as A3\"}");
        assert_request(optouts, "{\"cmd\":\"optouts\"}");
        assert_int_equal(parse(&inv, optouts_json), DAWN_EXIT_OK);
        assert_true(inv.json);
        dawnctl_invocation_done(&inv);
        assert_usage_error(optouts_extra, "unexpected argument 'A1'");
        assert_usage_error(optouts_reason, "unknown option '--reason'");
        /* approving needs no reason, and takes none */
        assert_usage_error(approve_reason, "unknown option '--reason'");
}

/* What report() prints for answer (JSON text) to the command in argv, as
 * an officer would see it (json false) or with --json. */
static char *printed(char **argv, const char *answer_text, bool json)
{
        struct invocation inv;
        cJSON *answer = cJSON_Parse(answer_text);
        FILE *tmp = tmpfile();
        char *out;
        long len;
        int saved;

        assert_non_null(answer);
        assert_non_null(tmp);
        assert_int_equal(parse(&inv, argv), DAWN_EXIT_OK);
        /* times are shown in local time: make it UTC so the text is known */
        setenv("TZ", "UTC", 1);
        tzset();
        fflush(stdout);
        saved = dup(STDOUT_FILENO);
        assert_true(saved >= 0);
        assert_true(dup2(fileno(tmp), STDOUT_FILENO) >= 0);
        assert_int_equal(report(&inv, answer, json), DAWN_EXIT_OK);
        fflush(stdout);
        assert_true(dup2(saved, STDOUT_FILENO) >= 0);
        close(saved);
        len = ftell(tmp);
        assert_true(len >= 0);
        out = calloc(1, (size_t)len + 1);
        assert_non_null(out);
        rewind(tmp);
        assert_int_equal(fread(out, 1, (size_t)len, tmp), (size_t)len);
        fclose(tmp);
        cJSON_Delete(answer);
        dawnctl_invocation_done(&inv);
        return out;
}

static void assert_contains(const char *text, const char *want)
{
        if (!strstr(text, want))
                fail_msg("output lacks \"%s\":\n%s", want, text);
}

static void test_optouts_printed(void **state)
{
        char *argv[] = { "optouts", NULL };
        const char *answer = "{\"ok\":true,\"optouts\":["
                             "{\"number\":\"+44770****123\",\"subscribers\":[\"booth-house\",\"shirley-outreach\"],"
                             "\"since\":\"2026-11-30T22:01:00Z\",\"via\":\"notify\"},"
                             "{\"number\":\"+44770****999\",\"subscribers\":[\"booth-house\"],"
                             "\"since\":\"2026-12-01T01:00:00Z\",\"via\":\"twilio\"}]}";
        char *out = printed(argv, answer, false);

        assert_string_equal(out, "NUMBER         SUBSCRIBERS                    SINCE             VIA\n"
                                 "+44770****123  booth-house, shirley-outreach  2026-11-30 22:01  notify\n"
                                 "+44770****999  booth-house                    2026-12-01 01:00  twilio\n");
        free(out);

        out = printed(argv, "{\"ok\":true,\"optouts\":[]}", false);
        assert_string_equal(out, "no numbers have opted out\n");
        free(out);

        /* --json: the array as dawnd sent it, nothing else */
        out = printed(argv, answer, true);
        cJSON *array = cJSON_Parse(out);
        assert_true(cJSON_IsArray(array));
        assert_int_equal(cJSON_GetArraySize(array), 2);
        assert_string_equal(get_string(cJSON_GetArrayItem(array, 1), "via"), "twilio");
        cJSON_Delete(array);
        free(out);
        out = printed(argv, "{\"ok\":true,\"optouts\":[]}", true);
        assert_string_equal(out, "[]\n");
        free(out);
}

static void test_show_acks_and_every_delivery_state(void **state)
{
        char *argv[] = { "show", "A17", NULL };
        const char *answer =
                "{\"ok\":true,\"alert\":{\"id\":\"A17\",\"type\":\"batch\",\"area\":\"southampton\","
                "\"status\":\"active\",\"grade\":\"warning\",\"revision\":2,"
                "\"deliveries\":["
                "{\"subscriber\":\"booth-house\",\"channel\":\"sms\",\"recipient\":\"+44770****123\","
                "\"action\":\"publish\",\"revision\":2,\"state\":\"sent\",\"attempts\":1},"
                "{\"subscriber\":\"booth-house\",\"channel\":\"sms\",\"recipient\":\"+44770****456\","
                "\"action\":\"publish\",\"revision\":2,\"state\":\"opted-out\",\"attempts\":0},"
                "{\"subscriber\":\"ph-duty\",\"channel\":\"email\",\"recipient\":\"d***@ph.example\","
                "\"action\":\"review\",\"revision\":1,\"state\":\"delivered\",\"attempts\":1},"
                "{\"subscriber\":\"x\",\"channel\":\"mqtt\",\"recipient\":\"t\","
                "\"action\":\"publish\",\"revision\":2,\"state\":\"held-for-relay-check\",\"attempts\":1}],"
                "\"acks\":["
                "{\"subscriber\":\"booth-house\",\"via\":\"sms\",\"by\":\"+44770****123\",\"revision\":2,"
                "\"at\":\"2026-12-01T03:12:00Z\"},"
                "{\"subscriber\":\"shirley-pharmacy\",\"via\":\"dashboard\",\"by\":\"night manager\","
                "\"revision\":1,\"at\":\"2026-12-01T02:55:00Z\"}]}}";
        char *out = printed(argv, answer, false);

        /* every state whole, one dawnctl has never heard of too */
        assert_contains(out, " sent ");
        assert_contains(out, " opted-out ");
        assert_contains(out, " review ");
        assert_contains(out, " held-for-relay-check ");
        assert_contains(out, "\nAcknowledgements:\n"
                             "  SUBSCRIBER        VIA        BY             REVISION  AT\n"
                             "  booth-house       sms        +44770****123  2         2026-12-01 03:12\n"
                             "  shirley-pharmacy  dashboard  night manager  1         2026-12-01 02:55\n");
        free(out);
}

/* retention: prune's request, its output, and a pruned alert's kept counts */
static void test_prune_request_and_output(void **state)
{
        char *dry[] = { "prune", "--dry-run", NULL };
        char *now[] = { "prune", NULL };
        char *extra[] = { "prune", "A1", NULL };
        const char *dry_answer = "{\"ok\":true,\"prune\":{\"dry_run\":true,\"ended_before\":\"2026-09-06T04:00:00Z\","
                                 "\"alerts\":2,\"deliveries\":45,\"channels\":{\"sms\":42,\"mqtt\":3},"
                                 "\"alert_ids\":[\"A3\",\"A7\"],\"more\":false}}";
        char *out;

        (void)state;
        assert_request(dry, "{\"cmd\":\"prune\",\"dry_run\":true}");
        assert_request(now, "{\"cmd\":\"prune\",\"dry_run\":false}");
        assert_usage_error(extra, "unexpected argument 'A1'");
        out = printed(dry, dry_answer, false);
        assert_string_equal(out, "would remove the delivery details of 2 alert(s) that ended before 2026-09-06 04:00: "
                                 "45 deliveries (sms 42, mqtt 3)\n"
                                 "alerts: A3 A7\n"
                                 "nothing was removed (dry run); counts per channel and state would be kept\n");
        free(out);
        out = printed(now, "{\"ok\":true,\"prune\":{\"dry_run\":false,\"ended_before\":\"2026-09-06T04:00:00Z\","
                           "\"alerts\":64,\"deliveries\":900,\"channels\":{\"email\":900},\"more\":true}}", false);
        assert_string_equal(out, "removed the delivery details of 64 alert(s) that ended before 2026-09-06 04:00: "
                                 "900 deliveries (email 900)\n"
                                 "more remain: dawnd removes them in further steps by itself\n");
        free(out);
}

static void test_pruned_alert_shows_the_kept_counts(void **state)
{
        char *argv[] = { "show", "A3", NULL };
        const char *answer =
                "{\"ok\":true,\"alert\":{\"id\":\"A3\",\"status\":\"cancelled\",\"revision\":1,"
                "\"updated_at\":\"2026-06-01T10:00:00Z\",\"deliveries\":[],"
                "\"delivery_totals\":{\"mqtt\":{\"delivered\":3},\"sms\":{\"delivered\":41,\"failed\":1}},"
                "\"details_removed_at\":\"2026-08-30T10:05:00Z\",\"acks\":[]}}";
        char *out = printed(argv, answer, false);

        (void)state;
        assert_contains(out, "\nDeliveries:\n"
                             "  MQTT: 3 delivered (details removed after 90 days)\n"
                             "  SMS: 41 delivered, 1 failed (details removed after 90 days)\n");
        /* shown once, under Deliveries, not again among the fields */
        if (strstr(out, "delivery totals") || strstr(out, "details removed at"))
                fail_msg("shown twice:\n%s", out);
        free(out);
}

static void test_pending_printed(void **state)
{
        char *argv[] = { "pending", NULL };
        char *out = printed(argv,
                            "{\"ok\":true,\"pending\":[{\"id\":\"A3\",\"kind\":\"alert\",\"grade\":\"warning\","
                            "\"status\":\"pending\",\"type\":\"batch\",\"area\":\"southampton\","
                            "\"sources\":[\"ambulance\"],\"issued_at\":\"2026-12-01T02:50:00Z\","
                            "\"summary\":\"Two overdoses in Shirley.\"},"
                            "{\"id\":\"P1\",\"kind\":\"proposal\",\"alert\":\"A1\",\"grade\":\"critical\","
                            "\"grade_change\":\"info -> critical\",\"status\":\"pending\",\"type\":\"batch\","
                            "\"area\":\"southampton\",\"sources\":[\"ambulance\"],"
                            "\"issued_at\":\"2026-12-01T02:55:00Z\",\"summary\":\"Proposed grade rise of A1.\"}]}",
                            false);

        assert_string_equal(out, "ID  GRADE             TYPE   AREA         SOURCES    RECEIVED          SUMMARY\n"
                                 "A3  warning           batch  southampton  ambulance  2026-12-01 02:50  Two overdoses "
                                 "in Shirley.\n"
                                 "P1  info -> critical  batch  southampton  ambulance  2026-12-01 02:55  Proposed grade "
                                 "rise of A1.\n");
        free(out);
        out = printed(argv, "{\"ok\":true,\"pending\":[]}", false);
        assert_string_equal(out, "nothing waiting for review\n");
        free(out);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_issue_repeated_sold_as_builds_an_array),
                cmocka_unit_test(test_issue_counts_are_numbers),
                cmocka_unit_test(test_bad_counts_are_usage_errors),
                cmocka_unit_test(test_expires_duration_becomes_a_utc_time),
                cmocka_unit_test(test_expires_time_is_passed_through),
                cmocka_unit_test(test_bad_expires_is_a_usage_error),
                cmocka_unit_test(test_durations),
                cmocka_unit_test(test_completion_table_matches_the_grammar),
                cmocka_unit_test(test_report_overdose_needs_an_area),
                cmocka_unit_test(test_update_builds_id_and_alert),
                cmocka_unit_test(test_unknown_and_malformed_options),
                cmocka_unit_test(test_cancel_and_reject_need_a_reason),
                cmocka_unit_test(test_simple_requests),
                cmocka_unit_test(test_help_sends_nothing),
                cmocka_unit_test(test_issue_file_is_sent_as_is_with_overrides),
                cmocka_unit_test(test_issue_file_must_be_one_json_object),
                cmocka_unit_test(test_text_from_elsewhere_cannot_drive_the_terminal),
                cmocka_unit_test(test_answers_map_to_exit_codes),
                cmocka_unit_test(test_unreachable_daemon),
                cmocka_unit_test(test_review_queue_and_optouts_requests),
                cmocka_unit_test(test_optouts_printed),
                cmocka_unit_test(test_show_acks_and_every_delivery_state),
                cmocka_unit_test(test_pending_printed),
                cmocka_unit_test(test_prune_request_and_output),
                cmocka_unit_test(test_pruned_alert_shows_the_kept_counts),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
