"""The dashboard's webhooks section reads the notifier's views (`dashboard.webhooks`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import psycopg

from dashboard import webhooks
from notifier.schema import ensure_schema


def test_messages_per_endpoint_failures_and_pauses(fresh_database: Callable[[], str]) -> None:
    dsn = fresh_database()
    with psycopg.connect(dsn) as conn:
        assert webhooks.endpoints(conn) is None  # no notifier has run: said, not an error
    ensure_schema(dsn)
    now = datetime.now(UTC)
    with psycopg.connect(dsn) as conn:
        for endpoint, paused in (("calm", None), ("failing", now)):
            conn.execute(
                "INSERT INTO notifier.endpoints (endpoint_id, business_id, url, topics, enabled,"
                " deleted, secret_version, sequence, registered_at, consecutive_failures,"
                " paused_until) VALUES (%s, 'b1', %s, '{}', true, false, 1, 1, %s, %s, %s)",
                (
                    endpoint,
                    f"https://{endpoint}.example.com/",
                    now,
                    0 if paused is None else 7,
                    paused,
                ),
            )
        for n, (endpoint, state) in enumerate(
            [
                ("calm", "delivered"),
                ("calm", "delivered"),
                ("failing", "dead"),
                ("failing", "pending"),
            ]
        ):
            conn.execute(
                "INSERT INTO notifier.messages (message_id, endpoint_id, delivery_id, topic,"
                " event_id, event_recorded_at, body, state)"
                " VALUES (%s, %s, 'd1', 't', 'e', %s, '', %s)",
                (f"m{n}", endpoint, now, state),
            )
        conn.execute(
            "INSERT INTO notifier.attempts (message_id, endpoint_id, attempted_at, outcome,"
            " response_code, latency_ms) VALUES ('m2', 'failing', now(), 'http_error', 503, 3)"
        )
        table = webhooks.endpoints(conn)
    assert table is not None
    rows = table.set_index("url")
    assert rows.loc["https://failing.example.com/", ["delivered", "pending", "dead"]].tolist() == [
        0,
        1,
        1,
    ]
    assert rows.loc["https://failing.example.com/", "failed_last_hour"] == 1
    assert rows.loc["https://calm.example.com/", "delivered"] == 2
    assert table.iloc[0]["url"] == "https://failing.example.com/", "the troubled first"
