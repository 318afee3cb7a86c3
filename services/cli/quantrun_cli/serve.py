"""Starting a server, the same way for every process: uvicorn's options, the outbox
relay, the start-up heap kept out of the collector's way. ``create_app_from_env`` is the
factory uvicorn imports in each process of ``quantrun serve --workers N`` (gcp mode)."""

from __future__ import annotations

import gc
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI

from quantrun.bootstrap import bootstrap
from quantrun.logging import configure_logging
from quantrun.settings import load_settings
from quantrun_api.app import create_app

# Cloud Run gives a stopping instance 10 s: drain within 8
GRACEFUL_SECONDS = 8


def freeze_startup_heap() -> None:
    """What start-up built (modules, numba/scipy, clients) lives as long as the server:
    keep it out of the garbage collector's full passes, which otherwise stall requests."""
    gc.freeze()


class _Server(uvicorn.Server):
    """uvicorn's server, telling the process the moment SIGTERM or Ctrl-C arrives (before
    uvicorn waits for the requests in flight): a worker gives its jobs back then."""

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], object] | None) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._on_exit is not None and not self.should_exit:
            self._on_exit()
        super().handle_exit(sig, frame)


def serve(
    app: Any,
    *,
    host: str,
    port: int,
    workers: int = 1,
    on_exit: Callable[[], object] | None = None,
) -> None:
    """Serve an app (or, with several workers, a factory's import string) until stopped;
    ``on_exit`` runs when the stop signal arrives (one process only)."""
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_config": None,
        "access_log": False,  # Cloud Run logs every request itself
        "timeout_graceful_shutdown": GRACEFUL_SECONDS,
    }
    if workers > 1:
        uvicorn.run(app, factory=isinstance(app, str), workers=workers, **options)
        return
    freeze_startup_heap()
    _Server(uvicorn.Config(app, factory=isinstance(app, str), **options), on_exit).run()


def create_app_from_env() -> FastAPI:
    """One API process of several: its own adapters and outbox relay, built at start."""
    settings = load_settings()
    configure_logging(
        settings.log_level, log_format=settings.log_format, project=settings.log_project
    )
    container = bootstrap(settings)
    container.start_relay()
    container.start_webhooks()
    app = create_app(container)
    app.router.on_shutdown.append(container.close)
    freeze_startup_heap()
    return app
