"""The broker's grants: each service only its own topics and groups (`kafkaio.acls`).

The table names groups and internal topics by convention (kafkaio imports no service);
these tests hold the convention to the services' own settings, so a renamed group fails
here rather than as an authorization error in production.
"""

from __future__ import annotations

import pytest

from contracts import Topics
from kafkaio.acls import PRINCIPALS, Operation, allowed, grants
from streams.runtime.horizon import horizon_topic
from streams.runtime.tables import changelog_specs
from streams.settings import StreamsSettings

PREFIX = "p7-"
TOPICS = Topics.with_prefix(PREFIX)
TABLE = grants(TOPICS)


def writers(topic: str) -> set[str]:
    return {p for p in PRINCIPALS if allowed(TABLE, p, "TOPIC", topic, "WRITE")}


def test_only_the_aggregate_and_the_api_write_delivery_events() -> None:
    assert writers(TOPICS.deliveries.name) == {"streams", "api"}


def test_the_simulator_writes_telemetry_commands_and_the_airspace_only() -> None:
    written = {
        t.name for t in TOPICS.all() if allowed(TABLE, "simulator", "TOPIC", t.name, "WRITE")
    }
    assert written == {
        TOPICS.telemetry.name,
        TOPICS.delivery_commands.name,
        TOPICS.airspace.name,
    }
    assert allowed(TABLE, "simulator", "TOPIC", TOPICS.deliveries.name, "READ")


@pytest.mark.parametrize("topic", [t.name for t in TOPICS.all()])
def test_every_topic_has_one_writer_at_least_and_the_dashboard_writes_none(topic: str) -> None:
    assert writers(topic) - {"dashboard"} == writers(topic)
    assert writers(topic)


def test_grants_are_prefix_aware() -> None:
    other = Topics.with_prefix("other-")
    for principal in PRINCIPALS:
        for spec in other.all():
            for operation in ("READ", "WRITE", "DESCRIBE"):
                op: Operation = operation  # type: ignore[assignment]
                assert not allowed(TABLE, principal, "TOPIC", spec.name, op), (principal, spec)


def test_the_stream_worker_owns_its_groups_changelogs_and_horizon() -> None:
    settings = StreamsSettings(topic_prefix=PREFIX)
    for group in settings.groups:
        assert allowed(TABLE, "streams", "GROUP", group, "READ")
        assert not allowed(TABLE, "projections", "GROUP", group, "READ")
    for topic in [*changelog_specs(settings), horizon_topic(settings.app_group)]:
        assert allowed(TABLE, "streams", "TOPIC", topic, "WRITE")
        assert allowed(TABLE, "streams", "TOPIC", topic, "READ")
        assert not allowed(TABLE, "simulator", "TOPIC", topic, "WRITE")


def test_the_sink_and_the_notifier_read_in_their_own_groups() -> None:
    assert allowed(TABLE, "projections", "GROUP", f"{PREFIX}projections-core", "READ")
    assert allowed(TABLE, "notifier", "GROUP", f"{PREFIX}notifier", "READ")
    assert not allowed(TABLE, "notifier", "GROUP", f"{PREFIX}projections-core", "READ")
    assert not allowed(TABLE, "api", "GROUP", f"{PREFIX}notifier", "READ")


def test_the_dashboard_describes_the_groups_it_shows_and_reads_nothing() -> None:
    from dashboard.settings import DashboardSettings

    for group in DashboardSettings(topic_prefix=PREFIX).groups:
        assert allowed(TABLE, "dashboard", "GROUP", group, "DESCRIBE")
        assert not allowed(TABLE, "dashboard", "GROUP", group, "READ")
    for spec in TOPICS.all():
        assert allowed(TABLE, "dashboard", "TOPIC", spec.name, "DESCRIBE")
        assert not allowed(TABLE, "dashboard", "TOPIC", spec.name, "READ")
