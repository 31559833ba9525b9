"""Chaos between the engine and the producer: telemetry as a flaky radio link delivers it.

The platform claims to filter duplicate, out-of-order, corrupt and future-dated fixes
and to survive lost ones (DESIGN.md). The load-test tool must be able to produce them on
purpose, in known proportions, to check that claim: `--chaos drop=1,duplicate=2,...`.

Each telemetry record independently, with its own percentage:
- drop: it is never sent;
- skew: its fix time (`occurred_at`) is moved by 1 to `max_skew_s` seconds, either way,
  as if the drone's clock were off (the producer's `recorded_at` stays right);
- corrupt: 1 to 3 of its bytes are flipped (the result may still decode, with a
  wrong value, as real corruption may);
- duplicate: it is sent twice in a row (same bytes, same event id);
- reorder: it is held back 1 to `reorder_window` ticks and sent after that tick's
  records, so the drone's later fixes overtake it. The window is counted in ticks,
  not records: within one tick each drone has a single fix, so shuffling inside a tick
  would change no drone's order.

Only records of the telemetry topic are touched; the drones' reports to the delivery
aggregate pass through unchanged and in order (the platform does not claim to survive
corrupt commands, and a load test must not fail for that). The drones' fleet milestones
share the telemetry topic and its radio link, so they may be dropped, duplicated,
corrupted or delayed too (dispatch still learns of the drone from its next fixes); only
fixes carry a clock to skew.

`Chaos` is sans-I/O and deterministic: one seeded generator, no clock, so the same seed
and the same batches always give the same output and the same counts.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta

import msgspec

from contracts import DecodeError, TelemetryReported, encode_event
from contracts.codec import decode_as
from kafkaio import WireRecord

KINDS = ("drop", "duplicate", "reorder", "corrupt", "skew")
"""The perturbations, by their name in `--chaos`."""


@dataclass(frozen=True, slots=True)
class ChaosSpec:
    """How often each perturbation hits a telemetry record, in percent (0 to 100)."""

    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    corrupt: float = 0.0
    skew: float = 0.0
    reorder_window: int = 3
    """At most this many ticks of delay for a reordered record."""
    max_skew_s: float = 120.0
    """At most this many seconds of clock skew (the validators allow 5 s ahead)."""

    def __post_init__(self) -> None:
        for kind in KINDS:
            value = getattr(self, kind)
            if not 0.0 <= value <= 100.0:
                raise ValueError(f"chaos {kind}={value}: a percentage must be in [0, 100]")
        if self.reorder_window < 1:
            raise ValueError("chaos reorder_window must be >= 1")
        if self.max_skew_s < 1.0:
            raise ValueError("chaos max_skew_s must be >= 1")

    @classmethod
    def parse(cls, text: str) -> ChaosSpec:
        """Read `drop=1,duplicate=2,reorder=1,corrupt=0.5,skew=1` (any subset; "" = none)."""
        values: dict[str, float] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, sep, number = item.partition("=")
            name = name.strip()
            if not sep or name not in KINDS:
                raise ValueError(f"chaos: expected one of {', '.join(KINDS)} as name=percent")
            try:
                values[name] = float(number)
            except ValueError:
                raise ValueError(f"chaos {name}: {number!r} is not a number") from None
        return cls(
            drop=values.get("drop", 0.0),
            duplicate=values.get("duplicate", 0.0),
            reorder=values.get("reorder", 0.0),
            corrupt=values.get("corrupt", 0.0),
            skew=values.get("skew", 0.0),
        )

    @property
    def active(self) -> bool:
        """Whether anything would be perturbed."""
        return any(getattr(self, kind) > 0 for kind in KINDS)


@dataclass
class ChaosCounts:
    """How many telemetry records each perturbation hit (for the run's summary)."""

    seen: int = 0
    dropped: int = 0
    duplicated: int = 0
    reordered: int = 0
    corrupted: int = 0
    skewed: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters by name, prefixed `chaos_`."""
        return {f"chaos_{name}": value for name, value in asdict(self).items()}


@dataclass
class _Held:
    batches_left: int
    records: list[WireRecord]


class Chaos:
    """Perturbs the telemetry records of successive ticks according to a `ChaosSpec`."""

    def __init__(
        self, spec: ChaosSpec, telemetry_topic: str, seed: int, batches_per_tick: int = 1
    ) -> None:
        self.spec = spec
        self.telemetry_topic = telemetry_topic
        self.batches_per_tick = batches_per_tick
        """`apply` calls per tick: the runner sends a tick's fleet in cohorts, a batch
        each, and a drone's next fix comes a whole tick later, whichever its cohort."""
        self.counts = ChaosCounts()
        self._rng = random.Random(f"chaos:{seed}")
        self._held: list[_Held] = []
        self._p = {kind: getattr(spec, kind) / 100.0 for kind in KINDS}

    def apply(self, batch: Sequence[WireRecord]) -> list[WireRecord]:
        """The records to send for one `batch`, then the held ones due with it.

        A record held at tick t for k ticks is sent k x `batches_per_tick` batches
        later, after that batch's own records: its drone's next k fixes overtake it.
        """
        earlier, self._held = self._held, []
        out: list[WireRecord] = []
        for record in batch:
            if record.topic != self.telemetry_topic:
                out.append(record)
            else:
                self._perturb(record, out)
        still_held: list[_Held] = []
        for held in earlier:
            held.batches_left -= 1
            if held.batches_left > 0:
                still_held.append(held)
            else:
                out.extend(held.records)
        self._held = still_held + self._held
        return out

    def flush(self) -> list[WireRecord]:
        """The records still held back, in the order they were held (at the end of a run)."""
        out = [record for held in self._held for record in held.records]
        self._held = []
        return out

    def _perturb(self, record: WireRecord, out: list[WireRecord]) -> None:
        rng, p, counts = self._rng, self._p, self.counts
        counts.seen += 1
        if rng.random() < p["drop"]:
            counts.dropped += 1
            return
        value = record.value
        if value is None:  # a tombstone: the simulator sends none, nothing to perturb
            out.append(record)
            return
        if rng.random() < p["skew"]:
            counts.skewed += 1
            value = self._skew(value)
        if rng.random() < p["corrupt"]:
            counts.corrupted += 1
            value = self._corrupt(value)
        copies = [record._replace(value=value)]
        if rng.random() < p["duplicate"]:
            counts.duplicated += 1
            copies.append(copies[0])
        if rng.random() < p["reorder"]:
            counts.reordered += 1
            ticks = rng.randint(1, self.spec.reorder_window)
            self._held.append(_Held(ticks * self.batches_per_tick, copies))
        else:
            out.extend(copies)

    def _skew(self, value: bytes) -> bytes:
        """Move the fix time by 1 to max_skew_s seconds, either way (event id kept)."""
        try:
            fix = decode_as(value, TelemetryReported)  # skew comes first: still intact here
        except DecodeError:
            return value  # a fleet milestone: only fixes carry a clock to skew
        seconds = self._rng.uniform(1.0, self.spec.max_skew_s) * self._rng.choice((-1, 1))
        shifted = fix.occurred_at + timedelta(seconds=seconds)
        return encode_event(msgspec.structs.replace(fix, occurred_at=shifted))

    def _corrupt(self, value: bytes) -> bytes:
        """Flip 1 to 3 bytes at distinct positions (XOR with a non-zero byte)."""
        data = bytearray(value)
        for position in self._rng.sample(range(len(data)), min(len(data), self._rng.randint(1, 3))):
            data[position] ^= self._rng.randint(1, 255)
        return bytes(data)
