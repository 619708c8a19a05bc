"""An SMTP server (aiosmtpd) whose answers the send tests choose, to produce real protocol faults.

Each accepted message is stored as DIR/<n>-<recipient>.eml, prefixed with an X-Envelope-From line.
  --reject TEXT       recipients containing TEXT get "550 5.1.1" at RCPT
  --defer-once TEXT   recipients containing TEXT get "451 4.7.1" at RCPT the first time
  --drop-every N      every Nth message is stored, then the connection is cut before the reply
  --auth USER:PASS    AUTH is required (PLAIN/LOGIN, no TLS) and only these credentials pass
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
parser.add_argument("--drop-every", type=int, default=0)
parser.add_argument("--auth")
args = parser.parse_args()

counter = itertools.count(1)
lock = threading.Lock()
deferred = set()


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if any(t in address for t in args.reject):
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        if any(t in address for t in args.defer_once) and address not in deferred:
            deferred.add(address)
            return "451 4.7.1 <%s>: Try again later" % address
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
