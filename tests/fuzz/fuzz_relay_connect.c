/* libFuzzer harness: the first MQTT packet a browser sends through the
 * dashboard relay (a CONNECT, 3.1.1 or 5, rewritten with the relay's client
 * id) and the broker's CONNACK that signs it in.
 *
 * What must hold for any input: a CONNECT taken is read again by the same
 * function (the rewrite is itself a well-formed CONNECT) with the same
 * client id, username and level and the same length; its client id is
 * "dawn-<username>-<16 hex>", never anything the input chose; nothing is
 * read past the input; a refusal is -EPROTO (with a reason) or -EMSGSIZE.
 *
 * Build and run: BUILD=build-fuzz tests/fuzz/run.sh tests/fuzz/fuzz_relay_connect.c */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay_connect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
        fprintf(stderr, "fuzz_relay_connect: %s\n", what);
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const uint8_t random[8] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };
        /* a copy of exactly size bytes: ASan sees any read past the input */
        uint8_t *in = malloc(size ? size : 1);
        if (!in)
                return 0;
        memcpy(in, data, size);
        struct dawn_mqtt_connect c;
        const char *why = NULL;
        ssize_t n = dawn_mqtt_connect_rewrite(in, size, random, &c, &why);
        if (n < 0 && n != -EPROTO && n != -EMSGSIZE && n != -ENOMEM)
                fail("an unexpected error");
        if ((n == -EPROTO || n == -EMSGSIZE) && !why)
                fail("a refusal without a reason");
        if (n > 0) {
                if ((size_t)n > size || n > DAWN_MQTT_CONNECT_MAX)
                        fail("took more than it was given");
                if (strncmp(c.client_id, "dawn-", 5) != 0 ||
                    strcmp(c.client_id + strlen(c.client_id) - 17, "-0123456789abcdef") != 0)
                        fail("a client id not of the relay's making");
                if (c.packet[0] != 0x10 || (c.level != 4 && c.level != 5))
                        fail("not a CONNECT of level 4 or 5");
                struct dawn_mqtt_connect again;
                const char *why2 = NULL;
                ssize_t m = dawn_mqtt_connect_rewrite(c.packet, c.length, random, &again, &why2);
                if (m != (ssize_t)c.length)
                        fail("the rewritten CONNECT does not read back whole");
                if (strcmp(again.client_id, c.client_id) != 0 || strcmp(again.username, c.username) != 0 ||
                    again.level != c.level || again.length != c.length || memcmp(again.packet, c.packet, c.length) != 0)
                        fail("the rewritten CONNECT reads back differently");
                free(again.packet);
                free(c.packet);
        }
        int a = dawn_mqtt_connack_read(in, size);
        if (a != 0 && a != 1 && a != -EACCES && a != -EPROTO)
                fail("an unexpected CONNACK result");
        free(in);
        return 0;
}
