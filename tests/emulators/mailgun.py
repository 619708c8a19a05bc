#!/usr/bin/env python3
"""A stand-in for Mailgun's messages API, for the tests and the benchmark (Python 3 stdlib only).

    python3 tests/emulators/mailgun.py PORT KEY DOMAIN [--state active|unverified] [--throttle N]
                                       [--delay MS]

Answers as Mailgun documents its API: every request needs HTTP Basic `api:KEY` (otherwise 401
`Forbidden`); `POST /v3/DOMAIN/messages.mime` takes multipart/form-data with the recipients in `to`
and the MIME message as the file field `message`, and answers 200
`{"id": "<…@DOMAIN>", "message": "Queued. Thank you."}`; a missing field, a message without From,
or a `to` that is not an address is a 400 with `{"message": …}`; another domain is a 404.
`GET /v3/domains/DOMAIN` returns `{"domain": {"name", "state", …}}`.

Scripted failures, chosen by recipient: an address containing `invalid` gets 400 "'to' parameter is
not a valid address"; one containing `throttle` gets 429 for the first N such calls (--throttle,
default 2); one containing `boom` gets 500 the first time.

--delay MS holds each answer that long after the message was accepted (a provider's latency: the
message is queued while its sender waits).

What it accepted is at `GET /_emulator/messages` ([{id (without <>), to, from, subject, size}]).
"""

import base64
import email.parser
import email.policy
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
KEY = sys.argv[2]
DOMAIN = sys.argv[3].lower()
ARGS = sys.argv[4:]
STATE_NAME = next((ARGS[i + 1] for i, a in enumerate(ARGS) if a == "--state"), "active")
THROTTLE = next((int(ARGS[i + 1]) for i, a in enumerate(ARGS) if a == "--throttle"), 2)
DELAY = next((int(ARGS[i + 1]) for i, a in enumerate(ARGS) if a == "--delay"), 0) / 1000

LOCK = threading.Lock()
ACCEPTED = []
STATE = {"n": 0, "throttled": 0, "boomed": set()}
AUTH = "Basic " + base64.b64encode(f"api:{KEY}".encode()).decode()


def form_fields(content_type, body):
    """{name: (bytes, filename)} of a multipart/form-data body, or None when it is not one."""
    if not content_type.startswith("multipart/form-data"):
        return None
    boundary = None
    for param in content_type.split(";")[1:]:
        k, _, v = param.strip().partition("=")
        if k.lower() == "boundary":
            boundary = v.strip('"')
    if not boundary:
        return None
    delimiter = b"--" + boundary.encode()
    if not body.startswith(delimiter):
        return None
    pieces = body.split(delimiter)
    if pieces[0] != b"" or not pieces[-1].startswith(b"--"):
        return None
    fields = {}
    for chunk in pieces[1:-1]:
        if not chunk.startswith(b"\r\n") or not chunk.endswith(b"\r\n"):
            return None
        head, sep, value = chunk[2:-2].partition(b"\r\n\r\n")
        if not sep:
            return None
        name = filename = None
        for line in head.decode("utf-8", "replace").split("\r\n"):
            k, _, v = line.partition(":")
            if k.strip().lower() == "content-disposition":
                for p in v.split(";")[1:]:
                    pk, _, pv = p.strip().partition("=")
                    if pk == "name":
                        name = pv.strip('"')
                    elif pk == "filename":
                        filename = pv.strip('"')
        if name is None:
            return None
        fields[name] = (value, filename)
    return fields


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The status line and headers go in one write and the body in another: without this, Nagle's
    # algorithm holds the body until the client's delayed ACK, 40 ms per answer.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def reply(self, status, value):
        body = value.encode() if isinstance(value, str) else json.dumps(value).encode()
        self.send_response(status)
        self.send_header(
            "Content-Type", "text/plain" if isinstance(value, str) else "application/json"
        )
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def authorized(self):
        if self.headers.get("Authorization") == AUTH:
            return True
        self.reply(401, "Forbidden")
        return False

    def do_GET(self):
        if self.path == "/_emulator/messages":
            with LOCK:
                return self.reply(200, ACCEPTED)
        if not self.authorized():
            return
        if self.path == f"/v3/domains/{DOMAIN}":
            return self.reply(
                200,
                {
                    "domain": {
                        "name": DOMAIN,
                        "state": STATE_NAME,
                        "type": "custom",
                        "spam_action": "disabled",
                    },
                    "receiving_dns_records": [],
                    "sending_dns_records": [],
                },
            )
        if self.path.startswith("/v3/domains/"):
            return self.reply(404, {"message": "Domain not found"})
        self.reply(404, {"message": "Not found"})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if not self.authorized():
            return
        parts = self.path.split("/")
        if len(parts) != 4 or parts[1] != "v3" or parts[3] != "messages.mime":
            return self.reply(404, {"message": "Not found"})
        if parts[2].lower() != DOMAIN:
            return self.reply(404, {"message": f"Domain not found: {parts[2]}"})
        fields = form_fields(self.headers.get("Content-Type", ""), body)
        if fields is None:
            return self.reply(400, {"message": "expected multipart/form-data"})
        if "to" not in fields:
            return self.reply(400, {"message": "to parameter is missing"})
        if "message" not in fields or fields["message"][1] is None:
            return self.reply(400, {"message": "message parameter is missing (a file)"})
        to = fields["to"][0].decode("utf-8", "replace").strip()
        mime = fields["message"][0]
        parsed = email.parser.BytesParser(policy=email.policy.default).parsebytes(mime, headersonly=True)
        if not parsed.get("From"):
            return self.reply(400, {"message": "the message has no From header"})
        if "@" not in to or "invalid" in to:
            return self.reply(
                400, {"message": "'to' parameter is not a valid address. please check documentation"}
            )
        with LOCK:
            if "throttle" in to and STATE["throttled"] < THROTTLE:
                STATE["throttled"] += 1
                return self.reply(429, {"message": "Too many requests"})
            if "boom" in to and to not in STATE["boomed"]:
                STATE["boomed"].add(to)
                return self.reply(500, {"message": "Internal Server Error"})
            STATE["n"] += 1
            mid = f"{time.strftime('%Y%m%d%H%M%S')}.{STATE['n']}.emulated@{DOMAIN}"
            ACCEPTED.append(
                {
                    "id": mid,
                    "to": to,
                    "from": str(parsed.get("From")),
                    "subject": str(parsed.get("Subject", "")),
                    "dkim": parsed.get("DKIM-Signature") is not None,
                    "list_unsubscribe": str(parsed.get("List-Unsubscribe", "")),
                    "size": len(mime),
                }
            )
        if DELAY:
            time.sleep(DELAY)
        self.reply(200, {"id": f"<{mid}>", "message": "Queued. Thank you."})


ThreadingHTTPServer.daemon_threads = True
# socketserver's default backlog is 5: a client opening many connections at once would see some
# handshakes stall for seconds in the kernel's retransmissions, which no real API does.
ThreadingHTTPServer.request_queue_size = 1024
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
