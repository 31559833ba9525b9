"""The airspace's geometry: inside a zone, inside the service area, a mission against range.

Pure Python on purpose (no shapely, no pyproj here): `contracts` is what every service
imports, so it stays a few kilobytes of msgspec structs and arithmetic, and every reader
(the API on each request, dispatch, the dashboard) gets the same answer from the same
code. The questions are small: a few zones of tens of vertices, asked for two points
per request. Each polygon keeps its bounding box, so a point away from a zone costs four
comparisons and only a point inside the box walks the ring (microseconds).

Polygons have straight edges in (lat, lon). The simulator's physics asks the same
question in its local frame, an affine map of (lat, lon) (`simulator.flight.geo`), and
an affine map keeps what is inside a polygon, so the flight engine and the API agree on
every point (a test checks it on random points). Distances are great-circle on the
mean Earth radius: within 0.5 % of the ellipsoid's geodesic, far below the margin
between a served mission and the range.

Which reason a request gets, in the order a drone would meet them: may it go to the
pickup (`pickup_in_no_fly_zone`), to the drop-off (`dropoff_in_no_fly_zone`), does the
platform serve the pickup (`outside_service_area`), can a drone fly the mission from
and back to a depot (`beyond_range`), does it serve the drop-off
(`outside_service_area`). The mission is counted along the routes round the zones. A
request that passes may still be refused by a drone (a headwind costs more than calm
air): these are the requests no drone could ever serve, refused before anyone waits.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Literal

from contracts.events import AirspacePublished, GeoPoint

EARTH_RADIUS_M = 6_371_008.8
"""The mean Earth radius (IUGG): great-circle distances are within 0.5 % of WGS84's."""

Unservable = Literal[
    "pickup_in_no_fly_zone", "dropoff_in_no_fly_zone", "outside_service_area", "beyond_range"
]
"""Why a request can never be served (the API answers 422 with it)."""

PLATFORM_AIRSPACE_ID = "platform"
"""The key of the airspace in force: the platform serves one airspace at a time."""


def distance_m(a: GeoPoint, b: GeoPoint) -> float:
    """Great-circle distance in metres (haversine)."""
    lat_a, lat_b = math.radians(a.lat), math.radians(b.lat)
    dlat = lat_b - lat_a
    dlon = math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat_a) * math.cos(lat_b) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True, slots=True)
class Polygon:
    """A ring of points with its bounding box, for point-in-polygon questions."""

    lats: tuple[float, ...]
    lons: tuple[float, ...]
    south: float
    north: float
    west: float
    east: float

    @classmethod
    def of(cls, ring: tuple[GeoPoint, ...]) -> Polygon:
        """The polygon of an open ring (the first point is not repeated at the end)."""
        lats = tuple(p.lat for p in ring)
        lons = tuple(p.lon for p in ring)
        return cls(lats, lons, min(lats), max(lats), min(lons), max(lons))

    def contains(self, point: GeoPoint) -> bool:
        """Whether `point` is inside (even-odd rule; a point on an edge may go either way)."""
        lat, lon = point.lat, point.lon
        if not (self.south <= lat <= self.north and self.west <= lon <= self.east):
            return False
        inside = False
        lats, lons = self.lats, self.lons
        j = len(lats) - 1
        for i in range(len(lats)):
            if (lats[i] > lat) != (lats[j] > lat):
                crossing = lons[i] + (lat - lats[i]) * (lons[j] - lons[i]) / (lats[j] - lats[i])
                if lon < crossing:
                    inside = not inside
            j = i
        return inside


