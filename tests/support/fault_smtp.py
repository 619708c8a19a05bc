"""An SMTP server (aiosmtpd) whose answers the send tests choose, to produce real protocol faults.

Each accepted message is stored as DIR/<n>-<recipient>.eml, prefixed with an X-Envelope-From line.
  --reject TEXT       recipients containing TEXT get "550 5.1.1" at RCPT
  --defer-once TEXT   recipients containing TEXT get "451 4.7.1" at RCPT the first time
  --refuse TEXT=REPLY recipients containing TEXT get REPLY (a whole SMTP reply line) at RCPT
  --drop-every N      every Nth message is stored, then the connection is cut before the reply
  --auth USER:PASS    AUTH is required (PLAIN/LOGIN, no TLS) and only these credentials pass
  --throttle DOMAIN:RATE  recipients at DOMAIN are accepted at RATE per second at most (a token
                      bucket holding one second's worth); beyond it, RCPT gets a provider's
                      throttling reply, alternately "451 4.7.650 … rate limited" and
                      "421 4.7.0 Try again later, closing connection" (which closes the connection)
  --stats FILE        appends "accept DOMAIN TIME" / "throttle DOMAIN TIME" per RCPT (UNIX time)
Prints "ready <port>" once listening; runs until killed.
"""
import argparse
import asyncio
import itertools
import os
import threading
import logging

logging.basicConfig(level=logging.DEBUG if os.environ.get("FAULT_SMTP_DEBUG") else logging.ERROR)

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--dir", required=True)
parser.add_argument("--reject", action="append", default=[])
parser.add_argument("--defer-once", action="append", default=[])
parser.add_argument("--refuse", action="append", default=[])
parser.add_argument("--drop-every", type=int, default=0)
parser.add_argument("--auth")
parser.add_argument("--throttle", action="append", default=[])
parser.add_argument("--stats")
# Real MTAs offer PIPELINING (RFC 2920); this server reads pipelined commands in order either way.
parser.add_argument("--no-pipelining", action="store_true")
args = parser.parse_args()

import time


class Bucket:
    def __init__(self, rate):
        self.rate = rate
        self.tokens = rate
        self.at = time.monotonic()

    def take(self):
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


buckets = {}
for t in args.throttle:
    domain, rate = t.rsplit(":", 1)
    buckets[domain.lower()] = Bucket(float(rate))
refusals = itertools.count()
stats = open(args.stats, "a", buffering=1) if args.stats else None


def record(what, domain):
    if stats:
        stats.write("%s %s %.4f\n" % (what, domain, time.time()))

counter = itertools.count(1)
lock = threading.Lock()
deferred = set()


class Handler:
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if args.no_pipelining:
            return responses
        return responses[:-1] + ["250-PIPELINING", responses[-1]]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        for rule in args.refuse:
            text, reply = rule.split("=", 1)
            if text in address:
                return reply
        if any(t in address for t in args.reject):
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        if any(t in address for t in args.defer_once) and address not in deferred:
            deferred.add(address)
            return "451 4.7.1 <%s>: Try again later" % address
        domain = address.rsplit("@", 1)[-1].lower()
        bucket = buckets.get(domain)
        if bucket and not bucket.take():
            record("throttle", domain)
            if next(refusals) % 2:
                # The reply goes out first, then the connection closes, as a provider's 421 does.
                asyncio.get_running_loop().call_later(0.05, server.transport.close)
                return "421 4.7.0 Try again later, closing connection."
            return "451 4.7.650 The mail server [127.0.0.1] has been temporarily rate limited due to IP reputation."
        record("accept", domain)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        with lock:
            n = next(counter)
        rcpt = envelope.rcpt_tos[0] if envelope.rcpt_tos else "none"
        path = os.path.join(args.dir, "%06d-%s.eml" % (n, rcpt))
        with open(path + ".tmp", "wb") as f:
            f.write(b"X-Envelope-From: <" + envelope.mail_from.encode() + b">\r\n")
            f.write(envelope.original_content)
        os.rename(path + ".tmp", path)
        if args.drop_every and n % args.drop_every == 0:
            server.transport.close()
            return "250 2.0.0 (connection already closed)"
        return "250 2.0.0 Ok: queued as %d" % n


def authenticator(server, session, envelope, mechanism, auth_data):
    user, password = args.auth.split(":", 1)
    ok = auth_data.login == user.encode() and auth_data.password == password.encode()
    return AuthResult(success=ok, handled=False)


kwargs = {}
if args.auth:
    kwargs = dict(authenticator=authenticator, auth_required=True, auth_require_tls=False)
controller = Controller(Handler(), hostname="127.0.0.1", port=args.port, **kwargs)
controller.start()
print("ready", args.port, flush=True)
threading.Event().wait()
