"""Dispatch's in-memory index of the fleet: entries by drone, positions as arrays.

Why: dispatch weighs every available drone for each waiting delivery, on every request
and every drone that becomes free. At 10,000 drones, decoding the fleet table for each
round took most of a worker (`make bench-e2e` profile), and so did building the
candidates from the entries once per round. Here each write updates one slot of the
arrays, and a round reads them as they are. The fleet table stays the state (it is what
a rebalance recovers); this is rebuilt from it when the dispatcher is told to forget.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from streams.domain.drone_choice import Candidates


class Entry(Protocol):
    """What the index needs of a fleet entry."""

    @property
    def drone_id(self) -> str: ...
    @property
    def lat(self) -> float: ...
    @property
    def lon(self) -> float: ...
    @property
    def battery_pct(self) -> float: ...
    def available(self) -> bool: ...


E = TypeVar("E", bound=Entry)


class FleetIndex(Generic[E]):
    """Every drone's latest entry, plus the slots' positions, batteries and availability."""

    def __init__(self, entries: Iterable[E] = ()) -> None:
        self.entries: dict[str, E] = {}
        self._slot: dict[str, int] = {}
        self._ids: list[str] = []
        self._lats = np.zeros(16)
        self._lons = np.zeros(16)
        self._battery = np.zeros(16)
        self._available = np.zeros(16, dtype=np.bool_)
        for entry in entries:
            self.put(entry)

    def put(self, entry: E) -> None:
        """Record a drone's new entry."""
        self.entries[entry.drone_id] = entry
        slot = self._slot.get(entry.drone_id)
        if slot is None:
            slot = self._slot[entry.drone_id] = len(self._ids)
            self._ids.append(entry.drone_id)
            if slot == self._lats.size:
                self._grow()
        self._lats[slot] = entry.lat
        self._lons[slot] = entry.lon
        self._battery[slot] = entry.battery_pct
        self._available[slot] = entry.available()

    def candidates(self) -> Candidates:
        """Every drone, by slot (views: a round must not `put` new drones meanwhile)."""
        n = len(self._ids)
        return Candidates(self._ids, self._lats[:n], self._lons[:n], self._battery[:n])

    def available(self) -> npt.NDArray[np.bool_]:
        """A copy of the availability by slot, for a round to mark as it assigns."""
        return self._available[: len(self._ids)].copy()

    def available_among(self, drone_ids: Iterable[str]) -> npt.NDArray[np.bool_]:
        """`available`, with every slot but these drones' cleared (unknown ids ignored)."""
        mask = np.zeros(len(self._ids), dtype=np.bool_)
        for drone_id in drone_ids:
            slot = self._slot.get(drone_id)
            if slot is not None:
                mask[slot] = self._available[slot]
        return mask

    def _grow(self) -> None:
        size = self._lats.size * 2
        self._lats = np.resize(self._lats, size)
        self._lons = np.resize(self._lons, size)
        self._battery = np.resize(self._battery, size)
        self._available = np.resize(self._available, size)
