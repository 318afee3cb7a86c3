"""``Secrets``: the environment first (Cloud Run injects secrets as env vars), then the
Secret Manager API, cached for the life of the process."""

from __future__ import annotations

import threading
from typing import Any

from quantrun.adapters.embedded.secrets import EnvSecrets
from quantrun.adapters.gcp.clients import bounded_retry


class SecretManagerSecrets:
    def __init__(
        self, client: Any, project: str, *, env: EnvSecrets, timeout: float = 10.0
    ) -> None:
        self._client = client
        self._project = project
        self._env = env
        self._timeout = timeout
        self._cache: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> str | None:
        from_env = self._env.get(name)
        if from_env is not None:
            return from_env
        with self._lock:
            if name in self._cache:
                return self._cache[name]
        value = self._fetch(name)
        with self._lock:
            self._cache[name] = value
        return value

    def _fetch(self, name: str) -> str | None:
        from google.api_core import exceptions

        path = f"projects/{self._project}/secrets/{name}/versions/latest"
        try:
            response = self._client.access_secret_version(
                request={"name": path}, timeout=self._timeout, retry=bounded_retry(self._timeout)
            )
        except exceptions.NotFound:
            return None
        return str(response.payload.data.decode("utf-8"))


def lazy_client() -> Any:
    """The Secret Manager client, built on first use: it needs credentials, and most runs
    read every secret from the environment (Cloud Run injects them)."""

    class _Lazy:
        _client: Any = None

        def __getattr__(self, name: str) -> Any:
            if self._client is None:
                from google.cloud import secretmanager

                self._client = secretmanager.SecretManagerServiceClient()
            return getattr(self._client, name)

    return _Lazy()
