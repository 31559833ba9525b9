// Pure helpers of the live map page: no DOM, no network, so they stay easy to reason about.

import type { components } from "./generated/api";

// The API's types, generated from its OpenAPI document (`make install`, or in this folder
// `dronefleet-api openapi openapi.json && npm run build`); the statuses are the
// contracts' vocabularies, never copied here.
type Schemas = components["schemas"];

/** A websocket frame (`TrackingMessagePublic`). */
export type TrackingMessage = Schemas["TrackingMessagePublic"];
/** What the customer is shown: the status of a tracking update (`TrackingStatus`). */
export type Status = TrackingMessage["status"];
/** `GET /v1/deliveries/{id}` (`DeliveryStatusPublic`). */
export type DeliveryStatus = Schemas["DeliveryStatusPublic"];
/** A websocket frame without a position (`TrackingStateMessagePublic`): the state, the
 *  place in the queue while waiting for a drone, the reason of a reschedule or an end. */
export type StateMessage = Schemas["TrackingStateMessagePublic"];
/** Any frame of the delivery's socket. */
export type SocketMessage = TrackingMessage | StateMessage;
/** `GET /v1/deliveries/{id}/history` (`DeliveryHistoryPublic`): events and the track. */
export type History = Schemas["DeliveryHistoryPublic"];
export type TrackPoint = Schemas["TrackPointPublic"];
/** The promise made while no drone flies the delivery yet (`QuotePublic`, issue 19). */
export type Quote = Schemas["QuotePublic"];
/** The delivery's state in the read model (the aggregate's `DeliveryStatus`). */
export type DeliveryState = DeliveryStatus["status"];
export type Point = Schemas["PointIn"];

/** How the page shows a status: its label, where the drone is heading, and for a final
 *  status the sentence that ends the live tracking (null while it goes on). */
export interface Shown {
  label: string;
  heading: "pickup" | "dropoff" | null;
  ending: string | null;
}

/** Compile-time exhaustiveness: a status this page does not handle fails `tsc`. At run
 *  time (a page older than its server) the raw value is shown rather than nothing. */
function unhandled(value: never): string {
  return String(value);
}

export function shown(status: Status): Shown {
  switch (status) {
    case "requested":
      return { label: "Requested", heading: "pickup", ending: null };
    case "en_route_to_pickup":
      return { label: "Flying to pickup", heading: "pickup", ending: null };
    case "en_route_to_dropoff":
      return { label: "On its way to you", heading: "dropoff", ending: null };
    case "rescheduled":
      return { label: "Finding another drone", heading: null, ending: null };
    case "delivered":
      return { label: "Delivered", heading: null, ending: "Delivered." };
    case "cancelled":
      return { label: "Cancelled", heading: null, ending: "This delivery was cancelled." };
    case "failed":
      return { label: "Failed", heading: null, ending: "This delivery failed." };
    default:
      return { label: unhandled(status), heading: null, ending: null };
  }
}

export function statusLabel(status: Status): string {
  return shown(status).label;
}

/** The label of the read model's state, shown until the first live update arrives. */
export function stateLabel(state: DeliveryState): string {
  switch (state) {
    case "requested":
      return "Requested";
    case "assigned":
      return "Drone assigned";
    case "picked_up":
      return "Picked up";
    case "rescheduled":
      return "Finding another drone";
    case "delivered":
      return "Delivered";
    case "cancelled":
      return "Cancelled";
    case "failed":
      return "Failed";
    default:
      return unhandled(state);
  }
}

/** Why a drone gave a delivery up, or why it failed, in words. The reasons are the
 *  platform's codes (`battery`, `drone_lost`, ...); an unknown one is shown as it is,
 *  and a cancellation's reason is the business's own words. */
export function reasonText(status: Status, reason: string | null): string | null {
  if (reason === null || reason === "") return null;
  if (status === "cancelled") return `The shop said: “${reason}”`;
  const words: Record<string, string> = {
    battery: "the drone's battery ran low",
    insufficient_battery: "the drone had too little battery for the trip",
    no_fly_zone: "a no-fly zone closed the drone's way",
    unreachable: "the drone could not reach the pickup or the drop-off",
    fault: "the drone had a fault",
    busy: "the drone was already on another delivery",
    drone_lost: "we lost contact with the drone",
    no_drone_available: "no drone could take it in time",
    not_taken_up: "the drone did not take it up in time",
  };
  const said = words[reason] ?? reason.replace(/_/g, " ");
  return `Why: ${said}.`;
}

