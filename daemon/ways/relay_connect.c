#include "relay_connect.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONNECT 0x10
#define CONNACK 0x20
#define FLAG_CLEAN 0x02
#define FLAG_WILL 0x04
#define FLAG_WILL_QOS 0x18
#define FLAG_WILL_RETAIN 0x20
#define FLAG_PASSWORD 0x40
#define FLAG_USERNAME 0x80
#define PROP_SESSION_EXPIRY 0x11

/* A cursor over one packet: every read checks the end, and a failed read
 * leaves a reason for the answer. */
struct reader {
        const uint8_t *p;
        size_t end, at;
        const char *why;
};

static bool fail(struct reader *r, const char *why)
{
        if (!r->why)
                r->why = why;
        return false;
}

static bool skip(struct reader *r, size_t n, const char *field)
{
        if (r->end - r->at < n)
                return fail(r, field);
        r->at += n;
        return true;
}

static bool u8(struct reader *r, uint8_t *v, const char *field)
{
        if (r->at >= r->end)
                return fail(r, field);
        *v = r->p[r->at++];
        return true;
}

static bool u16(struct reader *r, uint16_t *v, const char *field)
{
        if (r->end - r->at < 2)
                return fail(r, field);
        *v = (uint16_t)(r->p[r->at] << 8 | r->p[r->at + 1]);
        r->at += 2;
        return true;
}

/* A length-prefixed string or binary field: its start and length. */
static bool field(struct reader *r, size_t *start, uint16_t *n, const char *name)
{
        if (!u16(r, n, name))
                return false;
        *start = r->at;
        return skip(r, *n, name);
}

/* MQTT's variable byte integer: 1 to 4 bytes, 7 bits each. Returns its
 * length, 0 if p holds only part of it, -1 if it is longer than 4 bytes. */
static int varint(const uint8_t *p, size_t len, uint32_t *v)
{
        *v = 0;
        for (int i = 0; i < 4; i++) {
                if ((size_t)i >= len)
                        return 0;
                *v |= (uint32_t)(p[i] & 0x7f) << (7 * i);
                if (!(p[i] & 0x80))
                        return i + 1;
        }
        return -1;
}

static bool read_varint(struct reader *r, uint32_t *v, const char *field_name)
{
        int n = varint(r->p + r->at, r->end - r->at, v);
        if (n <= 0)
                return fail(r, field_name);
        r->at += (size_t)n;
        return true;
}

static size_t put_varint(uint8_t *out, uint32_t v)
{
        size_t n = 0;
        do {
                uint8_t b = v & 0x7f;
                v >>= 7;
                out[n++] = (uint8_t)(b | (v ? 0x80 : 0));
        } while (v);
        return n;
}

/* MQTT 5 properties (2.2.2): the length, then identifier and value pairs,
 * each value of the identifier's type. The offset of a session expiry's
 * value is kept in *expiry_at (the CONNECT's own properties only). */
static bool properties(struct reader *r, size_t *expiry_at, const char *name)
{
        uint32_t n;
        if (!read_varint(r, &n, name) || r->end - r->at < n)
                return fail(r, name);
        struct reader in = { .p = r->p, .end = r->at + n, .at = r->at };
        while (in.at < in.end) {
                uint32_t id;
                uint16_t len;
                size_t start;
                if (!read_varint(&in, &id, name))
                        return fail(r, name);
                switch (id) {
                case 0x01: case 0x17: case 0x19: case 0x24: case 0x25: case 0x28: case 0x29: case 0x2A:
                        if (!skip(&in, 1, name))
                                return fail(r, name);
                        break;
                case 0x13: case 0x21: case 0x22: case 0x23:
                        if (!skip(&in, 2, name))
                                return fail(r, name);
                        break;
                case 0x02: case 0x11: case 0x18: case 0x27:
                        if (id == PROP_SESSION_EXPIRY && expiry_at) {
                                if (*expiry_at)
                                        return fail(r, "properties: session expiry interval given twice");
                                *expiry_at = in.at;
                        }
                        if (!skip(&in, 4, name))
                                return fail(r, name);
                        break;
                case 0x0B: {
                        uint32_t ignored;
                        if (!read_varint(&in, &ignored, name))
                                return fail(r, name);
                        break;
                }
                case 0x03: case 0x08: case 0x09: case 0x12: case 0x15: case 0x16: case 0x1A: case 0x1C: case 0x1F:
                        if (!field(&in, &start, &len, name))
                                return fail(r, name);
                        break;
                case 0x26: /* user property: a pair of strings */
                        if (!field(&in, &start, &len, name) || !field(&in, &start, &len, name))
                                return fail(r, name);
                        break;
                default:
                        return fail(r, name);
                }
        }
        r->at = in.end;
        return true;
}

/* The username as it may appear in a client id: at most
 * DAWN_MQTT_ID_USER_MAX bytes of [A-Za-z0-9._-], anything else as '_'. */
static void id_part(const uint8_t *s, size_t n, char out[DAWN_MQTT_ID_USER_MAX + 1])
{
        if (n > DAWN_MQTT_ID_USER_MAX)
                n = DAWN_MQTT_ID_USER_MAX;
        for (size_t i = 0; i < n; i++) {
                uint8_t c = s[i];
                bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                            c == '_' || c == '-';
                out[i] = keep ? (char)c : '_';
        }
        out[n] = '\0';
}

/* The fixed header: the packet's whole length in *total, 0 if not all
 * of the header is here yet, or -EPROTO / -EMSGSIZE. */
