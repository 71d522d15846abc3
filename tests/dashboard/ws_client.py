#!/usr/bin/python3
"""A minimal WebSocket + MQTT 3.1.1 client for test_dashboard_relay.sh:
what a browser running MQTT.js sends dawnd's /mqtt relay, byte for byte,
with no browser. Standard library only.

  ws_client.py HOST:PORT mqtt USER PASSWORD TOPIC
        connects through /mqtt, logs in, subscribes to TOPIC, prints
        "connack <code>" and then "<topic> <payload>" for the first
        message (waits up to 5 s), then disconnects
  ws_client.py HOST:PORT raw HEXFRAME
        sends one raw frame after the handshake and prints the close code
        the server answers with ("close 1002"), or "open" if it stays open
  ws_client.py HOST:PORT handshake [Header: value]...
        sends a handshake with these headers changed; prints the status line
"""
import base64, os, socket, struct, sys

def handshake(addr, overrides=None):
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    headers = {"Host": addr, "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": key,
               "Sec-WebSocket-Version": "13", "Sec-WebSocket-Protocol": "mqtt", "Origin": "http://" + addr}
    for k, v in (overrides or {}).items():
        if v is None:
            headers.pop(k, None)
        else:
            headers[k] = v
    req = "GET /mqtt HTTP/1.1\r\n" + "".join("%s: %s\r\n" % kv for kv in headers.items()) + "\r\n"
    s.sendall(req.encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return s, head.decode(errors="replace"), rest

def frame(payload, opcode=2, mask=True):
    hdr = bytes([0x80 | opcode])
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        hdr += bytes([m | n])
    elif n < 65536:
        hdr += bytes([m | 126]) + struct.pack(">H", n)
    else:
        hdr += bytes([m | 127]) + struct.pack(">Q", n)
    if not mask:
        return hdr + payload
    key = os.urandom(4)
    return hdr + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))

class Reader:
    def __init__(self, s, rest):
        self.s, self.buf = s, rest
    def need(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out
    def frame(self):
        b0, b1 = self.need(2)
        n = b1 & 0x7f
        if n == 126:
            n = struct.unpack(">H", self.need(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self.need(8))[0]
        return b0 & 0x0f, self.need(n)

class MqttStream:
    """MQTT packets out of a stream of WebSocket frames (boundaries need not match)."""
    def __init__(self, reader):
        self.r, self.buf = reader, b""
    def byte(self):
        while not self.buf:
            op, payload = self.r.frame()
            if op == 8:
                raise EOFError("close %d" % struct.unpack(">H", payload[:2])[0])
            self.buf += payload
        b, self.buf = self.buf[0], self.buf[1:]
        return b
    def packet(self):
        first = self.byte()
        mult, length = 1, 0
        while True:
            d = self.byte()
            length += (d & 0x7f) * mult
            mult *= 128
            if not d & 0x80:
                break
        return first >> 4, bytes(self.byte() for _ in range(length))

def mqtt_string(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b

def remaining(n):
    out = b""
    while True:
        d = n % 128
        n //= 128
        out += bytes([d | (0x80 if n else 0)])
        if not n:
            return out

def main():
    addr, mode = sys.argv[1], sys.argv[2]
    if mode == "handshake":
        overrides = {}
        for h in sys.argv[3:]:
            k, _, v = h.partition(":")
            overrides[k.strip()] = v.strip() or None
        s, head, _ = handshake(addr, overrides)
        print(head.split("\r\n")[0])
        return
    s, head, rest = handshake(addr)
    if " 101 " not in head.split("\r\n")[0]:
        print("handshake failed: " + head.split("\r\n")[0])
        sys.exit(1)
    r = Reader(s, rest)
    if mode == "raw":
        s.sendall(bytes.fromhex(sys.argv[3]))
        try:
            op, payload = r.frame()
            print("close %d" % struct.unpack(">H", payload[:2])[0] if op == 8 else "frame %d" % op)
        except (EOFError, socket.timeout):
            print("open" if isinstance(sys.exc_info()[1], socket.timeout) else "eof")
        return
    user, password, topic = sys.argv[3:6]
    var = mqtt_string("MQTT") + bytes([4, 0xC2]) + struct.pack(">H", 30)
    body = var + mqtt_string("ws-test-%d" % os.getpid()) + mqtt_string(user) + mqtt_string(password)
    # split the CONNECT over two frames, as nothing promises packets and frames line up
    packet = bytes([0x10]) + remaining(len(body)) + body
    s.sendall(frame(packet[:5]) + frame(packet[5:]))
    m = MqttStream(r)
    kind, data = m.packet()
    print("connack %d" % data[1])
    sys.stdout.flush()
    if data[1] != 0:
        return
    # several filters (comma-separated) go in one SUBSCRIBE: the broker sends the retained
    # messages filter by filter, so the first message says which filter gave something
    sub = struct.pack(">H", 1) + b"".join(mqtt_string(t) + bytes([1]) for t in topic.split(","))
    s.sendall(frame(bytes([0x82]) + remaining(len(sub)) + sub))
    while True:
        kind, data = m.packet()
        if kind == 3:  # PUBLISH
            tlen = struct.unpack(">H", data[:2])[0]
            t = data[2:2 + tlen].decode()
            qos = 0
            payload = data[2 + tlen + (2 if qos else 0):]
            # QoS from the fixed header is not kept by packet(): retained alerts come at QoS <= 1
            print(t, payload.decode(errors="replace").split('"id":"')[1].split('"')[0] if b'"id"' in payload else "")
            break
    s.sendall(frame(bytes([0xE0, 0])))

if __name__ == "__main__":
    main()