class AirspaceRules:
    """One published airspace, ready for questions (built once per version)."""

    def __init__(self, airspace: AirspacePublished) -> None:
        self.airspace = airspace
        self.zones = tuple((zone.name, Polygon.of(zone.boundary)) for zone in airspace.zones)
        self.area = Polygon.of(airspace.service_area)
        self.routes = RouteGraph(tuple(polygon for _, polygon in self.zones))

    def zone_at(self, point: GeoPoint) -> str | None:
        """The name of the first zone containing `point`, if any."""
        for name, polygon in self.zones:
            if polygon.contains(point):
                return name
        return None

    def serves(self, point: GeoPoint) -> bool:
        """Whether `point` lies inside the service area."""
        return self.area.contains(point)

    def nearest_depot_m(self, point: GeoPoint) -> float:
        """Distance from `point` to the nearest depot."""
        return min(distance_m(point, depot.position) for depot in self.airspace.depots)

    def nearest_depot(self, point: GeoPoint) -> GeoPoint:
        """The depot nearest `point` (straight): where a drone goes home after a drop-off."""
        return min(
            (depot.position for depot in self.airspace.depots),
            key=lambda depot: distance_m(point, depot),
        )

    def route(self, a: GeoPoint, b: GeoPoint) -> tuple[GeoPoint, ...]:
        """The shortest route from `a` to `b` around the zones (`RouteGraph.route`)."""
        return self.routes.route(a, b)

    def route_m(self, a: GeoPoint, b: GeoPoint) -> float:
        """The length of the shortest route from `a` to `b` around the zones."""
        return route_length_m(self.routes.route(a, b))

    def straight_mission_m(self, pickup: GeoPoint, dropoff: GeoPoint) -> float:
        """The shortest straight mission: nearest depot, pickup, drop-off, nearest depot.

        A lower bound of `mission_m` (a route is never shorter than its line), and cheap.
        """
        return (
            self.nearest_depot_m(pickup)
            + distance_m(pickup, dropoff)
            + self.nearest_depot_m(dropoff)
        )

    def nearest_depot_route_m(self, point: GeoPoint) -> float:
        """The shortest route round the zones between `point` and any depot.

        Depots in order of their straight distance; one whose line is already longer
        than the best route found cannot beat it, so one or two routes are planned.
        """
        best = math.inf
        for straight, depot in sorted(
            (distance_m(point, depot.position), depot.position) for depot in self.airspace.depots
        ):
            if straight >= best:
                break
            best = min(best, self.route_m(depot, point))
        return best

    def mission_m(self, pickup: GeoPoint, dropoff: GeoPoint) -> float:
        """The shortest mission along the routes round the zones (as drones fly them).

        Nearest depot, pickup, drop-off, nearest depot: what `beyond_range` holds against
        the fleet's range, as dispatch holds a drone's routes against its battery.
        """
        return (
            self.nearest_depot_route_m(pickup)
            + self.route_m(pickup, dropoff)
            + self.nearest_depot_route_m(dropoff)
        )

    def refusal(self, pickup: GeoPoint, dropoff: GeoPoint) -> tuple[Unservable, str] | None:
        """Why no drone could serve this request, with a sentence for people; None if one might."""
        zone = self.zone_at(pickup)
        if zone is not None:
            return "pickup_in_no_fly_zone", f"the pickup is inside the no-fly zone {zone!r}"
        zone = self.zone_at(dropoff)
        if zone is not None:
            return "dropoff_in_no_fly_zone", f"the drop-off is inside the no-fly zone {zone!r}"
        if not self.serves(pickup):
            return "outside_service_area", (
                f"the pickup is outside the service area {self.airspace.name!r}"
            )
        mission = self.straight_mission_m(pickup, dropoff)
        if mission <= self.airspace.range_m:  # the routes only when the line is in range
            mission = self.mission_m(pickup, dropoff)
        if mission > self.airspace.range_m:
            return "beyond_range", (
                f"the mission from the nearest depot and back is {mission / 1000:.1f} km, "
                f"beyond the fleet's range of {self.airspace.range_m / 1000:.1f} km"
            )
        if not self.serves(dropoff):
            return "outside_service_area", (
                f"the drop-off is outside the service area {self.airspace.name!r}"
            )
        return None


# Routes around the zones -----------------------------------------------------------------

