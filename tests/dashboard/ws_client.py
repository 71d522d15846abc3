#!/usr/bin/python3
"""A minimal WebSocket + MQTT 3.1.1 client for test_dashboard_relay.sh:
what a browser running MQTT.js sends dawnd's /mqtt relay, byte for byte,
with no browser. Standard library only.

  ws_client.py HOST:PORT mqtt USER PASSWORD TOPIC [CLIENT_ID [LEVEL]]
        connects through /mqtt, logs in (MQTT 3.1.1, or 5 with LEVEL 5,
        with client id CLIENT_ID), subscribes to TOPIC, prints
        "connack <code>" and then "<topic> <payload>" for the first
        message (waits up to 5 s), then disconnects

Hostile clients (every loop bounded in count and time):
  ws_client.py HOST:PORT pingflood COUNT SECONDS
        sends up to COUNT pings and reads nothing; prints "sent N closed"
        when the server hung up first, or "sent N open"
  ws_client.py HOST:PORT squat COUNT SECONDS
        makes COUNT upgrades that never send a CONNECT; prints
        "upgraded U refused R", then waits up to SECONDS for the server to
        close them and prints "closed C"
  ws_client.py HOST:PORT stall USER PASSWORD TOPIC KEEPALIVE SECONDS
        logs in with KEEPALIVE, subscribes to TOPIC and stops reading;
        after 1.5 x KEEPALIVE + 0.5 s (the broker has given up on it) sends one
        PINGREQ, prints "pinged", and holds the connection until SECONDS
  ws_client.py HOST:PORT raw HEXFRAME
        sends one raw frame after the handshake and prints the close code
        the server answers with ("close 1002"), or "open" if it stays open
  ws_client.py HOST:PORT handshake [Header: value]...
        sends a handshake with these headers changed; prints the status line

Environment: WS_TLS_CA=FILE speaks TLS (wss://) verified with that CA, the
Origin then https://HOST:PORT; WS_ORIGIN=URL sends that Origin instead.
"""
import base64, os, select, socket, struct, sys, time

def handshake(addr, overrides=None, rcvbuf=None):
    host, port = addr.rsplit(":", 1)
    s = socket.socket()
    if rcvbuf:
        # a reader that takes nothing: the kernel's buffers must not hide the server's backlog
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(5)
    s.connect((host, int(port)))
    scheme = "http"
    if os.environ.get("WS_TLS_CA"):
        # through a TLS proxy (test_nginx.sh): wss://, verified against this CA
        import ssl
        s = ssl.create_default_context(cafile=os.environ["WS_TLS_CA"]).wrap_socket(s, server_hostname=host)
        scheme = "https"
    key = base64.b64encode(os.urandom(16)).decode()
    headers = {"Host": addr, "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": key,
               "Sec-WebSocket-Version": "13", "Sec-WebSocket-Protocol": "mqtt",
               "Origin": os.environ.get("WS_ORIGIN", scheme + "://" + addr)}
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
    if mode == "pingflood":
        return pingflood(addr, int(sys.argv[3]), float(sys.argv[4]))
    if mode == "squat":
        return squat(addr, int(sys.argv[3]), float(sys.argv[4]))
    s, head, rest = handshake(addr, rcvbuf=4096 if mode == "stall" else None)
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
    keepalive = 30
    client_id = "ws-test-%d" % os.getpid()
    level = 4
    if mode == "stall":
        keepalive, hold = int(sys.argv[6]), float(sys.argv[7])
    else:
        client_id = sys.argv[6] if len(sys.argv) > 6 else client_id
        level = int(sys.argv[7]) if len(sys.argv) > 7 else 4
    # MQTT 5 asks for a kept session (clean start 0), which the relay must not give a random id
    var = mqtt_string("MQTT") + bytes([level, 0xC2 if level == 4 else 0xC0]) + struct.pack(">H", keepalive)
    if level == 5:
        # properties: a session expiry of an hour, which the relay must make 0
        var += bytes([5, 0x11]) + struct.pack(">I", 3600)
    body = var + mqtt_string(client_id) + mqtt_string(user) + mqtt_string(password)
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
    sub = struct.pack(">H", 1) + (b"\0" if level == 5 else b"") + \
        b"".join(mqtt_string(t) + bytes([1]) for t in topic.split(","))
    s.sendall(frame(bytes([0x82]) + remaining(len(sub)) + sub))
    if mode == "stall":
        start = time.monotonic()
        time.sleep(1.5 * keepalive + 0.5)
        try:
            s.sendall(frame(bytes([0xC0, 0])))  # PINGREQ, to a broker that has given up on us
        except OSError:
            pass
        print("pinged")
        sys.stdout.flush()
        time.sleep(max(0, hold - (time.monotonic() - start)))
        return
    while True:
        kind, data = m.packet()
        if kind == 3:  # PUBLISH
            tlen = struct.unpack(">H", data[:2])[0]
            t = data[2:2 + tlen].decode()
            qos = 0
            payload = data[2 + tlen + (2 if qos else 0):]
            # QoS from the fixed header is not kept by packet(): retained alerts come at QoS <= 1,
            # so a packet id (and with MQTT 5, properties) may come first: the id is searched for
            print(t, payload.decode(errors="replace").split('"id":"')[1].split('"')[0] if b'"id"' in payload else "")
            break
    s.sendall(frame(bytes([0xE0, 0])))

def pingflood(addr, count, seconds):
    s, head, _ = handshake(addr, rcvbuf=4096)
    if " 101 " not in head.split("\r\n")[0]:
        print("handshake failed: " + head.split("\r\n")[0])
        sys.exit(1)
    # 125-byte pings with a zero mask (the payload goes as it is), a thousand per send
    ping = bytes([0x89, 0x80 | 125]) + bytes(4) + b"p" * 125
    batch = ping * 1000
    s.settimeout(1)
    sent, deadline = 0, time.monotonic() + seconds
    try:
        while sent < count and time.monotonic() < deadline:
            s.sendall(batch)
            sent += 1000
    except socket.timeout:
        print("sent %d open" % sent)  # the server stopped reading: not what it should do either
        return
    except OSError:
        print("sent %d closed" % sent)
        return
    print("sent %d open" % sent)

def squat(addr, count, seconds):
    socks, refused = [], 0
    for _ in range(count):
        s, head, _ = handshake(addr)
        if " 101 " in head.split("\r\n")[0]:
            socks.append(s)
        else:
            refused += 1
            s.close()
    print("upgraded %d refused %d" % (len(socks), refused))
    sys.stdout.flush()
    closed, deadline = 0, time.monotonic() + seconds
    while socks and time.monotonic() < deadline:
        ready, _, _ = select.select(socks, [], [], 0.2)
        for s in ready:
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:  # a close frame comes first, then the end
                socks.remove(s)
                s.close()
                closed += 1
    print("closed %d" % closed)

if __name__ == "__main__":
    main()
