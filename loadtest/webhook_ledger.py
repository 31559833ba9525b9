"""The webhooks' side of a chaos run: a real receiver a fault can take down, and the account.

The receiver stands for a business's endpoint: a real HTTP server on loopback, in threads
of the harness. It verifies each request's signature with the standardwebhooks package's
own verifier *as it arrives* (the scheme refuses timestamps more than five minutes off, so
verifying at the end of a long run would refuse the early ones), and keeps every request.
`down(refuse)` makes it answer 503, or close its socket (connection refused), until `up()`.
It answers HTTP/1.0 (a connection per request), so a closed socket refuses every post at
once rather than leaving kept-alive connections open.

The account (`account_webhooks`) compares what it answered 2xx with the deliveries topic,
by identity: each delivery event of the business is expected once, under the message id
derived from the event and the endpoint (`contracts.webhooks.message_id`), in the topic's
order per delivery; a repeat is a request whose webhook-id was already answered 2xx, and
it must carry the same body.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal

import psycopg
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from contracts import DELIVERY_EVENT_TYPES, DecodeError, DeliveryRequested, Topics, decode_event
from contracts.webhooks import message_id, topic_of
from kafkaio.offsets import end_offsets
from loadtest.ledger import read_topic

MAX_BODY = 256 * 1024


@dataclass(frozen=True, slots=True)
class Arrival:
    """One request the receiver got, and what it answered."""

    message_id: str
    event_id: str
    delivery_id: str
    body_sha256: str
    code: int
    verified: bool | None
    """By the standardwebhooks verifier on arrival; None: before the secret was known."""
    at: float


class ChaosReceiver:
    """A business's endpoint on 127.0.0.1 that a fault can take down; `close()` at the end."""

    def __init__(self) -> None:
        self.secret: str | None = None
        """Set once the endpoint is registered (the API shows it once)."""
        self.arrivals: list[Arrival] = []
        self._lock = threading.Lock()
        self._mode_lock = threading.Lock()
        self._failing = False
        self.back_at: float | None = None
        """When it last came back from an outage (time.time())."""
        self._server: ThreadingHTTPServer | None = self._serve(0)
        self.port = int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Where the business registers it."""
        return f"http://127.0.0.1:{self.port}/webhooks"

    def _serve(self, port: int) -> ThreadingHTTPServer:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = min(int(self.headers.get("content-length", "0")), MAX_BODY)
                body = self.rfile.read(length)
                code = receiver.handle(dict(self.headers.items()), body)
                self.send_response(code)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        """Verify and keep one request; the status to answer (503 while failing)."""
        verified: bool | None = None  # no secret yet: not registered, nothing to judge
        if self.secret is not None:
            try:
                Webhook(self.secret).verify(body, headers)
                verified = True
            except WebhookVerificationError:
                verified = False
        lowered = {k.lower(): v for k, v in headers.items()}
        try:
            data = json.loads(body)["data"]
            event_id, delivery_id = str(data["event_id"]), str(data["delivery_id"])
        except (ValueError, KeyError, TypeError):
            event_id, delivery_id = "", ""
        code = 503 if self._failing or verified is None else (204 if verified else 400)
        arrival = Arrival(
            message_id=lowered.get("webhook-id", ""),
            event_id=event_id,
            delivery_id=delivery_id,
            body_sha256=hashlib.sha256(body).hexdigest(),
            code=code,
            verified=verified,
            at=time.time(),
        )
        with self._lock:
            self.arrivals.append(arrival)
        return code

    def set_mode(self, mode: Literal["up", "503", "refused"]) -> None:
        """Answer (`up`), answer 503 to every post, or close the socket (connection refused).

        Back `up` on the same port; when it comes back from a failing mode, `back_at` is
        the time (the backlog's clock starts there).
        """
        with self._mode_lock:
            was_down = self._failing or self._server is None
            if mode == "refused" and self._server is not None:
                self._server.shutdown()
                self._server.server_close()
                self._server = None
            if mode != "refused" and self._server is None:
                self._server = self._serve(self.port)
            self._failing = mode == "503"
            if mode == "up" and was_down:
                self.back_at = time.time()

    @property
    def answering(self) -> bool:
        """Whether posts get through now."""
        return not self._failing and self._server is not None

    def snapshot(self) -> list[Arrival]:
        """The requests so far, in order of arrival."""
        with self._lock:
            return list(self.arrivals)

    def posts_since(self, seconds: float) -> int:
        """Requests that arrived in the last `seconds` (is a batch in flight?)."""
        since = time.time() - seconds
        with self._lock:
            return sum(1 for a in self.arrivals if a.at >= since)

    def close(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@dataclass
class WebhookFigures:
    """The webhooks' account of a run: 0 lost, 0 out of order, repeats only by id."""

    expected: int = 0
    """Delivery events of the business in the deliveries topic (distinct event ids)."""
    deliveries: int = 0
    delivered: int = 0
    """Expected messages the receiver answered 2xx at least once."""
    lost: int = 0
    """Expected messages never answered 2xx."""
    out_of_order: int = 0
    """2xx answers of a delivery's message before its predecessor's first 2xx."""
    repeats: int = 0
    """2xx answers beyond the first of their webhook-id (at least once: allowed)."""
    repeats_unlike_first: int = 0
    """Repeats whose body differs from the first's (must be 0)."""
    ids_not_the_events: int = 0
    """Requests whose webhook-id is not the one derived from their event (must be 0)."""
    bad_signatures: int = 0
    """Requests the standardwebhooks verifier refused (must be 0)."""
    refused_while_down: int = 0
    """Requests answered 503 during the outage (a refused connection never arrives)."""
    requests: int = 0
    beyond_the_snapshot: int = 0
    """Messages of events recorded after the topic was read for the account (not judged)."""
    peak_per_s: int = 0
    """The most first deliveries (2xx) in one second: the notifier's pace on a backlog."""
    backlog_cleared_after_back_s: float | None = None
    """From the receiver's return to the first 2xx of the last message it had failed."""
    notifier_behind: dict[str, int] = field(default_factory=dict)
    """What the notifier had not consumed or not delivered when the account was taken."""

    @property
    def clean(self) -> bool:
        """Nothing lost, nothing out of order, no forged, changed or mislabelled message."""
        return (
            not (
                self.lost
                or self.out_of_order
                or self.repeats_unlike_first
                or self.ids_not_the_events
                or self.bad_signatures
            )
            and self.expected > 0
        )

    def as_dict(self) -> dict[str, object]:
        """Plain values, for JSON."""
        return {**asdict(self), "clean": self.clean}


async def expected_messages(
    bootstrap: str, topics: Topics, business_id: str, endpoint_id: str
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """From the deliveries topic: per delivery of the business, its message ids in order.

    Also each message id's event id. A delivery's events share a partition (keyed by its
    id), so the topic's order is the order the notifier must keep.
    """
    owners: dict[str, str] = {}
    order: dict[str, list[str]] = {}
    events: dict[str, str] = {}
    for record in await read_topic(bootstrap, topics.deliveries):
        if record.value is None:
            continue
        try:
            event = decode_event(record.value)
        except DecodeError:  # not an event the notifier sends either
            continue
        if not isinstance(event, DELIVERY_EVENT_TYPES):
            continue
        if isinstance(event, DeliveryRequested):
            owners.setdefault(event.delivery_id, event.business_id)
        if owners.get(event.delivery_id) != business_id:
            continue
        topic_of(event)  # every delivery event has a webhook topic
        mid = message_id(event.event_id, endpoint_id)
        if mid in events:
            continue  # the same event twice in the log: one message
        events[mid] = event.event_id
        order.setdefault(event.delivery_id, []).append(mid)
    return order, events


def wait_notifier_drained(
    bootstrap: str, dsn: str, topics: Topics, timeout_s: float
) -> dict[str, int]:
    """Wait until the notifier stored offsets at the topics' ends and nothing is pending.

    Its offsets in the database are its truth (its group's in Kafka are for the lag
    tools). Returns what was left when done or timed out (all 0: drained).
    """
    specs = [topics.businesses, topics.deliveries, topics.tracking]
    wanted = [(s.name, p) for s in specs for p in range(s.partitions)]
    deadline = time.monotonic() + timeout_s
    while True:
        ends = asyncio.run(end_offsets(bootstrap, wanted))
        with psycopg.connect(dsn) as conn:
            stored = {
                (str(t), int(p)): int(o)
                for t, p, o in conn.execute(
                    "SELECT topic, partition, next_offset FROM notifier.offsets"
                ).fetchall()
            }
            states: dict[str, int] = dict(
                conn.execute(
                    "SELECT state, count(*) FROM notifier.messages GROUP BY state"
                ).fetchall()
            )
        left = {
            "records_not_consumed": sum(max(e - stored.get(tp, 0), 0) for tp, e in ends.items()),
            "pending": int(states.get("pending", 0)),
            "dead": int(states.get("dead", 0)),
        }
        if not any(left.values()) or time.monotonic() > deadline:
            return left
        time.sleep(1.0)


def wait_received(receiver: ChaosReceiver, events: dict[str, str], timeout_s: float) -> int:
    """Wait until each message of `events` was answered 2xx, or `timeout_s`; how many not."""
    deadline = time.monotonic() + timeout_s
    while True:
        answered = {a.message_id for a in receiver.snapshot() if 200 <= a.code < 300}
        missing = sum(1 for mid in events if mid not in answered)
        if missing == 0 or time.monotonic() > deadline:
            return missing
        time.sleep(1.0)


def account_webhooks(
    order: dict[str, list[str]],
    events: dict[str, str],
    arrivals: list[Arrival],
    endpoint_id: str,
    back_at: float | None = None,
) -> WebhookFigures:
    """Compare what the receiver answered 2xx with the messages the topic calls for."""
    figures = WebhookFigures(
        expected=len(events),
        deliveries=len(order),
        requests=len(arrivals),
        refused_while_down=sum(1 for a in arrivals if a.code == 503),
        bad_signatures=sum(1 for a in arrivals if a.verified is False),
    )
    position = {mid: (d, i) for d, mids in order.items() for i, mid in enumerate(mids)}
    first_body: dict[str, str] = {}
    reached: Counter[str] = Counter()
    """Per delivery: how many of its messages have had their first 2xx."""
    for arrival in arrivals:
        if arrival.message_id != message_id(arrival.event_id, endpoint_id):
            figures.ids_not_the_events += 1
        if not 200 <= arrival.code < 300:
            continue
        if arrival.message_id in first_body:
            figures.repeats += 1
            if first_body[arrival.message_id] != arrival.body_sha256:
                figures.repeats_unlike_first += 1
            continue
        first_body[arrival.message_id] = arrival.body_sha256
        where = position.get(arrival.message_id)
        if where is None:
            figures.beyond_the_snapshot += 1
            continue
        delivery, index = where
        if index != reached[delivery]:
            figures.out_of_order += 1
        reached[delivery] = max(reached[delivery], index + 1)
    firsts: dict[str, float] = {}
    for arrival in arrivals:
        if 200 <= arrival.code < 300:
            firsts.setdefault(arrival.message_id, arrival.at)
    per_second = Counter(int(at) for at in firsts.values())
    figures.peak_per_s = max(per_second.values(), default=0)
    failed = {a.message_id for a in arrivals if a.code >= 300}
    if back_at is not None and failed:
        last = max((firsts[m] for m in failed if m in firsts), default=None)
        if last is not None:
            figures.backlog_cleared_after_back_s = round(max(last - back_at, 0.0), 1)
    figures.delivered = sum(1 for mid in events if mid in first_body)
    figures.lost = figures.expected - figures.delivered
    return figures
