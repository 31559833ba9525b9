"""Topic names, partition counts, retention and keys: the platform's Kafka layout.

Keys: telemetry by drone id, deliveries and tracking by delivery id, so the order of
each aggregate's events holds. Partition counts are the unit of scale-out.
`delivery-telemetry` is telemetry re-keyed by delivery id; it must have exactly as many
partitions as `deliveries` so that a Faust agent can read both co-partitioned.
`delivery-commands` is co-partitioned with `deliveries` too: the aggregate reads all three.
`dispatch` has one partition on purpose: one owner assigns drones
(see streams.processors.dispatcher).
`businesses` (registrations, kept forever) is tiny: one partition keeps them in order.
`airspace` (compacted, one partition) holds the airspace in force: its last record.
`accepted-telemetry` is what the telemetry gate accepted (fixes and drone milestones, the
original bytes, keyed by drone like `telemetry` and with as many partitions): the
history the projections keep. Refused records are in `deadletter` only.
"""

from __future__ import annotations

from dataclasses import dataclass

FOREVER = -1
DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One topic: its name, how it is partitioned and how long it keeps data."""

    name: str
    partitions: int
    retention_ms: int
    key: str
    doc: str
    compacted: bool = False
    """Keep the last record of each key forever instead of deleting by age."""

    def config(self) -> dict[str, str]:
        """Topic-level configs as Kafka's admin API wants them."""
        policy = "compact" if self.compacted else "delete"
        return {"retention.ms": str(self.retention_ms), "cleanup.policy": policy}


@dataclass(frozen=True, slots=True)
class Topics:
    """The platform's topics. `prefix` isolates test runs sharing one broker."""

    prefix: str
    deliveries: TopicSpec
    telemetry: TopicSpec
    delivery_telemetry: TopicSpec
    delivery_commands: TopicSpec
    tracking: TopicSpec
    dispatch: TopicSpec
    deadletter: TopicSpec
    businesses: TopicSpec
    accepted_telemetry: TopicSpec
    airspace: TopicSpec

    @classmethod
    def with_prefix(cls, prefix: str = "", partitions: int = 4) -> Topics:
        """The layout, with every name prefixed (empty prefix in production)."""
        return cls(
            prefix=prefix,
            deliveries=TopicSpec(
                f"{prefix}deliveries",
                partitions,
                FOREVER,
                "delivery_id",
                "The delivery aggregate's events: the system of record, kept forever.",
            ),
            telemetry=TopicSpec(
                f"{prefix}telemetry",
                partitions,
                7 * DAY_MS,
                "drone_id",
                "Raw position fixes from the drones, as sent (not yet validated).",
            ),
            delivery_telemetry=TopicSpec(
                f"{prefix}delivery-telemetry",
                partitions,
                DAY_MS,
                "delivery_id",
                "Valid fixes of drones on a mission, re-keyed by delivery id.",
            ),
            delivery_commands=TopicSpec(
                f"{prefix}delivery-commands",
                partitions,
                7 * DAY_MS,
                "delivery_id",
                "Requests to the delivery aggregate (assign, cancel, pickup, drop-off).",
            ),
            tracking=TopicSpec(
                f"{prefix}tracking",
                partitions,
                7 * DAY_MS,
                "delivery_id",
                "TrackingUpdated: position, state and ETA per delivery, for customers.",
            ),
            dispatch=TopicSpec(
                f"{prefix}dispatch",
                1,
                7 * DAY_MS,
                "constant",
                "New requests and drones' availability, for the single dispatch owner.",
            ),
            deadletter=TopicSpec(
                f"{prefix}deadletter",
                1,
                30 * DAY_MS,
                "source topic",
                "Records refused by a processor, with the reason, never silently lost.",
            ),
            businesses=TopicSpec(
                f"{prefix}businesses",
                1,
                FOREVER,
                "business_id",
                "BusinessRegistered: who may request deliveries (a key's hash, never the key).",
            ),
            accepted_telemetry=TopicSpec(
                f"{prefix}accepted-telemetry",
                partitions,
                7 * DAY_MS,
                "drone_id",
                "The fixes and milestones the telemetry gate accepted, as sent: the history.",
            ),
            airspace=TopicSpec(
                f"{prefix}airspace",
                1,
                FOREVER,
                "airspace_id",
                "AirspacePublished: no-fly zones, depots, service area, range (compacted).",
                compacted=True,
            ),
        )

    def all(self) -> tuple[TopicSpec, ...]:
        """Every topic, for creating them."""
        return (
            self.deliveries,
            self.telemetry,
            self.delivery_telemetry,
            self.delivery_commands,
            self.tracking,
            self.dispatch,
            self.deadletter,
            self.businesses,
            self.accepted_telemetry,
            self.airspace,
        )
