/* Tests for daemon/base/netaddr.c: a browser's Origin against the Host a
 * proxy passes on (the /mqtt relay's check), daemon.allowed_origins'
 * normal form, daemon.trusted_proxies' networks, and the one address of an
 * X-Forwarded-For that dawnd believes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "netaddr.h"

#define UNUSED __attribute__((unused))

static void test_origin_matches_host(void **state UNUSED)
{
        /* what every proxy setting passes on */
        assert_true(dawn_origin_matches_host("https://dawn.example.org", "dawn.example.org"));
        assert_true(dawn_origin_matches_host("https://dawn.example.org:8443", "dawn.example.org:8443"));
        assert_true(dawn_origin_matches_host("http://127.0.0.1:8470", "127.0.0.1:8470"));
        assert_true(dawn_origin_matches_host("HTTPS://Dawn.Example.ORG", "dawn.example.org"));
        assert_true(dawn_origin_matches_host("https://dawn.example.org", "dawn.example.org:443"));
        assert_true(dawn_origin_matches_host("http://[::1]:8470", "[::1]:8470"));
        /* nginx's $host drops a port the browser did use: that is another origin */
        assert_false(dawn_origin_matches_host("https://dawn.example.org:8443", "dawn.example.org"));
        /* nginx's default Host (the upstream) */
        assert_false(dawn_origin_matches_host("https://dawn.example.org", "127.0.0.1:8470"));
        assert_false(dawn_origin_matches_host("https://evil.example", "dawn.example.org"));
        assert_false(dawn_origin_matches_host("https://dawn.example.org.evil.example", "dawn.example.org"));
        assert_false(dawn_origin_matches_host("https://dawn.example.org", "dawn.example.org.evil.example"));
        assert_false(dawn_origin_matches_host("http://dawn.example.org", "dawn.example.org:443"));
        assert_false(dawn_origin_matches_host("null", "dawn.example.org"));
        assert_false(dawn_origin_matches_host("https://dawn.example.org/", "dawn.example.org"));
        assert_false(dawn_origin_matches_host("https://u@dawn.example.org", "dawn.example.org"));
        assert_false(dawn_origin_matches_host("ftp://dawn.example.org", "dawn.example.org"));
        assert_false(dawn_origin_matches_host("https://dawn.example.org", NULL));
        assert_false(dawn_origin_matches_host(NULL, "dawn.example.org"));
        assert_false(dawn_origin_matches_host("https://dawn.example.org", ""));
        assert_false(dawn_origin_matches_host("https://dawn.example.org:0", "dawn.example.org:0"));
        assert_false(dawn_origin_matches_host("https://dawn.example.org:99999", "dawn.example.org:99999"));
}

static void test_origin_normalize(void **state UNUSED)
{
        char out[DAWN_ORIGIN_MAX];
        assert_int_equal(dawn_origin_normalize("HTTPS://Dawn.Example.org:443", out, sizeof(out)), 0);
        assert_string_equal(out, "https://dawn.example.org");
        assert_int_equal(dawn_origin_normalize("http://dawn.example.org:80", out, sizeof(out)), 0);
        assert_string_equal(out, "http://dawn.example.org");
        assert_int_equal(dawn_origin_normalize("https://dawn.example.org:8443", out, sizeof(out)), 0);
        assert_string_equal(out, "https://dawn.example.org:8443");
        assert_int_equal(dawn_origin_normalize("http://[::1]:8470", out, sizeof(out)), 0);
        assert_string_equal(out, "http://[::1]:8470");
        assert_int_equal(dawn_origin_normalize("https://dawn.example.org/", out, sizeof(out)), -EINVAL);
        assert_int_equal(dawn_origin_normalize("dawn.example.org", out, sizeof(out)), -EINVAL);
        assert_int_equal(dawn_origin_normalize("https://", out, sizeof(out)), -EINVAL);
        assert_int_equal(dawn_origin_normalize("https://a:", out, sizeof(out)), -EINVAL);
        assert_int_equal(dawn_origin_normalize("https://[nope]", out, sizeof(out)), -EINVAL);
        assert_int_equal(dawn_origin_normalize("https://a b", out, sizeof(out)), -EINVAL);
        assert_int_equal(dawn_origin_normalize("https://dawn.example.org", out, 8), -EINVAL);
}

static struct sockaddr_storage v4(const char *a)
{
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof(ss));
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, a, &in->sin_addr), 1);
        return ss;
}