ROUTE_PAD_M = 100.0
"""How far outside a zone's corners a route bends: the simulator's planner keeps the same
margin (`simulator.flight.routing.RoutePlanner`), so the routes agree within metres."""
_M_PER_DEG_LAT = 111_132.0
_M_PER_DEG_LON_EQUATOR = 111_320.0


@dataclass(frozen=True, slots=True)
class _Frame:
    """An equirectangular plane around a latitude, in metres: straight edges stay straight.

    Fine for a city's airspace (under 0.3 % of scale error across 20 km), and what makes
    the visibility questions a few multiplications each.
    """

    lat0: float
    lon0: float
    m_per_deg_lon: float

    @classmethod
    def around(cls, lat: float, lon: float) -> _Frame:
        return cls(lat, lon, _M_PER_DEG_LON_EQUATOR * math.cos(math.radians(lat)))

    def xy(self, point: GeoPoint) -> tuple[float, float]:
        return (
            (point.lon - self.lon0) * self.m_per_deg_lon,
            (point.lat - self.lat0) * _M_PER_DEG_LAT,
        )

    def point(self, x: float, y: float) -> GeoPoint:
        return GeoPoint(self.lat0 + y / _M_PER_DEG_LAT, self.lon0 + x / self.m_per_deg_lon)


def _orient(ax: float, ay: float, bx: float, by: float, cx: float, cy: float) -> float:
    """Twice the signed area of a, b, c: > 0 when c is left of a -> b."""
    return (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)


@dataclass(frozen=True, slots=True)
class _Obstacle:
    """A zone in the plane: its ring (counter-clockwise) and bounding box."""

    xs: tuple[float, ...]
    ys: tuple[float, ...]
    box: tuple[float, float, float, float]  # min x, min y, max x, max y

    def blocks(self, ax: float, ay: float, bx: float, by: float) -> bool:
        """Whether the segment a -> b touches the zone (crosses or touches an edge)."""
        x0, y0, x1, y1 = self.box
        if max(ax, bx) < x0 or min(ax, bx) > x1 or max(ay, by) < y0 or min(ay, by) > y1:
            return False
        xs, ys = self.xs, self.ys
        n = len(xs)
        for i in range(n):
            cx, cy, dx, dy = xs[i - 1], ys[i - 1], xs[i], ys[i]
            d1 = _orient(ax, ay, bx, by, cx, cy)
            d2 = _orient(ax, ay, bx, by, dx, dy)
            if (d1 > 0 and d2 > 0) or (d1 < 0 and d2 < 0):
                continue
            d3 = _orient(cx, cy, dx, dy, ax, ay)
            d4 = _orient(cx, cy, dx, dy, bx, by)
            if (d3 > 0 and d4 > 0) or (d3 < 0 and d4 < 0):
                continue
            if d1 == d2 == 0 and (  # collinear: blocked only if they overlap
                max(ax, bx) < min(cx, dx)
                or min(ax, bx) > max(cx, dx)
                or max(ay, by) < min(cy, dy)
                or min(ay, by) > max(cy, dy)
            ):
                continue
            return True
        return self._inside(ax, ay) or self._inside(bx, by)

    def _inside(self, x: float, y: float) -> bool:
        inside = False
        xs, ys = self.xs, self.ys
        j = len(xs) - 1
        for i in range(len(xs)):
            if (ys[i] > y) != (ys[j] > y) and (
                x < xs[i] + (y - ys[i]) * (xs[j] - xs[i]) / (ys[j] - ys[i])
            ):
                inside = not inside
            j = i
        return inside


@dataclass(frozen=True, slots=True)
class _Corner:
    """A graph node: a convex corner of a zone, pushed `pad` outside.

    With the zone's two corners beside it, which say from which directions a shortest
    path may bend here.
    """

    x: float
    y: float
    prev_x: float
    prev_y: float
    next_x: float
    next_y: float

    def tangent(self, ox: float, oy: float) -> bool:
        """Whether the line to (ox, oy) leaves the zone on one side (a path may bend here).

        A shortest path around obstacles bends only where it touches one: the zone's two
        edges at the corner lie on the same side of each of its segments. Pairs that fail
        this can never be on a shortest path, so the graph leaves them out (most pairs).
        """
        a = _orient(self.x, self.y, ox, oy, self.prev_x, self.prev_y)
        b = _orient(self.x, self.y, ox, oy, self.next_x, self.next_y)
        return a * b >= 0.0


