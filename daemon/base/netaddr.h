/* Addresses as a proxy in front of dawnd shows them: a browser's Origin
 * against the Host it was sent to (the /mqtt relay's check), the origins
 * an operator allows besides (daemon.allowed_origins), the proxies whose
 * X-Forwarded-For is believed (daemon.trusted_proxies). Pure functions:
 * tests/unit/test_netaddr.c. */
#ifndef DAWN_NETADDR_H
#define DAWN_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* "https://" + the longest host name (253) + ":65535", and room */
#define DAWN_ORIGIN_MAX 280

/* An origin as a browser sends it (RFC 6454): "http" or "https", "://", a
 * host (a name, an IPv4 address or a bracketed IPv6 one), an optional
 * ":port", and nothing else (no path, no trailing "/", no user). Written to
 * out normalised: scheme and host in lower case, the scheme's default port
 * (80, 443) left out, so "HTTPS://Dawn.Example.org:443" is
 * "https://dawn.example.org". 0, or -EINVAL for anything else (including
 * the "null" a sandboxed page sends). */
int dawn_origin_normalize(const char *origin, char *out, size_t size);

/* Whether a browser's Origin names the site it sent the request to, going
 * by the Host header: the same host (case-insensitive) and the same port,
 * a Host without a port meaning the default port of the Origin's scheme
 * (a proxy that passes "dawn.example.org" for https://dawn.example.org).
 * The scheme itself cannot be checked (the Host has none): a proxy that
 * terminates TLS makes an https page's request arrive as plain HTTP. */
bool dawn_origin_matches_host(const char *origin, const char *host);

/* An address or a network: "127.0.0.1", "::1", "10.0.0.0/8", "fd00::/8". */
struct dawn_cidr {
        int family;              /* AF_INET or AF_INET6 */
        uint8_t addr[16];        /* network order; 4 bytes used for AF_INET */
        unsigned prefix;         /* 0..32 or 0..128 */
};
/* 0, or -EINVAL (also for host bits set below the prefix: "10.0.0.1/8" is
 * most likely a typo, and saying so beats guessing). */
int dawn_cidr_parse(const char *text, struct dawn_cidr *out);
/* Whether sa (AF_INET, AF_INET6; an IPv4-mapped IPv6 address counts as its
 * IPv4 address) is inside one of the n networks. */
bool dawn_cidr_contains(const struct dawn_cidr *v, size_t n, const struct sockaddr *sa);

/* The last address of an X-Forwarded-For header ("a, b, c" -> "c"): the one
 * the proxy itself appended, the only one it vouches for. Written to out
 * in its numeric form; false when the header is empty or its last entry is
 * not a numeric IPv4 or IPv6 address. */
bool dawn_forwarded_for_last(const char *header, char *out, size_t size);

#endif
