"""The demo's webhook receiver: a small local HTTP server that prints what it gets.

It stands for a business's endpoint: it verifies each message's Standard Webhooks
signature with the `standardwebhooks` package (as a receiver should), drops a message
id it already had (at least once means repeats) and prints one line per message. A
thread of the demo's process, on a free loopback port; the demo registers it over the
API, so the platform's own path (event, notifier, signed post) is what the terminal shows.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

MAX_BODY = 64 * 1024


class WebhookReceiver:
    """Serve on 127.0.0.1 until `close()`; `secret` is set once the endpoint is registered."""

    def __init__(self) -> None:
        self.secret: str | None = None
        self.seen: set[str] = set()
        self.received = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = min(int(self.headers.get("content-length", "0")), MAX_BODY)
                body = self.rfile.read(length)
                self.send_response(receiver.handle(dict(self.headers.items()), body))
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return  # the demo prints its own line per message

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Where to register it."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/webhooks"

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        """Verify, drop repeats, print; the HTTP status to answer."""
        if self.secret is None:
            return 503  # not registered yet: the notifier will try again
        try:
            Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError as error:
            print(f"  webhook REFUSED (bad signature: {error})", flush=True)
            return 400
        message_id = {k.lower(): v for k, v in headers.items()}["webhook-id"]
        if message_id in self.seen:
            return 204  # a repeat: already handled
        self.seen.add(message_id)
        self.received += 1
        payload = json.loads(body)
        data = payload["data"]
        extra = f" ETA {data['eta'][11:19]}" if payload["type"] == "delivery.eta_changed" else ""
        print(
            f"  webhook {payload['type']:<22} delivery {data['delivery_id'][:12]}{extra}"
            f"   (signature ok, {message_id[:12]}...)",
            flush=True,
        )
        return 204

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
