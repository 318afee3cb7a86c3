"""Dependencies as ``Annotated`` aliases: the container and the authenticated user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from quantrun.bootstrap import Container
from quantrun.jobs.auth import authenticate
from quantrun.jobs.domain import User
from quantrun_api.errors import ApiError

_bearer = HTTPBearer(auto_error=False, description="an API key from `quantrun keys create`")


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def get_current_user(
    container: ContainerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(
            401,
            "unauthenticated",
            "missing API key: send 'Authorization: Bearer <api key>'",
            headers=challenge,
        )
    user = authenticate(container.store, credentials.credentials, container.auth_cache)
    if user is None:
        raise ApiError(401, "unauthenticated", "invalid API key", headers=challenge)
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
