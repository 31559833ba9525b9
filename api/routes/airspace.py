"""The airspace in force, for the maps: no-fly zones, depots, service area, range.

The live map draws it around a delivery, so a customer's tracking token reads it, and
so does a business's key (to show where it may request deliveries). It is what the API
itself checks requests against (`api.airspace`), served from memory: no database read.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from api import tokens
from api.deps import DeliveryReaderDep, ServicesDep
from api.errors import AirspaceUnknownError
from api.openapi import problem_responses
from api.schemas import AirspacePublic, DepotPublic, PointIn, ZonePublic
from contracts import AirspacePublished, GeoPoint

router = APIRouter(prefix="/v1/airspace", tags=["airspace"])

CACHE_CONTROL = "private, max-age=60"
"""The airspace changes rarely: a page may keep it a minute."""


@router.get("", response_model=AirspacePublic, responses=problem_responses(401, 503))
async def airspace(
    reader: DeliveryReaderDep, services: ServicesDep, response: Response
) -> AirspacePublic:
    """The airspace in force, for a tracking token's holder or a business."""
    if reader.token is not None:
        tokens.subject(services.settings.token_secret.get_secret_value(), reader.token)
    current = services.airspace.current
    if current is None:
        raise AirspaceUnknownError("the platform's airspace is not known yet; try again shortly")
    response.headers["Cache-Control"] = CACHE_CONTROL
    return public(current)


def public(airspace: AirspacePublished) -> AirspacePublic:
    """The public form of an `AirspacePublished`."""
    return AirspacePublic(
        name=airspace.name,
        version=airspace.sequence,
        published_at=airspace.recorded_at,
        zones=[ZonePublic(name=z.name, boundary=_points(z.boundary)) for z in airspace.zones],
        depots=[
            DepotPublic(name=d.name, position=PointIn(lat=d.position.lat, lon=d.position.lon))
            for d in airspace.depots
        ],
        service_area=_points(airspace.service_area),
        range_m=airspace.range_m,
    )


def _points(ring: tuple[GeoPoint, ...]) -> list[PointIn]:
    return [PointIn(lat=p.lat, lon=p.lon) for p in ring]
