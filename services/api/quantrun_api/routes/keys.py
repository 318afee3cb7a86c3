"""The caller's API keys: list them, make one more, revoke one."""

from __future__ import annotations

from fastapi import APIRouter

from quantrun.app.auth import issue_key, list_keys, revoke_key
from quantrun.clock import utcnow
from quantrun_api.deps import ContainerDep, CurrentUser
from quantrun_api.responses import errors, over_quota
from quantrun_api.schemas import CreateKey, KeyOut, NewKeyOut

router = APIRouter(prefix="/v1/keys", tags=["keys"])

_ERRORS = errors(401)


@router.get("", response_model=list[KeyOut], summary="Your API keys", responses=_ERRORS)
def get_keys(user: CurrentUser, container: ContainerDep) -> list[KeyOut]:
    return [KeyOut.from_key(k) for k in list_keys(store=container.store, user=user)]


@router.post(
    "",
    status_code=201,
    response_model=NewKeyOut,
    summary="A new API key for you (shown once)",
    responses=errors(401, 422, over_quota("api_keys")),
)
def post_key(body: CreateKey, user: CurrentUser, container: ContainerDep) -> NewKeyOut:
    limits = container.settings.limits
    new = issue_key(
        store=container.store,
        user=user,
        expires_in_days=body.expires_in_days,
        now=utcnow(),
        default_days=limits.key_expiry_days,
        most=limits.max_api_keys,
    )
    return NewKeyOut(**KeyOut.from_key(new.stored).model_dump(), key=new.key)


@router.delete(
    "/{prefix}",
    response_model=KeyOut,
    summary="Revoke one of your API keys (every process refuses it within 5 s)",
    responses=errors(401, 404),
)
def delete_key(prefix: str, user: CurrentUser, container: ContainerDep) -> KeyOut:
    revoked = revoke_key(
        store=container.store, prefix=prefix, now=utcnow(), user=user, cache=container.auth_cache
    )
    return KeyOut.from_key(revoked[0])
