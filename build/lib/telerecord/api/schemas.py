"""Request and response bodies, so /openapi.json describes API.md exactly."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApiSecretCreate(Body):
    label: str = Field(min_length=1, max_length=200)


class ApiSecretCreated(BaseModel):
    id: str
    label: str
    secret: str
    created_at: str


class ApiSecretOut(BaseModel):
    id: str
    label: str
    created_at: str
    last_used_at: str | None


class ApiSecretList(BaseModel):
    data: list[ApiSecretOut]
    next_cursor: str | None


class PublishTokenCreate(Body):
    label: str = Field(default="", max_length=200)
    streams: list[str] = Field(min_length=1)
    record: bool = False


class PublishTokenPatch(Body):
    label: str | None = Field(default=None, max_length=200)
    streams: list[str] | None = None
    record: bool | None = None


class PublishTokenOut(BaseModel):
    id: str
    label: str
    token: str
    streams: list[str]
    record: bool
    live: bool
    created_at: str


class PublishTokenList(BaseModel):
    data: list[PublishTokenOut]
    next_cursor: str | None


class TrackOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["video", "audio"]
    codec: str


class Sizes(BaseModel):
    model_config = ConfigDict(extra="allow")
    file: int = 0
    dash: int = 0
    thumbnails: int = 0


class RecordingOut(BaseModel):
    id: str
    kind: Literal["stream", "track", "composite"]
    status: Literal["recording", "paused", "processing", "complete", "failed"]
    stream_name: str | None
    source_id: str | None
    publish_token_id: str | None
    room_id: str | None
    session_id: str | None
    peer: str | None
    started_at: str
    ended_at: str | None
    duration: float | None
    format: Literal["webm", "mp4"] | None
    recovered: bool
    error: str | None
    av_drift_ms: float | None
    size_bytes: int
    sizes: Sizes
    tracks: list[TrackOut]
    expires_at: str | None
    created_at: str


class RecordingList(BaseModel):
    data: list[RecordingOut]
    next_cursor: str | None


class StreamTrack(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["video", "audio"]
    codec: str


class StreamOut(BaseModel):
    id: str
    stream_name: str
    source_id: str | None
    publish_token_id: str
    started_at: str
    recording_id: str | None
    tracks: list[StreamTrack]


class StreamList(BaseModel):
    data: list[StreamOut]
    next_cursor: str | None = None


class SignedUrl(BaseModel):
    url: str
    expires_at: str


class AssetOut(BaseModel):
    type: Literal["file", "dash", "thumbnail", "sprite", "vtt", "poster"]
    name: str
    size_bytes: int
    url: str
    expires_at: str


class AssetList(BaseModel):
    data: list[AssetOut]


class ClipOut(BaseModel):
    url: str
    expires_at: str
    start: float
    duration: float


class DeleteMany(Body):
    ids: list[str] = Field(min_length=1, max_length=1000)


class DeleteManyResult(BaseModel):
    deleted: list[str]
    not_found: list[str]


class Health(BaseModel):
    status: str
    database: bool


def dump(model: type[BaseModel], value: dict[str, Any]) -> dict[str, Any]:
    """Validate an outgoing dict against its schema (catches drift from API.md in tests)."""
    return model.model_validate(value).model_dump()
