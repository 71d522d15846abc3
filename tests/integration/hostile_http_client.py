"""Hostile HTTP clients for test_hostile_http.sh (stdlib only; 127.0.0.1).

  slowloris PORT N SECONDS INTERVAL
      N clients, each opening a connection, sending a request line and
      then one header line every INTERVAL seconds, never the blank line.
      A client whose connection dawnd closes opens another after a short
      rest (as a real attacker would), until SECONDS have passed.
  idle PORT N SECONDS
      N connections that send nothing, held for at most SECONDS or until
      dawnd closes them; not reopened.
  churn PORT N SECONDS KEEP
      Opens idle connections (sending nothing) as fast as it can, at most
      N of them and for at most SECONDS, keeping at most KEEP open (closing
      its oldest). Prints how many it opened and how many a second.
  trickle PORT TOKEN SECONDS SOURCE_REF
      A partner on a slow uplink: POSTs one report whose headers go at
      once and whose ~3 kB body arrives in 10 pieces over SECONDS. Prints
      the answer's status line and body (or the error).
  slowheaders PORT GAP
      A client on a slow link: GET /healthz's request line, GAP seconds,
      then the rest of the headers. Prints the status line (or the error).

Both print one JSON line: connections opened, closed by dawnd, still open
at the end ("held"), and how long the closed ones lasted (min/max, s).
Every loop is bounded by N and SECONDS.
"""
import asyncio
import json
import resource
import sys
import time

REST_AFTER_CUT = 0.25  # seconds a slowloris client waits before reconnecting


def new_stats():
    return {"opened": 0, "refused": 0, "closed": 0, "held": 0, "lasted": []}


async def connection(port, deadline, interval, slow, stats):
    """One connection until dawnd closes it (True) or the deadline (False)."""
    start = time.monotonic()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        stats["refused"] += 1
        await asyncio.sleep(REST_AFTER_CUT)
        return True
    stats["opened"] += 1
    closed = False
    try:
        if slow:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            await writer.drain()
        i = 0
        while time.monotonic() < deadline:
            wait = min(interval if slow else 3600, deadline - time.monotonic())
            try:
                data = await asyncio.wait_for(reader.read(4096), timeout=max(0.01, wait))
                if not data:
                    closed = True
                    break
                continue
            except asyncio.TimeoutError:
                pass
            if slow and time.monotonic() < deadline:
                i += 1
                writer.write(b"X-Slow-%d: still sending\r\n" % i)
                await writer.drain()
    except (ConnectionError, OSError):
        closed = True
    if closed:
        stats["closed"] += 1
        stats["lasted"].append(time.monotonic() - start)
    else:
        stats["held"] += 1
    writer.close()
    return closed


async def client(port, deadline, interval, slow, again, stats):
    while time.monotonic() < deadline:
        if not await connection(port, deadline, interval, slow, stats) or not again:
            return
        await asyncio.sleep(REST_AFTER_CUT)


async def flood(port, n, seconds, interval, slow):
    stats = new_stats()
    deadline = time.monotonic() + seconds
    tasks = []
    for i in range(n):
        tasks.append(asyncio.create_task(client(port, deadline, interval, slow, slow, stats)))
        if i % 100 == 99:
            await asyncio.sleep(0.02)  # a listening socket's backlog is finite
    await asyncio.gather(*tasks)
    lasted = stats.pop("lasted")
    stats["lasted_min"] = round(min(lasted), 2) if lasted else None
    stats["lasted_max"] = round(max(lasted), 2) if lasted else None
    print(json.dumps(stats), flush=True)


def churn(port, n, seconds, keep):
    import collections
    import socket
    opened, held = 0, collections.deque()
    start = time.monotonic()
    while opened < n and time.monotonic() - start < seconds:
        try:
            held.append(socket.create_connection(("127.0.0.1", port), timeout=1))
            opened += 1
        except OSError:
            time.sleep(0.001)
        while len(held) > keep:
            held.popleft().close()
    took = time.monotonic() - start
    for s in held:
        s.close()
    print(json.dumps({"opened": opened, "per_second": int(opened / max(took, 0.001))}), flush=True)


def answer_of(s):
    """The status line and body of the answer on s (read until dawnd closes)."""
    out = b""
    while len(out) < 65536:
        d = s.recv(4096)
        if not d:
            break
        out += d
    head, _, body = out.partition(b"\r\n\r\n")
    return (head.split(b"\r\n")[0] + b" " + body).decode(errors="replace")


def trickle(port, token, seconds, ref):
    import socket
    body = json.dumps({"type": "batch", "area": "southampton", "adulterants": ["bromazolam"],
                       "summary": "Reported over a slow uplink.", "source_ref": ref}).encode() + b" " * 3000
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"POST /v1/alerts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token.encode() +
                  b"\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: %d\r\n\r\n"
                  % len(body))
        step = len(body) // 10 + 1
        for i in range(0, len(body), step):
            time.sleep(seconds / 10)
            s.sendall(body[i:i + step])
        print(answer_of(s), flush=True)
    except OSError as e:
        print("failed:", e, flush=True)


def slowheaders(port, gap):
    import socket
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"GET /healthz HTTP/1.1\r\n")
        time.sleep(gap)
        s.sendall(b"Host: x\r\nConnection: close\r\n\r\n")
        print(answer_of(s), flush=True)
    except OSError as e:
        print("failed:", e, flush=True)


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "trickle":
        return trickle(port, sys.argv[3], float(sys.argv[4]), sys.argv[5])
    if mode == "slowheaders":
        return slowheaders(port, float(sys.argv[3]))
    n, seconds = int(sys.argv[3]), float(sys.argv[4])
    if mode == "churn":
        n_open = int(sys.argv[5])
    else:
        n_open = n
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n_open + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n_open + 64), hard))
    if mode == "slowloris":
        asyncio.run(flood(port, n, seconds, float(sys.argv[5]), True))
    elif mode == "idle":
        asyncio.run(flood(port, n, seconds, 0, False))
    elif mode == "churn":
        churn(port, n, seconds, n_open)
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
