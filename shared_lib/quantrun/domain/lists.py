"""Comma-separated lists in query strings (``fields=``, ``symbols=``): one grammar for
the parser and for the regular expression the OpenAPI document publishes, so the two
accept exactly the same strings. Items are separated by commas; spaces, tabs and line
breaks around an item, and empty items, are ignored."""

from __future__ import annotations

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
