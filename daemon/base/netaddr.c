/* Origins, networks and X-Forwarded-For: see netaddr.h. */
#include "netaddr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HOST_MAX 253

struct authority {
        char host[HOST_MAX + 3]; /* lower case; an IPv6 address keeps its brackets */
        long port;               /* 0: none given */
};

/* host [":" port] from s[0..len): a registered name (letters, digits, '-',
 * '.', '_'), or a bracketed IPv6 address. */
static int parse_authority(const char *s, size_t len, struct authority *a)
{
        size_t hlen;
        const char *port = NULL;

        if (len == 0)
                return -EINVAL;
        if (s[0] == '[') {
                const char *close = memchr(s, ']', len);
                char v6[INET6_ADDRSTRLEN + 1];
                struct in6_addr tmp;
                if (!close || (size_t)(close - s - 1) >= sizeof(v6))
                        return -EINVAL;
                memcpy(v6, s + 1, (size_t)(close - s - 1));
                v6[close - s - 1] = '\0';
                if (inet_pton(AF_INET6, v6, &tmp) != 1)
                        return -EINVAL;
                hlen = (size_t)(close - s) + 1;
                if (hlen < len) {
                        if (s[hlen] != ':')
                                return -EINVAL;
                        port = s + hlen + 1;
                }
        } else {
                const char *colon = memchr(s, ':', len);
                hlen = colon ? (size_t)(colon - s) : len;
                if (colon)
                        port = colon + 1;
                for (size_t i = 0; i < hlen; i++)
                        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.' && s[i] != '_')
                                return -EINVAL;
        }
        if (hlen == 0 || hlen > HOST_MAX + 2)
                return -EINVAL;
        for (size_t i = 0; i < hlen; i++)
                a->host[i] = (char)tolower((unsigned char)s[i]);
        a->host[hlen] = '\0';
        a->port = 0;
        if (port) {
                size_t plen = (size_t)(s + len - port);
                if (plen == 0 || plen > 5)
                        return -EINVAL;
                for (size_t i = 0; i < plen; i++) {
                        if (!isdigit((unsigned char)port[i]))
                                return -EINVAL;
                        a->port = a->port * 10 + (port[i] - '0');
                }
                if (a->port < 1 || a->port > 65535)
                        return -EINVAL;
        }
        return 0;
}

/* scheme "://" authority; *default_port is the scheme's */
static int parse_origin(const char *origin, struct authority *a, const char **scheme, long *default_port)
{
        size_t skip;

        if (strncasecmp(origin, "https://", 8) == 0) {
                *scheme = "https";
                *default_port = 443;
                skip = 8;
        } else if (strncasecmp(origin, "http://", 7) == 0) {
                *scheme = "http";
                *default_port = 80;
                skip = 7;
        } else {
                return -EINVAL;
        }
        if (parse_authority(origin + skip, strlen(origin + skip), a) < 0)
                return -EINVAL;
        if (a->port == 0)
                a->port = *default_port;
        return 0;
}

int dawn_origin_normalize(const char *origin, char *out, size_t size)
{
        struct authority a;
        const char *scheme;
        long def;
        int n;

        if (!origin || parse_origin(origin, &a, &scheme, &def) < 0)
                return -EINVAL;
        if (a.port == def)
                n = snprintf(out, size, "%s://%s", scheme, a.host);
        else
                n = snprintf(out, size, "%s://%s:%ld", scheme, a.host, a.port);
        return n < 0 || (size_t)n >= size ? -EINVAL : 0;
}

bool dawn_origin_matches_host(const char *origin, const char *host)
{
        struct authority o, h;
        const char *scheme;
        long def;

        if (!origin || !host || parse_origin(origin, &o, &scheme, &def) < 0 ||
            parse_authority(host, strlen(host), &h) < 0)
                return false;
        if (h.port == 0)
                h.port = def;
        return strcmp(o.host, h.host) == 0 && o.port == h.port;
}

int dawn_cidr_parse(const char *text, struct dawn_cidr *out)
{
        char addr[INET6_ADDRSTRLEN + 1];
        const char *slash = strchr(text, '/');
        size_t alen = slash ? (size_t)(slash - text) : strlen(text);
        unsigned max;

        if (alen == 0 || alen >= sizeof(addr))
                return -EINVAL;
        memcpy(addr, text, alen);
        addr[alen] = '\0';
        memset(out, 0, sizeof(*out));
        if (inet_pton(AF_INET, addr, out->addr) == 1) {
                out->family = AF_INET;
                max = 32;
        } else if (inet_pton(AF_INET6, addr, out->addr) == 1) {
                out->family = AF_INET6;
                max = 128;
        } else {
                return -EINVAL;
        }
        out->prefix = max;
        if (slash) {
                const char *p = slash + 1;
                unsigned v = 0;
                if (!*p || strlen(p) > 3)
                        return -EINVAL;
                for (; *p; p++) {
                        if (!isdigit((unsigned char)*p))
                                return -EINVAL;
                        v = v * 10 + (unsigned)(*p - '0');
                }
                if (v > max)
                        return -EINVAL;
                out->prefix = v;
        }
        /* no host bits below the prefix */
        for (unsigned bit = out->prefix; bit < max; bit++)
                if (out->addr[bit / 8] & (0x80 >> (bit % 8)))
                        return -EINVAL;
        return 0;
}

static bool in_network(const struct dawn_cidr *c, const uint8_t *addr)
{
        unsigned full = c->prefix / 8, rest = c->prefix % 8;
        if (memcmp(c->addr, addr, full) != 0)
                return false;
        if (rest == 0)
                return true;
        uint8_t mask = (uint8_t)(0xff << (8 - rest));
        return (c->addr[full] & mask) == (addr[full] & mask);
}

bool dawn_cidr_contains(const struct dawn_cidr *v, size_t n, const struct sockaddr *sa)
{
        uint8_t a4[4], a6[16];
        bool has4 = false, has6 = false;

        if (!sa)
                return false;
        if (sa->sa_family == AF_INET) {
                memcpy(a4, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
                has4 = true;
        } else if (sa->sa_family == AF_INET6) {
                const struct in6_addr *in6 = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
                memcpy(a6, in6, 16);
                has6 = true;
                if (IN6_IS_ADDR_V4MAPPED(in6)) {
                        memcpy(a4, a6 + 12, 4);
                        has4 = true;
                }
        }
        for (size_t i = 0; i < n; i++) {
                if (v[i].family == AF_INET && has4 && in_network(&v[i], a4))
                        return true;
                if (v[i].family == AF_INET6 && has6 && in_network(&v[i], a6))
                        return true;
        }
        return false;
}

bool dawn_forwarded_for_last(const char *header, char *out, size_t size)
{
        char addr[INET6_ADDRSTRLEN + 1];
        unsigned char tmp[16];

        if (!header)
                return false;
        const char *comma = strrchr(header, ',');
        const char *s = comma ? comma + 1 : header;
        while (*s == ' ' || *s == '\t')
                s++;
        size_t len = strlen(s);
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
                len--;
        if (len == 0 || len >= sizeof(addr))
                return false;
        memcpy(addr, s, len);
        addr[len] = '\0';
        int family = inet_pton(AF_INET, addr, tmp) == 1 ? AF_INET : inet_pton(AF_INET6, addr, tmp) == 1 ? AF_INET6 : 0;
        if (!family || !inet_ntop(family, tmp, out, (socklen_t)size))
                return false;
        return true;
}
