/* Tests for daemon/ways/relay_connect.c: the dashboard's CONNECT as MQTT.js sends
 * it (3.1.1 and 5) comes out with the relay's client id and a clean
 * session, everything else as it came; what no MQTT.js sends is refused
 * with the field named; the broker's CONNACK says whether the login was
 * accepted. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "relay_connect.h"

#define UNUSED __attribute__((unused))

static const uint8_t RANDOM[8] = { 0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02, 0x03 };

static size_t put_string(uint8_t *out, const char *s)
{
        size_t n = strlen(s);
        out[0] = (uint8_t)(n >> 8);
        out[1] = (uint8_t)n;
        memcpy(out + 2, s, n);
        return 2 + n;
}

/* A CONNECT of level 4 or 5 (no properties but those given) with client id,
 * username and password; its length is returned. */
static size_t connect_packet(uint8_t *out, unsigned level, uint8_t flags, const uint8_t *props, size_t props_len,
                             const char *id, const char *user, const char *password)
{
        uint8_t body[512];
        size_t n = put_string(body, "MQTT");
        body[n++] = (uint8_t)level;
        body[n++] = flags;
        body[n++] = 0;
        body[n++] = 30;
        if (level == 5) {
                body[n++] = (uint8_t)props_len;
                memcpy(body + n, props, props_len);
                n += props_len;
        }
        n += put_string(body + n, id);
        if (user)
                n += put_string(body + n, user);
        if (password)
                n += put_string(body + n, password);
        out[0] = 0x10;
        out[1] = (uint8_t)n; /* < 128 in these tests */
        memcpy(out + 2, body, n);
        return 2 + n;
}

static void test_v311_gets_the_relays_client_id(UNUSED void **state)
{
        uint8_t in[256];
        size_t len = connect_packet(in, 4, 0xC0, NULL, 0, "dawnd-demo", "st-marys-pharmacy", "pw");
        struct dawn_mqtt_connect c;
        const char *why = NULL;
        assert_int_equal(dawn_mqtt_connect_rewrite(in, len, RANDOM, &c, &why), (ssize_t)len);
        assert_string_equal(c.client_id, "dawn-st-marys-pharmacy-deadbeef00010203");
        assert_string_equal(c.username, "st-marys-pharmacy");
        assert_int_equal(c.level, 4);
        uint8_t want[256];
        size_t want_len = connect_packet(want, 4, 0xC2, NULL, 0, "dawn-st-marys-pharmacy-deadbeef00010203",
                                         "st-marys-pharmacy", "pw");
        assert_int_equal(c.length, want_len);
        assert_memory_equal(c.packet, want, want_len); /* clean session set, the rest as it came */
        free(c.packet);
}

static void test_v5_session_expiry_is_made_zero(UNUSED void **state)
{
        /* session expiry 3600, receive maximum 10 */
        static const uint8_t props[] = { 0x11, 0, 0, 0x0e, 0x10, 0x21, 0, 10 };
        uint8_t in[256];
        size_t len = connect_packet(in, 5, 0xC0, props, sizeof(props), "", "fratton-pharmacy", "pw");
        struct dawn_mqtt_connect c;
        const char *why = NULL;
        assert_int_equal(dawn_mqtt_connect_rewrite(in, len, RANDOM, &c, &why), (ssize_t)len);
        static const uint8_t kept[] = { 0x11, 0, 0, 0, 0, 0x21, 0, 10 };
        uint8_t want[256];
        size_t want_len = connect_packet(want, 5, 0xC2, kept, sizeof(kept), "dawn-fratton-pharmacy-deadbeef00010203",
                                         "fratton-pharmacy", "pw");
        assert_int_equal(c.length, want_len);
        assert_memory_equal(c.packet, want, want_len);
        free(c.packet);
}

static void test_usernames_are_cut_and_cleaned_for_the_id(UNUSED void **state)
{
        uint8_t in[256];
        const char *user = "a/b+c#d é-0123456789012345678901234567890123456789";
        size_t len = connect_packet(in, 4, 0xC2, NULL, 0, "x", user, "pw");
        struct dawn_mqtt_connect c;
        const char *why = NULL;
        assert_int_equal(dawn_mqtt_connect_rewrite(in, len, RANDOM, &c, &why), (ssize_t)len);
        assert_string_equal(c.username, "a_b_c_d___-01234567890123456789012345678");
        assert_int_equal(strlen(c.username), DAWN_MQTT_ID_USER_MAX);
        free(c.packet);
        /* no username at all: the broker refuses the login, the id is still the relay's */
        len = connect_packet(in, 4, 0x02, NULL, 0, "dawnd-demo", NULL, NULL);
        assert_int_equal(dawn_mqtt_connect_rewrite(in, len, RANDOM, &c, &why), (ssize_t)len);
        assert_string_equal(c.client_id, "dawn--deadbeef00010203");
        free(c.packet);
}

