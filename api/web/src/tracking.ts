// Pure helpers of the live map page: no DOM, no network, so they stay easy to reason about.

export type Status =
  | "requested"
  | "assigned"
  | "en_route_to_pickup"
  | "picked_up"
  | "en_route_to_dropoff"
  | "delivered"
  | "cancelled";

export interface Point {
  lat: number;
  lon: number;
}

/** A websocket frame (`TrackingMessagePublic` in api/schemas.py). */
export interface TrackingMessage extends Point {
  type: "snapshot" | "update";
  delivery_id: string;
  sequence: number;
  status: Status;
  altitude_m: number;
  remaining_m: number;
  eta: string | null;
  observed_at: string;
}

/** The part of `GET /v1/deliveries/{id}` (`DeliveryStatusPublic`) the page uses. */
export interface DeliveryStatus {
  status: Status;
  pickup: Point;
  dropoff: Point;
  eta: string | null;
  position: Point | null;
  remaining_m: number | null;
}

export const FINAL: ReadonlySet<Status> = new Set<Status>(["delivered", "cancelled"]);

const LABELS: Record<Status, string> = {
  requested: "Requested",
  assigned: "Drone assigned",
  en_route_to_pickup: "Flying to pickup",
  picked_up: "Picked up",
  en_route_to_dropoff: "On its way to you",
  delivered: "Delivered",
  cancelled: "Cancelled",
};

export function statusLabel(status: string): string {
  return LABELS[status as Status] ?? status;
}

/** The delivery id and token of a tracking link `/track/{id}#token=...`.
 *  The token is in the fragment, which browsers never send to a server. */
export function parseLink(pathname: string, hash: string): { deliveryId: string; token: string | null } {
  const parts = pathname.split("/").filter((part) => part !== "");
  const deliveryId = decodeURIComponent(parts[parts.length - 1] ?? "");
  const token = new URLSearchParams(hash.replace(/^#/, "")).get("token");
  return { deliveryId, token };
}

/** Where the drone is heading: the pickup until it has the parcel, then the drop-off. */
export function target(status: Status, pickup: Point, dropoff: Point): Point | null {
  if (FINAL.has(status)) return null;
  return status === "requested" || status === "assigned" || status === "en_route_to_pickup"
    ? pickup
    : dropoff;
}

/** The local clock time (ms) the ETA falls on. It is computed from the ETA's lead over
 *  the fix it was computed from, not from the ETA itself, so a wrong clock on the
 *  customer's device does not skew the countdown. */
export function etaDeadline(message: TrackingMessage, receivedAtMs: number): number | null {
  if (message.eta === null) return null;
  const leadMs = Date.parse(message.eta) - Date.parse(message.observed_at);
  return receivedAtMs + Math.max(0, leadMs);
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