DETOURS_KEPT = 4096
"""Routes that bend, remembered per graph: dispatch asks for a waiting delivery's legs
again at every round it tries the queue (milliseconds each round the zones), the API for
the same depots' legs."""


class RouteGraph:
    """The reduced visibility graph of an airspace's zones, for shortest routes around them.

    Why a visibility graph: the shortest path around polygons bends only at their convex
    corners, so Dijkstra over the corners (plus the two ends) joined by the segments
    that touch no zone finds it. The corners are pushed `pad_m` outside, as the
    simulator's planner does, so a route keeps clear of the zone it rounds. Built once
    per airspace version (a few milliseconds for the Zurich scenario's zones); a route
    whose straight line crosses no zone's bounding box costs four comparisons a zone, one
    that bends a few milliseconds the first time it is asked (`DETOURS_KEPT`).
    """

    def __init__(self, zones: tuple[Polygon, ...], pad_m: float = ROUTE_PAD_M) -> None:
        if zones:
            lat0 = sum((z.south + z.north) / 2 for z in zones) / len(zones)
            lon0 = sum((z.west + z.east) / 2 for z in zones) / len(zones)
        else:
            lat0 = lon0 = 0.0
        self.frame = _Frame.around(lat0, lon0)
        self.obstacles = tuple(self._obstacle(zone) for zone in zones)
        self.zones = zones
        corners = [c for ob in self.obstacles for c in _corners(ob, pad_m)]
        self.corners = tuple(
            c for c in corners if not any(ob._inside(c.x, c.y) for ob in self.obstacles)
        )
        self._edges: list[list[tuple[int, float]]] | None = None
        self._detours: dict[tuple[float, float, float, float], tuple[GeoPoint, ...]] = {}

    def _obstacle(self, zone: Polygon) -> _Obstacle:
        points = [
            self.frame.xy(GeoPoint(lat, lon)) for lat, lon in zip(zone.lats, zone.lons, strict=True)
        ]
        area = sum(
            points[i - 1][0] * points[i][1] - points[i][0] * points[i - 1][1]
            for i in range(len(points))
        )
        if area < 0:  # clockwise: turn it, so "outside" is to the right of every edge
            points.reverse()
        xs = tuple(p[0] for p in points)
        ys = tuple(p[1] for p in points)
        return _Obstacle(xs, ys, (min(xs), min(ys), max(xs), max(ys)))

    def _clear(self, ax: float, ay: float, bx: float, by: float) -> bool:
        return not any(ob.blocks(ax, ay, bx, by) for ob in self.obstacles)

    def _graph(self) -> list[list[tuple[int, float]]]:
        """Corner to corner edges (lengths in the plane), built on the first detour asked."""
        if self._edges is None:
            corners = self.corners
            edges: list[list[tuple[int, float]]] = [[] for _ in corners]
            for i, a in enumerate(corners):
                for j in range(i + 1, len(corners)):
                    b = corners[j]
                    if (
                        a.tangent(b.x, b.y)
                        and b.tangent(a.x, a.y)
                        and self._clear(a.x, a.y, b.x, b.y)
                    ):
                        length = math.hypot(b.x - a.x, b.y - a.y)
                        edges[i].append((j, length))
                        edges[j].append((i, length))
            self._edges = edges
        return self._edges

    def route(self, start: GeoPoint, goal: GeoPoint) -> tuple[GeoPoint, ...]:
        """The shortest route from `start` to `goal` around the zones: its corners and ends.

        The straight line when it touches no zone; also when no way around exists (an
        end inside a zone, which the request's checks refuse first): a route is for
        estimates, and the line is then the best one has.
        """
        if not self.obstacles:
            return (start, goal)
        ax, ay = self.frame.xy(start)
        bx, by = self.frame.xy(goal)
        if self._clear(ax, ay, bx, by):
            return (start, goal)
        key = (start.lat, start.lon, goal.lat, goal.lon)
        known = self._detours.get(key)
        if known is not None:
            return known
        path = self._shortest(ax, ay, bx, by)
        corners = self.corners
        route = (
            (start, goal)
            if path is None
            else (start, *(self.frame.point(corners[i].x, corners[i].y) for i in path), goal)
        )
        if len(self._detours) >= DETOURS_KEPT:
            del self._detours[next(iter(self._detours))]  # the oldest
        self._detours[key] = route
        return route

    def _shortest(self, ax: float, ay: float, bx: float, by: float) -> list[int] | None:
        """Corner indices of the shortest start -> corners -> goal path (Dijkstra)."""
        corners = self.corners
        edges = self._graph()
        best = [math.inf] * len(corners)
        previous = [-1] * len(corners)
        queue: list[tuple[float, int]] = []
        for i, c in enumerate(corners):
            if c.tangent(ax, ay) and self._clear(ax, ay, c.x, c.y):
                best[i] = math.hypot(c.x - ax, c.y - ay)
                heapq.heappush(queue, (best[i], i))
        goal_cost, goal_from = math.inf, -1
        done = [False] * len(corners)
        while queue:
            cost, i = heapq.heappop(queue)
            if done[i] or cost >= goal_cost:
                continue
            done[i] = True
            c = corners[i]
            if c.tangent(bx, by) and self._clear(c.x, c.y, bx, by):
                through = cost + math.hypot(bx - c.x, by - c.y)
                if through < goal_cost:
                    goal_cost, goal_from = through, i
            for j, length in edges[i]:
                if not done[j] and cost + length < best[j]:
                    best[j] = cost + length
                    previous[j] = i
                    heapq.heappush(queue, (best[j], j))
        if goal_from < 0:
            return None
        path = [goal_from]
        while previous[path[-1]] >= 0:
            path.append(previous[path[-1]])
        return path[::-1]


