/* GOV.UK Notify authentication: a bearer JWT, HS256, with claims iss (the
 * service id) and iat (seconds), accepted for 30 s after iat. A token is made
 * for the second a request goes in and used by every request of that second
 * (struct dawn_notify_token): signing it again per text was 3-4 % of dawnd's
 * CPU in a fan-out. The API key is "{key name}-{service id}-{secret}", the last
 * two being UUIDs (36 characters each).
 *
 * Not Debian's libjwt (libjwt-dev 1.10 in Debian 12): one fixed HS256
 * token is a base64url and one HMAC call from OpenSSL's libcrypto, which
 * dawnd links already; libjwt would add itself, libb64 and jansson (a
 * second JSON library beside cJSON) to every install for those 50 lines,
 * and its API was rewritten in libjwt 3. */
#ifndef DAWN_NOTIFY_JWT_H
#define DAWN_NOTIFY_JWT_H

#include <stdbool.h>
#include <stdint.h>

/* Splits an API key. Returns 0, or -EINVAL if it is not of that shape.
 * service_id and secret get 37 bytes each. */
int dawn_notify_key_parse(const char *api_key, char service_id[37], char secret[37]);

/* "eyJ...": header {"typ":"JWT","alg":"HS256"}, claims {"iss":..,"iat":..},
 * signed with the secret. Returns a malloc'ed token or NULL. */
char *dawn_notify_jwt(const char *service_id, const char *secret, int64_t iat_seconds);

/* The token of the current second, kept for one API key. Its owner keeps it
 * as it keeps the key: cleared (wiped) when the key goes, and a new key
 * (a reload) starts with a cleared one. */
struct dawn_notify_token {
        char service_id[37];      /* what the token was made for; "" while none is kept */
        int64_t iat_seconds;
        char *token;
};
/* The token for service_id and secret at iat_seconds: the one kept if it was
 * made for that service and second, else a new one, kept in its place (the
 * old one wiped). *made says whether it was signed now (NULL: not asked).
 * The result stays the cache's, valid until the next call or clear; NULL:
 * out of memory or a service id that cannot be one. */
const char *dawn_notify_token_get(struct dawn_notify_token *t, const char *service_id, const char *secret,
                                  int64_t iat_seconds, bool *made);
/* Wipes and frees the token kept. */
void dawn_notify_token_clear(struct dawn_notify_token *t);

#endif
