"""Where the end-to-end latency goes: the hops of a fix, from Kafka's record timestamps.

A customer's update is computed from one fix (`source_event_id`); the fix, its
re-keyed copy in `delivery-telemetry` and the update in `tracking` each carry the
producer's timestamp (CreateTime). Per update, then:
- simulator: fix built (`occurred_at`) -> appended by the simulator's producer;
- gate: -> the worker produced its copy to `delivery-telemetry` (broker, fetch, validate);
- aggregate: -> the worker produced the update to `tracking` (fetch, fold, ETA);
- to tracking topic: the sum, fix built -> update produced. Over every update of the
  measuring window, this is the benchmark's headline latency: it does not depend on how
  many customers a run follows.
What the websocket adds (the API's consumer and fan-out) is the followers' end-to-end
figure minus the last one. `hop_latencies` is pure; `read_hops` does the reading.
"""

from __future__ import annotations

from contracts import DecodeError, Topics, TrackingUpdated, decode_event
from loadtest.followers import percentile
from loadtest.ledger import read_topic


def hop_latencies(
    fix_ts: dict[str, int],
    forwarded_ts: dict[str, int],
    updates: list[tuple[str, int, int]],
    window_ms: tuple[int, int] | None = None,
) -> dict[str, list[float]]:
    """Per hop, the latency (ms) of each update whose source fix was found.

    `fix_ts` and `forwarded_ts` map a fix's event id to its record timestamp (ms) in
    the telemetry and delivery-telemetry topics; `updates` holds, per tracking record,
    (source event id, fix time in ms, record timestamp in ms). `window_ms`: only the
    updates of fixes built within it (epoch ms, both ends included): the measuring
    window, without the warm-up or the drain.
    """
    hops: dict[str, list[float]] = {
        "simulator": [],
        "gate": [],
        "aggregate": [],
        "to tracking topic": [],
    }
    for source, observed_ms, tracked_ms in updates:
        if window_ms is not None and not window_ms[0] <= observed_ms <= window_ms[1]:
            continue
        produced, forwarded = fix_ts.get(source), forwarded_ts.get(source)
        if produced is None or forwarded is None:
            continue  # a milestone's update, or a fix outside the run
        hops["simulator"].append(float(produced - observed_ms))
        hops["gate"].append(float(forwarded - produced))
        hops["aggregate"].append(float(tracked_ms - forwarded))
        hops["to tracking topic"].append(float(tracked_ms - observed_ms))
    return hops


def summarize(hops: dict[str, list[float]]) -> dict[str, dict[str, float | None]]:
    """p50, p99 and the sample count of each hop."""
    return {
        name: {
            "p50_ms": percentile(values, 50),
            "p99_ms": percentile(values, 99),
            "samples": len(values),
        }
        for name, values in hops.items()
    }


async def read_hops(
    bootstrap: str, topics: Topics, window_ms: tuple[int, int] | None = None
) -> dict[str, list[float]]:
    """Read the three topics and compute the hops of every update (in `window_ms`)."""
    fix_ts = _first_timestamps(await read_topic(bootstrap, topics.telemetry))
    forwarded_ts = _first_timestamps(await read_topic(bootstrap, topics.delivery_telemetry))
    updates = []
    for record in await read_topic(bootstrap, topics.tracking):
        try:
            event = decode_event(record.value or b"")
        except (DecodeError, ValueError):  # ValueError: invalid UTF-8 in a string
            continue
        if isinstance(event, TrackingUpdated):
            observed_ms = int(event.occurred_at.timestamp() * 1000)
            updates.append((event.source_event_id, observed_ms, record.timestamp))
    return hop_latencies(fix_ts, forwarded_ts, updates, window_ms)


def _first_timestamps(records: list) -> dict[str, int]:  # type: ignore[type-arg]
    out: dict[str, int] = {}
    for record in records:
        try:
            event_id = decode_event(record.value or b"").event_id
        except (DecodeError, ValueError):  # ValueError: invalid UTF-8 in a string
            continue
        out.setdefault(event_id, int(record.timestamp))
    return out
