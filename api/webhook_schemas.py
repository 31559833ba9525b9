"""Request and response bodies of the webhook endpoints (`api.routes.webhooks`).

Topic names are the contracts' `WebhookTopic`, an enum in the OpenAPI document.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts import WebhookTopic


class WebhookEndpointIn(BaseModel):
    """A new endpoint: where to post, and which topics."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=2048)
    topics: list[WebhookTopic] = Field(min_length=1, max_length=8)
    description: str = Field(default="", max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")


class WebhookEndpointPatch(BaseModel):
    """What to change of an endpoint (the fields given); `enabled: false` disables it."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=8, max_length=2048)
    topics: list[WebhookTopic] | None = Field(default=None, min_length=1, max_length=8)
    description: str | None = Field(default=None, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")
    enabled: bool | None = None


class WebhookEndpointPublic(BaseModel):
    """An endpoint as its business sees it (never its secret)."""

    endpoint_id: str
    url: str
    topics: list[str]
    description: str
    enabled: bool
    created_at: datetime | None = None
    updated_at: datetime | None = None


class WebhookEndpointCreatedPublic(WebhookEndpointPublic):
    """201/202 body of a registration: the signing secret, shown this once.

    `status` `pending`: recorded, not yet in the read model (it lists it within moments).
    """

    secret: str
    status: Literal["active", "pending"]


class WebhookEndpointHealthPublic(BaseModel):
    """What the notifier did for an endpoint: messages by state, and whether it is paused."""

    endpoint_id: str
    delivered: int
    pending: int
    dead: int
    consecutive_failures: int
    paused_until: datetime | None


class WebhookMessagePublic(BaseModel):
    """One message of the outbox (a dead letter when `state` is `dead`).

    `position` orders the outbox (page with `after`); `message_id` is the `webhook-id`.
    """

    position: int
    message_id: str
    delivery_id: str
    topic: str
    event_id: str
    state: Literal["pending", "delivered", "dead", "dropped"]
    failures: int
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None
    dead_at: datetime | None
    dead_reason: str | None


class WebhookAttemptPublic(BaseModel):
    """One post: when, what came of it (`outcome`, `response_code`) and how long it took."""

    attempt_id: int
    message_id: str
    attempted_at: datetime
    outcome: str
    response_code: int | None
    latency_ms: float
    detail: str


class WebhookRedeliveryIn(BaseModel):
    """Which dead letters to send again; none named: every one of the endpoint."""

    model_config = ConfigDict(extra="forbid")

    message_ids: list[str] = Field(default_factory=list, max_length=1000)


class WebhookRedeliveryPublic(BaseModel):
    """202 body: the request is recorded; the notifier takes the dead letters back."""

    endpoint_id: str
    message_ids: list[str]
    status: Literal["accepted"]


class WebhookSecretRotationIn(BaseModel):
    """How long the endpoint's current secret keeps signing alongside the new one."""

    model_config = ConfigDict(extra="forbid")

    previous_valid_for_s: int = Field(default=86_400, ge=0, le=7 * 86_400)
    """Seconds (a day by default, a week at most; 0: the old secret stops at once)."""


class WebhookSecretRotatedPublic(BaseModel):
    """The endpoint's new signing secret, shown this once, and when the old one stops."""

    endpoint_id: str
    secret: str
    secret_version: int
    previous_secret_valid_until: datetime
