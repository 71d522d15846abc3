/* A channel's private CA: see ca_file.h.
 *
 * How it ADDS to the system's trust. libcurl's CURLOPT_CAINFO and
 * CURLOPT_CAINFO_BLOB do not add: each replaces the default bundle
 * ("This option overrides CURLOPT_CAINFO"), so a channel given its
 * organisation's CA would stop trusting every public CA, and a relay that
 * moves to a public certificate would fail. Building a combined bundle
 * (the default file plus ours) would need to know the default file, which
 * is a build-time choice of libcurl's. Instead, CURLOPT_SSL_CTX_FUNCTION:
 * curl calls it for each new TLS connection after it has loaded its own
 * default store into the OpenSSL SSL_CTX, and the callback adds our
 * certificates to that store (SSL_CTX_get_cert_store + X509_STORE_add_cert).
 * The result is exactly "the system's CAs and these".
 *
 * The certificates are parsed once, when the channel starts (and config.c
 * parses them to check the file), not at every connection: the file is not
 * re-read behind the operator's back, and a file broken after the check
 * breaks nothing until the next reload, which then refuses it by name.
 *
 * libcurl 7.87+ may keep one X509_STORE per multi handle for a while (its
 * CA cache) and hand it to later connections; adding to it again is
 * harmless (OpenSSL ignores a certificate already present), and each
 * channel has its own multi handle (curl_loop.c), so one channel's CA never
 * reaches another's connections. A reload restarts the channel with a new
 * multi handle, so a CA removed from the configuration is trusted no more.
 */
#include "ca_file.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct dawn_ca {
        STACK_OF(X509) *certs;
};

static void openssl_reason(char *buf, size_t size)
{
        unsigned long e = ERR_peek_error(); /* the first: the cause, not "ASN1 lib" */
        const char *reason = e ? ERR_reason_error_string(e) : NULL;
        snprintf(buf, size, "%s", reason ? reason : "unreadable");
        ERR_clear_error();
}

int dawn_ca_load(const char *path, struct dawn_ca **out, char *why, size_t why_size)
{
        struct stat st;
        char reason[128];
        int fd, r = -EINVAL;

        *out = NULL;
        /* O_NONBLOCK: a FIFO named by mistake must not hang `dawnd -n` */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0) {
                r = -errno;
                snprintf(why, why_size, "cannot read it: %s", strerror(errno));
                return r;
        }
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                snprintf(why, why_size, "not a regular file (give a PEM bundle of CA certificates)");
                return -EINVAL;
        }
        if (st.st_size > DAWN_CA_FILE_MAX) {
                close(fd);
                snprintf(why, why_size, "%lld bytes is too large for a CA bundle (at most %d)",
                         (long long)st.st_size, DAWN_CA_FILE_MAX);
                return -EFBIG;
        }
        FILE *f = fdopen(fd, "r");
        if (!f) {
                r = -errno;
                close(fd);
                snprintf(why, why_size, "cannot read it: %s", strerror(-r));
                return r;
        }
        BIO *bio = BIO_new_fp(f, BIO_CLOSE);
        if (!bio) {
                fclose(f);
                snprintf(why, why_size, "out of memory");
                return -ENOMEM;
        }
        ERR_clear_error();
        STACK_OF(X509_INFO) *infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
        BIO_free(bio);
        if (!infos) {
                openssl_reason(reason, sizeof(reason));
                snprintf(why, why_size, "not a PEM bundle of certificates (OpenSSL: %s)", reason);
                return -EINVAL;
        }
        struct dawn_ca *ca = calloc(1, sizeof(*ca));
        if (ca)
                ca->certs = sk_X509_new_null();
        for (int i = 0; ca && ca->certs && i < sk_X509_INFO_num(infos); i++) {
                X509_INFO *info = sk_X509_INFO_value(infos, i);
                if (!info->x509)
                        continue; /* a CRL or a key in the same file: not ours to trust */
                if (!sk_X509_push(ca->certs, info->x509))
                        break;
                info->x509 = NULL; /* the stack has it now */
        }
        sk_X509_INFO_pop_free(infos, X509_INFO_free);
        ERR_clear_error();
        if (!ca || !ca->certs) {
                dawn_ca_free(ca);
                snprintf(why, why_size, "out of memory");
                return -ENOMEM;
        }
        if (sk_X509_num(ca->certs) == 0) {
                dawn_ca_free(ca);
                snprintf(why, why_size, "no certificate in it (a PEM bundle holds "
                                        "-----BEGIN CERTIFICATE----- blocks)");
                return -EINVAL;
        }
        *out = ca;
        return 0;
}

struct dawn_ca *dawn_ca_free(struct dawn_ca *ca)
{
        if (!ca)
                return NULL;
        sk_X509_pop_free(ca->certs, X509_free);
        free(ca);
        return NULL;
}

size_t dawn_ca_count(const struct dawn_ca *ca)
{
        return ca ? (size_t)sk_X509_num(ca->certs) : 0;
}

/* Called by libcurl for every new TLS connection of a transfer, after its
 * own CA options are in the SSL_CTX (see the top). */
static CURLcode add_to_store(CURL *easy, void *ssl_ctx, void *userdata)
{
        const struct dawn_ca *ca = userdata;
        X509_STORE *store = SSL_CTX_get_cert_store((SSL_CTX *)ssl_ctx);
        (void)easy;

        if (!store)
                return CURLE_SSL_CACERT_BADFILE;
        for (int i = 0; i < sk_X509_num(ca->certs); i++) {
                /* OpenSSL 1.1.1 and later return 1 for a certificate already in the store */
                if (!X509_STORE_add_cert(store, sk_X509_value(ca->certs, i))) {
                        ERR_clear_error();
                        return CURLE_SSL_CACERT_BADFILE;
                }
        }
        return CURLE_OK;
}

int dawn_ca_apply(const struct dawn_ca *ca, CURL *easy)
{
        if (!ca)
                return 0;
        /* A libcurl built on another TLS library has no SSL_CTX to give:
         * curl_easy_setopt() says so, and the channel must not then run
         * without the CA the operator asked for. */
        if (curl_easy_setopt(easy, CURLOPT_SSL_CTX_FUNCTION, add_to_store) != CURLE_OK ||
            curl_easy_setopt(easy, CURLOPT_SSL_CTX_DATA, (void *)ca) != CURLE_OK)
                return -EOPNOTSUPP;
        return 0;
}
