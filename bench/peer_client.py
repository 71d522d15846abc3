#!/usr/bin/python3
"""bench/peer.sh's helpers (Python standard library only).

  peer_client.py webhook PORT
      Alertmanager's webhook receiver for the throughput run: answers 200 to
      every POST and counts them (printed on SIGTERM). Nothing is timed here.

  peer_client.py latency-am  AM_PORT  HOOK_PORT  N
  peer_client.py latency-dawn HTTP_PORT MQTT_PORT N   (token in $BENCH_TOKEN)
      One request at a time, one keep-alive connection: t0 just before the
      POST is written; t1 when the first message naming this alert arrives
      (Alertmanager: the webhook POST on HOOK_PORT, received here in a
      thread; DAWN: the first line from mosquitto_sub subscribed to
      dawn/v1/#, any of the alert's 6 deliveries). The next alert is sent
      only once the previous one arrived (or its 5 s deadline passed), so no
      alert waits behind another. Prints "p50 p99 n lost accept-p50" (ms),
      accept = t0 -> the answer read.

Both clocks are CLOCK_MONOTONIC in this one process.
"""
import http.client
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time

DEADLINE_S = 5.0  # per alert: an alert not seen by then counts as lost
WARMUP = 20


class Arrivals:
    """Marker -> first arrival time; the sender waits on it with a deadline."""

    def __init__(self):
        self.cond = threading.Condition()
        self.seen = {}

    def note(self, text):
        now = time.monotonic()
        with self.cond:
            for marker in self.wanted_in(text):
                self.seen.setdefault(marker, now)
            self.cond.notify_all()

    def wanted_in(self, text):
        # markers look like pm-<run>-<n>; only the one being waited for matters,
        # but a late arrival of an earlier one must not be mistaken for it
        return [w for w in self.waiting if w in text]

    waiting = ()

    def wait(self, marker):
        end = time.monotonic() + DEADLINE_S
        with self.cond:
            while marker not in self.seen:
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)
            return self.seen.pop(marker)


def quantile(xs, q):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    rank = max(1, int(-(-q * len(xs) // 1)))  # nearest rank
    return xs[min(rank, len(xs)) - 1]


def serve(port, handler_note):
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(n, 1 << 20))
            handler_note(body.decode("utf-8", "replace"))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def webhook(port):
    count = [0]
    lock = threading.Lock()

    def note(_):
        with lock:
            count[0] += 1

    srv = serve(port, note)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait(3600)  # the bench is over long before; never outlive it by much
    srv.shutdown()
    print("webhook POSTs received: %d" % count[0], flush=True)


def run(post, arrivals, n, run_id):
    lat = []
    acc = []  # t0 -> answer read: what the server itself took to say yes
    lost = 0
    for i in range(WARMUP + n):
        marker = "pm-%s-%d-" % (run_id, i)  # trailing '-' so pm-x-1- never matches pm-x-10-
        arrivals.waiting = (marker,)
        t0 = time.monotonic()
        post(marker)
        ta = time.monotonic()
        t1 = arrivals.wait(marker)
        if i < WARMUP:
            continue  # also covers a subscriber not yet subscribed
        if t1 is None:
            lost += 1
        else:
            lat.append((t1 - t0) * 1000.0)
        acc.append((ta - t0) * 1000.0)
    print("%.3f %.3f %d %d %.3f" % (quantile(lat, 0.50), quantile(lat, 0.99), len(lat), lost,
                                    quantile(acc, 0.50)), flush=True)


def latency_am(am_port, hook_port, n):
    arrivals = Arrivals()
    srv = serve(hook_port, arrivals.note)
    conn = http.client.HTTPConnection("127.0.0.1", am_port, timeout=DEADLINE_S)
    run_id = str(os.getpid())

    def post(marker):
        body = json.dumps([{"labels": {"alertname": "PeerBench", "phase": "latency", "marker": marker},
                            "annotations": {"summary": "latency probe"}}])
        conn.request("POST", "/api/v2/alerts", body, {"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            sys.exit("alertmanager answered %d" % r.status)

    run(post, arrivals, n, run_id)
    srv.shutdown()


def latency_dawn(http_port, mqtt_port, n):
    arrivals = Arrivals()
    # stdbuf: mosquitto_sub's stdout is a pipe here; line-buffer it so each
    # message is handed over when it arrives, not when 4 KiB have gathered
    sub = subprocess.Popen(["stdbuf", "-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p", str(mqtt_port), "-q", "1",
                            "-t", "dawn/v1/#"], stdout=subprocess.PIPE, bufsize=0)

    def reader():
        for line in sub.stdout:
            arrivals.note(line.decode("utf-8", "replace"))

    threading.Thread(target=reader, daemon=True).start()
    time.sleep(0.5)  # mosquitto_sub has no "subscribed" signal; warm-up alerts cover the rest
    conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=DEADLINE_S)
    headers = {"Content-Type": "application/json", "Authorization": "Bearer " + os.environ["BENCH_TOKEN"]}
    run_id = str(os.getpid())

    def post(marker):
        body = json.dumps({"type": "batch", "area": "southampton", "summary": "Latency probe " + marker,
                           "sold_as": [marker + "x"], "adulterants": ["nitazene"], "source_ref": marker + "x"})
        conn.request("POST", "/v1/alerts", body, headers)
        r = conn.getresponse()
        r.read()
        if r.status != 201:
            sys.exit("dawnd answered %d" % r.status)

    try:
        run(post, arrivals, n, run_id)
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
