"""Dependencies shared by the routes: the runtime and the caller's account."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from telerecord.errors import Unauthorized
from telerecord.runtime import Runtime
from telerecord.services import accounts


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def bearer(authorization: str | None) -> str:
    if not authorization:
        raise Unauthorized("An Authorization: Bearer credential is required.")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("Use Authorization: Bearer <credential>.")
    return value.strip()


def get_account_id(
    runtime: Annotated[Runtime, Depends(get_runtime)],
    authorization: Annotated[str | None, Header()] = None,
) -> str:
    """The account of the API secret in the request, or 401."""
    secret = bearer(authorization)
    with runtime.db.session() as session:
        return accounts.authenticate(session, secret)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
AccountId = Annotated[str, Depends(get_account_id)]
