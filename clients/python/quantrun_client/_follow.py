"""Following a job until it ends (no I/O here): the event stream's parser, the progress
bar, and the rules of one wait (when to reconnect, when to fall back to polling, when
the time is up), shared by ``Job.wait`` and ``AsyncJob.wait``.

The server's stream (``GET /v1/jobs/{id}/events``) sends the job's state first, then one
event per change, and ends after the terminal one. A stream that ends early (the
server's time limit, a proxy, a dropped connection) is opened again with
``Last-Event-ID``; after ``STREAM_FAILURES`` failed opens in a row the wait polls
``GET /v1/jobs/{id}`` every ``poll_interval`` seconds instead.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import time
from dataclasses import dataclass
from typing import Any

from quantrun_client._calls import TERMINAL
from quantrun_client.errors import WaitTimeout

STREAM_FAILURES = 3
# the server writes a comment at least every 15 s: a read quiet for longer is a dead link
STREAM_READ_TIMEOUT = 45.0


@dataclass(frozen=True)
class Event:
    id: str | None
    event: str
    data: str


class EventParser:
    """Server-Sent Events, one line at a time (the WHATWG rules the server's output needs:
    ``id``, ``event``, ``data``, comments, a blank line ends an event)."""

    def __init__(self) -> None:
        self._event, self._data = "message", list[str]()
        self.last_id: str | None = None

    def feed(self, line: str) -> Event | None:
        line = line.rstrip("\r\n")
        if not line:
            if not self._data:
                self._event = "message"
                return None
            done = Event(self.last_id, self._event, "\n".join(self._data))
            self._event, self._data = "message", []
            return done
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self.last_id = value
        return None


class ProgressBar:
    """A tqdm bar of the job's progress in percent, its status and shards beside it;
    nothing when tqdm is not installed (``pip install quantrun-client[progress]``) or the
    caller said ``progress=False``."""

    def __init__(self, label: str, enabled: bool) -> None:
        self._bar: Any = None
        if enabled and importlib.util.find_spec("tqdm") is not None:
            # the widget bar in Jupyter needs ipywidgets; without it, the text bar
            notebook = importlib.util.find_spec("ipywidgets") is not None
            tqdm = importlib.import_module("tqdm.auto" if notebook else "tqdm.std").tqdm
            self._bar = tqdm(total=100, desc=label, unit="%", bar_format=_FORMAT)

    def show(self, state: dict[str, Any]) -> None:
        if self._bar is None:
            return
        done = round(100 * float(state.get("progress") or 0.0))
        if done != self._bar.n:
            self._bar.update(done - self._bar.n)
        postfix = {"status": state.get("status")}
        shards = state.get("shards")
        if shards:
            postfix["shards"] = f"{shards['done']}/{shards['total']}"
        self._bar.set_postfix(postfix, refresh=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| [{elapsed}{postfix}]"


class Wait:
    """One ``wait()``: takes what the stream or a poll says, keeps the job's state, and
    says what to do next."""

    def __init__(self, state: dict[str, Any], *, timeout: float | None, bar: ProgressBar) -> None:
        self.state = state
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.bar = bar
        self.parser = EventParser()
        self.stream_failures = 0
        # events read so far, over every stream of this wait
        self.parser_events = 0
        bar.show(state)

    @property
    def ended(self) -> bool:
        return self.state.get("status") in TERMINAL

    @property
    def polling(self) -> bool:
        return self.stream_failures >= STREAM_FAILURES

    @property
    def last_event_id(self) -> str | None:
        return self.parser.last_id

    def remaining(self) -> float | None:
        """Seconds left, or WaitTimeout once none are."""
        if self.deadline is None:
            return None
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise WaitTimeout(
                f"job {self.state.get('id')} is still {self.state.get('status')} "
                "(wait(timeout=...) ran out; the job goes on: wait again or cancel it)",
                code="wait_timeout",
            )
        return left

    def read_timeout(self) -> float:
        left = self.remaining()
        return STREAM_READ_TIMEOUT if left is None else min(STREAM_READ_TIMEOUT, left)

    def line(self, text: str) -> bool:
        """One line of the stream; True once the job has ended."""
        event = self.parser.feed(text)
        if event is not None and event.data:
            try:
                data = json.loads(event.data)
            except ValueError:
                return self.ended
            if isinstance(data, dict):
                self.parser_events += 1
                self.stream_failures = 0
                self.seen(data)
        return self.ended

    def seen(self, data: dict[str, Any]) -> None:
        """A newer view of the job (an event's data or a polled job)."""
        self.state.update(data)
        self.bar.show(self.state)

    def stream_failed(self) -> None:
        self.stream_failures += 1

    def pause(self, interval: float) -> float:
        """How long to sleep before the next poll or reopen, within the deadline."""
        left = self.remaining()
        return interval if left is None else min(interval, left)
