"""Static files served with security headers on every response (the console's and the
docs page's folders): no file of theirs is ever served without its page's policy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
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


def own_origin_policy(*, images: str = "'self' data:", frames: str | None = None) -> str:
    """A Content-Security-Policy that lets a page load scripts, styles and the API from
    this origin only (inline styles allowed), nothing as an object, and frame it nowhere;
    ``images`` and ``frames`` are its image and frame sources."""
    frame_src = f"frame-src {frames}; " if frames else ""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src {images}; connect-src 'self'; {frame_src}object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


@dataclass(frozen=True)
class Site:
    """A page (its folder's ``index.html`` at ``page``) and its folder's files at
    ``files_at``, all under one Content-Security-Policy."""

    folder: Path
    policy: str
    page: str
    files_at: str
    page_cache: str | None = None  # the page's Cache-Control, when not the default

    @property
    def headers(self) -> dict[str, str]:
        return page_headers(self.policy)

    def router(self) -> APIRouter:
        router = APIRouter(include_in_schema=False)
        headers = self.headers
        if self.page_cache:
            headers["Cache-Control"] = self.page_cache

        @router.get(self.page)
        def page() -> FileResponse:
            return FileResponse(
                self.folder / "index.html", media_type="text/html; charset=utf-8", headers=headers
            )

        return router

    def mount(self, app: FastAPI) -> None:
        name = self.files_at.strip("/")
        app.mount(self.files_at, PolicedFiles(self.folder, self.headers), name=name)
