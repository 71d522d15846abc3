/* WebSocket framing (RFC 6455), server side, for the dashboard's MQTT
 * relay: the opening handshake's accept key, and frames read and written.
 * Pure functions over buffers, so the relay, the tests and the fuzzer share
 * them.
 *
 * Why not a library: libmicrohttpd 0.9.75 in Debian 12 hands over the
 * upgraded socket but ships no WebSocket framing, and libwebsockets brings
 * its own event loop, which is more to fit around sd-event than these few
 * hundred lines, bounded and fuzzed (tests/fuzz/fuzz_websocket.c). */
#ifndef DAWN_WEBSOCKET_H
#define DAWN_WEBSOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum dawn_ws_opcode {
        DAWN_WS_CONTINUATION = 0x0,
        DAWN_WS_TEXT = 0x1,
        DAWN_WS_BINARY = 0x2,
        DAWN_WS_CLOSE = 0x8,
        DAWN_WS_PING = 0x9,
        DAWN_WS_PONG = 0xA,
};

/* Close codes DAWN sends. */
enum {
        DAWN_WS_CLOSE_NORMAL = 1000,
        DAWN_WS_CLOSE_GOING_AWAY = 1001,
        DAWN_WS_CLOSE_PROTOCOL_ERROR = 1002,
        DAWN_WS_CLOSE_TOO_BIG = 1009,
        DAWN_WS_CLOSE_SERVER_ERROR = 1011,
};

/* Sec-WebSocket-Accept for a client's Sec-WebSocket-Key: base64(SHA-1(key
 * + the RFC's GUID)). The key must be 24 base64 characters (16 bytes).
 * Returns 0, or -EINVAL for a malformed key. */
int dawn_ws_accept_key(const char *client_key, char out[29]);

/* True if a comma-separated header value (Connection, Upgrade,
 * Sec-WebSocket-Protocol) holds token, compared case-insensitively for
 * Connection and Upgrade (case_sensitive false) or exactly (protocols). */
bool dawn_ws_header_has(const char *value, const char *token, bool case_sensitive);

struct dawn_ws_frame {
        bool fin;
        enum dawn_ws_opcode opcode;
        uint8_t *payload;        /* inside the caller's buffer, unmasked in place */
        size_t length;
};

/* Reads one client frame from the start of buf (len bytes). Client frames
 * must be masked (RFC 6455 5.1). Returns the number of bytes the frame
 * took (its payload unmasked in buf), 0 if buf does not hold a whole frame
 * yet, -EPROTO for a frame no client may send (unmasked, reserved bits or
 * opcodes, a control frame longer than 125 bytes or fragmented, a 64-bit
 * length with the top bit set), or -EMSGSIZE for a payload over
 * max_payload. */
ssize_t dawn_ws_read_frame(uint8_t *buf, size_t len, size_t max_payload, struct dawn_ws_frame *frame);

/* The header of a server frame (unmasked, FIN set) carrying length bytes
 * of opcode: writes 2, 4 or 10 bytes into hdr and returns how many. */
size_t dawn_ws_frame_header(uint8_t hdr[10], enum dawn_ws_opcode opcode, size_t length);

#endif
