// The customer's live map: the drone, its track so far, the line to where it is heading,
// pickup and drop-off, the state and a ticking ETA with its window (earliest and latest
// arrival, learned from past errors); while it waits for a drone, its place
// in the queue and its quote (the ETA ticks from the first second), and why a drone gave
// it up or it failed. Data comes from the API only:
// the delivery's status once (for pickup and drop-off), its history once (the track
// drawn so far, after a reload too) and the live websocket, which the page reopens by
// itself with backoff until the delivery ends.
import L from "leaflet";
import "leaflet/dist/leaflet.css";
import "./style.css";
import { drawAirspace } from "./airspace";

import {
  backoffMs,
  etaDeadline,
  formatDistance,
  formatWithWindow,
  isFinal,
  mergeTrack,
  parseLink,
  quoteDeadline,
  quoteText,
  reasonText,
  shown,
  stateLabel,
  statusLabel,
  target,
  waitText,
  windowDeadlines,
  type DeliveryStatus,
  type History,
  type Point,
  type SocketMessage,
  type StateMessage,
  type Status,
  type TrackingMessage,
} from "./tracking";

const SUBPROTOCOL = "dronefleet.v1";

function element(id: string): HTMLElement {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`the page has no #${id}`);
  return found;
}

const view = {
  state: element("state"),
  eta: element("eta"),
  remaining: element("remaining"),
  detail: element("detail"),
  connection: element("connection"),
};

function say(text: string, problem = false): void {
  view.connection.textContent = text;
  view.connection.classList.toggle("problem", problem);
}

const latLng = (point: Point): L.LatLngExpression => [point.lat, point.lon];

const { deliveryId, token } = parseLink(window.location.pathname, window.location.hash);
const tileUrl = document.body.dataset.tileUrl ?? "";
const map = L.map("map", { attributionControl: tileUrl !== "", zoomSnap: 0.25 });
map.setView([0, 0], 2);
if (tileUrl !== "") {
  map.attributionControl.setPrefix(false);
  L.tileLayer(tileUrl, { attribution: document.body.dataset.tileAttribution ?? "" }).addTo(map);
}
const track = L.polyline([], { color: "#2563eb", weight: 4, className: "track" }).addTo(map);
const ahead = L.polyline([], { color: "#2563eb", weight: 2, dashArray: "6 6" }).addTo(map);
const placeStyle = { radius: 8, weight: 3, fillOpacity: 0.9 };
const drone = L.circleMarker([0, 0], {
  radius: 9,
  color: "#fff",
  weight: 3,
  fillColor: "#dc2626",
  fillOpacity: 1,
  className: "drone",
});

let pickup: Point | null = null;
let dropoff: Point | null = null;
let status: Status | null = null;
let position: Point | null = null;
let lastSequence = 0;
const trackPoints = new Map<number, Point>();
let deadline: number | null = null;
/** The ETA's window (earliest, latest arrival) as local clock times, when it has one. */
let window_: [number, number] | null = null;
let framed = false;
let attempt = 0;
let stopped = false;

function place(point: Point, label: string, color: string): void {
  L.circleMarker(latLng(point), { ...placeStyle, color, fillColor: "#fff", className: label.toLowerCase() })
    .bindTooltip(label, { permanent: true, direction: "top", className: "place-label" })
    .addTo(map);
}

function frame(): void {
  const points = [pickup, dropoff, position].filter((p): p is Point => p !== null);
  if (points.length === 0) return;
  if (!framed) {
    map.fitBounds(L.latLngBounds(points.map(latLng)), { padding: [60, 60], maxZoom: 17 });
    framed = points.length > 1;
  } else if (position !== null && !map.getBounds().contains(latLng(position))) {
    map.panTo(latLng(position));
  }
}

function redrawAhead(): void {
  const heading = status !== null && pickup !== null && dropoff !== null ? target(status, pickup, dropoff) : null;
  ahead.setLatLngs(heading !== null && position !== null ? [latLng(position), latLng(heading)] : []);
}

function show(message: TrackingMessage): void {
  if (message.delivery_id !== deliveryId || message.sequence <= lastSequence) return;
  lastSequence = message.sequence;
  position = { lat: message.lat, lon: message.lon };
  deadline = etaDeadline(message, Date.now());
  window_ = windowDeadlines(message, Date.now());
  drone.setLatLng(latLng(position));
  if (!map.hasLayer(drone)) drone.addTo(map);
  trackPoints.set(message.sequence, position);
  track.setLatLngs(mergeTrack(trackPoints).map(latLng));
  showStatus(message.status);
  view.remaining.textContent = formatDistance(message.remaining_m);
  redrawAhead();
  frame();
  tick();
}