static struct sockaddr_storage v6(const char *a)
{
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof(ss));
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, a, &in6->sin6_addr), 1);
        return ss;
}

static void test_cidr(void **state UNUSED)
{
        struct dawn_cidr c[3];
        assert_int_equal(dawn_cidr_parse("127.0.0.1", &c[0]), 0);
        assert_int_equal(dawn_cidr_parse("10.0.0.0/8", &c[1]), 0);
        assert_int_equal(dawn_cidr_parse("fd00::/8", &c[2]), 0);
        struct sockaddr_storage a;
        a = v4("127.0.0.1");
        assert_true(dawn_cidr_contains(c, 3, (struct sockaddr *)&a));
        a = v4("127.0.0.2");
        assert_false(dawn_cidr_contains(c, 3, (struct sockaddr *)&a));
        a = v4("10.200.3.4");
        assert_true(dawn_cidr_contains(c, 3, (struct sockaddr *)&a));
        a = v4("11.0.0.1");
        assert_false(dawn_cidr_contains(c, 3, (struct sockaddr *)&a));
        a = v6("fd12::1");
        assert_true(dawn_cidr_contains(c, 3, (struct sockaddr *)&a));
        a = v6("fe80::1");
        assert_false(dawn_cidr_contains(c, 3, (struct sockaddr *)&a));
        /* a dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d */
        a = v6("::ffff:127.0.0.1");
        assert_true(dawn_cidr_contains(c, 3, (struct sockaddr *)&a));
        a = v6("::1");
        assert_false(dawn_cidr_contains(c, 3, (struct sockaddr *)&a));
        assert_false(dawn_cidr_contains(c, 3, NULL));
        assert_false(dawn_cidr_contains(c, 0, (struct sockaddr *)&a));

        /* /0 is everyone: allowed (the operator said so), and it matches */
        assert_int_equal(dawn_cidr_parse("0.0.0.0/0", &c[0]), 0);
        a = v4("192.0.2.1");
        assert_true(dawn_cidr_contains(c, 1, (struct sockaddr *)&a));
        assert_int_equal(dawn_cidr_parse("192.168.1.0/25", &c[0]), 0);
        a = v4("192.168.1.127");
        assert_true(dawn_cidr_contains(c, 1, (struct sockaddr *)&a));
        a = v4("192.168.1.128");
        assert_false(dawn_cidr_contains(c, 1, (struct sockaddr *)&a));

        assert_int_equal(dawn_cidr_parse("10.0.0.1/8", &c[0]), -EINVAL); /* host bits: a typo */
        assert_int_equal(dawn_cidr_parse("10.0.0.0/33", &c[0]), -EINVAL);
        assert_int_equal(dawn_cidr_parse("10.0.0.0/", &c[0]), -EINVAL);
        assert_int_equal(dawn_cidr_parse("10.0.0.0/-1", &c[0]), -EINVAL);
        assert_int_equal(dawn_cidr_parse("localhost", &c[0]), -EINVAL);
        assert_int_equal(dawn_cidr_parse("", &c[0]), -EINVAL);
        assert_int_equal(dawn_cidr_parse("::/129", &c[0]), -EINVAL);
}

static void test_forwarded_for(void **state UNUSED)
{
        char out[64];
        assert_true(dawn_forwarded_for_last("203.0.113.9", out, sizeof(out)));
        assert_string_equal(out, "203.0.113.9");
        /* what the client claimed, then what nginx appended: only the last counts */
        assert_true(dawn_forwarded_for_last("198.51.100.7, 127.0.0.3", out, sizeof(out)));
        assert_string_equal(out, "127.0.0.3");
        assert_true(dawn_forwarded_for_last("1.2.3.4,2001:DB8::1 ", out, sizeof(out)));
        assert_string_equal(out, "2001:db8::1");
        assert_false(dawn_forwarded_for_last("203.0.113.9, evil", out, sizeof(out)));
        assert_false(dawn_forwarded_for_last("203.0.113.9,", out, sizeof(out)));
        assert_false(dawn_forwarded_for_last("", out, sizeof(out)));
        assert_false(dawn_forwarded_for_last(NULL, out, sizeof(out)));
        assert_false(dawn_forwarded_for_last("203.0.113.9:1234", out, sizeof(out)));
        assert_false(dawn_forwarded_for_last("203.0.113.9\r\nX: y", out, sizeof(out)));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_origin_matches_host),
                cmocka_unit_test(test_origin_normalize),
                cmocka_unit_test(test_cidr),
                cmocka_unit_test(test_forwarded_for),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
