"""Static files served with security headers on every response (the console's and the
docs page's folders): no file of theirs is ever served without its page's policy."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope


class PolicedFiles(StaticFiles):
    def __init__(self, directory: Path, headers: Mapping[str, str]) -> None:
        super().__init__(directory=directory)
        self._headers = dict(headers)

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(self._headers)
        return response


def page_headers(policy: str) -> dict[str, str]:
    """What a page of ours and each of its files are served with."""
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
