#!/usr/bin/python3
"""A test SMS gateway for DAWN's integration tests: speaks enough of GOV.UK
Notify and Twilio to exercise dawnd's senders, records every request, and
injects faults on request. Standard library only (Debian's /usr/bin/python3).

Usage:
  sms_gateway.py [--host 127.0.0.1] [--port 0] [--notify-key KEY]
                 [--twilio-sid SID --twilio-token TOKEN] [--record FILE]
                 [--ready-file FILE] [--rate-limit N] [--quiet]

APIs (what dawnd talks to):
  POST /v2/notifications/sms                          GOV.UK Notify, bearer JWT (HS256,
       iss = service id, iat within 30 s), JSON {phone_number, template_id,
       personalisation, reference}; 201 / 400 ValidationError / 403 AuthError / 429
  POST /2010-04-01/Accounts/{AccountSid}/Messages.json  Twilio, basic auth SID:TOKEN,
       form To, From|MessagingServiceSid, Body; 201 / 400 (21604 To, 21602 Body,
       21603 From) / 401 (20003) / 429 (20429)

Control (what the tests talk to; no auth, loopback only):
  GET    /_control/health     200 "ok"
  GET    /_control/requests   the recorded requests, a JSON array (?api=&to= filter)
  POST   /_control/faults     {"rules":[RULE...]} replaces the rules (?append=1 appends)
  GET    /_control/faults     the rules now, with the remaining "times"
  DELETE /_control/faults     clears the rules
  POST   /_control/rate-limit {"per_minute": N}  (0 = off; restarts the 60 s windows)

A RULE: {"match": {"api": "notify"|"twilio", "to": "+44...", "reference": "...",
                   "body_contains": "..."},          (all optional; {} matches all)
         "action": "status" | "delay" | "hang" | "reset" | "drip",
         "times": N,                                (absent = forever)
         "delay": S,                                (any action: sleep S seconds first)
         ...action parameters}
  status: "status": 500, "retry_after": "3" or an HTTP-date string,
          "retry_after_date": S (an HTTP-date S seconds from now, made when answering),
          "body": a string or a JSON value (default: the API's own error shape)
  delay:  "seconds": S, then answer normally
  hang:   read the request, never answer; the connection closes when the client gives
          up ("seconds": upper bound, default 600)
  reset:  read the request, then close with SO_LINGER 0 (a TCP RST, no response)
  drip:   the normal answer (or "status" as above), one byte every "interval" seconds
          (default 1.0)
Rules are tried in order; the first that matches and has times left wins. Faults apply
only to requests that passed authentication.

Record (--record FILE and /_control/requests): one JSON object per request, flushed:
  {"t", "api", "to", "body", "reference", "status", "fault", "status_callback"}
  status is null for hang and reset (no answer); fault is the action name or null.
  reference: Notify's "reference", else the Idempotency-Key, X-Idempotency-Key or
  I-Twilio-Idempotency-Token header. status_callback: Twilio's StatusCallback form
  parameter, else null.

Callbacks (the provider's side of /v1/callbacks/ in dawnd):
  POST   /_control/callbacks  SETTINGS replaces the settings (keys left out go back to
                              their defaults); 400 naming a bad key
  GET    /_control/callbacks  {"settings": SETTINGS, "pending": N, "sent": [SENT...]}
                              (?kind=&api=&reference=&to= filter "sent"); pending counts
                              receipts waiting or in flight
  DELETE /_control/callbacks  default settings, and forgets what was sent
  POST   /_control/inbound    {"api": "notify"|"twilio", "from": "+447700900123",
                               "body": "STOP", "to": "+447700900000" (optional)}
                              posts a received text to dawnd now and answers
                              {"status": dawnd's HTTP status or null, "body": its body text
                              or null, "error": null or why the connection failed};
                              409 if that API's inbound URL is not set
  SETTINGS: {"notify_status_url": URL, "notify_inbound_url": URL, "notify_token": TOKEN,
             "twilio_inbound_url": URL, "twilio_auth_token": TOKEN,
             "receipts": {"+447700900123": WORD, ...}, "default_receipt": WORD | null,
             "receipt_delay": S, "bad_signature": false}      (all optional; null = unset)
  WORD: delivered | permanent-failure | temporary-failure | technical-failure | sending
  Receipts: after answering a message 2xx (the normal answer, also after a delay or
  drip rule), the gateway sends a receipt from a background thread, receipt_delay
  seconds (default 0) after the answer, if WORD = receipts[to] or else default_receipt
  is not null (null: no receipts but for numbers listed):
    Notify: POST notify_status_url, JSON {"id" (the notification id of the 201),
      "reference", "to", "status": WORD, "created_at", "completed_at", "sent_at",
      "notification_type": "sms", "template_id", "template_version": 1},
      "Authorization: Bearer <notify_token>" (no header when notify_token is null).
      No notify_status_url: no receipt.
    Twilio: POST the message's own StatusCallback URL (none: no receipt), form
      MessageSid (the sid of the 201), SmsSid, AccountSid, From, To, MessageStatus,
      SmsStatus, ApiVersion=2010-04-01 (and ErrorCode 30005 for failed, 30003 for
      undelivered), X-Twilio-Signature computed with twilio_auth_token over the exact
      URL (no header when twilio_auth_token is null). WORD maps: delivered -> delivered,
      permanent-failure -> failed, temporary-failure and technical-failure ->
      undelivered, sending -> sent.
  Received texts (/_control/inbound):
    Notify: POST notify_inbound_url, JSON {"id", "source_number" (digits, no '+'),
      "destination_number" (digits), "message", "date_received"}, bearer notify_token.
    Twilio: POST twilio_inbound_url, signed form From, To, Body, MessageSid, AccountSid
      (--twilio-sid, or a made-up one).
  bad_signature: true signs every Twilio callback with the wrong token; for Notify, set
  a wrong notify_token.
  twilio_opt_out: true emulates Twilio's Advanced Opt-Out: a received text whose first
  word is a STOP word (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT), a START word
  (START, UNSTOP, YES) or HELP (HELP, INFO) is posted with OptOutType STOP/START/HELP, and
  STOP/START add the number to / remove it from the opted-out numbers. A message to an
  opted-out number is answered 400 with Twilio error 21610 ("Attempt to send to
  unsubscribed recipient"), whatever the setting.
  GET/POST /_control/twilio-optouts  {"numbers": [...]}: the opted-out numbers (POST
  replaces them). Times are "2026-11-23T18:23:51.000000Z" (UTC).
  SENT: {"t", "kind": "receipt"|"inbound", "api", "url", "status": dawnd's HTTP status
         or null (connection failed), "answer": dawnd's body text (at most 2000
         characters) or null, "error": null or why, "to", "reference" (receipts: the
         message's reference; Twilio: the ref= of its URL, else the idempotency
         reference), "receipt": the word sent (receipts), "from", "message" (inbound)}
  Callbacks are kept in memory only, not in --record.
"""

