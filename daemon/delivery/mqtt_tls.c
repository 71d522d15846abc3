/* TLS to the MQTT broker: see mqtt_tls.h. */
#include "mqtt_tls.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* OpenSSL asks for a passphrase when a key is encrypted; its default would
 * prompt on the terminal, which a daemon has not got. Saying "none" makes
 * the key fail to load instead, and config.c has already said why. */
static int no_passphrase(char *buf, int size, int rwflag, void *userdata)
{
        (void)buf;
        (void)size;
        (void)rwflag;
        (void)userdata;
        return 0;
}

int dawn_mqtt_tls_apply(struct mosquitto *mosq, const struct dawn_mqtt_tls *t)
{
        if (!t || !t->enabled)
                return MOSQ_ERR_SUCCESS;
        /* the system's CAs always; ca_file's as well (see mqtt_tls.h) */
        int rc = mosquitto_int_option(mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
        if (rc == MOSQ_ERR_SUCCESS)
                rc = mosquitto_tls_set(mosq, t->ca_file, t->ca_file ? NULL : DAWN_MQTT_TLS_CAPATH, t->cert_file,
                                       t->key_file, no_passphrase);
        /* 1 is SSL_VERIFY_PEER: the broker must show a certificate we trust */
        if (rc == MOSQ_ERR_SUCCESS)
                rc = mosquitto_tls_opts_set(mosq, 1, NULL, NULL);
        /* and it must be for the host we asked for */
        if (rc == MOSQ_ERR_SUCCESS)
                rc = mosquitto_tls_insecure_set(mosq, false);
        return rc;
}

static int copy_str(char **dst, const char *src)
{
        if (!src)
                return 0;
        *dst = strdup(src);
        return *dst ? 0 : -ENOMEM;
}

int dawn_mqtt_tls_copy(struct dawn_mqtt_tls *dst, const struct dawn_mqtt_tls *src)
{
        dst->enabled = src->enabled;
        if (copy_str(&dst->ca_file, src->ca_file) < 0 || copy_str(&dst->cert_file, src->cert_file) < 0 ||
            copy_str(&dst->key_file, src->key_file) < 0)
                return -ENOMEM;
        return 0;
}

void dawn_mqtt_tls_clear(struct dawn_mqtt_tls *t)
{
        free(t->ca_file);
        free(t->cert_file);
        free(t->key_file);
        *t = (struct dawn_mqtt_tls){ 0 };
}

static void openssl_reason(char *buf, size_t size)
{
        unsigned long e = ERR_peek_error(); /* the first: the cause, not "PEM lib" */
        const char *reason = e ? ERR_reason_error_string(e) : NULL;
        snprintf(buf, size, "%s", reason ? reason : "unreadable");
        ERR_clear_error();
}

/* A bounded, non-blocking open of a PEM file (a FIFO named by mistake must
 * not hang `dawnd -n`), as a BIO. NULL with why set on failure. */
static BIO *open_pem(const char *path, int *err, char *why, size_t why_size)
{
        struct stat st;
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

        if (fd < 0) {
                *err = -errno;
                snprintf(why, why_size, "cannot read it: %s", strerror(errno));
                return NULL;
        }
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                *err = -EINVAL;
                snprintf(why, why_size, "not a regular file (give a PEM file)");
                return NULL;
        }
        if (st.st_size > DAWN_MQTT_TLS_FILE_MAX) {
                close(fd);
                *err = -EFBIG;
                snprintf(why, why_size, "%lld bytes is too large (at most %d)", (long long)st.st_size,
                         DAWN_MQTT_TLS_FILE_MAX);
                return NULL;
        }
        FILE *f = fdopen(fd, "r");
        BIO *bio = f ? BIO_new_fp(f, BIO_CLOSE) : NULL;
        if (!bio) {
                if (f)
                        fclose(f);
                else
                        close(fd);
                *err = -ENOMEM;
                snprintf(why, why_size, "out of memory");
        }
        return bio;
}

int dawn_tls_client_check(const char *cert_file, const char *key_file, bool *key_at_fault, char *why,
                          size_t why_size)
{
        char reason[128];
        X509 *cert = NULL;
        EVP_PKEY *key = NULL;
        int r = 0;

        *key_at_fault = false;
        ERR_clear_error();
        BIO *bio = open_pem(cert_file, &r, why, why_size);
        if (!bio)
                return r;
        cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        BIO_free(bio);
        if (!cert) {
                openssl_reason(reason, sizeof(reason));
                snprintf(why, why_size, "no certificate in it (OpenSSL: %s)", reason);
                return -EINVAL;
        }
        *key_at_fault = true;
        bio = open_pem(key_file, &r, why, why_size);
        if (!bio)
                goto out;
        key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
        BIO_free(bio);
        if (!key) {
                /* OpenSSL's reason for an encrypted key read without a
                 * passphrase is "bad decrypt" or similar: say what it means */
                openssl_reason(reason, sizeof(reason));
                snprintf(why, why_size, "no private key without a passphrase in it (OpenSSL: %s); "
                                        "dawnd cannot ask for a passphrase", reason);
                r = -EINVAL;
                goto out;
        }
        if (X509_check_private_key(cert, key) != 1) {
                ERR_clear_error();
                snprintf(why, why_size, "not the key of the certificate in cert_file");
                r = -EINVAL;
        }
out:
        EVP_PKEY_free(key);
        X509_free(cert);
        return r;
}
