/* dawnctl as an officer's terminal sees it: text from partners printed with
 * its controls made visible, alert files with a NUL refused before they are
 * sent, and one deadline for reading dawnd's answer however slowly it comes.
 *
 * Like test_dawnctl_args.c, cli/dawnctl.c is compiled in with DAWNCTL_NO_MAIN
 * and the rest of the client linked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DAWNCTL_NO_MAIN
#include "../../cli/common.h"
#include "../../cli/dawnctl.c"
#include "../../cli/grammar.h"
#include "../../cli/render.h"
#include "../../cli/transport.h"

/* put_text(s, max, newline_indent) as a string, and the width it reported */
static char *shown(const char *s, size_t max, int newline_indent, size_t *width)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        size_t w;

        assert_non_null(f);
        w = put_text(f, s, max, newline_indent);
        fclose(f);
        if (width)
                *width = w;
        return buf;
}

static void assert_shown(const char *s, size_t max, const char *want)
{
        size_t width;
        char *got = shown(s, max, -1, &width);

        assert_string_equal(got, want);
        /* the width put_text reports is what a table pads by: one per character shown */
        assert_int_equal(width, text_width(want));
        free(got);
}

static void test_bidi_and_controls_are_shown(void **state)
{
        (void)state;
        assert_shown("Sold as \xe2\x80\xaegnp.exe", SIZE_MAX, "Sold as <U+202E>gnp.exe");
        assert_shown("\xe2\x81\xa6x\xe2\x81\xa9 \xd8\x9c \xe2\x80\x8e\xe2\x80\x8f", SIZE_MAX,
                     "<U+2066>x<U+2069> <U+061C> <U+200E><U+200F>");
        assert_shown("\x1b[31mred\x7f \xc2\x9b" "1m", SIZE_MAX, "<U+001B>[31mred<U+007F> <U+009B>1m");
        assert_shown("a\xe2\x80\xa8" "b", SIZE_MAX, "a<U+2028>b");
        /* what is not a control is printed as it is; invalid UTF-8 as "?" */
        assert_shown("caf\xc3\xa9 \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d", SIZE_MAX, "caf\xc3\xa9 \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d");
        assert_shown("bad\xff\xc0", SIZE_MAX, "bad??");
        assert_shown("tab\there\rcr", SIZE_MAX, "tab here cr");
}

static void test_cut_counts_what_is_shown(void **state)
{
        (void)state;
        /* "<U+202E>" takes eight columns: it is never split, and the cut is marked */
        assert_shown("ab\xe2\x80\xae" "cd", 6, "ab…");
        assert_shown("ab\xe2\x80\xae" "cd", 11, "ab<U+202E>…");
        assert_shown("ab\xe2\x80\xae" "cd", 12, "ab<U+202E>cd");
}

static void test_newlines_in_long_text(void **state)
{
        char *got;

        (void)state;
        got = shown("one\ntwo\xe2\x80\xae", SIZE_MAX, 4, NULL);
        assert_string_equal(got, "one\n    two<U+202E>");
        free(got);
        got = shown("one\ntwo", SIZE_MAX, -1, NULL);
        assert_string_equal(got, "one two");
        free(got);
}

static void test_alert_file_with_nul_is_not_sent(void **state)
{
        static const char text[] = "{\"type\": \"batch\", \"area\": \"portsmouth\\u0000evil\"}\n";
        static const char fine[] = "{\"type\": \"batch\", \"summary\": \"C:\\\\u0000\"}\n";
        struct invocation inv = { 0 };
        cJSON *alert;

        (void)state;
        alert = parse_alert_text(&inv, "a.json", text, sizeof(text) - 1);
        assert_null(alert);
        assert_non_null(strstr(inv.error, "a.json: area: holds the NUL character"));
        assert_non_null(strstr(inv.error, "nothing was sent"));
        alert = parse_alert_text(&inv, "a.json", fine, sizeof(fine) - 1);
        assert_non_null(alert);
        assert_string_equal(get_string(alert, "summary"), "C:\\u0000");
        cJSON_Delete(alert);
}

/* A peer that sends a byte every 20 ms and never a newline: each read
 * succeeds quickly, so only a deadline for the whole answer ends it. */
static void test_answer_has_one_deadline(void **state)
{
        int sv[2];
        pid_t child;
        char *line = NULL;
        size_t len = 0;
        int64_t start;
        int r;

        (void)state;
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                close(sv[0]);
                /* bounded: 10 s at most, should the parent never stop reading */
                for (int i = 0; i < 500; i++) {
                        struct timespec ts = { 0, 20 * 1000 * 1000 };

                        if (send(sv[1], "x", 1, MSG_NOSIGNAL) < 0)
                                _exit(0);
                        nanosleep(&ts, NULL);
                }
                _exit(0);
        }
        close(sv[1]);
        start = now_msec();
        r = read_answer(sv[0], start + 300, &line, &len);
        assert_int_equal(r, -ETIMEDOUT);
        /* well before the trickle would end by itself */
        assert_true(now_msec() - start < 5000);
        close(sv[0]);
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
}

static void test_answer_within_the_deadline(void **state)
{
        int sv[2];
        char *line = NULL;
        size_t len = 0;

        (void)state;
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        assert_int_equal(send(sv[1], "{\"ok\":true}\nmore", 16, 0), 16);
        assert_int_equal(read_answer(sv[0], now_msec() + 1000, &line, &len), 0);
        assert_string_equal(line, "{\"ok\":true}");
        free(line);
        close(sv[0]);
        close(sv[1]);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bidi_and_controls_are_shown),
                cmocka_unit_test(test_cut_counts_what_is_shown),
                cmocka_unit_test(test_newlines_in_long_text),
                cmocka_unit_test(test_alert_file_with_nul_is_not_sent),
                cmocka_unit_test(test_answer_has_one_deadline),
                cmocka_unit_test(test_answer_within_the_deadline),
        };
        return cmocka_run_group_tests_name("dawnctl_output", tests, NULL, NULL);
}
