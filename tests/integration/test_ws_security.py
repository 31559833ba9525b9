"""One customer, 1,000 randomized ways to reach another's delivery: 0 foreign messages.

The real app runs in-process (uvicorn, the hub, the real Kafka tracking topic) while a
feed produces updates for the attacker's own delivery and for three victims'. A seeded
generator picks each attempt: another delivery's path with the attacker's token,
mangled paths, forged, tampered, expired and stacked tokens, foreign Origins, the status
endpoint, and messages sent on the attacker's own open sockets asking for other
deliveries. Whatever is accepted must only ever carry the attacker's delivery; handshakes
that must be refused get HTTP 403 before any websocket exists. A control connection
with a victim's own token proves the victims' updates are there to be leaked.
(The end-to-end test covers missing and foreign tokens and a foreign Origin on the
deployed platform; here they are part of the random mix, plus expired tokens.)
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
import jwt
import websockets
from aiokafka import AIOKafkaProducer
from websockets.exceptions import InvalidStatus

from api import tokens
from contracts import Topics, encode_event, utc_now
from devstack.settings import StackSettings
from tests.support.api_server import ServedApi, api_settings, serving
from tests.support.factories import tracking

SEED = 20261127
ATTEMPTS = 1_000
MESSAGE_SOCKETS = 4


class Outcome:
    """What the attempts saw: refusals by status, accepted sockets, and every frame."""

    def __init__(self, mine: str) -> None:
        self.mine = mine
        self.refused: dict[int, int] = {}
        self.accepted = 0
        self.frames: list[dict[str, object]] = []

    @property
    def foreign(self) -> list[dict[str, object]]:
        return [frame for frame in self.frames if frame.get("delivery_id") != self.mine]


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _flip(text: str, rng: random.Random) -> str:
    """One character changed, away from the end (the last one carries padding bits)."""
    index = rng.randrange(0, len(text) - 2)
    replacement = rng.choice([c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef" if c != text[index]])
    return text[:index] + replacement + text[index + 1 :]


def forged_tokens(api: ServedApi, mine: str, victim: str, rng: random.Random) -> list[str]:
    """Tokens a customer holding a valid token for `mine` could craft for `victim`."""
    own = api.token(mine)
    header, _, signature = own.split(".")
    claims = jwt.decode(own, options={"verify_signature": False})
    now = int(utc_now().timestamp())
    victim_claims = {**claims, "sub": victim}
    return [
        f"{header}.{_b64(victim_claims)}.{signature}",  # re-pointed, old signature
        f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(victim_claims)}.",  # alg none
        jwt.encode(victim_claims, rng.randbytes(32).hex(), algorithm="HS256"),  # guessed key
        jwt.encode(victim_claims, "0" * 32, algorithm="HS256"),  # a guessable key
        jwt.encode({"sub": victim, "exp": now + 3600}, rng.randbytes(32).hex(), "HS256"),
        own[: rng.randrange(1, len(own))],  # truncated
        victim,
        "",
        f"{header}.{_b64(victim_claims)}.{_flip(signature, rng)}",  # re-pointed, re-guessed
    ]


async def test_a_customer_never_receives_another_customers_delivery(
    running_stack: StackSettings, topics: Topics, database: str
) -> None:
    rng = random.Random(SEED)
    settings = api_settings(running_stack.kafka_bootstrap, topics, database)
    mine = uuid.uuid4().hex
    victims = [uuid.uuid4().hex for _ in range(3)]
    async with serving(settings, tracking(f"probe-{mine}")) as api:
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
        await producer.start()
        feeding = asyncio.Event()
        sequences = dict.fromkeys([mine, *victims], 0)

        async def feed() -> None:
            while True:
                for delivery_id in sequences:
                    sequences[delivery_id] += 1
                    update = tracking(delivery_id, sequences[delivery_id], utc_now())
                    await producer.send(
                        topics.tracking.name, encode_event(update), key=delivery_id.encode()
                    )
                feeding.set()
                await asyncio.sleep(0.02)

        feeder = asyncio.create_task(feed())
        try:
            await feeding.wait()
            await _wait_for_latest(api, [mine, *victims])
            outcome = Outcome(mine)
            control = await _control(api, victims[0])
            await _attack(api, rng, mine, victims, outcome, lambda: sequences[mine])
        finally:
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeder
            await producer.stop()

    assert control, "the control connection saw the victim's updates: they were there to leak"
    assert outcome.foreign == [], f"{len(outcome.foreign)} foreign messages"
    assert outcome.accepted > 0 and outcome.frames, "some attempts reached the own delivery"
    assert set(outcome.refused) <= {401, 403, 404}, outcome.refused
    assert sum(outcome.refused.values()) + outcome.accepted >= ATTEMPTS


async def _wait_for_latest(api: ServedApi, delivery_ids: list[str]) -> None:
    for _ in range(300):
        if all(api.services.hub.latest(d) is not None for d in delivery_ids):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the hub never saw the feed")


async def _control(api: ServedApi, victim: str) -> list[dict[str, object]]:
    """A victim's own connection: its first two frames, both the victim's."""
    async with websockets.connect(
        api.live_url(victim),
        subprotocols=["dronefleet.v1", f"bearer.{api.token(victim)}"],  # type: ignore[list-item]
    ) as connection:
        frames = [json.loads(await connection.recv()) for _ in range(2)]
    return [frame for frame in frames if frame["delivery_id"] == victim]


async def _attack(
    api: ServedApi,
    rng: random.Random,
    mine: str,
    victims: list[str],
    outcome: Outcome,
    sequences_now: Callable[[], int],
) -> None:
    own = api.token(mine)
    base = f"ws://127.0.0.1:{api.port}"
    secret = api.settings.token_secret.get_secret_value()
    expired = tokens.issue(secret, mine, utc_now() - timedelta(hours=2), timedelta(hours=1))

    async def handshake(path: str, protocols: list[str], origin: str | None = None) -> None:
        """Connect; a refusal is counted, an accepted socket's first frame is kept."""
        try:
            async with websockets.connect(
                base + path,
                subprotocols=protocols,  # type: ignore[arg-type]
                origin=origin,  # type: ignore[arg-type]
                open_timeout=30,
            ) as connection:
                outcome.accepted += 1
                outcome.frames.append(json.loads(await asyncio.wait_for(connection.recv(), 30)))
        except InvalidStatus as refused:
            status = refused.response.status_code
            outcome.refused[status] = outcome.refused.get(status, 0) + 1

    def foreign_path() -> Awaitable[None]:
        victim = rng.choice(victims)
        return handshake(f"/v1/deliveries/{victim}/live", ["dronefleet.v1", f"bearer.{own}"])

    def mangled_path() -> Awaitable[None]:
        victim = rng.choice(victims)
        quoted = "".join(f"%{ord(c):02x}" if rng.random() < 0.5 else c for c in victim)
        path = rng.choice(
            [
                f"/v1/deliveries/{mine}/../{victim}/live",
                f"/v1/deliveries/{victim}/../{mine}/live",
                f"/v1/deliveries/{quoted}/live",
                f"/v1/deliveries/{victim.upper()}/live",
                f"/v1/deliveries/{victim}%2f..%2f{mine}/live",
                f"/v1/deliveries/{mine}/live?delivery_id={victim}",
                f"/v1/deliveries/{victim}/live/",
                f"//v1/deliveries/{victim}/live",
                f"/v1/deliveries/{mine}%00{victim}/live",
                f"/v1/deliveries/{victim}%20/live",
            ]
        )
        return handshake(path, ["dronefleet.v1", f"bearer.{own}"])

    def forged_token() -> Awaitable[None]:
        victim = rng.choice(victims)
        forged = rng.choice(forged_tokens(api, mine, victim, rng))
        stacked = rng.choice(
            [
                [f"bearer.{forged}"],
                [f"bearer.{forged}", f"bearer.{own}"],
                [f"bearer.{own}", f"bearer.{forged}"],
            ]
        )
        return handshake(f"/v1/deliveries/{victim}/live", ["dronefleet.v1", *stacked])

    def expired_or_missing() -> Awaitable[None]:
        protocols = rng.choice([[f"bearer.{expired}"], [], ["bearer."], [own]])
        return handshake(f"/v1/deliveries/{mine}/live", ["dronefleet.v1", *protocols])

    def foreign_origin() -> Awaitable[None]:
        origin = rng.choice(
            [
                f"https://evil-{rng.randrange(10**6)}.example",
                "null",
                f"http://127.0.0.1:{api.port + 1}",
                f"https://127.0.0.1:{api.port}",
                "http://127.0.0.1:8000.evil.example",
            ]
        )
        path = f"/v1/deliveries/{rng.choice([mine, *victims])}/live"
        return handshake(path, ["dronefleet.v1", f"bearer.{own}"], origin)

    def status_endpoint() -> Awaitable[None]:
        victim = rng.choice(victims)
        token = rng.choice([own, *forged_tokens(api, mine, victim, rng)])
        return ask_status(victim, token)

    async def ask_status(victim: str, token: str) -> None:
        response = await client.get(
            f"{api.url}/v1/deliveries/{victim}",
            headers={"Authorization": f"Bearer {token}".strip()},
        )
        assert victim not in response.text or response.status_code in (401, 403)
        outcome.refused[response.status_code] = outcome.refused.get(response.status_code, 0) + 1

    sockets = [
        await websockets.connect(
            f"{base}/v1/deliveries/{mine}/live",
            subprotocols=["dronefleet.v1", f"bearer.{own}"],  # type: ignore[list-item]
        )
        for _ in range(MESSAGE_SOCKETS)
    ]

    def message() -> Awaitable[None]:
        victim = rng.choice(victims)
        frame = rng.choice(
            [
                json.dumps({"subscribe": victim}),
                json.dumps({"delivery_id": victim, "token": api.token(mine)}),
                json.dumps({"type": "subscribe", "delivery_ids": victims}),
                f"bearer.{rng.choice(forged_tokens(api, mine, victim, rng))}",
                rng.randbytes(rng.randrange(1, 4000)),
                victim,
            ]
        )
        return send(rng.choice(sockets), frame)

    async def send(connection: websockets.ClientConnection, frame: str | bytes) -> None:
        await connection.send(frame)
        outcome.accepted += 1

    kinds: list[Callable[[], Awaitable[None]]] = [
        foreign_path,
        mangled_path,
        forged_token,
        expired_or_missing,
        foreign_origin,
        status_endpoint,
        message,
    ]
    last_seen = [0] * len(sockets)
    progress = asyncio.Event()

    async def read_all(index: int) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for data in sockets[index]:
                frame = json.loads(data)
                outcome.frames.append(frame)
                last_seen[index] = max(last_seen[index], int(frame.get("sequence", 0)))
                progress.set()

    readers = [asyncio.create_task(read_all(index)) for index in range(len(sockets))]
    limit = asyncio.Semaphore(8)

    async def attempt(planned: Awaitable[None]) -> None:
        async with limit:
            await planned

    # The plan is drawn up front, so the seed alone fixes every attempt.
    plan = [rng.choice(kinds)() for _ in range(ATTEMPTS)]
    async with httpx.AsyncClient() as client:
        await asyncio.gather(*(attempt(planned) for planned in plan))
    # Every message socket must see an update produced after its last message was sent.
    sent_by = sequences_now()
    while min(last_seen) <= sent_by:
        progress.clear()
        await asyncio.wait_for(progress.wait(), timeout=30)
    for connection in sockets:
        await connection.close()
    await asyncio.gather(*readers)
    assert all(connection.close_code == 1000 for connection in sockets), "no socket was dropped"