static void test_partial_and_pipelined(UNUSED void **state)
{
        uint8_t in[256];
        size_t len = connect_packet(in, 4, 0xC2, NULL, 0, "x", "u", "p");
        struct dawn_mqtt_connect c;
        const char *why = NULL;
        for (size_t n = 0; n < len; n++)
                assert_int_equal(dawn_mqtt_connect_rewrite(in, n, RANDOM, &c, &why), 0);
        /* a SUBSCRIBE right behind it is left for the caller */
        in[len] = 0x82;
        in[len + 1] = 0;
        assert_int_equal(dawn_mqtt_connect_rewrite(in, len + 2, RANDOM, &c, &why), (ssize_t)len);
        free(c.packet);
}

static void refused(const uint8_t *in, size_t len, ssize_t want, const char *field)
{
        struct dawn_mqtt_connect c;
        const char *why = NULL;
        assert_int_equal(dawn_mqtt_connect_rewrite(in, len, RANDOM, &c, &why), want);
        assert_non_null(why);
        assert_non_null(strstr(why, field));
}

static void test_what_no_mqttjs_sends_is_refused(UNUSED void **state)
{
        uint8_t in[256];
        static const uint8_t pingreq[] = { 0xC0, 0 };
        refused(pingreq, sizeof(pingreq), -EPROTO, "packet");
        static const uint8_t mqtt31[] = { 0x10, 0x10, 0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 3, 2, 0, 60, 0, 2, 'a', 'b' };
        refused(mqtt31, sizeof(mqtt31), -EPROTO, "MQTT 3.1");
        size_t len = connect_packet(in, 6, 0xC2, NULL, 0, "x", "u", "p");
        refused(in, len, -EPROTO, "protocol level");
        len = connect_packet(in, 4, 0xC3, NULL, 0, "x", "u", "p"); /* the reserved flag */
        refused(in, len, -EPROTO, "connect flags");
        len = connect_packet(in, 4, 0xC2, NULL, 0, "x", "u", NULL); /* a password announced, not there */
        refused(in, len, -EPROTO, "password");
        len = connect_packet(in, 4, 0x82, NULL, 0, "x", "u", "extra"); /* bytes after the last field */
        refused(in, len, -EPROTO, "after");
        static const uint8_t bad_prop[] = { 0x7f, 0 };
        len = connect_packet(in, 5, 0xC2, bad_prop, sizeof(bad_prop), "x", "u", "p");
        refused(in, len, -EPROTO, "properties");
        static const uint8_t two_expiries[] = { 0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 2 };
        len = connect_packet(in, 5, 0xC2, two_expiries, sizeof(two_expiries), "x", "u", "p");
        refused(in, len, -EPROTO, "twice");
        /* 16 KiB + 1 announced: refused before it is all here */
        static const uint8_t huge[] = { 0x10, 0x81, 0x80, 0x01 };
        refused(huge, sizeof(huge), -EMSGSIZE, "16 KiB");
        static const uint8_t five_byte_length[] = { 0x10, 0xff, 0xff, 0xff, 0xff, 0x01 };
        refused(five_byte_length, sizeof(five_byte_length), -EPROTO, "remaining length");
}

static void test_connack(UNUSED void **state)
{
        static const uint8_t ok[] = { 0x20, 2, 0, 0 };
        static const uint8_t refused_v311[] = { 0x20, 2, 0, 5 };
        static const uint8_t ok_v5[] = { 0x20, 3, 0, 0, 0 };
        static const uint8_t not_connack[] = { 0x30, 2, 0, 0 };
        static const uint8_t short_connack[] = { 0x20, 1, 0 };
        assert_int_equal(dawn_mqtt_connack_read(ok, sizeof(ok)), 1);
        assert_int_equal(dawn_mqtt_connack_read(ok, 3), 0);
        assert_int_equal(dawn_mqtt_connack_read(refused_v311, sizeof(refused_v311)), -EACCES);
        assert_int_equal(dawn_mqtt_connack_read(ok_v5, sizeof(ok_v5)), 1);
        assert_int_equal(dawn_mqtt_connack_read(not_connack, sizeof(not_connack)), -EPROTO);
        assert_int_equal(dawn_mqtt_connack_read(short_connack, sizeof(short_connack)), -EPROTO);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_v311_gets_the_relays_client_id),
                cmocka_unit_test(test_v5_session_expiry_is_made_zero),
                cmocka_unit_test(test_usernames_are_cut_and_cleaned_for_the_id),
                cmocka_unit_test(test_partial_and_pipelined),
                cmocka_unit_test(test_what_no_mqttjs_sends_is_refused),
                cmocka_unit_test(test_connack),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
