"""What the customer sees: fixes and milestones become `TrackingUpdated`, with an ETA.

A fix of the drone flying a delivery updates the delivery's tracking memory (smoothed
speed, the dwell at a stop, the last position) and, at most once per `min_interval` or
when the status shown changes, sends a `TrackingUpdated` with the ETA. Every change of
state a customer must hear of at once (picked up, delivered, cancelled, rescheduled,
failed) sends one regardless of the rate limit; a delivery waiting for a drone again, or
ended without arriving, has no ETA. The status shown is `contracts.shown_status` of the
aggregate's state (assigned is "en route to the pickup", and so on).

`on_fix` is the hot path of the deliveries stage: every fix on a mission, 10,000/s at
10,000 drones. It decodes two small records, computes one estimate and encodes at most
two; keep it so (no per-fix allocation that the old code did not need).

The ETA's distances are along the route around the no-fly zones (issue 19): planned
once, at the first fix of the delivery's drone (`contracts.airspace`, from the airspace
the worker follows), and kept in the tracking memory with its lengths, so a fix costs
one geodesic distance as the straight line did (`streams.domain.route`). No airspace
known yet: the straight line, and the route is planned at the next fix that has one.

The wind (issue 19, part 3): steady-cruise fixes teach the emitter's `WindEstimator`
(`streams.domain.wind`), held in the worker's memory and not in a table: a restarted
worker learns it again from the next minutes of fixes and meanwhile gives the no-wind
ETA. Once it knows a wind, each remaining leg is timed at the ground speed the wind gives
on its direction; the plan's legs are decoded for it (remembered by their bytes, so a fix
still decodes nothing in the common case).

The window (issue 19, part 4): each update with an ETA carries its earliest and latest
arrival from the emitter's `EtaWindow` (`streams.domain.eta_window`), which learns from
the updates it sends: a sample of each delivery's ETAs, scored when its delivered update
goes out. In the worker's memory like the wind: a restarted worker gives the prior's
window until its deliveries arrive again. In the log, so every API replica shows the
same window and the read models know what was promised. Final updates carry none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import msgspec

from contracts import (
    FINAL_STATUSES,
    Delivered,
    DeliveryCancelled,
    DeliveryFailed,
    DeliveryRescheduled,
    GeoPoint,
    PickedUp,
    TelemetryReported,
    TrackingStatus,
    TrackingUpdated,
    encode_event,
    new_event_id,
    shown_status,
)
from contracts.airspace import AirspaceRules
from streams.domain.delivery import DeliveryState
from streams.domain.eta import BEFORE_PICKUP, EtaModel, LegTimes, estimate, smooth_speed
from streams.domain.eta_window import EtaWindow
from streams.domain.geodesy import distance_m
from streams.domain.route import RouteCursor, ahead, plan_route, progress
from streams.domain.wind import WindEstimator
from streams.processors.delivery_repository import DeliveryRepository, TrackingMemory
from streams.processors.records import Outgoing

NO_ETA: frozenset[TrackingStatus] = frozenset({"cancelled", "rescheduled", "failed"})
"""States without an arrival to predict: ended, or waiting for a drone again."""

Milestone = PickedUp | Delivered | DeliveryCancelled | DeliveryRescheduled | DeliveryFailed
"""The aggregate's events its customer hears of at once."""


class AirspaceInForce:
    """The airspace the worker follows (its topic), as the routes need it: None until read.

    A holder rather than a value: the worker's follower replaces `rules` when a new
    version is published, and the emitter reads it when it plans a route.
    """

    def __init__(self, rules: AirspaceRules | None = None) -> None:
        self.rules = rules


