"""Hostile HTTP clients for test_hostile_http.sh (stdlib only; 127.0.0.1).

  slowloris PORT N SECONDS INTERVAL
      N clients, each opening a connection, sending a request line and
      then one header line every INTERVAL seconds, never the blank line.
      A client whose connection dawnd closes opens another after a short
      rest (as a real attacker would), until SECONDS have passed.
  idle PORT N SECONDS
      N connections that send nothing, held for at most SECONDS or until
      dawnd closes them; not reopened.

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


def main():
    mode, port, n, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 64), hard))
    if mode == "slowloris":
        asyncio.run(flood(port, n, seconds, float(sys.argv[5]), True))
    elif mode == "idle":
        asyncio.run(flood(port, n, seconds, 0, False))
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
