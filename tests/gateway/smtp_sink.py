#!/usr/bin/python3
"""A test SMTP server for DAWN's integration tests, on Debian's aiosmtpd
(python3-aiosmtpd), run with /usr/bin/python3. STARTTLS (required) only with
--tls-cert and --tls-key; AUTH (PLAIN, LOGIN; over plaintext too: loopback only) with --auth.

Usage:
  smtp_sink.py [--host 127.0.0.1] [--port 0] --maildir DIR [--record FILE]
               [--ready-file FILE] [--fail-rcpt ADDR]... [--tempfail-first N]
               [--tempfail-rcpt ADDR]... [--tls-cert FILE --tls-key FILE] [--auth USER:PASSWORD]

Each accepted message is written to DIR as one file holding the raw message
(NNNNNN-<sha256 of Message-ID, 16 hex>.eml, written to a temporary name and
renamed, so a file that exists is complete), and one JSON line is appended
(and flushed) to --record:
  {"t", "stage": "DATA", "status": 250, "mail_from", "rcpt_tos", "message_id",
   "subject", "file"}
Refused attempts are recorded too, so filter on status == 250 to count deliveries:
  --fail-rcpt ADDR      RCPT TO:<ADDR> gets 550 (permanent); recorded with stage "RCPT"
  --tempfail-rcpt ADDR  RCPT TO:<ADDR> gets 450 (transient); recorded with stage "RCPT"
  --tempfail-first N    the first N DATA commands get 451 (transient); recorded with
                        stage "DATA", status 451, no file
  --auth USER:PASSWORD   AUTH is required and only this login is taken (535 for any
                        other, recorded with stage "AUTH", status 535)
Addresses compare case-insensitively. Prints "listening on HOST:PORT"; with
--ready-file writes the port there once listening. SIGTERM exits cleanly.
"""

import argparse
import asyncio
import email.parser
import email.policy
import hashlib
import json
import os
import signal
import sys
import time

try:
    from aiosmtpd.smtp import SMTP
except ImportError:
    sys.exit("smtp_sink.py needs aiosmtpd: apt-get install -y python3-aiosmtpd")


class Sink:
    def __init__(self, args):
        self.maildir = args.maildir
        self.record_file = open(args.record, "a", encoding="utf-8") if args.record else None
        self.fail_rcpt = {a.lower() for a in args.fail_rcpt}
        self.tempfail_rcpt = {a.lower() for a in args.tempfail_rcpt}
        self.tempfail_left = args.tempfail_first
        self.count = 0

    def record(self, **entry):
        if self.record_file is None:
            return
        self.record_file.write(json.dumps(dict(t=time.time(), **entry), ensure_ascii=False) + "\n")
        self.record_file.flush()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.fail_rcpt:
            self.record(stage="RCPT", status=550, mail_from=envelope.mail_from, rcpt_tos=[address],
                        message_id=None, subject=None)
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        if address.lower() in self.tempfail_rcpt:
            self.record(stage="RCPT", status=450, mail_from=envelope.mail_from, rcpt_tos=[address],
                        message_id=None, subject=None)
            return "450 4.2.0 <%s>: Recipient address rejected: try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        headers = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(raw, headersonly=True)
        message_id = headers.get("Message-ID")
        subject = headers.get("Subject")
        message_id = str(message_id).strip() if message_id is not None else None
        subject = str(subject) if subject is not None else None
        if self.tempfail_left > 0:
            self.tempfail_left -= 1
            self.record(stage="DATA", status=451, mail_from=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos),
                        message_id=message_id, subject=subject)
            return "451 4.3.0 Temporary failure, please try again"
        self.count += 1
        digest = hashlib.sha256((message_id or "").encode() or raw).hexdigest()[:16]
        name = "%06d-%s.eml" % (self.count, digest)
        tmp = os.path.join(self.maildir, ".tmp-" + name)
        with open(tmp, "wb") as f:
            f.write(raw)
        os.rename(tmp, os.path.join(self.maildir, name))
        self.record(stage="DATA", status=250, mail_from=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos),
                    message_id=message_id, subject=subject, file=name)
        return "250 2.0.0 OK: queued as %06d" % self.count


def write_ready_file(path, port):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, path)


def authenticator(sink, want):
    user, _, password = want.partition(":")

    def check(server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult, LoginPassword
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() \
            and auth_data.password == password.encode()
        if not ok:
            sink.record(stage="AUTH", status=535)
        # handled=False: aiosmtpd then answers 535 itself (handled=True would answer nothing)
        return AuthResult(success=ok, handled=False, auth_data=auth_data)
    return check


async def serve(args):
    sink = Sink(args)
    loop = asyncio.get_running_loop()
    extra = {}
    if args.tls_cert:
        # real STARTTLS, and nothing accepted before it (as a relay that requires TLS)
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        extra.update(tls_context=ctx, require_starttls=True)
    if args.auth:
        extra.update(auth_required=True, auth_require_tls=bool(args.tls_cert), authenticator=authenticator(sink, args.auth))
    server = await loop.create_server(
        lambda: SMTP(sink, hostname="dawn-test-sink", ident="DAWN test SMTP sink", enable_SMTPUTF8=True, **extra),
        host=args.host, port=args.port)
    port = server.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("listening on %s:%d" % (args.host, port), flush=True)
    if args.ready_file:
        write_ready_file(args.ready_file, port)
    await stop.wait()
    server.close()
    await server.wait_closed()
    if sink.record_file:
        sink.record_file.close()


def main():
    p = argparse.ArgumentParser(description="DAWN's test SMTP sink (aiosmtpd)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 = a free port (printed)")
    p.add_argument("--maildir", required=True, help="one file per accepted message")
    p.add_argument("--record", help="append one JSON line per message here")
    p.add_argument("--ready-file", help="write the port here once listening")
    p.add_argument("--fail-rcpt", action="append", default=[], metavar="ADDR", help="550 for this recipient")
    p.add_argument("--tempfail-rcpt", action="append", default=[], metavar="ADDR", help="450 for this recipient")
    p.add_argument("--tempfail-first", type=int, default=0, metavar="N", help="451 to the first N DATA commands")
    p.add_argument("--tls-cert", help="offer STARTTLS with this certificate (PEM; with --tls-key), and require it")
    p.add_argument("--tls-key", help="the certificate's private key (PEM)")
    p.add_argument("--auth", metavar="USER:PASSWORD", help="require AUTH with this login")
    args = p.parse_args()
    os.makedirs(args.maildir, exist_ok=True)
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
