#!/usr/bin/python3
"""bench/peer.sh's helpers (Python standard library only).

  peer_client.py webhook PORT
      Alertmanager's webhook receiver for the throughput run: answers 200 to
      every POST and counts them (printed on SIGTERM). Nothing is timed here,
      so it may use threads.

  peer_client.py latency-am  AM_PORT  HOOK_PORT  N
  peer_client.py latency-dawn HTTP_PORT MQTT_PORT N   (token in $BENCH_TOKEN)
      One request at a time, one keep-alive connection: t0 just before the
      POST is written; t1 when the bytes naming this alert are read on the
      arrival side (Alertmanager: the webhook POST on HOOK_PORT; DAWN: a line
      from mosquitto_sub subscribed to dawn/v1/#, any of the alert's 6
      deliveries). The next alert is sent only once the previous one arrived
      (or its 5 s deadline passed), so no alert waits behind another. Prints
      "p50 p99 n lost accept-p50" (ms), accept = t0 -> the answer read.

The latency modes run on ONE thread: the POST's socket and the arrival side
(mosquitto_sub's pipe, or the webhook's listening socket and its connections)
are non-blocking fds in one selector, and each timestamp is taken right after
the read that brought the bytes. The reader thread this replaces iterated
the unbuffered pipe, one byte per read() (about 3,000 per alert), taking the
GIL back after each; the main thread, woken by the answer or the Condition,
then waited for the GIL up to the 5 ms switch interval: about 3 ms per alert
counted as dawnd's. Both clocks are CLOCK_MONOTONIC in this one process.
"""
import http.server
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time

DEADLINE_S = 5.0  # per alert: an alert not seen by then counts as lost
WARMUP = 20
READ_CHUNK = 65536
ANSWER_CAP = 1 << 20  # bytes of one HTTP answer (headers + body) the client buffers
HEAD_CAP = 16384  # bytes of one webhook request's headers
BODY_CAP = 1 << 20  # bytes of one webhook request's body
LINE_CAP = 1 << 20  # bytes of one mosquitto_sub line
HOOK_CONN_CAP = 32  # webhook connections held open at once


