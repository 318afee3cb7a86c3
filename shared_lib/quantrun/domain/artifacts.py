"""Artifact names and content types (shared by every artifact store)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from quantrun.domain.errors import QuantRunError

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

CONTENT_TYPES = {
    ".png": "image/png",
    ".json": "application/json",
    ".csv": "text/csv",
    ".parquet": "application/vnd.apache.parquet",
}


def check_artifact_name(name: str) -> str:
    if not _SAFE_NAME.match(name) or ".." in name:
        raise QuantRunError(f"invalid artifact name {name!r}", code="invalid_artifact_name")
    return name


@dataclass(frozen=True)
class ArtifactRef:
    name: str
    content_type: str
    size_bytes: int


@dataclass(frozen=True)
class StoredArtifact:
    content_type: str
    data: bytes
