/* Tests for daemon/base/text.c: which characters are hidden controls, and the
 * escaping that keeps dawnctl's JSON output valid while showing them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

#define UNUSED __attribute__((unused))

static void test_decode(void **state UNUSED)
{
        uint32_t cp = 0;

        assert_int_equal(dawn_utf8_decode("a", &cp), 1);
        assert_int_equal(cp, 'a');
        assert_int_equal(dawn_utf8_decode("\xe2\x80\xae", &cp), 3);
        assert_int_equal(cp, 0x202e);
        assert_int_equal(dawn_utf8_decode("\xf0\x9f\x98\x80", &cp), 4);
        assert_int_equal(cp, 0x1f600);
        /* overlong, surrogate, past U+10FFFF, a lone continuation, cut short by the end */
        assert_int_equal(dawn_utf8_decode("\xc0\xaf", &cp), 0);
        assert_int_equal(dawn_utf8_decode("\xed\xa0\x80", &cp), 0);
        assert_int_equal(dawn_utf8_decode("\xf4\x90\x80\x80", &cp), 0);
        assert_int_equal(dawn_utf8_decode("\x80", &cp), 0);
        assert_int_equal(dawn_utf8_decode("\xe2\x80", &cp), 0);
}

static void test_hidden_characters(void **state UNUSED)
{
        static const uint32_t hidden[] = { 0x00, 0x07, 0x1b, 0x7f, 0x85, 0x9b, 0x9f, 0x061c, 0x200e, 0x200f,
                                           0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068,
                                           0x2069, 0x2028, 0x2029 };
        static const uint32_t shown[] = { ' ', 'a', '~', 0xa0, 0xe9, 0x05d0, 0x0627, 0x200d, 0x2030, 0x2065,
                                          0x206a, 0x1f600 };

        for (size_t i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++)
                assert_true(dawn_char_is_hidden(hidden[i]));
        for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++)
                assert_false(dawn_char_is_hidden(shown[i]));
        assert_true(dawn_char_is_bidi_control(0x202e));
        assert_false(dawn_char_is_bidi_control(0x1b));
        assert_false(dawn_char_is_bidi_control(0x2028));
}

static void test_find_bidi(void **state UNUSED)
{
        const char *s = "ref-\xe2\x81\xa6x";

        assert_ptr_equal(dawn_text_find_bidi(s), s + 4);
        assert_null(dawn_text_find_bidi("portsmouth \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d"));
        /* invalid bytes are stepped over, not a reason to stop looking */
        s = "\xff\xc0x\xe2\x80\x8f";
        assert_ptr_equal(dawn_text_find_bidi(s), s + 3);
}

static void assert_escaped(const char *in, const char *want)
{
        char *out = dawn_json_escape_hidden(in);

        assert_non_null(out);
        assert_string_equal(out, want);
        free(out);
}

static void test_json_escape(void **state UNUSED)
{
        /* cJSON's own output: layout and C0 escapes untouched */
        assert_escaped("{\n\t\"a\":\t\"x\\u001b\\n\"\n}", "{\n\t\"a\":\t\"x\\u001b\\n\"\n}");
        assert_escaped("\"gnp\xe2\x80\xae.exe\"", "\"gnp\\u202e.exe\"");
        assert_escaped("\"\x7f\xc2\x9b\xe2\x80\xa8\xd8\x9c\"", "\"\\u007f\\u009b\\u2028\\u061c\"");
        assert_escaped("\"\xff\xc3\"", "\"\\ufffd\\ufffd\"");
        assert_escaped("\"caf\xc3\xa9 \xf0\x9f\x98\x80\"", "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"");
}

static void test_json_escape_reads_back_the_same(void **state UNUSED)
{
        static const char text[] = "Sold as \xe2\x80\xae" "gnp.exe\xe2\x80\xac, \x7f and \xc2\x85.";
        cJSON *o = cJSON_CreateObject();
        char *printed, *escaped;
        cJSON *back;

        assert_non_null(cJSON_AddStringToObject(o, "summary", text));
        printed = cJSON_Print(o);
        escaped = dawn_json_escape_hidden(printed);
        assert_null(strstr(escaped, "\xe2\x80\xae"));
        back = cJSON_Parse(escaped);
        assert_non_null(back);
        assert_string_equal(cJSON_GetObjectItem(back, "summary")->valuestring, text);
        cJSON_Delete(back);
        cJSON_Delete(o);
        free(escaped);
        free(printed);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_decode),
                cmocka_unit_test(test_hidden_characters),
                cmocka_unit_test(test_find_bidi),
                cmocka_unit_test(test_json_escape),
                cmocka_unit_test(test_json_escape_reads_back_the_same),
        };
        return cmocka_run_group_tests_name("text", tests, NULL, NULL);
}
