// The airspace on the live map: the no-fly zones (red), the service area (a thin outline)
// and the depots (grey dots), from `GET /v1/airspace`, the same airspace the API checks
// delivery requests against. Drawn under the delivery's own layers; a page that cannot
// read it (an old API, a network error) simply shows the delivery without it.
import L from "leaflet";

import type { components } from "./generated/api";

/** `GET /v1/airspace` (`AirspacePublic`). */
export type Airspace = components["schemas"]["AirspacePublic"];
type Point = components["schemas"]["PointIn"];

const ring = (points: Point[]): L.LatLngExpression[] => points.map((p) => [p.lat, p.lon]);

/** Fetch the airspace with the page's credential and draw it on `map`; false if not read. */
export async function drawAirspace(map: L.Map, authorization: string): Promise<boolean> {
  const response = await fetch("/v1/airspace", { headers: { Authorization: authorization } }).catch(() => null);
  if (response === null || !response.ok) return false;
  const airspace = (await response.json()) as Airspace;
  const layer = L.layerGroup();
  L.polygon(ring(airspace.service_area), {
    color: "#64748b",
    weight: 1,
    fill: false,
    interactive: false,
    className: "service-area",
  }).addTo(layer);
  for (const zone of airspace.zones) {
    L.polygon(ring(zone.boundary), {
      color: "#dc2626",
      weight: 1,
      fillColor: "#dc2626",
      fillOpacity: 0.12,
      className: "no-fly-zone",
    })
      .bindTooltip(`No-fly zone: ${zone.name}`)
      .addTo(layer);
  }
  for (const depot of airspace.depots) {
    L.circleMarker([depot.position.lat, depot.position.lon], {
      radius: 4,
      color: "#475569",
      fillColor: "#94a3b8",
      fillOpacity: 1,
      weight: 1,
      className: "depot",
    })
      .bindTooltip(`Depot ${depot.name}`)
      .addTo(layer);
  }
  layer.addTo(map);
  layer.eachLayer((drawn) => {
    if (drawn instanceof L.Path) drawn.bringToBack();
  });
  return true;
}