def quantile(xs, q):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    rank = max(1, int(-(-q * len(xs) // 1)))  # nearest rank
    return xs[min(rank, len(xs)) - 1]


def parse_head(head):
    """b"VERB target HTTP/1.1\\r\\nName: value..." -> (first line, {lower name: value})."""
    lines = head.split(b"\r\n")
    fields = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if sep:
            fields[name.strip().lower()] = value.strip()
    return lines[0], fields


def content_length(fields):
    """The body's length, or None when it is not given as Content-Length."""
    if b"transfer-encoding" in fields:
        return None  # chunked: neither server sends it here; refused rather than misread
    v = fields.get(b"content-length", b"0")
    return int(v) if v.isdigit() else None


class Loop:
    """One selector; each registered fd's data is its handler, called with no argument."""

    def __init__(self):
        self.sel = selectors.DefaultSelector()

    def until(self, done, deadline):
        """Serve events until done() or time.monotonic() reaches deadline; returns done()."""
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                return done()
            for key, _ in self.sel.select(left):
                key.data()
        return True


class Arrival:
    """The marker being waited for and when its bytes were first read (t1)."""

    def __init__(self):
        self.marker = None
        self.t1 = None

    def want(self, marker):
        self.marker = marker.encode()
        self.t1 = None

    def look(self, data, now):
        # markers look like pm-<run>-<n>-; only the one being waited for
        # counts, so a late arrival of an earlier one is not mistaken for it
        if self.t1 is None and self.marker is not None and self.marker in data:
            self.t1 = now

    def seen(self):
        return self.t1 is not None


class Client:
    """One keep-alive HTTP/1.1 connection, one request at a time, non-blocking."""

    def __init__(self, loop, port):
        self.loop, self.port = loop, port
        self.sock = None
        self.out = b""
        self.buf = b""
        self.status = None
        self.t_answer = None  # when the last byte of the answer was read

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=DEADLINE_S)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        self.sock = s
        self.loop.sel.register(s, selectors.EVENT_READ, self.on_event)

    def close(self):
        if self.sock is not None:
            self.loop.sel.unregister(self.sock)
            self.sock.close()
            self.sock = None

    def send(self, request):
        if self.sock is None:
            self.connect()
        self.out, self.buf, self.status, self.t_answer = request, b"", None, None
        self.flush()

    def flush(self):
        try:
            n = self.sock.send(self.out)
        except BlockingIOError:
            n = 0
        self.out = self.out[n:]
        self.loop.sel.modify(self.sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if self.out else 0),
                             self.on_event)

    def answered(self):
        return self.t_answer is not None

    def on_event(self):
        if self.out:
            self.flush()
        try:
            chunk = self.sock.recv(READ_CHUNK)
        except BlockingIOError:
            return
        now = time.monotonic()
        if not chunk:
            if self.t_answer is None:
                sys.exit("the server closed the connection before answering")
            self.close()  # an idle keep-alive connection ended; the next send reconnects
            return
        if self.t_answer is not None:
            sys.exit("the server sent bytes nobody asked for")
        self.buf += chunk
        if len(self.buf) > ANSWER_CAP:
            sys.exit("answer over %d bytes" % ANSWER_CAP)
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        first, fields = parse_head(self.buf[:end])
        parts = first.split(b" ", 2)
        self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        length = content_length(fields)
        if length is None:
            sys.exit("answer %r without a Content-Length" % first)
        if len(self.buf) - (end + 4) < length:
            return
        self.t_answer = now
        if fields.get(b"connection", b"").lower() == b"close":
            self.close()  # the next send reconnects


class PipeLines:
    """mosquitto_sub's stdout: non-blocking, split into lines here."""

    def __init__(self, loop, fd, arrival):
        self.fd, self.arrival = fd, arrival
        self.part = b""  # the line not yet ended
        os.set_blocking(fd, False)
        loop.sel.register(fd, selectors.EVENT_READ, self.on_event)

    def on_event(self):
        try:
            chunk = os.read(self.fd, READ_CHUNK)
        except BlockingIOError:
            return
        now = time.monotonic()
        if not chunk:
            sys.exit("mosquitto_sub stopped")
        lines = (self.part + chunk).split(b"\n")
        self.part = lines.pop()
        # the unfinished line too: its bytes so far were read now; the
        # previous read's part did not hold the marker, or t1 is already set
        for line in lines + [self.part]:
            self.arrival.look(line, now)
        if len(self.part) > LINE_CAP:
            # an endless line: keep only what a marker split across reads needs
            keep = len(self.arrival.marker or b"")
            self.part = self.part[len(self.part) - keep:]


class HookServer:
    """A minimal HTTP/1.1 server for Alertmanager's webhook: reads each
    request's headers and Content-Length body, answers 200 with no body,
    keeps the connection."""

    def __init__(self, loop, port, arrival):
        self.loop, self.arrival = loop, arrival
        self.conns = {}  # socket -> [buffered request bytes, bytes to write]
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", port))
        ls.listen(16)
        ls.setblocking(False)
        self.ls = ls
        loop.sel.register(ls, selectors.EVENT_READ, self.on_accept)

    def on_accept(self):
        while True:
            try:
                s, _ = self.ls.accept()
            except BlockingIOError:
                return
            if len(self.conns) >= HOOK_CONN_CAP:
                s.close()
                continue
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.setblocking(False)
            self.conns[s] = [b"", b""]
            self.loop.sel.register(s, selectors.EVENT_READ, lambda s=s: self.on_conn(s))

    def drop(self, s):
        self.loop.sel.unregister(s)
        s.close()
        del self.conns[s]

    def on_conn(self, s):
        st = self.conns[s]
        if st[1]:
            self.write(s, st)
            if s not in self.conns:
                return
        try:
            chunk = s.recv(READ_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            self.drop(s)
            return
        now = time.monotonic()
        if not chunk:
            self.drop(s)
            return
        st[0] += chunk
        self.arrival.look(st[0], now)
        while True:  # every complete request in the buffer (a client may pipeline)
            end = st[0].find(b"\r\n\r\n")
            if end < 0:
                if len(st[0]) > HEAD_CAP:
                    self.drop(s)
                return
            _, fields = parse_head(st[0][:end])
            length = content_length(fields)
            if length is None or length > BODY_CAP:
                st[1] += b"HTTP/1.1 411 Length Required\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                self.write(s, st)  # a best-effort answer; nothing is timed on an error
                if s in self.conns:
                    self.drop(s)
                return
            if len(st[0]) - (end + 4) < length:
                return
            st[0] = st[0][end + 4 + length:]
            st[1] += b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
            self.write(s, st)
            if s not in self.conns:
                return

    def write(self, s, st):
        try:
            n = s.send(st[1])
        except BlockingIOError:
            n = 0
        except OSError:
            self.drop(s)
            return
        st[1] = st[1][n:]
        if len(st[1]) > HEAD_CAP:  # answers pile up: the peer stopped reading them
            self.drop(s)
            return
        self.loop.sel.modify(s, selectors.EVENT_READ | (selectors.EVENT_WRITE if st[1] else 0),
                             lambda s=s: self.on_conn(s))


def request(path, body, extra):
    head = "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n"
    return (head % (path, extra, len(body))).encode() + body


def run(loop, client, arrival, build, want_status, n):
    """build(marker) -> request bytes. Prints the result line."""
    lat = []
    acc = []  # t0 -> answer read: what the server itself took to say yes
    lost = 0
    run_id = str(os.getpid())
    for i in range(WARMUP + n):
        marker = "pm-%s-%d-" % (run_id, i)  # trailing '-' so pm-x-1- never matches pm-x-10-
        req = build(marker)  # encoded before t0: the client's own JSON is not the server's time
        arrival.want(marker)
        t0 = time.monotonic()
        client.send(req)
        end = t0 + DEADLINE_S
        if not loop.until(client.answered, end):
            sys.exit("no answer within %.0f s" % DEADLINE_S)
        if client.status != want_status:
            sys.exit("the server answered %d" % client.status)
        loop.until(arrival.seen, end)
        if i < WARMUP:
            continue  # also covers a subscriber not yet subscribed
        if arrival.t1 is None:
            lost += 1
        else:
            lat.append((arrival.t1 - t0) * 1000.0)
        acc.append((client.t_answer - t0) * 1000.0)
    print("%.3f %.3f %d %d %.3f" % (quantile(lat, 0.50), quantile(lat, 0.99), len(lat), lost,
                                    quantile(acc, 0.50)), flush=True)


def webhook(port):
    count = [0]
    lock = threading.Lock()

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(min(n, BODY_CAP))
            with lock:
                count[0] += 1
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait(3600)  # the bench is over long before; never outlive it by much
    srv.shutdown()
    print("webhook POSTs received: %d" % count[0], flush=True)


def latency_am(am_port, hook_port, n):
    loop, arrival = Loop(), Arrival()
    HookServer(loop, hook_port, arrival)
    client = Client(loop, am_port)

    def build(marker):
        body = json.dumps([{"labels": {"alertname": "PeerBench", "phase": "latency", "marker": marker},
                            "annotations": {"summary": "latency probe"}}]).encode()
        return request("/api/v2/alerts", body, "")

    run(loop, client, arrival, build, 200, n)


def latency_dawn(http_port, mqtt_port, n):
    loop, arrival = Loop(), Arrival()
    # stdbuf: mosquitto_sub's stdout is a pipe here; line-buffer it so each
    # message is written when it arrives, not when 4 KiB have gathered
    sub = subprocess.Popen(["stdbuf", "-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p", str(mqtt_port), "-q", "1",
                            "-t", "dawn/v1/#"], stdout=subprocess.PIPE, bufsize=0)
    try:
        PipeLines(loop, sub.stdout.fileno(), arrival)
        # mosquitto_sub has no "subscribed" signal; warm-up alerts cover the rest
        loop.until(lambda: False, time.monotonic() + 0.5)
        client = Client(loop, http_port)
        auth = "Authorization: Bearer %s\r\n" % os.environ["BENCH_TOKEN"]

        def build(marker):
            body = json.dumps({"type": "batch", "area": os.environ.get("PEER_AREA", "southampton"),
                               "summary": "Latency probe " + marker,
                               "sold_as": [marker + "x"], "adulterants": ["nitazene"],
                               "source_ref": marker + "x"}).encode()
            return request("/v1/alerts", body, auth)

        run(loop, client, arrival, build, 201, n)
    finally:
        sub.terminate()
        try:
            sub.wait(5)
        except subprocess.TimeoutExpired:
            sub.kill()


def main():
    mode = sys.argv[1]
    a = [int(x) for x in sys.argv[2:]]
    if mode == "webhook":
        webhook(a[0])
    elif mode == "latency-am":
        latency_am(a[0], a[1], a[2])
    elif mode == "latency-dawn":
        latency_dawn(a[0], a[1], a[2])
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
