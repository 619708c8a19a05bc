#!/usr/bin/env python3
"""A stand-in for Postmark's email API, for the tests and the benchmark (Python 3 stdlib only).

    python3 tests/emulators/postmark.py PORT TOKEN [--sender DOMAIN]... [--throttle N] [--pending]
                                        [--delay MS]

Answers as Postmark documents its API (developer docs: API overview, Email API, batch emails):
every request needs `X-Postmark-Server-Token: TOKEN` (otherwise HTTP 401, ErrorCode 10);
`POST /email/batch` takes a JSON array of at most 500 messages (`Content-Type` and `Accept`
application/json) and answers one `{ErrorCode, Message, MessageID, SubmittedAt, To}` per message, in
order; a body that is not JSON, not an array or too long is refused as a whole with 422 and its
ErrorCode (402, 403, 410). Each message needs From (an address at a --sender domain, else ErrorCode
400), To, a TextBody or HtmlBody, and a MessageStream that exists (`broadcast`, `outbound`), and
Headers, when given, as [{Name, Value}] (else ErrorCode 300). `GET /server` describes the server.

Scripted failures, chosen by recipient: an address containing `inactive` gets ErrorCode 406; a
batch holding an address containing `throttle` gets HTTP 429 for the first N such batches
(--throttle, default 2); a batch holding an address containing `boom` gets HTTP 500 the first time
that address is seen. --pending answers ErrorCode 412 (account pending) for every message.
--delay MS holds each batch's answer that long after its messages were accepted (a provider's
latency: a client killed meanwhile never learns they went).

What it accepted is at `GET /_emulator/messages` ([{MessageID, To, From, Subject, Headers,
MessageStream}]) and the size of each batch call at `GET /_emulator/batches`.
"""

import datetime
import json
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
TOKEN = sys.argv[2]
ARGS = sys.argv[3:]
SENDERS = [ARGS[i + 1].lower() for i, a in enumerate(ARGS) if a == "--sender"] or [
    "this-week-in-rust.org"
]
THROTTLE = next((int(ARGS[i + 1]) for i, a in enumerate(ARGS) if a == "--throttle"), 2)
PENDING = "--pending" in ARGS
DELAY = next((int(ARGS[i + 1]) for i, a in enumerate(ARGS) if a == "--delay"), 0) / 1000
STREAMS = {"broadcast", "outbound"}

LOCK = threading.Lock()
ACCEPTED = []
BATCHES = []
STATE = {"throttled": 0, "boomed": set()}


def address(mailbox):
    """The address of `"Name" <a@b>` or of a bare address."""
    if "<" in mailbox and mailbox.rstrip().endswith(">"):
        return mailbox[mailbox.rindex("<") + 1 : mailbox.rindex(">")].strip()
    return mailbox.strip()


