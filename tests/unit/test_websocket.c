/* Tests for daemon/ways/websocket.c: the handshake key (RFC 6455's own example)
 * and client frames read the way a browser sends them, and refused when no
 * browser would send them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "websocket.h"

#define UNUSED __attribute__((unused))

/* A masked client frame of payload with mask 37 fa 21 3d (RFC 6455 5.7). */
static size_t client_frame(uint8_t *out, uint8_t b0, const char *payload, size_t n)
{
        static const uint8_t mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
        size_t at = 0;
        out[at++] = b0;
        if (n < 126) {
                out[at++] = (uint8_t)(0x80 | n);
        } else if (n <= 0xffff) {
                out[at++] = 0x80 | 126;
                out[at++] = (uint8_t)(n >> 8);
                out[at++] = (uint8_t)n;
        } else {
                out[at++] = 0x80 | 127;
                for (int i = 0; i < 8; i++)
                        out[at++] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
        }
        memcpy(out + at, mask, 4);
        at += 4;
        for (size_t i = 0; i < n; i++)
                out[at + i] = (uint8_t)payload[i] ^ mask[i & 3];
        return at + n;
}

static void test_accept_key_from_the_rfc(void UNUSED **state)
{
        char out[29];
        assert_int_equal(dawn_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
        assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_malformed_keys_are_refused(void UNUSED **state)
{
        char out[29];
        assert_int_equal(dawn_ws_accept_key(NULL, out), -EINVAL);
        assert_int_equal(dawn_ws_accept_key("", out), -EINVAL);
        assert_int_equal(dawn_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ=", out), -EINVAL);
        assert_int_equal(dawn_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ!!", out), -EINVAL);
        assert_int_equal(dawn_ws_accept_key("dGhlIHNhbXBsZSBub25jZQAA", out), -EINVAL);
}

static void test_header_tokens(void UNUSED **state)
{
        assert_true(dawn_ws_header_has("keep-alive, Upgrade", "upgrade", false));
        assert_true(dawn_ws_header_has("websocket", "websocket", false));
        assert_true(dawn_ws_header_has("mqttv3.1, mqtt", "mqtt", true));
        assert_false(dawn_ws_header_has("mqttv3.1", "mqtt", true));
        assert_false(dawn_ws_header_has("MQTT", "mqtt", true));
        assert_false(dawn_ws_header_has("", "mqtt", true));
        assert_false(dawn_ws_header_has(NULL, "mqtt", true));
}

static void test_masked_frames_are_read(void UNUSED **state)
{
        uint8_t buf[70000];
        struct dawn_ws_frame f;
        size_t n = client_frame(buf, 0x82, "Hello", 5);
        assert_int_equal(dawn_ws_read_frame(buf, n, 1024, &f), (ssize_t)n);
        assert_true(f.fin);
        assert_int_equal(f.opcode, DAWN_WS_BINARY);
        assert_int_equal(f.length, 5);
        assert_memory_equal(f.payload, "Hello", 5);

        /* 16-bit and 64-bit lengths */
        static char big[66000];
        memset(big, 'x', sizeof(big));
        n = client_frame(buf, 0x82, big, 300);
        assert_int_equal(dawn_ws_read_frame(buf, n, 1024, &f), (ssize_t)n);
        assert_int_equal(f.length, 300);
        n = client_frame(buf, 0x82, big, sizeof(big));
        assert_int_equal(dawn_ws_read_frame(buf, n, sizeof(big), &f), (ssize_t)n);
        assert_int_equal(f.length, sizeof(big));
        assert_int_equal(f.payload[65999], 'x');
}

static void test_partial_frames_wait(void UNUSED **state)
{
        uint8_t buf[512];
        struct dawn_ws_frame f;
        size_t n = client_frame(buf, 0x82, "0123456789", 10);
        for (size_t cut = 0; cut < n; cut++)
                assert_int_equal(dawn_ws_read_frame(buf, cut, 1024, &f), 0);
        /* two frames back to back: the first is read alone */
        size_t m = client_frame(buf + n, 0x89, "p", 1);
        assert_int_equal(dawn_ws_read_frame(buf, n + m, 1024, &f), (ssize_t)n);
        assert_int_equal(dawn_ws_read_frame(buf + n, m, 1024, &f), (ssize_t)m);
        assert_int_equal(f.opcode, DAWN_WS_PING);
}

static void test_frames_no_client_sends_are_refused(void UNUSED **state)
{
        uint8_t buf[512];
        struct dawn_ws_frame f;
        uint8_t unmasked[] = { 0x82, 0x01, 'x' };
        assert_int_equal(dawn_ws_read_frame(unmasked, sizeof(unmasked), 1024, &f), -EPROTO);
        size_t n = client_frame(buf, 0xc2, "x", 1); /* RSV1 without an extension */
        assert_int_equal(dawn_ws_read_frame(buf, n, 1024, &f), -EPROTO);
        n = client_frame(buf, 0x83, "x", 1); /* reserved opcode */
        assert_int_equal(dawn_ws_read_frame(buf, n, 1024, &f), -EPROTO);
        n = client_frame(buf, 0x09, "x", 1); /* a fragmented ping */
        assert_int_equal(dawn_ws_read_frame(buf, n, 1024, &f), -EPROTO);
        static char big[200];
        n = client_frame(buf, 0x89, big, 126); /* a ping over 125 bytes */
        assert_int_equal(dawn_ws_read_frame(buf, n, 1024, &f), -EPROTO);
        n = client_frame(buf, 0x82, big, 200);
        assert_int_equal(dawn_ws_read_frame(buf, n, 100, &f), -EMSGSIZE);
        uint8_t huge[14] = { 0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4 };
        assert_int_equal(dawn_ws_read_frame(huge, sizeof(huge), SIZE_MAX, &f), -EPROTO);
}

static void test_server_frame_headers(void UNUSED **state)
{
        uint8_t h[10];
        assert_int_equal(dawn_ws_frame_header(h, DAWN_WS_BINARY, 5), 2);
        assert_int_equal(h[0], 0x82);
        assert_int_equal(h[1], 5);
        assert_int_equal(dawn_ws_frame_header(h, DAWN_WS_BINARY, 300), 4);
        assert_int_equal(h[1], 126);
        assert_int_equal(h[2] << 8 | h[3], 300);
        assert_int_equal(dawn_ws_frame_header(h, DAWN_WS_CLOSE, 70000), 10);
        assert_int_equal(h[0], 0x88);
        assert_int_equal(h[1], 127);
        assert_int_equal(h[7] << 16 | h[8] << 8 | h[9], 70000);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_accept_key_from_the_rfc),
                cmocka_unit_test(test_malformed_keys_are_refused),
                cmocka_unit_test(test_header_tokens),
                cmocka_unit_test(test_masked_frames_are_read),
                cmocka_unit_test(test_partial_frames_wait),
                cmocka_unit_test(test_frames_no_client_sends_are_refused),
                cmocka_unit_test(test_server_frame_headers),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
