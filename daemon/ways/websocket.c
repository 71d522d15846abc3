#include "websocket.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

int dawn_ws_accept_key(const char *client_key, char out[29])
{
        unsigned char raw[18];
        if (!client_key || strlen(client_key) != 24)
                return -EINVAL;
        /* a key that is not 16 bytes of base64 is no WebSocket client's */
        if (EVP_DecodeBlock(raw, (const unsigned char *)client_key, 24) != 18 || client_key[22] != '=' ||
            client_key[23] != '=')
                return -EINVAL;
        char text[24 + sizeof(WS_GUID)];
        memcpy(text, client_key, 24);
        memcpy(text + 24, WS_GUID, sizeof(WS_GUID));
        unsigned char digest[SHA_DIGEST_LENGTH];
        SHA1((const unsigned char *)text, 24 + sizeof(WS_GUID) - 1, digest);
        EVP_EncodeBlock((unsigned char *)out, digest, SHA_DIGEST_LENGTH);
        return 0;
}

bool dawn_ws_header_has(const char *value, const char *token, bool case_sensitive)
{
        size_t n = strlen(token);
        for (const char *p = value; p && *p;) {
                while (*p == ' ' || *p == '\t' || *p == ',')
                        p++;
                const char *end = p;
                while (*end && *end != ',')
                        end++;
                const char *last = end;
                while (last > p && (last[-1] == ' ' || last[-1] == '\t'))
                        last--;
                if ((size_t)(last - p) == n &&
                    (case_sensitive ? strncmp(p, token, n) == 0 : strncasecmp(p, token, n) == 0))
                        return true;
                p = end;
        }
        return false;
}

ssize_t dawn_ws_read_frame(uint8_t *buf, size_t len, size_t max_payload, struct dawn_ws_frame *frame)
{
        if (len < 2)
                return 0;
        uint8_t b0 = buf[0], b1 = buf[1];
        /* no extension was negotiated, so the reserved bits must be clear */
        if (b0 & 0x70)
                return -EPROTO;
        unsigned opcode = b0 & 0x0f;
        bool control = opcode & 0x8;
        if (opcode != DAWN_WS_CONTINUATION && opcode != DAWN_WS_TEXT && opcode != DAWN_WS_BINARY &&
            opcode != DAWN_WS_CLOSE && opcode != DAWN_WS_PING && opcode != DAWN_WS_PONG)
                return -EPROTO;
        if (!(b1 & 0x80))
                return -EPROTO; /* a client's frames are masked: RFC 6455 5.1 */
        uint64_t length = b1 & 0x7f;
        size_t at = 2;
        if (control && (length > 125 || !(b0 & 0x80)))
                return -EPROTO;
        if (length == 126) {
                if (len < 4)
                        return 0;
                length = (uint64_t)buf[2] << 8 | buf[3];
                at = 4;
        } else if (length == 127) {
                if (len < 10)
                        return 0;
                length = 0;
                for (int i = 0; i < 8; i++)
                        length = length << 8 | buf[2 + i];
                if (length >> 63)
                        return -EPROTO;
                at = 10;
        }
        if (length > max_payload)
                return -EMSGSIZE;
        if (len - at < 4 || len - at - 4 < length)
                return 0;
        const uint8_t *mask = buf + at;
        uint8_t *payload = buf + at + 4;
        for (uint64_t i = 0; i < length; i++)
                payload[i] ^= mask[i & 3];
        frame->fin = b0 & 0x80;
        frame->opcode = (enum dawn_ws_opcode)opcode;
        frame->payload = payload;
        frame->length = (size_t)length;
        return (ssize_t)(at + 4 + length);
}

size_t dawn_ws_frame_header(uint8_t hdr[10], enum dawn_ws_opcode opcode, size_t length)
{
        hdr[0] = (uint8_t)(0x80 | (opcode & 0x0f));
        if (length < 126) {
                hdr[1] = (uint8_t)length;
                return 2;
        }
        if (length <= 0xffff) {
                hdr[1] = 126;
                hdr[2] = (uint8_t)(length >> 8);
                hdr[3] = (uint8_t)length;
                return 4;
        }
        hdr[1] = 127;
        for (int i = 0; i < 8; i++)
                hdr[2 + i] = (uint8_t)((uint64_t)length >> (56 - 8 * i));
        return 10;
}
