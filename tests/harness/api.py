"""Serve the real app over real HTTP (uvicorn in a thread) for API tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn

from devtools.postgres import free_port
from quantrun.app.auth import create_key
from quantrun.bootstrap import Container, bootstrap
from quantrun.settings import LimitSettings, Settings
from quantrun_api.app import create_app
from quantrun_worker.embedded import EmbeddedWorker


@dataclass
class RunningApi:
    url: str
    container: Container

    def client(self, user: str) -> httpx.Client:
        """An HTTP client with a new API key of ``user`` (created if new)."""
        key = create_key(self.container.store, user).key
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )


@contextmanager
def unlimited_api(data_dir: Path) -> Iterator[RunningApi]:
    """An embedded API and worker with no request rate limit (a test makes many calls)."""
    settings = Settings(data_dir=data_dir, limits=LimitSettings(rate_requests_per_second=0))
    with running_api(settings) as running:
        yield running


@contextmanager
def running_api(settings: Settings, *, with_worker: bool = True) -> Iterator[RunningApi]:
    container = bootstrap(settings)
    port = free_port()
    config = uvicorn.Config(
        create_app(container), host="127.0.0.1", port=port, log_config=None, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    worker = EmbeddedWorker(container) if with_worker else None
    if worker:
        worker.start()
    try:
        yield RunningApi(url=f"http://127.0.0.1:{port}", container=container)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        if worker:
            worker.stop()
        container.close()
