"""BatchSender replaces its producer after a failed batch, once, and sends on the new one.

A fake producer stands in for aiokafka's here: the logic under test is when the sender
swaps producers, not Kafka (the kafka-outage run of `make chaos` covers the real thing).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError

from kafkaio import BatchSender, WireRecord


class FakeBatch:
    def __init__(self) -> None:
        self.records: list[tuple[bytes | None, bytes | None]] = []

    def append(self, *, key: bytes | None, value: bytes | None, timestamp: None) -> object:
        self.records.append((key, value))
        return object()

    def record_count(self) -> int:
        return len(self.records)


class FakeProducer:
    def __init__(self, failing: bool, unreachable: bool = False) -> None:
        self.failing = failing
        self.unreachable = unreachable
        self.started = self.stopped = False
        self.sent: list[tuple[str, int, int]] = []

    async def start(self) -> None:
        if self.unreachable:
            raise KafkaConnectionError("Unable to bootstrap from localhost:9092")
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    def create_batch(self) -> FakeBatch:
        return FakeBatch()

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1}

    async def send_batch(self, batch: FakeBatch, topic: str, partition: int) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.failing:
            future.set_exception(RuntimeError("OutOfOrderSequenceNumber"))
        else:
            self.sent.append((topic, partition, batch.record_count()))
            future.set_result(None)
        return future


class Producers:
    """The sender's producer factory: the first one it makes fails every batch.

    `unreachable(n)`: whether the n-th made (from 0) finds no broker when it starts.
    """

    def __init__(self, unreachable: Callable[[int], bool] = lambda n: False) -> None:
        self.unreachable = unreachable
        self.made: list[FakeProducer] = []

    def __call__(self) -> Any:
        n = len(self.made)
        self.made.append(FakeProducer(failing=n == 0, unreachable=self.unreachable(n)))
        return self.made[-1]


ONE_RECORD = [WireRecord("t", b"k", b"v", partition=0)]


def test_a_failed_batch_gets_a_new_producer_and_the_next_send_goes_through_it() -> None:
    new_producer = Producers()
    made = new_producer.made
    records = [WireRecord("t", f"k{i}".encode(), b"v", partition=i % 2) for i in range(6)]

    async def scenario() -> tuple[int, int, int, int]:
        sender = BatchSender(new_producer)
        async with sender:
            first = await sender.send(records)
            second = await sender.send(records)
        return first.failed["t"], first.acked["t"], second.acked["t"], sender.renewals

    failed, acked_before, acked_after, renewals = asyncio.run(scenario())
    assert (failed, acked_before) == (6, 0), "failures are counted, not retried"
    assert (acked_after, renewals) == (6, 1)
    assert [(p.started, p.stopped) for p in made] == [(True, True), (True, True)]
    assert made[1].sent == [("t", 0, 3), ("t", 1, 3)], "one batch per partition, new producer"


def test_while_the_broker_is_still_away_the_replacement_is_tried_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("kafkaio.batch_sender.RETRY_S", 0.0)
    # The first one fails its batch; the next two find no broker; the fourth does.
    new_producer = Producers(unreachable=lambda n: n in (1, 2))
    made = new_producer.made

    async def scenario() -> int:
        sender = BatchSender(new_producer)
        async with sender:
            await sender.send(ONE_RECORD)
            acks = await sender.send(ONE_RECORD)
        return acks.acked["t"]

    assert asyncio.run(scenario()) == 1
    assert [p.started for p in made] == [True, False, False, True]
    assert made[3].sent == [("t", 0, 1)]


def test_the_send_that_saw_the_failure_returns_while_the_broker_is_away(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An API request must answer 503 at once, not wait for the broker to come back."""
    monkeypatch.setattr("kafkaio.batch_sender.RETRY_S", 0.01)
    new_producer = Producers(unreachable=lambda n: n > 0)  # the broker never comes back
    made = new_producer.made

    async def scenario() -> tuple[int, int, bool]:
        sender = BatchSender(new_producer)
        await sender.start()
        acks = await asyncio.wait_for(sender.send(ONE_RECORD), 1)
        await asyncio.sleep(0.1)  # the replacement keeps trying in the background
        attempts = len(made) - 1
        await asyncio.wait_for(sender.stop(), 1)  # and stop gives it up
        return acks.failed["t"], attempts, made[0].stopped

    failed, attempts, first_stopped = asyncio.run(scenario())
    assert failed == 1
    assert attempts >= 2, "the replacement was tried again and again"
    assert first_stopped, "the refused producer is stopped when the sender stops"


def test_sending_before_start_is_a_clear_error() -> None:
    sender = BatchSender(lambda: FakeProducer(failing=False))
    with pytest.raises(RuntimeError, match=r"before start\(\)"):
        asyncio.run(sender.send(ONE_RECORD))


class SilentProducer(FakeProducer):
    """A producer whose batches are never acknowledged: the broker went away unnoticed."""

    async def send_batch(self, batch: FakeBatch, topic: str, partition: int) -> asyncio.Future[Any]:
        return asyncio.get_running_loop().create_future()


async def test_a_batch_unacknowledged_past_the_ack_timeout_fails_and_renews_the_producer() -> None:
    made: list[FakeProducer] = []

    def new_producer() -> Any:
        made.append(SilentProducer(failing=False) if not made else FakeProducer(failing=False))
        return made[-1]

    sender = BatchSender(new_producer, ack_timeout_s=0.05)
    await sender.start()
    acks = await sender.send(ONE_RECORD)
    assert acks.failed == {"t": 1} and not acks.acked
    acks = await sender.send(ONE_RECORD)  # waits for the replacement, then sends on it
    assert acks.acked == {"t": 1} and sender.renewals == 1
    assert made[0].stopped and made[1].sent == [("t", 0, 1)]
    await sender.stop()
