"""``ArtifactStore`` on a local folder: ``<root>/<artifact_key>``, create-only."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from quantrun.domain.artifacts import ArtifactRef, StoredArtifact, artifact_key
from quantrun.domain.errors import Conflict

_TYPES_FILE = ".content-types"


class LocalArtifactStore:
    def __init__(self, root: Path) -> None:
        self._root = root

    def ping(self) -> None:
        self._root.mkdir(parents=True, exist_ok=True)
        if not os.access(self._root, os.W_OK):
            raise OSError(f"artifact folder {self._root} is not writable")

    def _path(self, job_id: str, name: str, attempt: int) -> Path:
        return self._root / artifact_key(job_id, name, attempt)

    def put(
        self, job_id: str, name: str, data: bytes, content_type: str, *, attempt: int = 1
    ) -> ArtifactRef:
        path = self._path(job_id, name, attempt)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            try:
                os.link(tmp, path)  # atomic create-only: fails if the name exists
            except FileExistsError:
                if path.read_bytes() != data:
                    raise Conflict(
                        f"artifact {name} of job {job_id} exists with other content"
                    ) from None
        finally:
            os.unlink(tmp)
        (path.parent / f"{name}{_TYPES_FILE}").write_text(content_type)
        return ArtifactRef(name, content_type, len(data), attempt)

    def get(self, job_id: str, name: str, *, attempt: int = 1) -> StoredArtifact | None:
        path = self._path(job_id, name, attempt)
        if not path.is_file():
            return None
        types = path.parent / f"{name}{_TYPES_FILE}"
        content_type = types.read_text() if types.exists() else "application/octet-stream"
        return StoredArtifact(content_type=content_type, data=path.read_bytes())

    def signed_url(
        self, job_id: str, name: str, *, attempt: int = 1, content_type: str | None = None
    ) -> str | None:
        return None