import argparse
import base64
import email.utils
import hashlib
import hmac
import http.client
import json
import math
import os
import re
import select
import signal
import socket
import struct
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

NOTIFY_BASE = "https://api.notifications.service.gov.uk"
TWILIO_PATH = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages\.json$")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
IDEMPOTENCY_HEADERS = ("Idempotency-Key", "X-Idempotency-Key", "I-Twilio-Idempotency-Token")
MATCH_KEYS = {"api", "to", "reference", "body_contains"}
ACTIONS = {"status", "delay", "hang", "reset", "drip"}
JWT_LEEWAY = 30  # seconds, Notify's rule
# receipt words (Notify's) and what Twilio calls them in MessageStatus
RECEIPT_WORDS = {"delivered": "delivered", "permanent-failure": "failed", "temporary-failure": "undelivered",
                 "technical-failure": "undelivered", "sending": "sent"}
TWILIO_ERROR_CODES = {"failed": "30005", "undelivered": "30003"}  # unknown destination, unreachable
CALLBACK_DEFAULTS = {"notify_status_url": None, "notify_inbound_url": None, "notify_token": None,
                     "twilio_inbound_url": None, "twilio_auth_token": None, "receipts": {},
                     "default_receipt": None, "receipt_delay": 0, "bad_signature": False,
                     "twilio_opt_out": False}
TWILIO_OPT_OUT_WORDS = {"STOP": ("stop", "stopall", "unsubscribe", "cancel", "end", "quit"),
                        "START": ("start", "unstop", "yes"), "HELP": ("help", "info")}
CALLBACK_TIMEOUT = 10  # seconds for one callback to dawnd
ANSWER_KEEP = 2000  # characters of dawnd's answer kept


class Config:
    def __init__(self, args):
        self.notify_service = None
        self.notify_secret = None
        if args.notify_key:
            key = args.notify_key.strip()
            if len(key) < 75 or key[-37] != "-" or key[-74] != "-" or not UUID_RE.match(key[-36:]) \
                    or not UUID_RE.match(key[-73:-37]):
                sys.exit("--notify-key must be {name}-{service uuid}-{secret uuid}")
            self.notify_secret = key[-36:]
            self.notify_service = key[-73:-37]
        self.twilio_sid = args.twilio_sid
        self.twilio_token = args.twilio_token


