"""Tables of a batched stage: in memory, per input partition, backed by a changelog topic.

The model is Kafka Streams' task-scoped store. Every key of a table belongs to one
partition of the stage's co-partitioned inputs (a delivery id hashes to the same
partition number in `deliveries`, `delivery-commands` and `delivery-telemetry`), and the
stage tells the table which partition the record at hand came from (`partition`), so a
read or write needs no hashing. Writes are remembered until `drain_changes`, which turns
the last value of each key changed since the last drain into one changelog record (a
tombstone for a deletion) pinned to that partition. The stage produces those records
with the batch's outputs and commits its input offsets only after both are acknowledged,
so the changelog is never behind the committed inputs.

A worker that is assigned a partition loads it from the changelog (`load`); one that
loses it forgets it (`forget`), because the next owner changes it from then on.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping

from kafkaio import WireRecord


class PartitionNotOwnedError(LookupError):
    """The stage touched a table partition it has not loaded: a wiring bug, never data."""


class ChangeloggedTable(MutableMapping[bytes, bytes]):
    """bytes -> bytes, for the partition at hand; changes go to `changelog_topic`."""

    def __init__(self, changelog_topic: str) -> None:
        self.changelog_topic = changelog_topic
        self.partition = 0
        """The input partition of the record being processed (set by the stage)."""
        self._partitions: dict[int, dict[bytes, bytes]] = {}
        self._changed: dict[tuple[int, bytes], bytes | None] = {}

    def load(self, partition: int, content: Mapping[bytes, bytes]) -> None:
        """Own `partition`, with the content read back from the changelog."""
        self._partitions[partition] = dict(content)
        self._drop_changes({partition})

    def forget(self, partitions: set[int]) -> None:
        """Give up partitions (revoked): their next owner loads them from the changelog."""
        for partition in partitions:
            self._partitions.pop(partition, None)
        self._drop_changes(partitions)

    @property
    def owned(self) -> frozenset[int]:
        """The partitions loaded."""
        return frozenset(self._partitions)

    def drain_changes(self) -> list[WireRecord]:
        """The changelog records for every key changed since the last drain; forget them."""
        records = [
            WireRecord(self.changelog_topic, key, value, partition)
            for (partition, key), value in self._changed.items()
        ]
        self._changed.clear()
        return records

    def _drop_changes(self, partitions: set[int]) -> None:
        self._changed = {k: v for k, v in self._changed.items() if k[0] not in partitions}

    def _current(self) -> dict[bytes, bytes]:
        try:
            return self._partitions[self.partition]
        except KeyError:
            raise PartitionNotOwnedError(
                f"{self.changelog_topic}: partition {self.partition} is not loaded"
            ) from None

    def __getitem__(self, key: bytes) -> bytes:
        return self._current()[key]

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._current()[key] = value
        self._changed[(self.partition, key)] = value

    def __delitem__(self, key: bytes) -> None:
        del self._current()[key]
        self._changed[(self.partition, key)] = None

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())
