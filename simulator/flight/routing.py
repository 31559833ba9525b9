"""Routes around no-fly zones: shortest paths on a visibility graph. Pure.

Why a visibility graph: the shortest path around polygonal obstacles bends only at
their vertices, so the graph of obstacle vertices (plus start and goal) joined by the
segments that touch no obstacle contains it; Dijkstra finds it.

Clearance: zones are inflated twice. Segments are checked against the zones buffered
by `margin_m / 2` (the collision geometry), and the graph's vertices are those of the
zones buffered by `margin_m`. A chord between two neighbouring vertices of the outer
ring sags inwards by less than the gap between the rings (the ring is drawn with
enough vertices for that), so every edge keeps at least `margin_m / 2` minus the sag
from a zone, never zero. A point within `margin_m / 2` of a zone is unreachable.
"""

from __future__ import annotations

import heapq
import math

import numpy as np
import shapely
from shapely.geometry import Point

from contracts import GeoPoint
from simulator.flight.airspace import Airspace
from simulator.flight.geo import FloatArray

QUAD_SEGMENTS = 8
"""Vertices per quarter circle of the buffers: the sag of a 5 km zone's chord is ~25 m."""


class RoutePlanner:
    """Plans polylines between two points that keep clear of an airspace's zones."""

    def __init__(self, airspace: Airspace, margin_m: float = 100.0) -> None:
        self.airspace = airspace
        self.margin_m = margin_m
        self._blocked = shapely.union_all(
            [p.buffer(margin_m / 2, quad_segs=QUAD_SEGMENTS) for p in airspace.polygons]
        )
        shapely.prepare(self._blocked)
        rings = [p.buffer(margin_m, quad_segs=QUAD_SEGMENTS) for p in airspace.polygons]
        vertices = [xy for ring in rings for xy in list(ring.exterior.coords)[:-1]]
        points = np.array(vertices, dtype=float).reshape(-1, 2)
        if len(points):
            points = points[~shapely.intersects_xy(self._blocked, points[:, 0], points[:, 1])]
        self._nodes = points
        self._edges = self._visibility(points, points)

    def _visibility(self, a: FloatArray, b: FloatArray) -> FloatArray:
        """Length of the segment a[i] -> b[j], or inf when it touches the blocked area."""
        if len(a) == 0 or len(b) == 0:
            return np.full((len(a), len(b)), np.inf)
        ia, ib = np.meshgrid(np.arange(len(a)), np.arange(len(b)), indexing="ij")
        starts, ends = a[ia.ravel()], b[ib.ravel()]
        lines = shapely.linestrings(np.stack([starts, ends], axis=1))
        blocked = shapely.intersects(self._blocked, lines)
        lengths = np.hypot(*(ends - starts).T)
        return np.where(blocked, np.inf, lengths).reshape(len(a), len(b))

    def reachable(self, point: GeoPoint) -> bool:
        """Whether a drone may stand at `point` (outside every zone and its clearance)."""
        x, y = self.airspace.frame.point_xy(point)
        return not self._blocked.intersects(Point(x, y))

    def route(self, start: GeoPoint, goal: GeoPoint) -> list[GeoPoint] | None:
        """The shortest clear polyline from `start` to `goal` (both kept exactly), or None."""
        if not self.airspace.zones:
            return [start, goal]
        if not (self.reachable(start) and self.reachable(goal)):
            return None
        frame = self.airspace.frame
        ends = np.array([frame.point_xy(start), frame.point_xy(goal)])
        if np.isfinite(self._visibility(ends[:1], ends[1:])[0, 0]):
            return [start, goal]
        path = self._dijkstra(ends)
        if path is None:
            return None
        middle = [frame.to_point(float(x), float(y)) for x, y in self._nodes[path]]
        return [start, *middle, goal]

    def _dijkstra(self, ends: FloatArray) -> list[int] | None:
        """Node indices of the shortest start -> nodes -> goal path (ends excluded)."""
        from_start = self._visibility(ends[:1], self._nodes)[0]
        to_goal = self._visibility(self._nodes, ends[1:])[:, 0]
        count = len(self._nodes)
        best = np.full(count, np.inf)
        previous = np.full(count, -1)
        queue: list[tuple[float, int]] = []
        for start in np.flatnonzero(np.isfinite(from_start)).tolist():
            best[start] = from_start[start]
            heapq.heappush(queue, (float(best[start]), start))
        done = np.zeros(count, dtype=bool)
        goal_cost, goal_from = math.inf, -1
        while queue:
            cost, node = heapq.heappop(queue)
            if done[node] or cost >= goal_cost:
                continue
            done[node] = True
            if cost + to_goal[node] < goal_cost:
                goal_cost, goal_from = cost + to_goal[node], node
            through = cost + self._edges[node]
            better = np.flatnonzero((through < best) & ~done)
            best[better] = through[better]
            previous[better] = node
            for nxt in better.tolist():
                heapq.heappush(queue, (float(best[nxt]), nxt))
        if goal_from < 0:
            return None
        path = [goal_from]
        while previous[path[-1]] >= 0:
            path.append(int(previous[path[-1]]))
        return path[::-1]