class State:
    """Everything shared between request threads, under one lock."""

    def __init__(self, record_path, rate_limit):
        self.lock = threading.Lock()
        self.rules = []
        self.requests = []
        self.rate_limit = rate_limit
        self.accepted = {"notify": [], "twilio": []}  # times of 2xx answers, per API
        self.record_file = open(record_path, "a", encoding="utf-8") if record_path else None
        self.stopping = threading.Event()
        self.callbacks = copy_settings(CALLBACK_DEFAULTS)
        self.sent = []  # callbacks made to dawnd, answered or failed
        self.pending = 0  # receipts scheduled and not yet answered
        self.twilio_optouts = set()  # numbers that opted out at "Twilio" (answered 21610)

    def record(self, api, to, body, reference, status, fault, status_callback=None):
        entry = {"t": time.time(), "api": api, "to": to, "body": body, "reference": reference,
                 "status": status, "fault": fault, "status_callback": status_callback}
        line = json.dumps(entry, ensure_ascii=False)
        with self.lock:
            self.requests.append(entry)
            if self.record_file:
                self.record_file.write(line + "\n")
                self.record_file.flush()

    def take_rule(self, req):
        """The first rule that matches and has times left; counts it down."""
        with self.lock:
            for rule in self.rules:
                if rule.get("times") is not None and rule["times"] <= 0:
                    continue
                if not rule_matches(rule.get("match") or {}, req):
                    continue
                if rule.get("times") is not None:
                    rule["times"] -= 1
                return dict(rule)
        return None

    def rate_check(self, api):
        """None if under the limit, else the Retry-After seconds."""
        with self.lock:
            if not self.rate_limit:
                return None
            now = time.monotonic()
            window = self.accepted[api]
            while window and window[0] <= now - 60:
                window.pop(0)
            if len(window) >= self.rate_limit:
                return max(1, math.ceil(window[0] + 60 - now))
            return None

    def rate_note(self, api):
        with self.lock:
            self.accepted[api].append(time.monotonic())


def copy_settings(settings):
    out = dict(settings)
    out["receipts"] = dict(settings["receipts"])
    return out


def validate_callbacks(doc):
    """The callback settings from a POST body, defaults filled in; ValueError names the key."""
    if not isinstance(doc, dict):
        raise ValueError("the settings must be a JSON object")
    unknown = set(doc) - set(CALLBACK_DEFAULTS)
    if unknown:
        raise ValueError("unknown key %s (known: %s)" % (sorted(unknown)[0], ", ".join(sorted(CALLBACK_DEFAULTS))))
    out = copy_settings(CALLBACK_DEFAULTS)
    for key in ("notify_status_url", "notify_inbound_url", "twilio_inbound_url"):
        url = doc.get(key)
        if url is not None and (not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https")
                                or not urlsplit(url).hostname):
            raise ValueError("%s: want an http:// or https:// URL, or null" % key)
        out[key] = url
    for key in ("notify_token", "twilio_auth_token"):
        if doc.get(key) is not None and not isinstance(doc[key], str):
            raise ValueError("%s: want a string or null" % key)
        out[key] = doc.get(key)
    receipts = doc.get("receipts") or {}
    if not isinstance(receipts, dict):
        raise ValueError("receipts: want an object {number: word}")
    for number, word in receipts.items():
        if word not in RECEIPT_WORDS:
            raise ValueError("receipts: %s: want one of %s" % (number, ", ".join(RECEIPT_WORDS)))
    out["receipts"] = dict(receipts)
    word = doc.get("default_receipt")
    if word is not None and word not in RECEIPT_WORDS:
        raise ValueError("default_receipt: want one of %s, or null" % ", ".join(RECEIPT_WORDS))
    out["default_receipt"] = word
    delay = doc.get("receipt_delay", 0)
    if delay is None:
        delay = 0
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not 0 <= delay <= 3600:
        raise ValueError("receipt_delay: want seconds, 0..3600")
    out["receipt_delay"] = delay
    bad = doc.get("bad_signature", False)
    if not isinstance(bad, bool):
        raise ValueError("bad_signature: want true or false")
    out["bad_signature"] = bad
    opt = doc.get("twilio_opt_out", False)
    if not isinstance(opt, bool):
        raise ValueError("twilio_opt_out: want true or false")
    out["twilio_opt_out"] = opt
    return out


def twilio_signature(token, url, params):
    """X-Twilio-Signature: base64(HMAC-SHA1(token, url + each name and value, sorted by name))."""
    data = url + "".join(k + v for k, v in sorted(params.items()))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def notify_time(t=None):
    t = time.time() if t is None else t
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1000000)


def post_to_dawnd(url, body, headers):
    """POSTs body (bytes) to url: (status or None, answer text or None, error or None).
    http.client, not urllib: no proxy from the environment, no redirects followed."""
    parts = urlsplit(url)
    conn_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    path = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    try:
        conn = conn_class(parts.hostname, parts.port, timeout=CALLBACK_TIMEOUT)
        try:
            conn.request("POST", path, body=body, headers=dict(headers, **{"User-Agent": "dawn-test-gateway/1"}))
            resp = conn.getresponse()
            answer = resp.read().decode("utf-8", "replace")[:ANSWER_KEEP]
            return resp.status, answer, None
        finally:
            conn.close()
    except (OSError, http.client.HTTPException, ValueError) as e:
        return None, None, "%s: %s" % (type(e).__name__, e)


def rule_matches(match, req):
    for key, want in match.items():
        if key == "body_contains":
            if want not in (req.get("body") or ""):
                return False
        elif req.get(key) != want:
            return False
    return True


