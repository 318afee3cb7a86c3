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
    ".html": "text/html; charset=utf-8",
}


def check_artifact_name(name: str) -> str:
    if not _SAFE_NAME.match(name) or ".." in name:
        raise QuantRunError(f"invalid artifact name {name!r}", code="invalid_artifact_name")
    return name


def artifact_key(job_id: str, name: str, attempt: int = 1) -> str:
    """Where an artifact is kept: ``jobs/<job id>/<name>`` as the first attempt wrote it;
    a retried attempt writes under ``jobs/<job id>/attempt-<n>/<name>``, so what a failed
    attempt left never blocks the next (stores are create-only: a worker holds create and
    read, not delete) and the job lists exactly what its successful attempt wrote."""
    check_artifact_name(job_id)
    check_artifact_name(name)
    if attempt <= 1:
        return f"jobs/{job_id}/{name}"
    return f"jobs/{job_id}/attempt-{int(attempt)}/{name}"


@dataclass(frozen=True)
class ArtifactRef:
    name: str
    content_type: str
    size_bytes: int
    # the attempt that wrote it (where it is kept: artifact_key)
    attempt: int = 1
    # where its bytes are: "store", the artifact store at artifact_key; "job", the job's
    # own row (manifest.json, written as the job finishes)
    kept: str = "store"


@dataclass(frozen=True)
class StoredArtifact:
    content_type: str
    data: bytes
