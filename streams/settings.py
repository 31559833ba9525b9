"""Settings of the stream processors (env prefix DRONEFLEET_STREAMS_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from contracts import TopicSpec
from kafkaio.settings import KafkaSettings
from runtime import GcFreezeSettings, LogSettings


class StreamsSettings(KafkaSettings, GcFreezeSettings, LogSettings):
    """One worker's configuration; passed to `bootstrap`, never imported globally.

    With the collector's freezing (`runtime.gc_freeze`): at 10,000 drones the stages'
    full collections were the tail of the end-to-end latency (BENCHMARKS.md).
    """

    model_config = SettingsConfigDict(env_prefix="DRONEFLEET_STREAMS_")

    app_id: str = "dronefleet-streams"
    data_dir: Path = Path(".stack/streams")
    web_enabled: bool = False
    web_port: int = 6066
    metrics_port: int | None = None
    """Serve the probes and Prometheus metrics (`streams.runtime.metrics`: `/healthz`,
    `/readyz`, `/metrics`) on this port; None: not served. Each worker on one host needs
    its own."""
    metrics_host: str = "127.0.0.1"
    tracking_min_interval_s: float = 1.0
    max_future_skew_s: float = 5.0
    cruise_speed_mps: float = 15.0
    cruise_altitude_m: float = 60.0
    climb_rate_mps: float = 5.0
    descent_rate_mps: float = 4.0
    dwell_s: float = 10.0
    """How long a drone hovers at the pickup and at the drop-off (the fleet's spec)."""
    acceleration_mps2: float = Field(default=4.0, gt=0)
    """The drones' horizontal acceleration from rest to cruise (the fleet's spec): the ETA
    counts what speeding up costs a leg (`contracts.eta.horizontal_s`)."""
    deceleration_mps2: float = Field(default=4.0, gt=0)
    """The drones' braking onto a stop (the fleet's spec): the ETA counts it."""
    wind_enabled: bool = True
    """Learn the wind from the fixes and time each remaining leg in it (`streams.domain.wind`);
    False: every leg at the cruise airspeed (the ETA before issue 19's part 3)."""
    wind_cell_m: float = Field(default=2_000.0, gt=0)
    """Side of the grid cells the wind is estimated in: smaller follows the wind's waves
    closer (the scenario's are 4 to 20 km long) but each cell needs its own fixes."""
    wind_half_life_s: float = Field(default=600.0, gt=0)
    """How fast old fixes stop counting (the scenario's wind changes over 10 to 60 min)."""
    wind_min_fixes: float = Field(default=20.0, gt=0)
    """Fewer (decayed) fixes than this in a cell: its wind is not estimated (the area's is
    used, or none)."""
    wind_min_spread_mps: float = Field(default=2.0, ge=0)
    """The least spread of a cell's ground velocities (in its narrowest direction) that
    tells a headwind from a crosswind: below it, fixes at one heading, no estimate."""
    wind_max_fraction: float = Field(default=0.8, gt=0, le=1)
    """A fitted wind stronger than this share of the airspeed is not believed."""
    wind_max_cells: int = Field(default=20_000, ge=1)
    """Cells (and deliveries' timed legs) kept in memory; the least recently used go first."""
    wind_resolve_s: float = Field(default=5.0, ge=0)
    """A cell's fit is solved again at most this often (CPU against freshness)."""
    wind_retime_s: float = Field(default=30.0, ge=0)
    """A delivery's legs after the current one are timed again at most this often."""
    wind_steady_tolerance_mps: float = Field(default=1.0, gt=0)
    """A fix teaches the wind only if its ground speed is this close to the smoothed one
    (steady cruise: no speeding up, braking or turning)."""
    fleet_refresh_s: float = 5.0
    """The gate tells dispatch of every drone at least this often (and at once of a change
    of its availability or mission). Each drone costs dispatch a record per period: 2,000
    records/s at 10,000 drones."""
    drone_silent_after_s: float = 30.0
    """A drone dispatch has not heard of for this long is lost: never proposed, its
    delivery rescheduled (before the pickup) or failed with `drone_lost` (after it), until
    it reports again. At least twice `fleet_refresh_s` (a fix may be dropped) and above
    `liveness_tick_s`.

    Why 30 s and not less: dispatch hears of drones through the telemetry gate, so while
    a crashed worker's gate partitions move to another worker (1-18 s in `make chaos`
    with the 10 s session timeout) their drones look silent. Below that, a worker crash
    would fail deliveries with `drone_lost`; static membership (`instance_id`) makes the
    move near instant, and then a shorter setting is safe."""
    assignment_take_up_s: float = 30.0
    """A proposed drone that shows no fix on the delivery within this long is withdrawn
    and the delivery rescheduled to another drone."""
    wait_promise_s: float = 1800.0
    """A delivery no drone could take within this long of entering the queue fails with
    `no_drone_available` (the promise given to the business)."""
    liveness_tick_s: float = 2.0
    """How often the leader writes a `LivenessTick` into the dispatch topic: the time
    dispatch decides on (a decision comes at most this late)."""
    batch_size: int = 5_000
    """Most records the gate or the deliveries stage takes per batch (one produce, one commit)."""
    session_timeout_s: float = 10.0
    """How long the group waits for a silent worker before giving its partitions away.

    Faust's default is 60 s: after a SIGKILL the dead worker's partitions stood still for
    up to 100 s in `make chaos`; with 10 s they moved in 1-18 s. A worker that stalls its
    event loop longer than this is taken out of the group, so keep it well above the
    longest pause a healthy worker has (heartbeats run in the background).
    """
    heartbeat_interval_s: float = 3.0
    """A third of the session timeout, as Kafka recommends."""
    instance_id: str | None = None
    """A stable name for this worker (its host or its slot, like `streams-1`), or None.

    Set, the batched stages join their groups as static members (`group.instance.id`):
    a worker restarted under the same name after a crash takes its partitions back at
    once, where a dynamic member waits for the broker to drop the dead one (the session
    timeout; 11-12 s in `make chaos`). The price: a worker stopped for good keeps its
    partitions for the session timeout too, even on a clean shutdown. Two running workers
    must never share a name (the broker fences the older one).
    """
    table_store: str = "rocksdb://"
    """Faust's table store, `rocksdb://` (files under `data_dir`, via `rocksdict`) or `memory://`.

    RocksDB, chosen by measured recovery time after a SIGKILL (BENCHMARKS.md, "Table
    recovery"): its files and their changelog offsets survive the kill, so a restarted
    worker reads only the changelog records written since, and processes again in about
    the time it takes to join the group. A memory store re-reads every changelog from
    offset 0 at each start, in time that grows with the tables (51 s for 100,000
    deliveries on the 2-core machine, 0.1 s for RocksDB), and the worker processes
    nothing meanwhile. A first start on a new host reads everything with either store.

    It holds the dispatcher's tables only: the deliveries stage keeps its own in memory
    and reads its changelogs without Faust (200,000 keys in 0.5 s, same section).
    """

    @model_validator(mode="after")
    def _liveness_fits(self) -> StreamsSettings:
        """A drone that flies must never look silent to dispatch."""
        if self.drone_silent_after_s < 2 * self.fleet_refresh_s:
            raise ValueError("drone_silent_after_s must be at least twice fleet_refresh_s")
        if self.drone_silent_after_s <= self.liveness_tick_s:
            raise ValueError("drone_silent_after_s must be above liveness_tick_s")
        return self

    @property
    def app_group(self) -> str:
        """The Faust app's id and consumer group (the dispatcher's agent)."""
        return f"{self.topic_prefix}{self.app_id}"

    @property
    def gate_group(self) -> str:
        """The telemetry gate's consumer group."""
        return f"{self.app_group}-gate"

    @property
    def deliveries_group(self) -> str:
        """The deliveries stage's consumer group (its tables' changelogs keep Faust's names)."""
        return f"{self.app_group}-deliveries"

    @property
    def groups(self) -> list[str]:
        """Every consumer group of a worker, the app's first."""
        return list(self.group_inputs())

    def group_inputs(self) -> dict[str, list[TopicSpec]]:
        """Every consumer group of a worker (the app's first) and the topics it consumes."""
        topics = self.topics
        return {
            self.app_group: [topics.dispatch],
            self.gate_group: [topics.telemetry],
            self.deliveries_group: [
                topics.deliveries,
                topics.delivery_commands,
                topics.delivery_telemetry,
            ],
        }
