#include "notify_jwt.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "str.h"

#define UUID_CHARS 36
#define KEY_TAIL_CHARS (UUID_CHARS + 1 + UUID_CHARS) /* "{service id}-{secret}" */

/* ---- the API key ---- */

static bool is_hex(char c)
{
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* 8-4-4-4-12 hex digits */
static bool is_uuid(const char *s)
{
        for (int i = 0; i < UUID_CHARS; i++) {
                bool dash = i == 8 || i == 13 || i == 18 || i == 23;
                if (dash ? s[i] != '-' : !is_hex(s[i]))
                        return false;
        }
        return true;
}

static bool is_key_space(char c)
{
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int dawn_notify_key_parse(const char *api_key, char service_id[37], char secret[37])
{
        if (!api_key)
                return -EINVAL;
        /* The key comes from a file, often with a newline after it. */
        size_t len = strlen(api_key);
        while (len > 0 && is_key_space(api_key[len - 1]))
                len--;
        /* The key name may hold '-' itself, so the parts are found from the
         * end: a name of at least one character, '-', then the two UUIDs. */
        if (len < KEY_TAIL_CHARS + 2)
                return -EINVAL;
        const char *tail = api_key + len - KEY_TAIL_CHARS;
        if (tail[-1] != '-' || tail[UUID_CHARS] != '-' || !is_uuid(tail) || !is_uuid(tail + UUID_CHARS + 1))
                return -EINVAL;
        memcpy(service_id, tail, UUID_CHARS);
        service_id[UUID_CHARS] = '\0';
        memcpy(secret, tail + UUID_CHARS + 1, UUID_CHARS);
        secret[UUID_CHARS] = '\0';
        return 0;
}

/* ---- the token ---- */

/* Base64url without padding (RFC 7515 section 2). out holds
 * 4 * ceil(n / 3) + 1 bytes; returns the length written. */
static size_t base64url(const unsigned char *in, size_t n, char *out)
{
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        size_t o = 0;
        for (size_t i = 0; i < n; i += 3) {
                uint32_t v = (uint32_t)in[i] << 16;
                if (i + 1 < n)
                        v |= (uint32_t)in[i + 1] << 8;
                if (i + 2 < n)
                        v |= in[i + 2];
                out[o++] = alphabet[(v >> 18) & 63];
                out[o++] = alphabet[(v >> 12) & 63];
                if (i + 1 < n)
                        out[o++] = alphabet[(v >> 6) & 63];
                if (i + 2 < n)
                        out[o++] = alphabet[v & 63];
        }
        out[o] = '\0';
        return o;
}

static size_t base64url_size(size_t n)
{
        return 4 * ((n + 2) / 3) + 1;
}

/* The service id goes into JSON unescaped: anything that would need
 * escaping is not a service id. */
static bool json_plain(const char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == '"' || *s == '\\')
                        return false;
        return true;
}

char *dawn_notify_jwt(const char *service_id, const char *secret, int64_t iat_seconds)
{
        static const char header[] = "{\"typ\":\"JWT\",\"alg\":\"HS256\"}";
        if (!service_id || !secret || !json_plain(service_id))
                return NULL;

        int claims_len = snprintf(NULL, 0, "{\"iss\":\"%s\",\"iat\":%" PRId64 "}", service_id, iat_seconds);
        if (claims_len < 0)
                return NULL;
        char *claims = malloc((size_t)claims_len + 1);
        if (!claims)
                return NULL;
        snprintf(claims, (size_t)claims_len + 1, "{\"iss\":\"%s\",\"iat\":%" PRId64 "}", service_id, iat_seconds);

        /* header "." claims "." signature, each base64url */
        size_t cap = base64url_size(sizeof(header) - 1) + base64url_size((size_t)claims_len) +
                     base64url_size(EVP_MAX_MD_SIZE) + 2;
        char *token = malloc(cap);
        if (!token) {
                free(claims);
                return NULL;
        }
        size_t n = base64url((const unsigned char *)header, sizeof(header) - 1, token);
        token[n++] = '.';
        n += base64url((const unsigned char *)claims, (size_t)claims_len, token + n);
        free(claims);

        /* the signing input is everything so far */
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned mac_len = 0;
        if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)token, n, mac, &mac_len)) {
                free(token);
                return NULL;
        }
        token[n++] = '.';
        base64url(mac, mac_len, token + n);
        OPENSSL_cleanse(mac, sizeof(mac));
        return token;
}

/* ---- the token of the second ---- */

const char *dawn_notify_token_get(struct dawn_notify_token *t, const char *service_id, const char *secret,
                                  int64_t iat_seconds, bool *made)
{
        if (made)
                *made = false;
        if (!service_id || strlen(service_id) >= sizeof(t->service_id))
                return NULL;
        if (t->token && t->iat_seconds == iat_seconds && strcmp(t->service_id, service_id) == 0)
                return t->token;
        dawn_notify_token_clear(t);
        t->token = dawn_notify_jwt(service_id, secret, iat_seconds);
        if (!t->token)
                return NULL;
        snprintf(t->service_id, sizeof(t->service_id), "%s", service_id);
        t->iat_seconds = iat_seconds;
        if (made)
                *made = true;
        return t->token;
}

void dawn_notify_token_clear(struct dawn_notify_token *t)
{
        dawn_secret_clear(&t->token);
        explicit_bzero(t->service_id, sizeof(t->service_id));
        t->iat_seconds = 0;
}