@dataclass(frozen=True, slots=True)
class TrackingEmitter:
    """Turns a delivery's fixes and milestones into the customer's `TrackingUpdated`."""

    repository: DeliveryRepository
    eta_model: EtaModel
    min_interval: timedelta
    """The shortest time between two updates of a delivery (milestones excepted)."""
    airspace: AirspaceInForce | None = None
    """Where the routes come from (None: the straight lines, as before issue 19)."""
    wind: WindEstimator | None = None
    """What the fixes say of the wind (None: no wind, the cruise airspeed on every leg)."""
    window: EtaWindow | None = None
    """The ETA's window, learned from the updates sent (None: updates without a window)."""

    def on_fix(self, fix: TelemetryReported) -> list[Outgoing]:
        """Remember the fix; an update when one is due (only the assigned drone's count)."""
        assert fix.delivery_id is not None  # the gate routes only on-mission fixes
        state = self.repository.state(fix.delivery_id)
        if state is None or state.is_final or state.drone_id != fix.drone_id:
            return []
        tracked = self.repository.tracking_memory(fix.delivery_id)
        speed = smooth_speed(tracked.smoothed_speed_mps, fix.ground_speed_mps, self.eta_model)
        hovering = fix.phase in ("at_pickup", "at_dropoff")
        wind = self.wind
        if wind is not None and wind.model.steady(
            fix.ground_speed_mps,
            tracked.smoothed_speed_mps,
            not hovering and fix.altitude_m >= self.eta_model.cruise_altitude_m - 1.0,
        ):
            wind.observe(
                fix.lat, fix.lon, fix.ground_speed_mps, fix.heading_deg, fix.occurred_at.timestamp()
            )
        since = (tracked.hovering_since or fix.occurred_at) if hovering else None
        tracked = msgspec.structs.replace(tracked, smoothed_speed_mps=speed, hovering_since=since)
        return self._emit(
            state,
            tracked,
            GeoPoint(fix.lat, fix.lon),
            fix.altitude_m,
            fix.occurred_at,
            fix.event_id,
            fix.ground_speed_mps,
            force=False,
        )

    def on_milestone(self, state: DeliveryState, event: Milestone) -> list[Outgoing]:
        """The update a milestone forces, from where the drone is known to be (if anywhere)."""
        tracked = msgspec.structs.replace(
            self.repository.tracking_memory(state.delivery_id), hovering_since=None
        )  # the dwell at the stop just left is over
        if isinstance(event, DeliveryRescheduled):
            # The next drone's speed and route owe nothing to the last one's.
            tracked = msgspec.structs.replace(tracked, smoothed_speed_mps=None, route=None)
        if isinstance(event, Delivered):
            position: GeoPoint | None = state.dropoff
        elif isinstance(event, DeliveryCancelled | DeliveryRescheduled | DeliveryFailed):
            # The customer learns at once, from the drone's last known place if any.
            position = tracked.last_position or state.pickup
        else:
            position = tracked.last_position
        if position is None:
            return []
        return self._emit(
            state, tracked, position, 0.0, event.occurred_at, event.event_id, 0.0, force=True
        )

    def _emit(
        self,
        state: DeliveryState,
        tracked: TrackingMemory,
        position: GeoPoint,
        altitude_m: float,
        observed_at: datetime,
        source_event_id: str,
        ground_speed: float,
        *,
        force: bool,
    ) -> list[Outgoing]:
        """Record the fix; return a TrackingUpdated unless one was sent too recently."""
        status = shown_status(state.status)
        predicted = "requested" if status == "rescheduled" else status
        hovered = (
            (observed_at - tracked.hovering_since).total_seconds()
            if tracked.hovering_since
            else 0.0
        )
        before_pickup = predicted in BEFORE_PICKUP
        route = self._route(state, tracked.route, position, before_pickup)
        to_stop_m = after_stop_m = None
        if route is not None:
            route, to_stop_m, after_stop_m = progress(route, position, before_pickup)
        legs = self._legs(state, route, position, before_pickup, to_stop_m, observed_at)
        eta = estimate(
            predicted,
            position,
            altitude_m,
            state.pickup,
            state.dropoff,
            tracked.smoothed_speed_mps or 0.0,
            observed_at,
            self.eta_model,
            at_stop=tracked.hovering_since is not None,
            dwell_elapsed_s=hovered,
            to_stop_m=to_stop_m,
            after_stop_m=after_stop_m,
            legs=legs,
        )
        due = (
            force
            or tracked.last_emitted_at is None
            or status != tracked.last_status
            or observed_at - tracked.last_emitted_at >= self.min_interval
        )
        if not due:
            self.repository.save_tracking_memory(
                state.delivery_id,
                msgspec.structs.replace(tracked, last_position=position, route=route),
            )
            return []
        shown_eta = None if status in NO_ETA else eta.at
        window = (
            self.window.window(shown_eta, observed_at)
            if self.window is not None and status not in FINAL_STATUSES
            else None
        )
        update = TrackingUpdated(
            event_id=new_event_id(),
            sequence=tracked.sequence + 1,
            occurred_at=observed_at,
            recorded_at=observed_at,
            delivery_id=state.delivery_id,
            drone_id=state.drone_id,
            source_event_id=source_event_id,
            lat=position.lat,
            lon=position.lon,
            altitude_m=altitude_m,
            ground_speed_mps=ground_speed,
            status=status,
            remaining_m=eta.remaining_m,
            eta=shown_eta,
            eta_earliest=None if window is None else window[0],
            eta_latest=None if window is None else window[1],
        )
        if self.window is not None:
            self.window.observe(update)
        self.repository.save_tracking_memory(
            state.delivery_id,
            msgspec.structs.replace(
                tracked,
                sequence=update.sequence,
                last_emitted_at=observed_at,
                last_status=status,
                last_position=position,
                drone_id=state.drone_id,
                route=route,
            ),
        )
        return [Outgoing("tracking", state.delivery_id.encode(), encode_event(update))]

    def _route(
        self,
        state: DeliveryState,
        kept: RouteCursor | None,
        position: GeoPoint,
        before_pickup: bool,
    ) -> RouteCursor | None:
        """The route kept for the delivery's drone, or one planned from `position` now.

        Planned when none is kept for this drone (its first fix, a new drone after a
        reschedule) or the kept one starts after the pickup while the drone has yet to
        fly there. None while no drone has it, or no airspace is known.
        """
        if state.drone_id is None or state.is_final:
            return None
        if (
            kept is not None
            and kept.drone_id == state.drone_id
            and (not before_pickup or kept.pickup_at >= 0)
        ):
            return kept
        rules = self.airspace.rules if self.airspace is not None else None
        if rules is None:
            return None
        start = state.pickup if before_pickup else position
        to_pickup = rules.route(position, state.pickup) if before_pickup else None
        return plan_route(to_pickup, rules.route(start, state.dropoff), state.drone_id)

    def _legs(
        self,
        state: DeliveryState,
        route: RouteCursor | None,
        position: GeoPoint,
        before_pickup: bool,
        to_stop_m: float | None,
        observed_at: datetime,
    ) -> LegTimes | None:
        """The remaining legs timed in the estimated wind; None while no wind is known.

        The legs after the one flown now are timed once per leg and `WindModel.retime_s`
        (`WindEstimator.timed`); a fix only divides its own leg by that leg's ground speed.
        """
        wind = self.wind
        if wind is None or state.is_final:
            return None
        now_s = observed_at.timestamp()
        if not wind.known(now_s):
            return None
        if route is None or to_stop_m is None:  # the straight lines
            target = state.pickup if before_pickup else state.dropoff
            current_m = distance_m(position, target)
            place: tuple[object, ...] = (state.drone_id, before_pickup)
        else:
            target = GeoPoint(route.target_lat, route.target_lon)
            current_m = max(to_stop_m - route.target_to_stop_m, 0.0)
            place = (route.drone_id, route.pickup_at, route.next, route.carrying, before_pickup)
        times = wind.timed(state.delivery_id, place, now_s)
        if times is None:
            current_s = wind.cruise_s((position, target), now_s, (current_m,))
            speed = current_m / current_s if current_s > 0.0 else wind.model.airspeed_mps
            if route is None or to_stop_m is None:
                rest_s = 0.0
                after_s = (
                    wind.cruise_s((state.pickup, state.dropoff), now_s) if before_pickup else 0.0
                )
            else:
                to_stop, to_stop_legs, carry, carry_legs = ahead(route)
                rest_s = wind.cruise_s(to_stop, now_s, to_stop_legs)
                after_s = wind.cruise_s(carry, now_s, carry_legs) if before_pickup else 0.0
            times = (speed, rest_s, after_s)
            wind.remember(state.delivery_id, place, now_s, times)
        speed, rest_s, after_s = times
        return LegTimes(current_m, current_m / speed, rest_s, after_s)
