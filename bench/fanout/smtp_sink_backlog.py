#!/usr/bin/python3
"""tests/gateway/smtp_sink.py as it is, but listening with a backlog of
SINK_BACKLOG (default 4096) connections instead of asyncio's 100.

With 100, dawnd's 256 connections at once (email max_in_flight = 256)
can overflow the accept queue while the sink is busy: the kernel drops
their handshake's last ACK and libcurl gives up on them after its 15 s
connect timeout ("Operation timed out ... with 0 bytes received"), a
limit of the test sink, not of dawnd. Same arguments as smtp_sink.py.
"""
import asyncio.base_events
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "gateway"))

BACKLOG = int(os.environ.get("SINK_BACKLOG", "4096"))
_create_server = asyncio.base_events.BaseEventLoop.create_server


async def create_server(self, *args, **kwargs):
    kwargs.setdefault("backlog", BACKLOG)
    return await _create_server(self, *args, **kwargs)


asyncio.base_events.BaseEventLoop.create_server = create_server

import smtp_sink  # noqa: E402

sys.argv[0] = "smtp_sink.py"
sys.exit(smtp_sink.main())
