"""Settings of the API (env prefix DRONEFLEET_API_). Secrets have no default."""

from __future__ import annotations

import re

import limits
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from kafkaio.settings import KafkaSettings
from runtime import GcFreezeSettings, LogSettings


class ApiSettings(KafkaSettings, GcFreezeSettings, LogSettings):
    """One API process's configuration.

    With the collector's freezing (`runtime.gc_freeze`): with 5,000 clients it took the
    fan-out's p99 from 405 to under 30 ms.
    """

    model_config = SettingsConfigDict(env_prefix="DRONEFLEET_API_")

    database_url: str = "postgresql://dronefleet@127.0.0.1:25432/dronefleet"
    token_secret: SecretStr = Field(min_length=32)
    """Signs tracking tokens. Required: generate one with `openssl rand -hex 32`."""
    operator_key: SecretStr | None = Field(default=None, min_length=32)
    """Operators' key: registers businesses, reads the fleet. Unset: those endpoints refuse.
    URL-safe characters only, since the fleet websocket takes it as a subprotocol."""
    record_timeout_s: float = Field(default=10.0, gt=0)
    """The longest a request waits for the event log to confirm what it records; then 503
    (naming the delivery or business, which may still be recorded once the broker is back)."""
    airspace_wait_s: float = Field(default=10.0, ge=0)
    """How long the start waits to read the airspace already published (requests meanwhile:
    503 `airspace_unknown`); the API reads on and starts without it after that."""
    registration_wait_s: float = Field(default=10.0, ge=0)
    """How long a registration waits for the read model to know the new key (then 202)."""
    token_ttl_s: int = 6 * 3600
    key_rotation_grace_s: float = Field(default=24 * 3600.0, ge=0)
    """After a business rotates its key, the old one still works this long (to roll the new
    one out), then it is refused (`api.key_ledger`)."""
    token_after_final_s: float = Field(default=3600.0, ge=0)
    """A tracking token stops working this long after its delivery's final state
    (delivered, cancelled, failed), whatever its own expiry (`api.token_life`)."""
    public_url: str = "http://127.0.0.1:8000"
    allowed_origins: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:8000", "http://localhost:8000"]
    )
    ws_queue_size: int = 1
    ws_max_missed_updates: int = Field(default=30, ge=1)
    """A client that missed this many updates in a row (stuck, not reading) is dropped."""
    ws_wait_refresh_s: float = Field(default=5.0, gt=0)
    """While a delivery waits for a drone, its socket re-reads its state and place in the
    queue this often (one queue read per period per API process, shared by all sockets)."""
    ws_reason_wait_s: float = Field(default=3.0, ge=0)
    """After a rescheduled, failed or cancelled update, how long the socket waits for the
    read model to have the reason before it goes on (or closes) without it."""
    socket_send_buffer_bytes: int = Field(default=64 * 1024, ge=0)
    """Kernel send buffer of each connection (SO_SNDBUF, set on the listening socket).
    Bounds what a client that stops reading pins in kernel memory; 0 leaves it to the
    kernel's autotuning, which grows it to several MiB per connection."""
    latest_cache_size: int = 100_000
    map_tile_url: str = ""
    """Map tiles of the live map page, e.g. `https://tile.example/{z}/{x}/{y}.png`.
    Empty: no tiles, the route and markers on a plain background (nothing leaves the API).
    Its origin is the only other one the page's Content-Security-Policy allows."""
    map_tile_attribution: str = ""
    max_body_bytes: int = Field(default=16 * 1024, ge=1024)
    """The largest request body read (413 `body_too_large` beyond, before anyone is
    authenticated: an unauthenticated client cannot make the API buffer more). The
    largest legitimate body, a delivery request, is well under 1 KiB."""
    rate_per_address: str = "300/second"
    """Requests one client address may make (`limits` notation, e.g. `100/second`,
    `600/minute`), checked before authentication; 429 `rate_limited` with Retry-After
    beyond. Behind a proxy, the address is the proxy's unless uvicorn trusts its
    forwarded headers (`FORWARDED_ALLOW_IPS`)."""
    rate_per_business: str = "200/second"
    """Authenticated requests one business may make (all its keys together); 429
    `rate_limited` with Retry-After beyond. Above the load test's one business (the
    end-to-end benchmark at 10,000 drones orders about 42 deliveries a second through one
    key, from one address), so the limits do not change what it measures."""
    trusted_proxies: list[str] = Field(default_factory=list)
    """Addresses (or CIDRs) of the proxies whose `X-Forwarded-For` names the client: the
    per-address rate then counts the real client. Empty (the default): no proxy is
    trusted, the connection's address counts, and a forged header changes nothing.
    Behind an ingress or a load balancer, name it, or every client is its address."""
    unknown_key_ttl_s: float = Field(default=10.0, ge=0)
    """How long a key id the read model does not know is remembered as unknown, so a
    flood of one unknown key costs one database query per period, not one a request.
    A key registered `pending` works on the replica that issued it as soon as the sink
    has it, on the others within this time after a failed try."""
    ws_max_per_token: int = Field(default=10, ge=1)
    """Open tracking sockets one tracking token may hold on one API process (a customer's
    few devices); 429 `too_many_sockets` at the handshake beyond."""
    ws_max_per_business: int = Field(default=10_000, ge=1)
    """Open tracking sockets the deliveries of one business may hold on one API process."""
    webhook_signing_key: SecretStr | None = Field(default=None, min_length=32)
    """Derives each webhook endpoint's signing secret (the notifier's
    `DRONEFLEET_NOTIFIER_SIGNING_KEY` must be the same). Unset: webhook registration refuses."""
    webhook_allow_private_targets: bool = False
    """Accept http and private or loopback endpoint URLs (the demo's and the tests' local
    receiver); production leaves it off: https to public addresses only."""
    quote_preflight_s: float = Field(default=0.1, ge=0)
    """The quote's time from a request to its drone's take-off when a drone is free
    (`api.quote.PREFLIGHT_S`, measured at 0.1 s on a lightly loaded platform): the
    request's way through the event log to dispatch, the assignment's way back to the
    drone, and the drone's next step. Raise it where that takes longer."""
    quote_wind_mps: float = Field(default=3.0, ge=0)
    """The wind the quote allows for at cruise altitude, direction unknown
    (`api.quote.wind_slowdown`: 3 m/s makes a cruise 3.1 % longer on average). The API
    does not know the wind the stream worker learns; set the service area's typical
    wind (3 m/s: the bundled Zurich scenario's prevailing wind; 0: calm air)."""
    quote_wind_from_deg: float | None = Field(default=None, ge=0, lt=360)
    """Where that wind blows from, in degrees from north (a forecast; 240: the bundled
    scenario's south-westerly). Set, each leg of the quote is timed by its direction
    (`api.quote.track_slowdown`); unset, the mean over every direction."""
    host: str = "127.0.0.1"
    port: int = 8000

    @field_validator("rate_per_address", "rate_per_business")
    @classmethod
    def _rate(cls, rate: str) -> str:
        limits.parse(rate)  # a malformed rate fails at start, not on the first request
        return rate

    @field_validator("operator_key")
    @classmethod
    def _url_safe(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None and not re.fullmatch(r"[A-Za-z0-9._~-]+", key.get_secret_value()):
            raise ValueError("use URL-safe characters only, e.g. `openssl rand -hex 32`")
        return key
