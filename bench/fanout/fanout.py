#!/usr/bin/python3
"""Helpers of bench/fanout.sh (standard library only).

  fanout.py config CHANNEL N OUT key=value...
        dawn.conf with N subscribers in southampton, each with only CHANNEL
        (mqtt | sms | email); keys: state, socket, mqtt_port, gw_port,
        smtp_port, key_file, template, rate, in_flight
  fanout.py wait jsonl FILE STATUS N RESULT TIMEOUT
        follows a peer's record file (one JSON object a line, with "t" and
        "status") until N distinct deliveries (by "reference" or
        "message_id") have that status; writes
        "count first_t last_t" to RESULT (also on timeout, with what it saw)
  fanout.py wait mqtt FILE PATTERN N RESULT TIMEOUT
        the same over mosquitto_sub -F '%U %t' output: lines whose topic
        contains PATTERN
  fanout.py wait smtpsink N RESULT TIMEOUT < smtp-sink -c output
        smtp-sink's running counters ("sess=S quit=Q mesg=M\\r"): the time
        mesg reached N; then keeps reading until EOF (smtp-sink must not
        meet a closed pipe)
  fanout.py window FILE SECONDS
        over every request in a record file: the most in any half-open
        window of SECONDS; "max total first_t last_t status=count,..."
  fanout.py jwt KEY
        a GOV.UK Notify bearer token (HS256, iss = service id, iat = now)
  fanout.py notify-body FILE TEMPLATE OUT
        a Notify request body like the first one dawnd sent (FILE: record)
  fanout.py status FILE CHANNEL
        from `dawnctl --json status`: "delivered failed retried other_states"
  fanout.py epoll < perf script output of syscalls:sys_exit_epoll_wait
        how many epoll_wait calls, descriptors returned, per call, most
"""
import base64
import collections
import hashlib
import hmac
import json
import os
import re
import sys
import time


def config(channel, n, out, kv):
    lines = []
    lines.append('daemon = { state_dir = "%s"; control_socket = "%s"; control_socket_mode = "0600"; '
                 'timezone = "UTC"; };' % (kv["state"], kv["socket"]))
    lines.append("areas = { pan-hampshire = { southampton = {}; portsmouth = {}; }; };")
    rate = kv.get("rate", "0")
    inflight = kv.get("in_flight")
    lim = lambda ch: 'rate_per_minute = %s; max_in_flight = %s;' % (rate if ch == channel else "0",
                                                                      inflight if ch == channel else
                                                                      {"mqtt": 1024, "sms": 32, "email": 8}[ch])
    lines.append("channels = {")
    lines.append('  mqtt = { host = "127.0.0.1"; port = %s; %s };' % (kv["mqtt_port"], lim("mqtt")))
    if channel == "sms":
        lines.append('  sms = { provider = "notify"; base_url = "http://127.0.0.1:%s"; api_key_file = "%s"; '
                     'template_id = "%s"; %s };'
                     % (kv["gw_port"], kv["key_file"], kv["template"], lim("sms")))
    if channel == "email":
        lines.append('  email = { url = "smtp://127.0.0.1:%s"; from = "alerts@dawn.example"; tls = "none"; %s };'
                     % (kv["smtp_port"], lim("email")))
    lines.append("};")
    lines.append("subscribers = (")
    subs = []
    for i in range(n):
        if channel == "mqtt":
            how = "mqtt = true;"
        elif channel == "sms":
            how = 'sms = [ "+447000%06d" ];' % i
        else:
            how = 'email = [ "site%05d@example.org" ];' % i
        subs.append('  { id = "site-%05d"; kind = "pharmacy"; area = "southampton"; %s }' % (i, how))
    lines.append(",\n".join(subs))
    lines.append(");")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


def write_result(path, count, first, last):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d %.6f %.6f\n" % (count, first or 0, last or 0))
    os.rename(tmp, path)


def follow(path, deadline):
    """Complete lines of a growing file, until the deadline (then None)."""
    while not os.path.exists(path):
        if time.time() > deadline:
            yield None
            return
        time.sleep(0.005)
    with open(path, "rb") as f:
        part = b""
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                if time.time() > deadline:
                    yield None
                    return
                time.sleep(0.005)
                continue
            part += chunk
            *lines, part = part.split(b"\n")
            for line in lines:
                yield line


def wait_jsonl(path, status, n, result, timeout):
    """Distinct deliveries: a request answered after dawnd gave up on it is
    sent again with the same reference (SMS) or Message-ID (email); the
    peer's N-th distinct one is the time that counts."""
    seen, first, last = set(), None, None
    want = int(status)
    for line in follow(path, time.time() + timeout):
        if line is None:
            break
        if not line.strip():
            continue
        r = json.loads(line)
        if r.get("status") != want:
            continue
        key = r.get("reference") or r.get("message_id") or line
        if key in seen:
            continue
        seen.add(key)
        t = r["t"]
        first = t if first is None or t < first else first
        last = t if last is None or t > last else last
        if len(seen) >= n:
            break
    write_result(result, len(seen), first, last)
    return 0 if len(seen) >= n else 1