static int fixed_header(const uint8_t *in, size_t len, uint8_t type, size_t max, size_t *hdr, size_t *total)
{
        if (len < 2)
                return 0;
        if (in[0] != type)
                return -EPROTO;
        uint32_t rl;
        int n = varint(in + 1, len - 1, &rl);
        if (n < 0)
                return -EPROTO;
        if (n == 0)
                return 0;
        *hdr = 1 + (size_t)n;
        *total = *hdr + rl;
        if (*total > max)
                return -EMSGSIZE;
        return 1;
}

ssize_t dawn_mqtt_connect_rewrite(const uint8_t *in, size_t len, const uint8_t random[8],
                                  struct dawn_mqtt_connect *out, const char **why)
{
        static const char hex[] = "0123456789abcdef";
        size_t hdr = 0, total = 0;
        *why = NULL;
        memset(out, 0, sizeof(*out));
        int e = fixed_header(in, len, CONNECT, DAWN_MQTT_CONNECT_MAX, &hdr, &total);
        if (e == -EPROTO)
                *why = in[0] != CONNECT ? "packet: the first packet must be a CONNECT" : "remaining length: malformed";
        else if (e == -EMSGSIZE)
                *why = "CONNECT: longer than 16 KiB";
        if (e <= 0)
                return e;
        if (len < total)
                return 0;

        struct reader r = { .p = in, .end = total, .at = hdr };
        uint16_t n;
        size_t name;
        uint8_t level = 0, flags = 0;
        if (!field(&r, &name, &n, "protocol name"))
                goto bad;
        if (n == 6 && memcmp(in + name, "MQIsdp", 6) == 0) {
                *why = "protocol: MQTT 3.1 is not spoken here (3.1.1 or 5)";
                return -EPROTO;
        }
        if (n != 4 || memcmp(in + name, "MQTT", 4) != 0) {
                *why = "protocol name: not MQTT";
                return -EPROTO;
        }
        if (!u8(&r, &level, "protocol level") || !u8(&r, &flags, "connect flags"))
                goto bad;
        size_t flags_at = r.at - 1;
        if (level != 4 && level != 5) {
                *why = "protocol level: 4 (MQTT 3.1.1) or 5 only";
                return -EPROTO;
        }
        if ((flags & 0x01) || (!(flags & FLAG_WILL) && (flags & (FLAG_WILL_QOS | FLAG_WILL_RETAIN))) ||
            (flags & FLAG_WILL_QOS) == FLAG_WILL_QOS || (level == 4 && (flags & FLAG_PASSWORD) && !(flags & FLAG_USERNAME))) {
                *why = "connect flags: invalid";
                return -EPROTO;
        }
        size_t expiry_at = 0;
        if (!skip(&r, 2, "keep alive") || (level == 5 && !properties(&r, &expiry_at, "properties")))
                goto bad;
        size_t id_len_at = r.at, id_start, start;
        if (!field(&r, &id_start, &n, "client id"))
                goto bad;
        size_t id_end = r.at;
        if (flags & FLAG_WILL) {
                if ((level == 5 && !properties(&r, NULL, "will properties")) ||
                    !field(&r, &start, &n, "will topic") || !field(&r, &start, &n, "will payload"))
                        goto bad;
        }
        size_t user = 0;
        uint16_t user_len = 0;
        if ((flags & FLAG_USERNAME) && !field(&r, &user, &user_len, "username"))
                goto bad;
        if ((flags & FLAG_PASSWORD) && !field(&r, &start, &n, "password"))
                goto bad;
        if (r.at != total) {
                *why = "CONNECT: bytes after the password";
                return -EPROTO;
        }

        id_part(in + user, user_len, out->username);
        int id_len = snprintf(out->client_id, sizeof(out->client_id), "dawn-%s-", out->username);
        for (int i = 0; i < 8; i++) {
                out->client_id[id_len++] = hex[random[i] >> 4];
                out->client_id[id_len++] = hex[random[i] & 0xf];
        }
        out->client_id[id_len] = '\0';
        out->level = level;

        /* the same packet around the new id: the variable header up to the
         * id, the id, then the will, username and password as they came */
        size_t rl = (total - hdr) - (id_end - id_len_at) + 2 + (size_t)id_len;
        out->packet = malloc(5 + rl);
        if (!out->packet)
                return -ENOMEM;
        uint8_t *o = out->packet;
        size_t at = 0;
        o[at++] = CONNECT;
        at += put_varint(o + at, (uint32_t)rl);
        size_t vh_out = at;
        memcpy(o + at, in + hdr, id_len_at - hdr);
        at += id_len_at - hdr;
        o[at++] = (uint8_t)(id_len >> 8);
        o[at++] = (uint8_t)id_len;
        memcpy(o + at, out->client_id, (size_t)id_len);
        at += (size_t)id_len;
        memcpy(o + at, in + id_end, total - id_end);
        at += total - id_end;
        out->length = at;
        o[vh_out + (flags_at - hdr)] |= FLAG_CLEAN;
        if (expiry_at)
                memset(o + vh_out + (expiry_at - hdr), 0, 4);
        return (ssize_t)total;
bad:
        *why = r.why ? r.why : "CONNECT: malformed";
        return -EPROTO;
}

int dawn_mqtt_connack_read(const uint8_t *in, size_t len)
{
        size_t hdr = 0, total = 0;
        /* a CONNACK is small; its properties (MQTT 5) may be read or not */
        int e = fixed_header(in, len, CONNACK, SIZE_MAX, &hdr, &total);
        if (e <= 0)
                return e == -EMSGSIZE ? -EPROTO : e;
        if (total - hdr < 2)
                return -EPROTO;
        if (len < hdr + 2)
                return 0;
        return in[hdr + 1] == 0 ? 1 : -EACCES;
}
