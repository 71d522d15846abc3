/* Tests for daemon/delivery/notify_jwt.c: splitting a GOV.UK Notify API key and the
 * bearer token made from it. The signature is checked twice: against a
 * token computed once with Python's hmac module (hard-coded below), and
 * against libcrypto's HMAC() over the token's own signing input. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "notify_jwt.h"

#define UNUSED __attribute__((unused))

#define SERVICE_ID "26785a09-ab16-4eb0-8407-a37497a57506"
#define SECRET "3d844edf-8d35-48ac-975b-e847b4f122b0"
#define IAT INT64_C(1795000000)

/* Computed once with /usr/bin/python3 (stdlib only):
 *   b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b'=').decode()
 *   h = b64(b'{"typ":"JWT","alg":"HS256"}')
 *   c = b64(b'{"iss":"' + SERVICE_ID + b'","iat":1795000000}')
 *   s = b64(hmac.new(SECRET, (h + "." + c).encode(), hashlib.sha256).digest())
 *   print(h + "." + c + "." + s) */
#define PYTHON_TOKEN                                                                           \
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9."                                                \
        "eyJpc3MiOiIyNjc4NWEwOS1hYjE2LTRlYjAtODQwNy1hMzc0OTdhNTc1MDYiLCJpYXQiOjE3OTUwMDAwMDB9." \
        "rjXW0GodjZ1sa9ID3hVDfW3CRFUNJ33pU11f-GqTJW8"

/* ---- base64url, decoded independently of the code under test ---- */

static int b64url_value(char c)
{
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '-')
                return 62;
        if (c == '_')
                return 63;
        return -1;
}

/* Decodes n characters of unpadded base64url into out (NUL-terminated);
 * returns the byte count, or -1 on a character outside the alphabet
 * (padding included: JWTs have none). */
static int b64url_decode(const char *in, size_t n, unsigned char *out)
{
        uint32_t acc = 0;
        int bits = 0, o = 0;
        for (size_t i = 0; i < n; i++) {
                int v = b64url_value(in[i]);
                if (v < 0)
                        return -1;
                acc = (acc << 6) | (uint32_t)v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        out[o++] = (unsigned char)(acc >> bits);
                }
        }
        out[o] = '\0';
        return o;
}

/* The three parts of a token. */
struct jwt_parts {
        char header[256];
        char claims[256];
        unsigned char sig[64];
        int sig_len;
        size_t signing_input_len; /* header "." claims, as encoded */
};

static void split_token(const char *token, struct jwt_parts *p)
{
        const char *dot1 = strchr(token, '.');
        assert_non_null(dot1);
        const char *dot2 = strchr(dot1 + 1, '.');
        assert_non_null(dot2);
        assert_null(strchr(dot2 + 1, '.'));
        assert_true(dot1 - token < 300 && dot2 - dot1 < 300 && strlen(dot2) < 80);
        assert_true(b64url_decode(token, (size_t)(dot1 - token), (unsigned char *)p->header) > 0);
        assert_true(b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), (unsigned char *)p->claims) > 0);
        p->sig_len = b64url_decode(dot2 + 1, strlen(dot2 + 1), p->sig);
        p->signing_input_len = (size_t)(dot2 - token);
}

/* ---- the key ---- */

static void test_key_parse(void **state UNUSED)
{
        char sid[37], secret[37];
        assert_int_equal(dawn_notify_key_parse("dawn_live-" SERVICE_ID "-" SECRET, sid, secret), 0);
        assert_string_equal(sid, SERVICE_ID);
        assert_string_equal(secret, SECRET);
}

static void test_key_name_with_dashes(void **state UNUSED)
{
        char sid[37], secret[37];
        assert_int_equal(dawn_notify_key_parse("dawn-prod-pan-hampshire-" SERVICE_ID "-" SECRET, sid, secret), 0);
        assert_string_equal(sid, SERVICE_ID);
        assert_string_equal(secret, SECRET);
        /* a name that looks like a UUID itself */
        assert_int_equal(dawn_notify_key_parse(SECRET "-" SERVICE_ID "-" SECRET, sid, secret), 0);
        assert_string_equal(sid, SERVICE_ID);
}

static void test_key_trailing_newline(void **state UNUSED)
{
        /* as read from a file written with echo */
        char sid[37], secret[37];
        assert_int_equal(dawn_notify_key_parse("live-" SERVICE_ID "-" SECRET "\n", sid, secret), 0);
        assert_string_equal(secret, SECRET);
        assert_int_equal(dawn_notify_key_parse("live-" SERVICE_ID "-" SECRET " \r\n", sid, secret), 0);
        assert_string_equal(secret, SECRET);
}

static void test_key_upper_case_hex(void **state UNUSED)
{
        char sid[37], secret[37];
        assert_int_equal(dawn_notify_key_parse("k-26785A09-AB16-4EB0-8407-A37497A57506-" SECRET, sid, secret), 0);
        assert_string_equal(sid, "26785A09-AB16-4EB0-8407-A37497A57506");
}

