"""Lists: comma-separated ones in query strings (``fields=``, ``symbols=``), one grammar
for the parser and for the regular expression the OpenAPI document publishes, so the two
accept exactly the same strings (items are separated by commas; spaces, tabs and line
breaks around an item, and empty items, are ignored); and a page of a paged listing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BLANK = " \t\r\n"
_SPACE = "[ \\t\\r\\n]"


def split_list(raw: str) -> list[str]:
    """The non-empty items, stripped of ``BLANK`` (and only of it)."""
    return [item.strip(BLANK) for item in raw.split(",") if item.strip(BLANK)]


def list_pattern(item: str, *, at_least_one: bool) -> str:
    """A regular expression for a list of items matching ``item`` (a group-free regex)."""
    body = f"(?:{item})(?:{_SPACE}*,[ \\t\\r\\n,]*(?:{item}))*[ \\t\\r\\n,]*"
    lead = "[ \\t\\r\\n,]*"
    return f"^{lead}{body}$" if at_least_one else f"^{lead}(?:{body})?$"


@dataclass(frozen=True)
class Page:
    """A page of a listing and the cursor of the next (None: the last page)."""

    items: list[Any]
    next_cursor: str | None
