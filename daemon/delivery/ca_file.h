/* A private certificate authority for a channel: channels.sms.ca_file and
 * channels.email.ca_file, a PEM bundle of one or more CA certificates that
 * the channel trusts IN ADDITION to the system's store (an SMTP relay or an
 * SMS gateway whose certificate comes from an organisation's own CA, as in
 * the NHS and councils).
 *
 * config.c loads the file to check it (so `dawnd -n`, start and reload all
 * refuse a file that cannot be read or holds no certificate, naming the
 * key); the channel's curl loop loads it again when the channel starts (at
 * start and at every reload: a renewed CA is picked up by `dawnctl reload`).
 */
#ifndef DAWN_CA_FILE_H
#define DAWN_CA_FILE_H

#include <curl/curl.h>
#include <stddef.h>

/* A bundle bigger than this is not a CA bundle (the whole Mozilla store
 * Debian ships is about 220 kB): refused rather than parsed. */
#define DAWN_CA_FILE_MAX (4 * 1024 * 1024)

struct dawn_ca;

/* Reads and parses path. On success returns 0 and *out (free with
 * dawn_ca_free). On failure returns -errno (-EINVAL: not a usable bundle)
 * and why holds a sentence for the operator (without the path), e.g.
 * "no certificate in it (a PEM bundle holds -----BEGIN CERTIFICATE----- blocks)". */
int dawn_ca_load(const char *path, struct dawn_ca **out, char *why, size_t why_size);
struct dawn_ca *dawn_ca_free(struct dawn_ca *ca);
/* The number of certificates in the bundle. */
size_t dawn_ca_count(const struct dawn_ca *ca);
/* Makes easy trust ca's certificates as well as curl's default store.
 * ca must outlive the transfer. 0, or -EOPNOTSUPP when this libcurl's TLS
 * library is not OpenSSL. */
int dawn_ca_apply(const struct dawn_ca *ca, CURL *easy);

#endif
