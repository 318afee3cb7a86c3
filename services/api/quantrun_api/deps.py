"""Dependencies as ``Annotated`` aliases: the container and the authenticated user."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from quantrun.app.auth import authenticate_bearer, cached_user
from quantrun.app.ratelimit import retry_after
from quantrun.bootstrap import Container
from quantrun.clock import utcnow
from quantrun.domain.users import User
from quantrun_api.errors import BEARER_CHALLENGE, MISSING_CREDENTIALS, ApiError

_bearer = HTTPBearer(auto_error=False, description="an API key from `quantrun keys create`")


# Both dependencies are ``async`` so that FastAPI runs them on the event loop instead of
# handing each to the thread pool (two thread hops per request saved); the one that may
# need the database goes to the pool only when the key is not cached.


async def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


async def get_current_user(
    request: Request,
    container: ContainerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The user the ``Authenticate`` middleware found (before the body was read); the
    same checks again here keep a route safe without it."""
    found = request.scope.get("state", {}).get("user")
    if isinstance(found, User):
        return found
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(401, "unauthenticated", MISSING_CREDENTIALS, headers=BEARER_CHALLENGE)
    return await resolve_user(container, credentials.credentials)


async def resolve_user(container: Container, key: str) -> User:
    """The key's (or identity token's) user, within the rate limit; ``ApiError`` 401 or
    429 otherwise, ``TransientError`` when the store cannot tell."""
    now = utcnow()
    user = cached_user(key, container.auth_cache, now)
    if user is None:
        user = await run_in_threadpool(
            partial(
                authenticate_bearer,
                store=container.store,
                token=key,
                now=now,
                cache=container.auth_cache,
                google=container.google_sign_in,
            )
        )
    if user is None:
        raise ApiError(
            401, "unauthenticated", "invalid API key or identity token", headers=BEARER_CHALLENGE
        )
    wait = container.rate_limiter.take(user.id)
    if wait > 0:
        raise ApiError(
            429,
            "rate_limited",
            f"too many requests: {container.rate_limiter.rate:g} a second are allowed "
            f"(bursts of {container.rate_limiter.burst:g}); retry in {wait:.2f} s",
            headers={"Retry-After": retry_after(wait)},
        )
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_admin(user: CurrentUser) -> User:
    """The user, if an admin (``quantrun users grant-admin``); 403 for a member."""
    if not user.admin:
        raise ApiError(403, "forbidden", "this route is for admins (quantrun users grant-admin)")
    return user


AdminUser = Annotated[User, Depends(get_admin)]
