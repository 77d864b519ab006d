"""Request and response bodies of /v1/webhooks, so /openapi.json describes them exactly."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

_EVENTS_HELP = (
    "Event types to receive (recording.started, recording.stopped, recording.complete, "
    "recording.failed, recording.deleted, room.session.started, room.session.ended). "
    "Empty means all of them."
)


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(description="http or https URL that receives signed POST requests.")
    events: list[str] = Field(default_factory=list, description=_EVENTS_HELP)
    description: str = Field(default="", max_length=1000)


class WebhookPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = None
    events: list[str] | None = Field(default=None, description=_EVENTS_HELP)
    description: str | None = Field(default=None, max_length=1000)
    enabled: bool | None = None


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    description: str
    enabled: bool
    created_at: str


class WebhookCreated(WebhookOut):
    secret: str = Field(
        description="Standard Webhooks signing secret (whsec_...); shown only here."
    )


class WebhookList(BaseModel):
    data: list[WebhookOut]
    next_cursor: str | None


class DeliveryOut(BaseModel):
    id: str
    event_id: str
    type: str
    status: Literal["pending", "delivered", "failed"]
    attempt: int = Field(description="Attempts made so far.")
    status_code: int | None = Field(description="HTTP status of the latest attempt, if any.")
    error: str | None = Field(description="Why the latest attempt failed, if it did.")
    delivered_at: str | None
    next_attempt_at: str | None = Field(description="When the next attempt is due (pending only).")
    created_at: str


class DeliveryList(BaseModel):
    data: list[DeliveryOut]
    next_cursor: str | None


class WebhookTestSent(BaseModel):
    event_id: str
    delivery_id: str
