#!/usr/bin/python3
"""tests/gateway/sms_gateway.py as it is, but listening with a backlog of
GATEWAY_BACKLOG (default 4096) connections instead of socketserver's 5.

With 5, a client that opens hundreds of connections at once (dawnd with
sms max_in_flight = 1024) finds most of them in a full accept queue: the
kernel drops their handshake's last ACK, the client believes it is
connected, sends its request and hears nothing, and libcurl gives up after
15 s without a byte (CURLOPT_LOW_SPEED_TIME): a limit of the test gateway,
not of dawnd. Same arguments as sms_gateway.py.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "gateway"))
import sms_gateway  # noqa: E402

sms_gateway.Server.request_queue_size = int(os.environ.get("GATEWAY_BACKLOG", "4096"))
sys.argv[0] = "sms_gateway.py"
sys.exit(sms_gateway.main())