static void test_key_malformed_refused(void **state UNUSED)
{
        static const char *const bad[] = {
                "",
                "live",
                SERVICE_ID "-" SECRET,                           /* no name */
                "-" SERVICE_ID "-" SECRET,                       /* empty name */
                "live" SERVICE_ID "-" SECRET,                    /* no '-' after the name */
                "live-" SERVICE_ID SECRET,                       /* no '-' between the UUIDs */
                "live-" SERVICE_ID "_" SECRET,
                "live-26785a09-ab16-4eb0-8407-a37497a5750g-" SECRET, /* not hex */
                "live-" SERVICE_ID "-3d844edf-8d35-48ac-975b-e847b4f122bz",
                "live-26785a09ab16-4eb0-8407-a37497a57506--" SECRET, /* dashes in the wrong place */
                "live-" SERVICE_ID "-3d844edf-8d35-48ac-975b-e847b4f122b",  /* one short */
                "live-" SERVICE_ID "-" SECRET "0",                /* one long: the tail moves */
                "live-" SERVICE_ID "-" SECRET "\nextra",
                "live-" SERVICE_ID "- 3d844edf-8d35-48ac-975b-e847b4f122b0",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char sid[37] = "untouched", secret[37] = "untouched";
                if (dawn_notify_key_parse(bad[i], sid, secret) != -EINVAL) {
                        print_error("key '%s' accepted\n", bad[i]);
                        fail();
                }
        }
        char sid[37], secret[37];
        assert_int_equal(dawn_notify_key_parse(NULL, sid, secret), -EINVAL);
}

/* ---- the token ---- */

static void test_token_matches_python(void **state UNUSED)
{
        char *token = dawn_notify_jwt(SERVICE_ID, SECRET, IAT);
        assert_non_null(token);
        assert_string_equal(token, PYTHON_TOKEN);
        free(token);
}

static void test_token_parts(void **state UNUSED)
{
        char *token = dawn_notify_jwt(SERVICE_ID, SECRET, IAT);
        assert_non_null(token);
        struct jwt_parts p;
        split_token(token, &p);
        assert_string_equal(p.header, "{\"typ\":\"JWT\",\"alg\":\"HS256\"}");
        assert_string_equal(p.claims, "{\"iss\":\"" SERVICE_ID "\",\"iat\":1795000000}");
        free(token);
}

static void test_signature_is_hmac_sha256_of_the_signing_input(void **state UNUSED)
{
        static const int64_t iats[] = { 0, 1, IAT, IAT + 1, INT64_C(4102444800) };
        for (size_t i = 0; i < sizeof(iats) / sizeof(iats[0]); i++) {
                char *token = dawn_notify_jwt(SERVICE_ID, SECRET, iats[i]);
                assert_non_null(token);
                struct jwt_parts p;
                split_token(token, &p);
                unsigned char want[EVP_MAX_MD_SIZE];
                unsigned want_len = 0;
                assert_non_null(HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (const unsigned char *)token,
                                     p.signing_input_len, want, &want_len));
                assert_int_equal(want_len, 32);
                assert_int_equal(p.sig_len, 32);
                assert_memory_equal(p.sig, want, 32);
                char claims[128];
                snprintf(claims, sizeof(claims), "{\"iss\":\"%s\",\"iat\":%lld}", SERVICE_ID, (long long)iats[i]);
                assert_string_equal(p.claims, claims);
                free(token);
        }
}

static void test_each_second_a_new_token(void **state UNUSED)
{
        /* tokens live 30 s at Notify: one per request, so iat must change them */
        char *a = dawn_notify_jwt(SERVICE_ID, SECRET, IAT);
        char *b = dawn_notify_jwt(SERVICE_ID, SECRET, IAT + 1);
        assert_non_null(a);
        assert_non_null(b);
        assert_string_not_equal(a, b);
        free(a);
        free(b);
}

static void test_other_secret_other_signature(void **state UNUSED)
{
        char *a = dawn_notify_jwt(SERVICE_ID, SECRET, IAT);
        char *b = dawn_notify_jwt(SERVICE_ID, "00000000-0000-0000-0000-000000000000", IAT);
        assert_non_null(a);
        assert_non_null(b);
        const char *sa = strrchr(a, '.'), *sb = strrchr(b, '.');
        /* same header and claims, different signature */
        assert_int_equal(sa - a, sb - b);
        assert_memory_equal(a, b, (size_t)(sa - a));
        assert_string_not_equal(sa, sb);
        free(a);
        free(b);
}

static void test_key_to_token(void **state UNUSED)
{
        /* what the SMS channel does with the key file's contents */
        char sid[37], secret[37];
        assert_int_equal(dawn_notify_key_parse("dawn-test-" SERVICE_ID "-" SECRET "\n", sid, secret), 0);
        char *token = dawn_notify_jwt(sid, secret, IAT);
        assert_non_null(token);
        assert_string_equal(token, PYTHON_TOKEN);
        free(token);
}

static void test_unsafe_service_id_refused(void **state UNUSED)
{
        /* it goes into JSON unescaped, so anything needing escapes is refused */
        assert_null(dawn_notify_jwt("a\"b", SECRET, IAT));
        assert_null(dawn_notify_jwt("a\\b", SECRET, IAT));
        assert_null(dawn_notify_jwt("a\nb", SECRET, IAT));
        assert_null(dawn_notify_jwt(NULL, SECRET, IAT));
        assert_null(dawn_notify_jwt(SERVICE_ID, NULL, IAT));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_key_parse),
                cmocka_unit_test(test_key_name_with_dashes),
                cmocka_unit_test(test_key_trailing_newline),
                cmocka_unit_test(test_key_upper_case_hex),
                cmocka_unit_test(test_key_malformed_refused),
                cmocka_unit_test(test_token_matches_python),
                cmocka_unit_test(test_token_parts),
                cmocka_unit_test(test_signature_is_hmac_sha256_of_the_signing_input),
                cmocka_unit_test(test_each_second_a_new_token),
                cmocka_unit_test(test_other_secret_other_signature),
                cmocka_unit_test(test_key_to_token),
                cmocka_unit_test(test_unsafe_service_id_refused),
        };
        return cmocka_run_group_tests_name("notify_jwt", tests, NULL, NULL);
}
