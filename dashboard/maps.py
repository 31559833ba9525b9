"""The dashboard's maps as pydeck decks: plain layers over a base map that needs no CDN.

Streamlit fills in a Carto base map (tiles from a CDN) whenever a deck has no map style,
and Mapbox needs a token; an operations screen must work offline and behind firewalls.
So unless `DashboardSettings.map_style` names a style URL (your own tile server), each
deck gets `BLANK_STYLE_URL`: a MapLibre style with a single background layer, inlined as
a `data:` URL (Streamlit's frontend wants the style as a string), drawn in the browser
with no request at all. The layers carry the information.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pandas as pd
import pydeck as pdk

from dashboard.queries import AirspaceShapes

BLANK_STYLE: dict[str, Any] = {
    "version": 8,
    "name": "dronefleet-blank",
    "sources": {},
    "layers": [
        {"id": "background", "type": "background", "paint": {"background-color": "#e9edf2"}}
    ],
}
BLANK_STYLE_URL = "data:application/json," + quote(json.dumps(BLANK_STYLE, separators=(",", ":")))

PHASE_COLORS: dict[str, list[int]] = {
    "idle": [120, 120, 120],
    "to_pickup": [31, 119, 180],
    "at_pickup": [23, 190, 207],
    "to_dropoff": [255, 127, 14],
    "at_dropoff": [214, 39, 40],
    "returning": [44, 160, 44],
}
"""One colour per drone phase (the legend beside the fleet map uses the same)."""

_DEFAULT_CENTER = (47.3769, 8.5417)  # Zurich, the bundled scenario, when nothing is known


def _view(lats: pd.Series, lons: pd.Series) -> pdk.ViewState:
    """A view centred on the points, zoomed out enough to show them all."""
    if lats.empty:
        return pdk.ViewState(latitude=_DEFAULT_CENTER[0], longitude=_DEFAULT_CENTER[1], zoom=11)
    span = max(float(lats.max() - lats.min()), float(lons.max() - lons.min()), 0.005)
    zoom = max(min(13.5 - span * 40, 15.0), 8.0) if span < 0.3 else 9.0
    return pdk.ViewState(
        latitude=float(lats.mean()), longitude=float(lons.mean()), zoom=zoom, pitch=0
    )


def _deck(
    layers: list[pdk.Layer], view: pdk.ViewState, map_style: str | None, tooltip: Any
) -> pdk.Deck:
    # map_provider=None: neither Carto nor Mapbox; Streamlit draws the style with MapLibre.
    return pdk.Deck(
        layers=layers,
        initial_view_state=view,
        map_provider=None,
        map_style=map_style or BLANK_STYLE_URL,
        tooltip=tooltip,
    )


def airspace_layers(airspace: AirspaceShapes | None) -> list[pdk.Layer]:
    """The no-fly zones (red), the service area (an outline) and the depots (grey).

    Drawn first, under the drones; not pickable (the tooltip is the drones'). None
    before an airspace is published.
    """
    if airspace is None:
        return []
    return [
        pdk.Layer(
            "PolygonLayer",
            id="service-area",
            data=[{"name": f"service area {airspace.name}", "polygon": airspace.service_area}],
            get_polygon="polygon",
            filled=False,
            stroked=True,
            get_line_color=[100, 116, 139],
            line_width_min_pixels=1,
        ),
        pdk.Layer(
            "PolygonLayer",
            id="no-fly-zones",
            data=airspace.zones,
            get_polygon="polygon",
            get_fill_color=[220, 38, 38, 40],
            get_line_color=[220, 38, 38],
            line_width_min_pixels=1,
        ),
        pdk.Layer(
            "ScatterplotLayer",
            id="depots",
            data=airspace.depots,
            get_position="[lon, lat]",
            get_fill_color=[148, 163, 184],
            get_line_color=[71, 85, 105],
            stroked=True,
            line_width_min_pixels=1,
            radius_min_pixels=6,
        ),
    ]


def fleet_map(
    fleet: pd.DataFrame,
    in_flight: pd.DataFrame,
    map_style: str | None,
    airspace: AirspaceShapes | None = None,
) -> pdk.Deck:
    """Every drone at its latest fix, coloured by phase, and the drop-offs it flies to.

    The airspace (no-fly zones, service area, depots) is drawn underneath when known.
    """
    drones = fleet[["drone_id", "lat", "lon", "phase", "battery_pct"]].copy()
    drones["color"] = pd.Series(
        [PHASE_COLORS.get(str(p), [0, 0, 0]) for p in fleet["phase"]],
        index=fleet.index,
        dtype=object,
    )
    dropoffs = in_flight[["delivery_id", "dropoff_lat", "dropoff_lon"]]
    layers = [
        *airspace_layers(airspace),
        pdk.Layer(
            "ScatterplotLayer",
            id="dropoffs",
            data=dropoffs,
            get_position="[dropoff_lon, dropoff_lat]",
            get_fill_color=[0, 0, 0, 0],
            get_line_color=[214, 39, 40],
            stroked=True,
            filled=False,
            line_width_min_pixels=2,
            radius_min_pixels=7,
        ),
        pdk.Layer(
            "ScatterplotLayer",
            id="drones",
            data=drones,
            get_position="[lon, lat]",
            get_fill_color="color",
            radius_min_pixels=5,
            radius_max_pixels=12,
            get_radius=40,
            pickable=True,
        ),
    ]
    return _deck(
        layers,
        _view(fleet["lat"], fleet["lon"]),
        map_style,
        {"text": "{drone_id}\n{phase}\nbattery {battery_pct}%"},
    )


def track_map(track: pd.DataFrame, status: dict[str, Any], map_style: str | None) -> pdk.Deck:
    """One delivery's tracked path, its pickup (blue) and its drop-off (red)."""
    path = [
        {
            "path": [
                [float(lon), float(lat)]
                for lat, lon in zip(track["lat"], track["lon"], strict=True)
            ]
        }
    ]
    ends = pd.DataFrame(
        {
            "name": ["pickup", "drop-off"],
            "lat": [status["pickup_lat"], status["dropoff_lat"]],
            "lon": [status["pickup_lon"], status["dropoff_lon"]],
            "color": [[31, 119, 180], [214, 39, 40]],
        }
    )
    layers = [
        pdk.Layer(
            "PathLayer",
            id="track",
            data=path,
            get_path="path",
            get_color=[255, 127, 14],
            width_min_pixels=3,
        ),
        pdk.Layer(
            "ScatterplotLayer",
            id="ends",
            data=ends,
            get_position="[lon, lat]",
            get_fill_color="color",
            radius_min_pixels=6,
            pickable=True,
        ),
    ]
    lats = pd.concat([track["lat"], ends["lat"]], ignore_index=True).astype(float)
    lons = pd.concat([track["lon"], ends["lon"]], ignore_index=True).astype(float)
    return _deck(layers, _view(lats, lons), map_style, {"text": "{name}"})
