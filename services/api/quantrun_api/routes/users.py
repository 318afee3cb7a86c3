"""Who the caller is (``GET /v1/me``) and, for admins, the audit trail (CONTRACT 6.2)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from quantrun.app import audit, users
from quantrun.clock import utcnow
from quantrun_api.deps import AdminUser, ContainerDep, CurrentUser
from quantrun_api.responses import errors

router = APIRouter(prefix="/v1", tags=["users"])


class UserRef(BaseModel):
    id: str | None
    name: str


class MeOut(BaseModel):
    user: UserRef
    role: str = Field(description="`member` or `admin`")
    quotas: dict[str, float | None] = Field(description="each limit (null: none)")
    usage: dict[str, int] = Field(description="how much of each you use now")


class Subject(BaseModel):
    type: str
    id: str


class AuditOut(BaseModel):
    id: str
    at: str
    actor: UserRef = Field(description="who (id null: an operator at the command line)")
    address: str | None = Field(description="the request's client address")
    action: str = Field(description="`<subject>.<verb>`: key.create, strategy.update, ...")
    subject: Subject
    details: dict[str, Any] = Field(description="what changed (never a secret)")


class AuditPage(BaseModel):
    items: list[AuditOut]
    next_cursor: str | None


@router.get("/me", response_model=MeOut, summary="You: role, quotas and usage",
            responses=errors(401))  # fmt: skip
def get_me(user: CurrentUser, container: ContainerDep) -> Any:
    stores = users.Stores(container.store, container.webhooks, container.strategies,
                          container.portfolios)  # fmt: skip
    return users.me(user, stores, container.settings.limits, utcnow())


@router.get(
    "/audit",
    response_model=AuditPage,
    summary="The audit trail, newest first (admins)",
    responses=errors(401, 403, 422),
)
def get_audit(
    _admin: AdminUser,
    container: ContainerDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=32, pattern="^[0-9]+$")] = None,
) -> Any:
    page = container.audit.entries(limit=limit, cursor=cursor)
    return {"items": [audit.document(e) for e in page.items], "next_cursor": page.next_cursor}
