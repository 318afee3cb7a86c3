"""``Job``: a job of a ``Client`` (blocking calls; ``AsyncJob`` in ``aio.py``)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pandas as pd

from quantrun_client import _calls
from quantrun_client._follow import ProgressBar, Wait
from quantrun_client.errors import AuthenticationError, NotFound, QuantRunError
from quantrun_client.job_view import JobView

if TYPE_CHECKING:
    from quantrun_client.client import Client


class Job(JobView):
    """A job of a ``Client``: ``wait()``, ``result``, ``frame()``, ``download()``,
    ``cancel()``; in Jupyter it shows its status, progress, figures and artifacts."""

    def __init__(self, client: Client, data: Mapping[str, Any]) -> None:
        super().__init__(data, client.url)
        self._client = client

    def refresh(self) -> Job:
        self.data = dict(self._client.call(_calls.job(self.id)))
        return self

    def cancel(self) -> Job:
        """Cancel the job (a running job stops at its next checkpoint); ``Conflict`` once
        it has ended."""
        self.data = dict(self._client.call(_calls.cancel(self.id)))
        return self

    def wait(self, progress: bool = True, timeout: float | None = None) -> Job:
        """Follow the job until it ends (its event stream, reopened when it drops, else
        polling), with a progress bar; then read it whole. ``WaitTimeout`` after
        ``timeout`` seconds (the job goes on)."""
        bar = ProgressBar(f"{self.model} {self.id[:8]}", progress and not self.done)
        follow = Wait(self.data, timeout=timeout, bar=bar)
        try:
            while not follow.ended:
                if follow.polling:
                    time.sleep(follow.pause(self._client.poll_interval))
                    follow.seen(self._client.call(_calls.job(self.id)))
                elif not self._follow_stream(follow):
                    time.sleep(follow.pause(self._client.poll_interval))
                follow.remaining()
            self.refresh()
            bar.show(self.data)
        finally:
            bar.close()
        return self

    def _follow_stream(self, follow: Wait) -> bool:
        """Read the event stream once; False when it failed (to wait before reopening)."""
        call = _calls.events(self.id, follow.last_event_id)
        timeout = httpx.Timeout(10.0, read=follow.read_timeout())
        seen = follow.parser_events
        try:
            response = self._client.send(call, stream=True, retry=False, timeout=timeout)
            try:
                for line in response.iter_lines():
                    if follow.line(line):
                        return True
                    follow.remaining()
            finally:
                response.close()
        except (AuthenticationError, NotFound):
            raise
        except (QuantRunError, httpx.TransportError):
            follow.stream_failed()
            return False
        if follow.parser_events == seen:  # ended with nothing said: count it as failed
            follow.stream_failed()
            return False
        return True

    def artifact(self, name: str) -> bytes:
        """An artifact's bytes (following the redirect to a signed URL in gcp mode)."""
        return self._client.send(_calls.artifact(self.id, name)).content

    def download(self, name: str, path: str | Path | None = None) -> Path:
        """Save an artifact to ``path`` (a file, or a folder to put ``name`` in; default
        the working folder); the path written."""
        target = _calls.download_path(name, path)
        response = self._client.send(_calls.artifact(self.id, name), stream=True)
        try:
            with target.open("wb") as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)
        finally:
            response.close()
        return target

    def frame(self, name: str | None = None) -> pd.DataFrame:
        """A table of the job as a DataFrame: a CSV or Parquet artifact, an entry of
        the result, a line chart (``equity``); without a name, an option model's values
        (``values.parquet`` or the result's arrays)."""
        kind, which = self._source(name)
        needed = self._download_for(kind, which)
        return self._table(kind, which, None if needed is None else self.artifact(needed))
