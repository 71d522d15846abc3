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
  {"t", "api", "to", "body", "reference", "status", "fault"}
  status is null for hang and reset (no answer); fault is the action name or null.
  reference: Notify's "reference", else the Idempotency-Key, X-Idempotency-Key or
  I-Twilio-Idempotency-Token header.
"""

import argparse
import base64
import email.utils
import hashlib
import hmac
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
from urllib.parse import parse_qs, urlsplit

NOTIFY_BASE = "https://api.notifications.service.gov.uk"
TWILIO_PATH = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages\.json$")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
IDEMPOTENCY_HEADERS = ("Idempotency-Key", "X-Idempotency-Key", "I-Twilio-Idempotency-Token")
MATCH_KEYS = {"api", "to", "reference", "body_contains"}
ACTIONS = {"status", "delay", "hang", "reset", "drip"}
JWT_LEEWAY = 30  # seconds, Notify's rule


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

    def record(self, api, to, body, reference, status, fault):
        entry = {"t": time.time(), "api": api, "to": to, "body": body, "reference": reference,
                 "status": status, "fault": fault}
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
        req = {"api": "notify", "to": None, "body": None, "reference": self.idempotency_header()}
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
               "auth_error": None, "invalid": None}
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
        rec = lambda status, fault: st.record(api, req["to"], req["body"], req["reference"], status, fault)
        if req["auth_error"]:
            rec(req["auth_error"].status, None)
            self.send(req["auth_error"])
            return
        rule = st.take_rule(req)
        if rule is None:
            resp = self.normal_answer(api, req)
            rec(resp.status, None)
            self.send(resp)
            return
        action = rule["action"]
        if rule.get("delay"):
            st.stopping.wait(float(rule["delay"]))
        if action == "delay":
            st.stopping.wait(float(rule.get("seconds", 1)))
            resp = self.normal_answer(api, req)
            rec(resp.status, "delay")
            self.send(resp)
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
    args = p.parse_args()

    Handler.cfg = Config(args)
    Handler.state = State(args.record, args.rate_limit)
    Handler.quiet = args.quiet
    server = Server((args.host, args.port), Handler)
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
