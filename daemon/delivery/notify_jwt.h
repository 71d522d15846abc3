/* GOV.UK Notify authentication: a bearer JWT, HS256, with claims iss (the
 * service id) and iat (seconds), valid for 30 s, so a fresh one is made for
 * every request. The API key is "{key name}-{service id}-{secret}", the last
 * two being UUIDs (36 characters each).
 *
 * Not Debian's libjwt (libjwt-dev 1.10 in Debian 12): one fixed HS256
 * token is a base64url and one HMAC call from OpenSSL's libcrypto, which
 * dawnd links already; libjwt would add itself, libb64 and jansson (a
 * second JSON library beside cJSON) to every install for those 50 lines,
 * and its API was rewritten in libjwt 3. */
#ifndef DAWN_NOTIFY_JWT_H
#define DAWN_NOTIFY_JWT_H

#include <stdint.h>

/* Splits an API key. Returns 0, or -EINVAL if it is not of that shape.
 * service_id and secret get 37 bytes each. */
int dawn_notify_key_parse(const char *api_key, char service_id[37], char secret[37]);

/* "eyJ...": header {"typ":"JWT","alg":"HS256"}, claims {"iss":..,"iat":..},
 * signed with the secret. Returns a malloc'ed token or NULL. */
char *dawn_notify_jwt(const char *service_id, const char *secret, int64_t iat_seconds);

#endif
