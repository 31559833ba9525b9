"""Request and response bodies: what the OpenAPI document shows the world."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class PointIn(BaseModel):
    """A WGS84 position in degrees."""

    model_config = ConfigDict(extra="forbid")

    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)


class DeliveryRequestIn(BaseModel):
    """A business's pickup request."""

    model_config = ConfigDict(extra="forbid")

    pickup: PointIn
    dropoff: PointIn


class CancelRequestIn(BaseModel):
    """Why the delivery is cancelled (optional, kept with the event)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=500)


class CancellationAcceptedPublic(BaseModel):
    """202 body: the cancellation is asked for; the live tracking shows the outcome."""

    delivery_id: str
    status: Literal["cancellation_requested"]


class DeliveryAcceptedPublic(BaseModel):
    """202 body: the delivery id and what the customer needs to follow it."""

    delivery_id: str
    status: Literal["requested"]
    tracking_token: str
    tracking_url: str
    websocket_url: str
    websocket_subprotocols: list[str]


class DeliveryStatusPublic(BaseModel):
    """A delivery as its customer may see it."""

    delivery_id: str
    status: str
    pickup: PointIn
    dropoff: PointIn
    requested_at: datetime
    drone_id: str | None
    delivered_at: datetime | None
    eta: datetime | None
    position: PointIn | None
    remaining_m: float | None


class TrackingMessagePublic(BaseModel):
    """A websocket message: the snapshot on connect, then each update."""

    type: Literal["snapshot", "update"]
    delivery_id: str
    sequence: int
    status: str
    lat: float
    lon: float
    altitude_m: float
    remaining_m: float
    eta: datetime | None
    observed_at: datetime


class ProblemPublic(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