/** A waiting delivery's place in words (`waiting_ahead` of a state message). */
export function waitText(ahead: number | null): string {
  if (ahead === null) return "Waiting for a drone.";
  if (ahead === 0) return "Next in line for a drone.";
  return ahead === 1 ? "1 delivery ahead of yours." : `${ahead} deliveries ahead of yours.`;
}

/** Whether the live tracking has ended: no update follows a final status. */
export function isFinal(status: Status): boolean {
  return shown(status).ending !== null;
}

/** The delivery id and token of a tracking link `/track/{id}#token=...`.
 *  The token is in the fragment, which browsers never send to a server. */
export function parseLink(pathname: string, hash: string): { deliveryId: string; token: string | null } {
  const parts = pathname.split("/").filter((part) => part !== "");
  const deliveryId = decodeURIComponent(parts[parts.length - 1] ?? "");
  const token = new URLSearchParams(hash.replace(/^#/, "")).get("token");
  return { deliveryId, token };
}

/** The track to draw: the history's points and the live ones, by sequence, each once. */
export function mergeTrack(points: ReadonlyMap<number, Point>): Point[] {
  return [...points.entries()].sort(([a], [b]) => a - b).map(([, point]) => point);
}

/** Where the drone is heading: the pickup until it has the parcel, then the drop-off;
 *  nowhere once the delivery has ended or while it waits for another drone. */
export function target(status: Status, pickup: Point, dropoff: Point): Point | null {
  const heading = shown(status).heading;
  return heading === "pickup" ? pickup : heading === "dropoff" ? dropoff : null;
}

/** The local clock time (ms) the ETA falls on. It is computed from the ETA's lead over
 *  the fix it was computed from, not from the ETA itself, so a wrong clock on the
 *  customer's device does not skew the countdown. */
export function etaDeadline(message: TrackingMessage, receivedAtMs: number): number | null {
  if (message.eta === null) return null;
  const leadMs = Date.parse(message.eta) - Date.parse(message.observed_at);
  return receivedAtMs + Math.max(0, leadMs);
}

/** The local clock times (ms) of the ETA's window (earliest, latest arrival), measured
 *  like `etaDeadline` from the fix the update was computed from; null without one. */
export function windowDeadlines(message: TrackingMessage, receivedAtMs: number): [number, number] | null {
  if (message.eta_earliest === null || message.eta_earliest === undefined) return null;
  if (message.eta_latest === null || message.eta_latest === undefined) return null;
  const observed = Date.parse(message.observed_at);
  const early = receivedAtMs + Math.max(0, Date.parse(message.eta_earliest) - observed);
  const late = receivedAtMs + Math.max(0, Date.parse(message.eta_latest) - observed);
  return [early, Math.max(early, late)];
}

/** An ETA's countdown with its window: "4:12 (3:50–4:40)". */
export function formatWithWindow(msLeft: number, window: [number, number] | null, nowMs: number): string {
  const point = formatCountdown(msLeft);
  if (window === null) return point;
  return `${point} (${formatCountdown(window[0] - nowMs)}–${formatCountdown(window[1] - nowMs)})`;
}

/** The local clock time (ms) a quote's drop-off falls on, from its lead over the time it
 *  was quoted (as `etaDeadline` does, so a wrong device clock does not skew it). */
export function quoteDeadline(quote: Quote | null | undefined, receivedAtMs: number): number | null {
  if (quote === null || quote === undefined) return null;
  const leadMs = Date.parse(quote.dropoff_eta) - Date.parse(quote.quoted_at);
  return receivedAtMs + Math.max(0, leadMs);
}

/** A quote's pickup in words: when the drone should be at the pickup, from now. */
export function quoteText(quote: Quote | null | undefined): string | null {
  if (quote === null || quote === undefined) return null;
  const leadMs = Date.parse(quote.pickup_eta) - Date.parse(quote.quoted_at);
  const minutes = Math.max(1, Math.round(leadMs / 60_000));
  return `Pickup expected in about ${minutes} min.`;
}

export function formatCountdown(msLeft: number): string {
  const total = Math.max(0, Math.round(msLeft / 1000));
  const minutes = Math.floor(total / 60);
  const seconds = total % 60;
  return `${minutes}:${seconds.toString().padStart(2, "0")}`;
}

export function formatDistance(metres: number): string {
  return metres >= 1000 ? `${(metres / 1000).toFixed(1)} km` : `${Math.round(metres)} m`;
}

/** Reconnection delay: exponential from 1 s, capped at 30 s, with jitter so that many
 *  pages losing the same API process do not come back at the same instant. */
export function backoffMs(attempt: number, random: number): number {
  const base = Math.min(30_000, 1000 * 2 ** attempt);
  return Math.round(base * (0.5 + random / 2));
}