def _corners(obstacle: _Obstacle, pad_m: float) -> list[_Corner]:
    """The zone's convex corners pushed `pad_m` outside (the mitre of its offset edges)."""
    xs, ys = obstacle.xs, obstacle.ys
    n = len(xs)
    pushed: list[tuple[float, float]] = []
    convex: list[bool] = []
    for i in range(n):
        px, py = xs[i - 1], ys[i - 1]
        cx, cy = xs[i], ys[i]
        nx, ny = xs[(i + 1) % n], ys[(i + 1) % n]
        n1 = _outward(px, py, cx, cy)
        n2 = _outward(cx, cy, nx, ny)
        dot = n1[0] * n2[0] + n1[1] * n2[1]
        scale = pad_m / max(1.0 + dot, 0.25)  # the mitre, capped at sharp corners
        pushed.append((cx + (n1[0] + n2[0]) * scale, cy + (n1[1] + n2[1]) * scale))
        convex.append(_orient(px, py, cx, cy, nx, ny) > 0)
    return [
        _Corner(*pushed[i], xs[i - 1], ys[i - 1], xs[(i + 1) % n], ys[(i + 1) % n])
        for i in range(n)
        if convex[i]
    ]


def _outward(ax: float, ay: float, bx: float, by: float) -> tuple[float, float]:
    """The unit normal of a counter-clockwise ring's edge a -> b, pointing outside."""
    length = math.hypot(bx - ax, by - ay) or 1.0
    return (by - ay) / length, -(bx - ax) / length


def route_length_m(route: tuple[GeoPoint, ...]) -> float:
    """The great-circle length of a route's legs."""
    return sum(distance_m(route[i - 1], route[i]) for i in range(1, len(route)))
