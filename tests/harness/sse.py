"""Reading a Server-Sent Events response as a client does (the WHATWG parsing rules
this API's streams use: ``event``, ``id`` and one ``data`` line per event; comments)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Event:
    kind: str  # the event's name, or "comment" for a comment line
    data: dict[str, Any] | None = None
    id: str | None = None


def events(response: httpx.Response) -> Iterator[Event]:
    """The events of a streamed response, as they arrive."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line.startswith(":"):
            yield Event("comment")
        elif line:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        elif fields:
            data = json.loads(fields["data"]) if "data" in fields else None
            yield Event(fields.get("event", "message"), data, fields.get("id"))
            fields = {}
