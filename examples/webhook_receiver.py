"""A webhook receiver for trying the API on your machine: python3 only, no packages.

    WEBHOOK_SECRET=whsec_… python3 examples/webhook_receiver.py --port 9000

It listens on 127.0.0.1, checks each delivery's Standard Webhooks signature (the `webhook-id`,
`webhook-timestamp` and `webhook-signature` headers, HMAC-SHA256 with the endpoint's `whsec_`
secret), prints one line per delivery, and answers 204 when the signature holds, 401 when it does
not (the API then retries, as it would for any receiver that is down). Without WEBHOOK_SECRET it
accepts every delivery unchecked. The API delivers to loopback addresses only when it was started
with WEBHOOK_ALLOW_LOOPBACK=true (development only).

A real receiver does the same with any Standard Webhooks library, e.g. in Python
`standardwebhooks.Webhook(secret).verify(body, headers)`.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_SECONDS = 5 * 60  # older or newer signatures are refused: a captured delivery cannot be replayed later


def verified(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Whether the delivery was signed with `secret` within the tolerance."""
    message_id, timestamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    if not message_id or not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    # The header may carry several signatures (during a secret rotation): one match is enough.
    offered = [part[3:] for part in headers.get("webhook-signature", "").split() if part.startswith("v1,")]
    return any(hmac.compare_digest(expected, signature) for signature in offered)


class Handler(BaseHTTPRequestHandler):
    secret: str | None = None

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        ok = self.secret is None or verified(self.secret, headers, body)
        try:
            event = json.loads(body)
            summary = f"{event.get('type')} {event.get('id')}"
        except ValueError:
            summary = f"{len(body)} bytes, not JSON"
        print(f"webhook {summary}: {'verified' if self.secret and ok else 'unchecked' if ok else 'BAD SIGNATURE'}",
              flush=True)  # fmt: skip
        self.send_response(204 if ok else 401)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per delivery is printed above


def main() -> None:
    parser = argparse.ArgumentParser(description="Receive and verify the CRM API's webhooks on 127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args()
    Handler.secret = os.environ.get("WEBHOOK_SECRET") or None
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"listening on http://127.0.0.1:{args.port}/ ({'verifying signatures' if Handler.secret else 'unchecked'})",
          file=sys.stderr, flush=True)  # fmt: skip
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends it quietly
        server.serve_forever()


if __name__ == "__main__":
    main()
