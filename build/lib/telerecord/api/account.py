"""/v1/usage and /v1/settings"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from telerecord.api.deps import AccountId, RuntimeDep
from telerecord.services import account_settings, accounts, usage

router = APIRouter(prefix="/v1", tags=["account"])


class UsageOut(BaseModel):
    storage_bytes: int
    recordings: int
    month: str
    gb_hours: float


class StorageSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None


class StorageSettingsOut(BaseModel):
    url: str | None
    access_key_id: str | None
    secret_access_key: None
    secret_access_key_set: bool


class SettingsPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    retention_days: int | None = Field(default=None, ge=1, le=36500)
    quota_bytes: int | None = Field(default=None, ge=0)
    storage: StorageSettings | None = None


class SettingsOut(BaseModel):
    retention_days: int | None
    quota_bytes: int | None
    storage: StorageSettingsOut


@router.get("/usage", response_model=UsageOut)
def get_usage(
    account_id: AccountId,
    runtime: RuntimeDep,
    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
) -> dict[str, Any]:
    with runtime.db.session() as session:
        result = usage.usage(session, account_id, month)
    return {
        "storage_bytes": result.storage_bytes,
        "recordings": result.recordings,
        "month": result.month,
        "gb_hours": round(result.gb_hours, 9),
    }


@router.get("/settings", response_model=SettingsOut)
def get_settings(account_id: AccountId, runtime: RuntimeDep) -> dict[str, Any]:
    with runtime.db.session() as session:
        return account_settings.as_api(accounts.get_account(session, account_id))


@router.patch("/settings", response_model=SettingsOut)
def patch_settings(
    body: SettingsPatch, account_id: AccountId, runtime: RuntimeDep
) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    if body.storage is not None:
        changes["storage"] = body.storage.model_dump(exclude_unset=True)
    with runtime.db.session() as session:
        return account_settings.as_api(account_settings.update(session, account_id, changes))