function showStatus(next: Status): void {
  status = next;
  view.state.textContent = statusLabel(next);
  view.state.dataset.status = next;
}

/** A frame without a position: the state from the read model, the place in the queue
 *  while waiting, the reason of a reschedule or an end. */
function showState(message: StateMessage): void {
  if (message.delivery_id !== deliveryId) return;
  showStatus(message.status);
  const why = reasonText(message.status, message.reason);
  const waiting = message.status === "requested" || message.status === "rescheduled";
  if (waiting) {
    deadline = quoteDeadline(message.quote, Date.now()); // the quote ticks until a drone flies
    window_ = null;
  }
  const lines = waiting
    ? [why, waitText(message.waiting_ahead), quoteText(message.quote)]
    : isFinal(message.status)
      ? [why]
      : [];
  view.detail.textContent = lines.filter((line) => line !== null).join(" ");
  redrawAhead();
  tick();
}

function receive(message: SocketMessage): void {
  if (message.type === "state") showState(message);
  else {
    const before = status;
    show(message);
    if (status !== before && status !== null && !isFinal(status)) view.detail.textContent = "";
  }
}

/** Draw the track recorded so far (a reload, a reconnect): from the history endpoint. */
async function loadTrack(authorization: string): Promise<void> {
  const response = await fetch(`/v1/deliveries/${encodeURIComponent(deliveryId)}/history`, {
    headers: { Authorization: authorization },
  }).catch(() => null);
  if (response === null || !response.ok) return; // the live updates still draw from now on
  const history = (await response.json()) as History;
  for (const point of history.track) trackPoints.set(point.sequence, { lat: point.lat, lon: point.lon });
  track.setLatLngs(mergeTrack(trackPoints).map(latLng));
}

function tick(): void {
  if (status === "delivered") view.eta.textContent = "arrived";
  else if (status !== null && isFinal(status)) view.eta.textContent = "–";
  else {
    const now = Date.now();
    view.eta.textContent = deadline === null ? "…" : formatWithWindow(deadline - now, window_, now);
  }
}

async function loadPlaces(authorization: string, attempt = 0): Promise<void> {
  const response = await fetch(`/v1/deliveries/${encodeURIComponent(deliveryId)}`, {
    headers: { Authorization: authorization },
  }).catch(() => null);
  if (response !== null && response.ok) {
    const delivery = (await response.json()) as DeliveryStatus;
    pickup = delivery.pickup;
    dropoff = delivery.dropoff;
    place(pickup, "Pickup", "#16a34a");
    place(dropoff, "Drop-off", "#9333ea");
    if (status === null) view.state.textContent = stateLabel(delivery.status);
    redrawAhead();
    frame();
    void loadTrack(authorization);
    return;
  }
  if (response !== null && (response.status === 401 || response.status === 403)) {
    stopped = true;
    say("This tracking link is invalid or has expired.", true);
    return;
  }
  // Not in the read model yet (404) or the API is unreachable: try again.
  window.setTimeout(() => void loadPlaces(authorization, attempt + 1), backoffMs(attempt, Math.random()));
}

function connect(): void {
  if (stopped || token === null) return;
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  const url = `${scheme}//${window.location.host}/v1/deliveries/${encodeURIComponent(deliveryId)}/live`;
  const socket = new WebSocket(url, [SUBPROTOCOL, `bearer.${token}`]);
  socket.onopen = () => {
    attempt = 0;
    say("Live");
  };
  socket.onmessage = (event: MessageEvent<string>) => receive(JSON.parse(event.data) as SocketMessage);
  socket.onclose = () => {
    const ending = status !== null ? shown(status).ending : null;
    if (ending !== null) {
      stopped = true;
      say(ending);
      ahead.setLatLngs([]);
      tick();
      return;
    }
    if (stopped) return;
    const delay = backoffMs(attempt, Math.random());
    attempt += 1;
    say(`Connection lost; reconnecting in ${Math.ceil(delay / 1000)} s`, true);
    window.setTimeout(connect, delay);
  };
}

if (token === null || deliveryId === "") {
  say("This link has no tracking token.", true);
} else {
  void loadPlaces(`Bearer ${token}`);
  void drawAirspace(map, `Bearer ${token}`);
  connect();
  window.setInterval(tick, 1000);
}
