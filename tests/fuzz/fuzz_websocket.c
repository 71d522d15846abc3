/* libFuzzer harness: what a browser (or anything that connects to /mqtt)
 * sends dawnd's WebSocket relay, read frame by frame as the relay does;
 * and the handshake headers.
 *
 * Every frame read must lie inside the buffer, its payload within the
 * limit; a refusal is -EPROTO or -EMSGSIZE and nothing else.
 *
 * Build and run: BUILD=build-fuzz tests/fuzz/run.sh tests/fuzz/fuzz_websocket.c */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "websocket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PAYLOAD 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        uint8_t *buf = malloc(size ? size : 1);
        if (!buf)
                return 0;
        memcpy(buf, data, size);
        size_t at = 0;
        for (;;) {
                struct dawn_ws_frame f;
                ssize_t n = dawn_ws_read_frame(buf + at, size - at, MAX_PAYLOAD, &f);
                if (n == 0)
                        break;
                if (n < 0) {
                        if (n != -EPROTO && n != -EMSGSIZE) {
                                fprintf(stderr, "fuzz_websocket: returned %zd\n", n);
                                abort();
                        }
                        break;
                }
                if ((size_t)n > size - at || f.length > MAX_PAYLOAD || f.payload < buf + at ||
                    f.payload + f.length != buf + at + (size_t)n) {
                        fprintf(stderr, "fuzz_websocket: frame outside the buffer\n");
                        abort();
                }
                at += (size_t)n;
        }
        char *text = malloc(size + 1);
        if (text) {
                memcpy(text, data, size);
                text[size] = '\0';
                char accept[29];
                if (dawn_ws_accept_key(text, accept) == 0 && strlen(accept) != 28)
                        abort();
                (void)dawn_ws_header_has(text, "mqtt", true);
                (void)dawn_ws_header_has(text, "upgrade", false);
                free(text);
        }
        free(buf);
        return 0;
}