def check(message):
    """(ErrorCode, Message) for one message of a batch."""
    if not isinstance(message, dict):
        return 403, "Incompatible JSON input."
    for field in ("From", "To"):
        if not isinstance(message.get(field), str) or not message[field].strip():
            return 300, f"Invalid email request: '{field}' is required."
    if not (message.get("TextBody") or message.get("HtmlBody")):
        return 300, "Invalid email request: provide either email TextBody or HtmlBody or both."
    headers = message.get("Headers", [])
    if not isinstance(headers, list) or not all(
        isinstance(h, dict) and isinstance(h.get("Name"), str) and isinstance(h.get("Value"), str)
        for h in headers
    ):
        return 300, "Invalid email request: Headers must be a list of {Name, Value}."
    sender = address(message["From"])
    if "@" not in sender:
        return 300, f"Invalid 'From' address: '{message['From']}'."
    if sender.rsplit("@", 1)[1].lower() not in SENDERS:
        return 400, (
            f"The 'From' address you supplied ({sender}) is not a Sender Signature on your "
            "account. Please add and confirm this address in order to be able to use it in the "
            "'From' field of your messages."
        )
    stream = message.get("MessageStream", "outbound")
    if stream not in STREAMS:
        return 1235, f"The message stream for the provided 'ID' was not found: {stream}"
    to = message["To"]
    if "@" not in address(to) or "," in to:
        return 300, f"Invalid 'To' address: '{to}'."
    if PENDING:
        return 412, "Your account is pending approval: you can only send to your own domain."
    if "inactive" in to:
        return 406, (
            "You tried to send to recipient(s) that have been marked as inactive. Found inactive "
            f"addresses: {to}. Inactive recipients are ones that have generated a hard bounce, a "
            "spam complaint, or a manual suppression."
        )
    return 0, "OK"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The status line and headers go in one write and the body in another: without this, Nagle's
    # algorithm holds the body until the client's delayed ACK, 40 ms per answer.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def reply(self, status, value):
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def authorized(self):
        if self.headers.get("X-Postmark-Server-Token") == TOKEN:
            return True
        self.reply(
            401,
            {
                "ErrorCode": 10,
                "Message": "The Server Token you provided in the X-Postmark-Server-Token request "
                "header was invalid. Please verify that you are using a valid token.",
            },
        )
        return False

    def do_GET(self):
        if self.path == "/_emulator/messages":
            with LOCK:
                return self.reply(200, ACCEPTED)
        if self.path == "/_emulator/batches":
            with LOCK:
                return self.reply(200, BATCHES)
        if not self.authorized():
            return
        if self.path == "/server":
            return self.reply(
                200,
                {
                    "ID": 1,
                    "Name": "newsletter (emulated)",
                    "ApiTokens": [TOKEN],
                    "Color": "blue",
                    "SmtpApiActivated": True,
                    "DeliveryType": "Live",
                },
            )
        self.reply(404, {"ErrorCode": 404, "Message": "Not found."})

    def do_POST(self):
        raw = self.body()
        if not self.authorized():
            return
        if self.path != "/email/batch":
            return self.reply(404, {"ErrorCode": 404, "Message": "Not found."})
        if not self.headers.get("Content-Type", "").startswith("application/json") or not self.headers.get(
            "Accept", ""
        ).startswith("application/json"):
            return self.reply(
                415 if "json" not in self.headers.get("Content-Type", "") else 406,
                {"ErrorCode": 409, "Message": "JSON data required: send Content-Type and Accept application/json."},
            )
        try:
            batch = json.loads(raw)
        except ValueError:
            return self.reply(422, {"ErrorCode": 402, "Message": "Received invalid JSON input."})
        if not isinstance(batch, list):
            return self.reply(422, {"ErrorCode": 403, "Message": "Incompatible JSON input: a batch is an array."})
        if len(batch) > 500:
            return self.reply(
                422,
                {"ErrorCode": 410, "Message": "Too many batch messages: the batch limit is 500 messages."},
            )
        tos = [m.get("To", "") if isinstance(m, dict) else "" for m in batch]
        with LOCK:
            BATCHES.append(len(batch))
            if any("throttle" in t for t in tos) and STATE["throttled"] < THROTTLE:
                STATE["throttled"] += 1
                return self.reply(429, {"ErrorCode": 429, "Message": "Rate limit exceeded."})
            new_boom = [t for t in tos if "boom" in t and t not in STATE["boomed"]]
            if new_boom:
                STATE["boomed"].update(new_boom)
                return self.reply(500, {"ErrorCode": 500, "Message": "Internal server error."})
            answers = []
            now = datetime.datetime.now(datetime.timezone.utc).isoformat()
            for m in batch:
                code, text = check(m)
                if code:
                    answers.append({"ErrorCode": code, "Message": text, "To": m.get("To") if isinstance(m, dict) else None})
                    continue
                mid = str(uuid.uuid4())
                ACCEPTED.append(
                    {
                        "MessageID": mid,
                        "To": m["To"],
                        "From": m["From"],
                        "Subject": m.get("Subject", ""),
                        "Headers": m.get("Headers", []),
                        "MessageStream": m.get("MessageStream", "outbound"),
                        "HasText": bool(m.get("TextBody")),
                        "HasHtml": bool(m.get("HtmlBody")),
                    }
                )
                answers.append(
                    {"ErrorCode": 0, "Message": "OK", "MessageID": mid, "SubmittedAt": now, "To": m["To"]}
                )
        if DELAY:
            time.sleep(DELAY)
        self.reply(200, answers)


ThreadingHTTPServer.daemon_threads = True
# socketserver's default backlog is 5: a client opening many connections at once would see some
# handshakes stall for seconds in the kernel's retransmissions, which no real API does.
ThreadingHTTPServer.request_queue_size = 1024
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