def wait_mqtt(path, pattern, n, result, timeout):
    count, first, last = 0, None, None
    pat = pattern.encode()
    for line in follow(path, time.time() + timeout):
        if line is None:
            break
        stamp, _, topic = line.partition(b" ")
        if pat not in topic:
            continue
        t = float(stamp)
        count += 1
        first = t if first is None else first
        last = t
        if count >= n:
            break
    write_result(result, count, first, last)
    return 0 if count >= n else 1


def wait_smtpsink(n, result, timeout):
    """smtp-sink -c writes "sess=S quit=Q mesg=M" and a CR after every event."""
    deadline = time.time() + timeout
    fd = sys.stdin.fileno()
    os.set_blocking(fd, True)
    part, done, first = b"", False, None
    mesg = 0
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        now = time.time()
        part += chunk
        *recs, part = re.split(rb"[\r\n]", part)
        for rec in recs:
            m = re.search(rb"mesg=(\d+)", rec)
            if not m:
                continue
            mesg = int(m.group(1))
            if mesg >= 1 and first is None:
                first = now
            if not done and mesg >= n:
                write_result(result, mesg, first, now)
                done = True
        if not done and now > deadline:
            write_result(result, mesg, first, now)
            done = True
    if not done:
        write_result(result, mesg, first, time.time())
    return 0


def window(path, seconds):
    seconds = float(seconds)
    ts, statuses = [], collections.Counter()
    with open(path) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                ts.append(r["t"])
                statuses[str(r.get("status"))] += 1
    ts.sort()
    best, j = 0, 0
    for i in range(len(ts)):
        while ts[i] - ts[j] >= seconds:
            j += 1
        best = max(best, i - j + 1)
    print("%d %d %.6f %.6f %s" % (best, len(ts), ts[0] if ts else 0, ts[-1] if ts else 0,
                                  ",".join("%s=%d" % kv for kv in sorted(statuses.items()))))


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(key):
    key = key.strip()
    secret, service = key[-36:], key[-73:-37]
    head = b64url(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
    claims = b64url(json.dumps({"iss": service, "iat": int(time.time())}).encode())
    sig = hmac.new(secret.encode(), (head + "." + claims).encode(), hashlib.sha256).digest()
    print(head + "." + claims + "." + b64url(sig))


def notify_body(record, template, out):
    with open(record) as f:
        r = json.loads(f.readline())
    body = {"phone_number": r["to"], "template_id": template, "personalisation": {"message": r["body"]},
            "reference": r["reference"]}
    with open(out, "w") as f:
        json.dump(body, f)


def status(path, channel):
    with open(path) as f:
        s = json.load(f)
    s = s.get("status", s) if isinstance(s.get("status"), dict) else s
    ch = s.get("channels", {}).get(channel, {})
    q = s.get("deliveries", {}).get(channel, {})
    others = ",".join("%s=%d" % (k, v) for k, v in sorted(q.items()) if k != "delivered") or "-"
    print("%d %d %d %d %s" % (q.get("delivered", 0), ch.get("failed_since_start", 0),
                              ch.get("retried_since_start", 0), ch.get("delivered_since_start", 0), others))


def epoll():
    calls = events = most = 0
    for line in sys.stdin:
        m = re.search(r"sys_exit_epoll_wait: (0x[0-9a-f]+)", line)
        if not m:
            continue
        n = int(m.group(1), 16)
        if n > 1 << 31:
            continue  # an error (EINTR), as an unsigned number
        calls += 1
        events += n
        most = max(most, n)
    print("epoll_wait: %d calls returned %d ready descriptors, %.1f a call, at most %d"
          % (calls, events, events / max(calls, 1), most))


def main(argv):
    cmd = argv[1]
    if cmd == "config":
        kv = dict(a.split("=", 1) for a in argv[5:])
        config(argv[2], int(argv[3]), argv[4], kv)
        return 0
    if cmd == "wait":
        kind = argv[2]
        if kind == "jsonl":
            return wait_jsonl(argv[3], argv[4], int(argv[5]), argv[6], float(argv[7]))
        if kind == "mqtt":
            return wait_mqtt(argv[3], argv[4], int(argv[5]), argv[6], float(argv[7]))
        if kind == "smtpsink":
            return wait_smtpsink(int(argv[3]), argv[4], float(argv[5]))
    if cmd == "window":
        window(argv[2], argv[3])
        return 0
    if cmd == "jwt":
        jwt(argv[2])
        return 0
    if cmd == "notify-body":
        notify_body(argv[2], argv[3], argv[4])
        return 0
    if cmd == "epoll":
        epoll()
        return 0
    if cmd == "status":
        status(argv[2], argv[3])
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