def validate_rules(rules):
    if not isinstance(rules, list):
        raise ValueError("rules must be a list")
    out = []
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict):
            raise ValueError("rule %d is not an object" % i)
        action = rule.get("action")
        if action not in ACTIONS:
            raise ValueError("rule %d: action must be one of %s" % (i, ", ".join(sorted(ACTIONS))))
        match = rule.get("match") or {}
        if not isinstance(match, dict) or set(match) - MATCH_KEYS:
            raise ValueError("rule %d: match keys are %s" % (i, ", ".join(sorted(MATCH_KEYS))))
        if action == "status" and not isinstance(rule.get("status"), int):
            raise ValueError("rule %d: status needs an integer \"status\"" % i)
        times = rule.get("times")
        if times is not None and (not isinstance(times, int) or times < 0):
            raise ValueError("rule %d: times must be a non-negative integer" % i)
        out.append(dict(rule))
    return out


def b64url_decode(text):
    text = text.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url_encode(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def check_notify_jwt(cfg, header):
    """None if the Authorization header carries a valid Notify JWT, else the message."""
    if not header:
        return "Unauthorized: authentication token must be provided"
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return "Unauthorized: authentication bearer scheme must be used"
    if cfg.notify_secret is None:
        return "Invalid token: API key not found (gateway has no --notify-key)"
    parts = token.strip().split(".")
    if len(parts) != 3:
        return "Invalid token: signature, api token is not valid"
    try:
        head = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        sig = b64url_decode(parts[2])
    except (ValueError, TypeError):
        return "Invalid token: signature, api token is not valid"
    if not isinstance(head, dict) or head.get("alg") != "HS256":
        return "Invalid token: algorithm used is not HS256"
    if not isinstance(claims, dict):
        return "Invalid token: signature, api token is not valid"
    if "iss" not in claims:
        return "Invalid token: iss field not provided"
    if claims["iss"] != cfg.notify_service:
        return "Invalid token: service not found"
    expect = hmac.new(cfg.notify_secret.encode(), (parts[0] + "." + parts[1]).encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expect, sig):
        return "Invalid token: signature, api token not found"
    iat = claims.get("iat")
    if not isinstance(iat, (int, float)) or isinstance(iat, bool):
        return "Invalid token: iat field not provided"
    if abs(time.time() - iat) > JWT_LEEWAY:
        return "Error: Your system clock must be accurate to within 30 seconds"
    return None


def check_twilio_auth(cfg, header):
    if not header or cfg.twilio_sid is None:
        return False
    scheme, _, cred = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(cred.strip(), validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    ok_user = hmac.compare_digest(user.encode(), cfg.twilio_sid.encode())
    ok_pass = hmac.compare_digest(password.encode(), (cfg.twilio_token or "").encode())
    return ok_user and ok_pass


def notify_error(status, error, message):
    return {"errors": [{"error": error, "message": message}], "status_code": status}


def twilio_error(status, code, message):
    return {"code": code, "message": message, "more_info": "https://www.twilio.com/docs/errors/%d" % code,
            "status": status}


DEFAULT_ERRORS = {
    "notify": {
        400: ("BadRequestError", "Bad request"),
        403: ("AuthError", "Invalid token"),
        429: ("RateLimitError", "Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds"),
        500: ("Exception", "Internal server error"),
    },
    "twilio": {
        400: (21211, "Invalid 'To' Phone Number"),
        401: (20003, "Authenticate"),
        429: (20429, "Too Many Requests"),
        500: (20500, "Internal Server Error"),
        503: (20503, "Service Unavailable"),
    },
}


def default_error_body(api, status):
    if api == "notify":
        err, msg = DEFAULT_ERRORS["notify"].get(status, ("Exception", "Injected fault %d" % status))
        return notify_error(status, err, msg)
    code, msg = DEFAULT_ERRORS["twilio"].get(status, (20000 + status, "Injected fault %d" % status))
    return twilio_error(status, code, msg)


class Response:
    def __init__(self, status, body, headers=None):
        self.status = status
        if isinstance(body, (dict, list)):
            self.body = json.dumps(body).encode()
            self.ctype = "application/json"
        elif isinstance(body, bytes):
            self.body = body
            self.ctype = "application/octet-stream"
        else:
            self.body = str(body).encode()
            self.ctype = "text/plain; charset=utf-8"
        self.headers = list(headers or [])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as libcurl uses it
    server_version = "dawn-test-gateway/1"
    cfg = None
    state = None
    quiet = False

    def log_message(self, fmt, *args):
        if not self.quiet:
            sys.stderr.write("gateway: %s %s\n" % (self.address_string(), fmt % args))

    # -- plumbing --------------------------------------------------------

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def response_bytes(self, resp):
        lines = ["HTTP/1.1 %d %s" % (resp.status, self.responses.get(resp.status, ("Status",))[0]),
                 "Server: " + self.server_version,
                 "Date: " + self.date_time_string(),
                 "Content-Type: " + resp.ctype,
                 "Content-Length: %d" % len(resp.body)]
        lines += ["%s: %s" % h for h in resp.headers]
        if self.close_connection:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + resp.body

    def send(self, resp):
        self.log_request(resp.status, len(resp.body))
        self.wfile.write(self.response_bytes(resp))
        self.wfile.flush()

    def drip(self, resp, interval):
        self.log_request(resp.status, len(resp.body))
        self.close_connection = True
        data = self.response_bytes(resp)
        try:
            for i in range(len(data)):
                self.connection.sendall(data[i:i + 1])
                if self.state.stopping.wait(interval):
                    return
        except OSError:
            pass

    def hang(self, limit):
        """Never answer: wait until the client closes (or the limit, or shutdown)."""
        self.close_connection = True
        end = time.monotonic() + limit
        sock = self.connection
        while not self.state.stopping.is_set() and time.monotonic() < end:
            readable, _, _ = select.select([sock], [], [], 0.2)
            if readable:
                try:
                    if not sock.recv(65536):
                        return
                except OSError:
                    return

    def reset(self):
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.rfile.close()  # the makefile() holds the descriptor open otherwise
        self.connection.close()

    # -- dispatch --------------------------------------------------------

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_PUT(self):
        self.dispatch("PUT")

    def dispatch(self, method):
        url = urlsplit(self.path)
        try:
            body = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            self.send(Response(400, {"error": "bad request body"}))
            return
        if url.path.startswith("/_control/"):
            self.send(self.control(method, url, body))
            return
        if method == "POST" and url.path == "/v2/notifications/sms":
            self.api_request("notify", self.parse_notify(body))
            return
        m = TWILIO_PATH.match(url.path)
        if method == "POST" and m:
            self.api_request("twilio", self.parse_twilio(m.group(1), body))
            return
        self.send(Response(404, {"error": "no such resource: %s %s" % (method, url.path)}))

    # -- control ---------------------------------------------------------

    def control(self, method, url, body):
        st = self.state
        path = url.path
        query = parse_qs(url.query)
        if path == "/_control/health" and method == "GET":
            return Response(200, "ok")
        if path == "/_control/requests" and method == "GET":
            with st.lock:
                reqs = list(st.requests)
            for key in ("api", "to"):
                if key in query:
                    reqs = [r for r in reqs if r[key] == query[key][0]]
            return Response(200, reqs)
        if path == "/_control/faults":
            if method == "GET":
                with st.lock:
                    return Response(200, {"rules": st.rules})
            if method == "DELETE":
                with st.lock:
                    st.rules = []
                return Response(200, {"rules": []})
            if method in ("POST", "PUT"):
                try:
                    doc = json.loads(body or b"{}")
                    rules = validate_rules(doc.get("rules", []) if isinstance(doc, dict) else None)
                except ValueError as e:
                    return Response(400, {"error": str(e)})
                with st.lock:
                    if query.get("append", ["0"])[0] not in ("0", ""):
                        st.rules.extend(rules)
                    else:
                        st.rules = rules
                    return Response(200, {"rules": st.rules})
        if path == "/_control/callbacks":
            if method == "GET":
                with st.lock:
                    sent = list(st.sent)
                    doc = {"settings": copy_settings(st.callbacks), "pending": st.pending}
                for key in ("kind", "api", "reference", "to"):
                    if key in query:
                        sent = [x for x in sent if x.get(key) == query[key][0]]
                doc["sent"] = sent
                return Response(200, doc)
            if method == "DELETE":
                with st.lock:
                    st.callbacks = copy_settings(CALLBACK_DEFAULTS)
                    st.sent = []
                    return Response(200, {"settings": copy_settings(st.callbacks)})
            if method in ("POST", "PUT"):
                try:
                    settings = validate_callbacks(json.loads(body or b"{}"))
                except ValueError as e:
                    return Response(400, {"error": str(e)})
                with st.lock:
                    st.callbacks = settings
                    return Response(200, {"settings": copy_settings(settings)})
        if path == "/_control/twilio-optouts":
            if method in ("POST", "PUT"):
                try:
                    numbers = json.loads(body or b"{}").get("numbers", [])
                    if not isinstance(numbers, list) or not all(isinstance(n, str) for n in numbers):
                        raise ValueError
                except (ValueError, AttributeError):
                    return Response(400, {"error": "want {\"numbers\": [\"+44...\", ...]}"})
                with st.lock:
                    st.twilio_optouts = set(numbers)
            if method in ("GET", "POST", "PUT"):
                with st.lock:
                    return Response(200, {"numbers": sorted(st.twilio_optouts)})
        if path == "/_control/inbound" and method == "POST":
            return self.control_inbound(body)
        if path == "/_control/rate-limit" and method in ("POST", "PUT"):
            try:
                n = int(json.loads(body or b"{}").get("per_minute", 0))
            except (ValueError, AttributeError, TypeError):
                return Response(400, {"error": "want {\"per_minute\": N}"})
            with st.lock:
                st.rate_limit = max(0, n)
                st.accepted = {"notify": [], "twilio": []}
            return Response(200, {"per_minute": st.rate_limit})
        return Response(404, {"error": "no such control: %s %s" % (method, path)})

    # -- the two APIs ----------------------------------------------------

    def idempotency_header(self):
        for name in IDEMPOTENCY_HEADERS:
            if self.headers.get(name):
                return self.headers.get(name)
        return None

    def parse_notify(self, raw):
        """A dict: to, body, reference, auth_error (Response|None), invalid (Response|None),
        success (callable -> Response)."""
        req = {"api": "notify", "to": None, "body": None, "reference": self.idempotency_header(),
               "status_callback": None}
        err = check_notify_jwt(self.cfg, self.headers.get("Authorization"))
        req["auth_error"] = Response(403, notify_error(403, "AuthError", err)) if err else None
        req["invalid"] = None
        try:
            doc = json.loads(raw.decode("utf-8"))
            if not isinstance(doc, dict):
                raise ValueError
        except (ValueError, UnicodeDecodeError):
            req["invalid"] = Response(400, notify_error(400, "ValidationError", "Invalid JSON supplied in POST data"))
            return req
        pers = doc.get("personalisation")
        req["to"] = doc.get("phone_number")
        if doc.get("reference") is not None:
            req["reference"] = doc.get("reference")
        if isinstance(pers, dict) and "message" in pers:
            req["body"] = pers["message"] if isinstance(pers["message"], str) else json.dumps(pers["message"])
        elif pers is not None:
            req["body"] = json.dumps(pers, ensure_ascii=False, sort_keys=True)
        problems = []
        if not doc.get("phone_number"):
            problems.append("phone_number is a required property")
        elif not isinstance(doc["phone_number"], str):
            problems.append("phone_number %r is not of type string" % (doc["phone_number"],))
        tid = doc.get("template_id")
        if not tid:
            problems.append("template_id is a required property")
        elif not isinstance(tid, str) or not UUID_RE.match(tid):
            problems.append("template_id is not a valid UUID")
        if pers is not None and not isinstance(pers, dict):
            problems.append("personalisation %r is not of type object" % (pers,))
        ref = doc.get("reference")
        if ref is not None and not isinstance(ref, str):
            problems.append("reference %r is not of type string, null" % (ref,))
        if problems:
            req["invalid"] = Response(400, {"errors": [{"error": "ValidationError", "message": p} for p in problems],
                                            "status_code": 400})
            return req

        def success():
            nid = str(uuid.uuid4())
            req["accepted"] = {"id": nid, "template_id": tid, "reference": doc.get("reference"),
                               "created_at": time.time()}
            return Response(201, {
                "id": nid,
                "reference": doc.get("reference"),
                "content": {"body": req["body"] or "", "from_number": "GOVUK"},
                "uri": "%s/v2/notifications/%s" % (NOTIFY_BASE, nid),
                "template": {"id": tid, "version": 1,
                             "uri": "%s/services/%s/templates/%s" % (NOTIFY_BASE, self.cfg.notify_service, tid)},
                "scheduled_for": None,
            })
        req["success"] = success
        return req

    def parse_twilio(self, sid, raw):
        req = {"api": "twilio", "to": None, "body": None, "reference": self.idempotency_header(),
               "auth_error": None, "invalid": None, "status_callback": None}
        if not check_twilio_auth(self.cfg, self.headers.get("Authorization")):
            req["auth_error"] = Response(401, twilio_error(401, 20003, "Authenticate"),
                                         [("WWW-Authenticate", 'Basic realm="Twilio API"')])
        try:
            form = parse_qs(raw.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            form = {}
        field = lambda name: form.get(name, [None])[0]
        req["to"] = field("To")
        req["body"] = field("Body")
        req["status_callback"] = field("StatusCallback")
        if req["auth_error"] is None and sid != self.cfg.twilio_sid:
            req["invalid"] = Response(404, twilio_error(404, 20404, "The requested resource was not found"))
        elif not req["to"]:
            req["invalid"] = Response(400, twilio_error(400, 21604, "A 'To' phone number is required."))
        elif not req["body"]:
            req["invalid"] = Response(400, twilio_error(400, 21602, "Message body is required."))
        elif not field("From") and not field("MessagingServiceSid"):
            req["invalid"] = Response(400, twilio_error(400, 21603, "A 'From' phone number is required."))

        def success():
            msid = "SM" + uuid.uuid4().hex
            req["accepted"] = {"sid": msid, "account_sid": sid,
                               "from": field("From") or "+15005550006", "created_at": time.time()}
            return Response(201, {
                "sid": msid,
                "account_sid": sid,
                "to": req["to"],
                "from": field("From"),
                "messaging_service_sid": field("MessagingServiceSid"),
                "body": req["body"],
                "status": "queued",
                "num_segments": "1",
                "direction": "outbound-api",
                "api_version": "2010-04-01",
                "date_created": email.utils.formatdate(usegmt=True),
                "date_updated": email.utils.formatdate(usegmt=True),
                "date_sent": None,
                "error_code": None,
                "error_message": None,
                "price": None,
                "uri": "/2010-04-01/Accounts/%s/Messages/%s.json" % (sid, msid),
            })
        req["success"] = success
        return req

    def normal_answer(self, api, req):
        """The answer without faults (validation, rate limit, success)."""
        if req["invalid"]:
            return req["invalid"]
        if api == "twilio":
            with self.state.lock:
                unsubscribed = req["to"] in self.state.twilio_optouts
            if unsubscribed:
                return Response(400, twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"))
        wait = self.state.rate_check(api)
        if wait is not None:
            body = default_error_body(api, 429)
            if api == "notify":
                body = notify_error(429, "RateLimitError", "Exceeded rate limit for key type LIVE of %d requests per 60 seconds"
                                    % self.state.rate_limit)
            return Response(429, body, [("Retry-After", str(wait))])
        resp = req["success"]()
        self.state.rate_note(api)
        return resp

    def api_request(self, api, req):
        st = self.state
        rec = lambda status, fault: st.record(api, req["to"], req["body"], req["reference"], status, fault,
                                             req.get("status_callback"))
        if req["auth_error"]:
            rec(req["auth_error"].status, None)
            self.send(req["auth_error"])
            return
        rule = st.take_rule(req)
        if rule is None:
            resp = self.normal_answer(api, req)
            rec(resp.status, None)
            self.send(resp)
            self.schedule_receipt(api, req, resp)
            return
        action = rule["action"]
        if rule.get("delay"):
            st.stopping.wait(float(rule["delay"]))
        if action == "delay":
            st.stopping.wait(float(rule.get("seconds", 1)))
            resp = self.normal_answer(api, req)
            rec(resp.status, "delay")
            self.send(resp)
            self.schedule_receipt(api, req, resp)
        elif action == "hang":
            rec(None, "hang")
            self.log_message("hang %s", self.requestline)
            self.hang(float(rule.get("seconds", 600)))
        elif action == "reset":
            rec(None, "reset")
            self.log_message("reset %s", self.requestline)
            self.reset()
        else:  # status, drip
            if action == "status" or rule.get("status") is not None:
                resp = self.fault_response(api, rule)
            else:
                resp = self.normal_answer(api, req)
            rec(resp.status, action)
            if action == "drip":
                self.drip(resp, float(rule.get("interval", 1.0)))
            else:
                self.send(resp)
            self.schedule_receipt(api, req, resp)

    # -- callbacks to dawnd -----------------------------------------------

    def schedule_receipt(self, api, req, resp):
        """After a 2xx normal answer: the delivery receipt, from its own thread."""
        st = self.state
        if "accepted" not in req or not 200 <= resp.status < 300:
            return
        with st.lock:
            settings = copy_settings(st.callbacks)
        word = settings["receipts"].get(req["to"], settings["default_receipt"])
        if word is None:
            return
        if api == "notify":
            if not settings["notify_status_url"]:
                return
        elif not req.get("status_callback"):
            return
        with st.lock:
            st.pending += 1
        threading.Thread(target=self.send_receipt, args=(api, req, word, settings), daemon=True).start()

    def send_receipt(self, api, req, word, settings):
        st = self.state
        try:
            if settings["receipt_delay"] and st.stopping.wait(settings["receipt_delay"]):
                return
            acc = req["accepted"]
            if api == "notify":
                url = settings["notify_status_url"]
                now = notify_time()
                doc = {"id": acc["id"], "reference": acc["reference"], "to": req["to"], "status": word,
                       "created_at": notify_time(acc["created_at"]), "completed_at": now, "sent_at": now,
                       "notification_type": "sms", "template_id": acc["template_id"], "template_version": 1}
                headers = {"Content-Type": "application/json"}
                if settings["notify_token"] is not None:
                    headers["Authorization"] = "Bearer " + settings["notify_token"]
                body = json.dumps(doc).encode()
                reference = acc["reference"]
            else:
                url = req["status_callback"]
                status = RECEIPT_WORDS[word]
                params = {"MessageSid": acc["sid"], "SmsSid": acc["sid"], "AccountSid": acc["account_sid"],
                          "From": acc["from"], "To": req["to"] or "", "MessageStatus": status,
                          "SmsStatus": status, "ApiVersion": "2010-04-01"}
                if status in TWILIO_ERROR_CODES:
                    params["ErrorCode"] = TWILIO_ERROR_CODES[status]
                headers = self.twilio_headers(settings, url, params)
                body = urlencode(params).encode()
                ref = parse_qs(urlsplit(url).query).get("ref")
                reference = ref[0] if ref else req["reference"]
            status, answer, error = post_to_dawnd(url, body, headers)
            self.note_sent({"kind": "receipt", "api": api, "url": url, "status": status, "answer": answer,
                            "error": error, "to": req["to"], "reference": reference, "receipt": word})
        finally:
            with st.lock:
                st.pending -= 1

    def twilio_headers(self, settings, url, params):
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        token = settings["twilio_auth_token"]
        if token is not None:
            if settings["bad_signature"]:
                token = "wrong-" + token
            headers["X-Twilio-Signature"] = twilio_signature(token, url, params)
        return headers

    def note_sent(self, entry):
        entry = dict(entry, t=time.time())
        with self.state.lock:
            self.state.sent.append(entry)
        if not self.quiet:
            sys.stderr.write("gateway: %s %s to %s: %s\n" % (entry["api"], entry["kind"], entry["url"],
                                                             entry["status"] or entry["error"]))

    def control_inbound(self, raw):
        try:
            doc = json.loads(raw or b"{}")
            if not isinstance(doc, dict):
                raise ValueError("want a JSON object")
            api, sender, text = doc.get("api"), doc.get("from"), doc.get("body")
            to = doc.get("to", "+447700900000")
            if api not in ("notify", "twilio"):
                raise ValueError("api: want \"notify\" or \"twilio\"")
            if not isinstance(sender, str) or not sender:
                raise ValueError("from: want a phone number")
            if not isinstance(text, str):
                raise ValueError("body: want the text")
            if not isinstance(to, str):
                raise ValueError("to: want a phone number")
        except ValueError as e:
            return Response(400, {"error": str(e)})
        with self.state.lock:
            settings = copy_settings(self.state.callbacks)
        if api == "notify":
            url = settings["notify_inbound_url"]
            if not url:
                return Response(409, {"error": "notify_inbound_url is not set (POST /_control/callbacks)"})
            body = json.dumps({"id": str(uuid.uuid4()), "source_number": sender.lstrip("+"),
                               "destination_number": to.lstrip("+"), "message": text,
                               "date_received": notify_time()}).encode()
            headers = {"Content-Type": "application/json"}
            if settings["notify_token"] is not None:
                headers["Authorization"] = "Bearer " + settings["notify_token"]
        else:
            url = settings["twilio_inbound_url"]
            if not url:
                return Response(409, {"error": "twilio_inbound_url is not set (POST /_control/callbacks)"})
            params = {"From": sender, "To": to, "Body": text, "MessageSid": "SM" + uuid.uuid4().hex,
                      "AccountSid": self.cfg.twilio_sid or "AC" + "0" * 32}
            if settings["twilio_opt_out"]:
                word = (re.findall(r"[A-Za-z]+", text) or [""])[0].lower()
                for kind, words in TWILIO_OPT_OUT_WORDS.items():
                    if word in words:
                        params["OptOutType"] = kind
                        with self.state.lock:
                            if kind == "STOP":
                                self.state.twilio_optouts.add(sender)
                            elif kind == "START":
                                self.state.twilio_optouts.discard(sender)
            headers = self.twilio_headers(settings, url, params)
            body = urlencode(params).encode()
        status, answer, error = post_to_dawnd(url, body, headers)
        self.note_sent({"kind": "inbound", "api": api, "url": url, "status": status, "answer": answer,
                        "error": error, "from": sender, "to": to, "message": text})
        return Response(200, {"status": status, "body": answer, "error": error})

    def fault_response(self, api, rule):
        status = int(rule["status"])
        body = rule.get("body")
        if body is None:
            body = default_error_body(api, status)
        headers = []
        if rule.get("retry_after") is not None:
            headers.append(("Retry-After", str(rule["retry_after"])))
        elif rule.get("retry_after_date") is not None:
            headers.append(("Retry-After",
                            email.utils.formatdate(time.time() + float(rule["retry_after_date"]), usegmt=True)))
        return Response(status, body, headers)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default listen backlog is 5: dawnd opens up to max_in_flight connections
    # at once, and a real gateway would not refuse them
    request_queue_size = 1024
    tls = None  # an ssl.SSLContext with --tls-cert: HTTPS instead of HTTP

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.tls is not None:
            # the handshake happens on the handler's first read, in its own thread
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        # a client that went away (reset, timeout) is normal here
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, BrokenPipeError, TimeoutError, OSError)):
            return
        super().handle_error(request, client_address)


def write_ready_file(path, port):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, path)


def main():
    p = argparse.ArgumentParser(description="DAWN's test SMS gateway (GOV.UK Notify and Twilio)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 = a free port (printed)")
    p.add_argument("--notify-key", help="the full Notify API key {name}-{service uuid}-{secret uuid}")
    p.add_argument("--twilio-sid")
    p.add_argument("--twilio-token")
    p.add_argument("--record", help="append one JSON line per request here")
    p.add_argument("--ready-file", help="write the port here once listening")
    p.add_argument("--rate-limit", type=int, default=0, help="accepted requests per minute per API (0 = off)")
    p.add_argument("--quiet", action="store_true", help="no per-request log on stderr")
    p.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM; with --tls-key)")
    p.add_argument("--tls-key", help="the certificate's private key (PEM)")
    args = p.parse_args()

    Handler.cfg = Config(args)
    Handler.state = State(args.record, args.rate_limit)
    Handler.quiet = args.quiet
    server = Server((args.host, args.port), Handler)
    if args.tls_cert:
        import ssl
        server.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.tls.load_cert_chain(args.tls_cert, args.tls_key)
    port = server.server_address[1]

    def on_term(signum, frame):
        Handler.state.stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    print("listening on %s:%d" % (args.host, port), flush=True)
    if args.ready_file:
        write_ready_file(args.ready_file, port)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        if Handler.state.record_file:
            Handler.state.record_file.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
