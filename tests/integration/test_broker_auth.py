"""An authenticated broker: nobody writes `deliveries` who may not (issue 22, part 5).

A PRIVATE broker (own ports, own home: never the shared stack) started with
`DRONEFLEET_STACK_KAFKA_SASL=true`, its users and ACLs made by the stack's own code
(`KafkaNode.secure`, the `kafkaio.acls` table). Then, as an attacker would: a client with
no credentials, one with a wrong password, and one with the simulator's own credentials
try to write delivery events, many times, and the log is read afterwards as the super
user: 0 records let in. The services' principals can do what they need: the simulator
writes telemetry, the stream worker's reads it in its group and writes deliveries, and the
simulator's real `publish-airspace` command runs against the broker with its settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError, TopicAuthorizationFailedError
from aiokafka.structs import ConsumerRecord

from contracts import DecodeError, DroneAssigned, Topics, decode_event, utc_now
from dashboard.lag import read_lag
from devstack import stack
from devstack.postgres import PostgresNode
from devstack.services import PlatformConfig, register_business, start_service
from devstack.settings import StackSettings
from kafkaio.acls import ADMIN, PRINCIPALS
from kafkaio.connection import Broker, KafkaConnection, aiokafka_options
from kafkaio.last_value import last_value
from kafkaio.offsets import end_offsets, group_offsets
from loadtest.private_stack import private_settings
from projections.migrate import migrate
from projections.settings import ProjectionsSettings
from tests.support.api_platform import request, running_api
from tests.support.factories import PICKUP, fix, requested
from tests.support.kafka_helpers import collect, wait_for
from tests.support.kafka_helpers import produce as produce_events
from tests.support.sink_helpers import checkpoints, running_sink

ATTEMPTS = 100
"""Forged writes per class (the README's table counts them)."""


LAYOUT = Topics.with_prefix("auth-")


@pytest.fixture(scope="module")
def broker() -> Iterator[StackSettings]:
    """A private stack with SASL on, brought up as `dronefleet stack up` does it (topics,
    users, ACLs); its own PostgreSQL too, never the shared one (the shared stack's fixture
    starts servers it does not find running, and stops them at the end)."""
    settings = private_settings().model_copy(update={"kafka_sasl": True})
    try:
        stack.up(settings, LAYOUT)
        yield settings
    finally:
        stack.down(settings)
        shutil.rmtree(PostgresNode(settings).home, ignore_errors=True)
        shutil.rmtree(settings.home, ignore_errors=True)


@pytest.fixture(scope="module")
def database(broker: StackSettings) -> str:
    """A migrated database on the private PostgreSQL."""
    PostgresNode(broker).ensure_database("auth")
    dsn = broker.dsn_for("auth")
    migrate(dsn)
    return dsn


@pytest.fixture(scope="module")
def topics(broker: StackSettings) -> Topics:
    """The platform's layout on the private broker, with the users and ACLs the stack made."""
    return LAYOUT


def ends(broker: StackSettings, topic: str) -> int:
    """How many records `topic` holds, read as the super user."""
    parts = [(topic, partition) for partition in range(4)]
    return sum(asyncio.run(end_offsets(broker.kafka, parts)).values())


async def produce(conn: Broker, topic: str, n: int) -> tuple[int, int]:
    """Try `n` writes to `topic` as `conn`; (written, refused for authorization)."""
    producer = AIOKafkaProducer(**aiokafka_options(conn), acks="all", request_timeout_ms=5000)
    await producer.start()
    written = refused = 0
    try:
        for i in range(n):
            try:
                await producer.send_and_wait(topic, b"forged", key=f"d-{i}".encode())
                written += 1
            except TopicAuthorizationFailedError:
                refused += 1
    finally:
        await producer.stop()
    return written, refused


async def cannot_connect(conn: Broker) -> bool:
    """True when a producer as `conn` cannot even start (no metadata: no write possible)."""
    producer = AIOKafkaProducer(**aiokafka_options(conn), request_timeout_ms=3000)
    try:
        await producer.start()
    except KafkaError:
        return True
    finally:
        await producer.stop()
    return False


def test_a_client_without_credentials_cannot_connect_nor_write(
    broker: StackSettings, topics: Topics
) -> None:
    before = ends(broker, topics.deliveries.name)
    refused = sum(asyncio.run(cannot_connect(broker.kafka_bootstrap)) for _ in range(10))
    assert refused == 10
    assert ends(broker, topics.deliveries.name) == before


def test_a_wrong_password_fails_authentication(broker: StackSettings, topics: Topics) -> None:
    plain = KafkaConnection(broker.kafka_bootstrap)
    wrong = [
        plain.as_user("simulator", "not-the-password"),
        plain.as_user("streams", broker.kafka_password("simulator")),  # another's password
        plain.as_user("admin", broker.kafka_password("streams"), "PLAIN"),
        plain.as_user("nobody", "nothing"),
    ]
    refused = sum(asyncio.run(cannot_connect(conn)) for conn in wrong for _ in range(5))
    assert refused == 20
    # The control: the same listener lets the right password in (SASL is what refused).
    right = plain.as_user("simulator", broker.kafka_password("simulator"))
    assert not asyncio.run(cannot_connect(right))


def test_the_simulator_cannot_write_delivery_events_but_writes_telemetry(
    broker: StackSettings, topics: Topics
) -> None:
    simulator = broker.kafka_as("simulator")
    before = ends(broker, topics.deliveries.name)
    written, refused = asyncio.run(produce(simulator, topics.deliveries.name, ATTEMPTS))
    assert (written, refused) == (0, ATTEMPTS)
    assert ends(broker, topics.deliveries.name) == before
    telemetry_before = ends(broker, topics.telemetry.name)
    assert asyncio.run(produce(simulator, topics.telemetry.name, 5)) == (5, 0)
    assert ends(broker, topics.telemetry.name) == telemetry_before + 5


def test_the_stream_worker_reads_telemetry_in_its_group_and_writes_deliveries(
    broker: StackSettings, topics: Topics
) -> None:
    asyncio.run(produce(broker.kafka_as("simulator"), topics.telemetry.name, 3))
    streams = broker.kafka_as("streams")

    async def read_in_group() -> int:
        consumer = AIOKafkaConsumer(
            topics.telemetry.name,
            **aiokafka_options(streams),
            group_id=f"{topics.prefix}dronefleet-streams-gate",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            seen = 0
            while seen < 3:
                batch = await consumer.getmany(timeout_ms=10_000)
                assert batch, "no telemetry within 10 s"
                seen += sum(len(records) for records in batch.values())
            await consumer.commit()
            return seen
        finally:
            await consumer.stop()

    assert asyncio.run(read_in_group()) >= 3
    before = ends(broker, topics.deliveries.name)
    assert asyncio.run(produce(streams, topics.deliveries.name, 2)) == (2, 0)
    assert ends(broker, topics.deliveries.name) == before + 2


def test_the_simulator_service_publishes_the_airspace_with_its_own_user(
    broker: StackSettings, topics: Topics
) -> None:
    env = {
        **os.environ,
        "DRONEFLEET_SIMULATOR_KAFKA_BOOTSTRAP": broker.kafka_bootstrap,
        "DRONEFLEET_SIMULATOR_TOPIC_PREFIX": topics.prefix,
        "DRONEFLEET_SIMULATOR_KAFKA_USERNAME": "simulator",
        "DRONEFLEET_SIMULATOR_KAFKA_PASSWORD": broker.kafka_password(
            "simulator"
        ).get_secret_value(),
    }
    result = subprocess.run(
        [sys.executable, "-m", "simulator", "publish-airspace"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert asyncio.run(last_value(broker.kafka, topics.airspace.name)) is not None


def test_a_stream_worker_dispatches_with_its_own_user(
    broker: StackSettings, topics: Topics
) -> None:
    """The real worker (its gate, its aggregate, Faust's dispatcher) under its ACLs."""
    config = PlatformConfig(stack=broker, database="unused", topic_prefix=topics.prefix)
    env = config.environment()
    assert env["DRONEFLEET_STREAMS_KAFKA_USERNAME"] == "streams"
    service = start_service("streams", ["streams", "worker"], config, broker.home / "logs")
    try:
        start = utc_now()
        idle = [
            fix("drone-s", seq, start + timedelta(milliseconds=200 * seq), PICKUP)
            for seq in range(1, 6)
        ]
        asyncio.run(produce_events(broker.kafka_as("simulator"), topics.telemetry.name, idle))
        request = [requested("job-s", at=start)]
        asyncio.run(produce_events(broker.kafka_as("api"), topics.deliveries.name, request))

        def assigned(records: list[ConsumerRecord[bytes, bytes]]) -> bool:
            events = []
            for record in records:  # the other tests' forged bytes are on the topic too
                with contextlib.suppress(DecodeError):
                    events.append(decode_event(record.value or b""))
            return any(isinstance(e, DroneAssigned) and e.delivery_id == "job-s" for e in events)

        asyncio.run(collect(broker.kafka, topics.deliveries.name, assigned, timeout_s=120))
    finally:
        service.stop()
    log = service.log_file.read_text()
    assert "AuthorizationFailed" not in log  # topic, group or cluster: none refused


def test_the_projection_sink_consumes_with_its_own_user(
    broker: StackSettings, topics: Topics, database: str
) -> None:
    """The real sink (confluent-kafka, its consumer group) reads what it projects."""
    settings = ProjectionsSettings(
        kafka_bootstrap=broker.kafka_bootstrap,
        kafka_username="projections",
        kafka_password=broker.kafka_password("projections"),
        topic_prefix=topics.prefix,
        database_url=database,
    )
    deliveries = topics.deliveries.name
    request = [requested("job-p", at=utc_now())]
    asyncio.run(produce_events(broker.kafka_as("api"), deliveries, request))
    total = ends(broker, deliveries)  # with the other tests' records, forged bytes included

    def consumed() -> int:
        return sum(n for (topic, _), n in checkpoints(database).items() if topic == deliveries)

    async def run() -> None:
        async with running_sink(settings):
            await wait_for(lambda: consumed() == total, 60, "the sink to read deliveries")

    asyncio.run(run())


def test_the_dashboard_and_the_lag_exporter_read_the_groups_lag_and_nothing_else(
    broker: StackSettings, topics: Topics
) -> None:
    """Offsets only: the lag of the sink's and the gate's groups, never a record."""
    groups = [f"{topics.prefix}projections-core", f"{topics.prefix}dronefleet-streams-gate"]
    report = read_lag(broker.kafka_as("dashboard"), groups, timeout_s=10)
    assert report.error is None
    assert {lag.group for lag in report.topics} == set(groups)
    deliveries = [lag for lag in report.topics if lag.topic == topics.deliveries.name]
    assert deliveries and deliveries[0].lag == 0  # the sink above read it to the end
    assert asyncio.run(group_offsets(broker.kafka_as("streams"), groups[0]))[0]

    async def read_as_dashboard() -> None:
        consumer = AIOKafkaConsumer(
            topics.telemetry.name,
            **aiokafka_options(broker.kafka_as("dashboard")),
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            await consumer.getmany(timeout_ms=5000)
        finally:
            await consumer.stop()

    with pytest.raises(TopicAuthorizationFailedError):
        asyncio.run(read_as_dashboard())


def test_the_api_registers_a_business_and_takes_a_delivery_with_its_own_user(
    broker: StackSettings, topics: Topics, database: str
) -> None:
    """The platform's processes as the stack starts them, each as itself: the simulator
    publishes the airspace, the sink projects the business, the API writes and reads,
    the notifier reads in its group."""
    platform = broker
    before = ends(broker, topics.deliveries.name)
    with running_api(platform, topics, database) as api:
        logs = platform.home / "test-logs" / topics.prefix
        notifier = start_service("notifier", ["notifier", "run"], api, logs)
        try:
            key = register_business(api, "sasl business")
            body = request(api, key)
            deadline = time.monotonic() + 30
            while "reading" not in notifier.log_file.read_text():
                assert notifier.process.poll() is None, notifier.log_file.read_text()[-2000:]
                assert time.monotonic() < deadline, "the notifier did not start reading"
                time.sleep(0.2)
            time.sleep(2)  # it folds the delivery's request and commits its offsets
            assert notifier.process.poll() is None, notifier.log_file.read_text()[-2000:]
        finally:
            notifier.stop()
    assert ends(broker, topics.deliveries.name) == before + 1
    written = sorted(logs.glob("*.log"))
    assert {log.name for log in written} >= {"api.log", "projections.log", "notifier.log"}
    for log in written:
        assert "AuthorizationFailed" not in log.read_text(), log.name
    assert body["delivery_id"]


def test_the_compose_and_kubernetes_one_shot_makes_users_and_acls(broker: StackSettings) -> None:
    """`dronefleet topics --acls`, as the kafka-acls service and the topics Job run it."""
    # Users are the broker's, not a prefix's: keep the passwords the other tests use.
    passwords = {user: broker.kafka_password(user).get_secret_value() for user in PRINCIPALS}
    env = {
        **os.environ,
        "DRONEFLEET_KAFKA_ADMIN_PASSWORD": broker.kafka_password(ADMIN).get_secret_value(),
        **{f"DRONEFLEET_{u.upper()}_KAFKA_PASSWORD": pw for u, pw in passwords.items()},
    }
    argv = [sys.executable, "-m", "devstack.cli", "topics", "--bootstrap"]
    argv += [broker.kafka_bootstrap, "--prefix", "cli-", "--acls"]
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    layout = Topics.with_prefix("cli-")
    simulator = KafkaConnection(broker.kafka_bootstrap).as_user("simulator", passwords["simulator"])
    assert asyncio.run(produce(simulator, layout.telemetry.name, 3)) == (3, 0)
    assert asyncio.run(produce(simulator, layout.deliveries.name, 20)) == (0, 20)
    missing = {k: v for k, v in env.items() if k != "DRONEFLEET_API_KAFKA_PASSWORD"}
    refused = subprocess.run(argv, env=missing, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0
    assert "DRONEFLEET_API_KAFKA_PASSWORD" in refused.stderr


def test_the_simulator_flies_its_fleet_with_its_own_user(
    broker: StackSettings, topics: Topics
) -> None:
    """`dronefleet-simulator run`: its telemetry in, its deliveries consumer reading."""
    config = PlatformConfig(stack=broker, database="unused", topic_prefix=topics.prefix)
    env = {**os.environ, **config.environment()}
    before = ends(broker, topics.telemetry.name)
    argv = [sys.executable, "-m", "simulator", "run", "--drones", "3", "--duration", "4"]
    argv += ["--demand-per-minute", "0"]
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "AuthorizationFailed" not in result.stdout + result.stderr
    assert ends(broker, topics.telemetry.name) >= before + 3
