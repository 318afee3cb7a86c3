"""``UploadedFiles`` on Cloud Storage (the uploads bucket)."""

from __future__ import annotations

from typing import Any


class GcsUploadedFiles:
    def __init__(self, client: Any, *, timeout: float = 60.0) -> None:
        self._client = client
        self._timeout = timeout

    def size(self, bucket: str, name: str) -> int | None:
        blob = self._client.bucket(bucket).get_blob(name, timeout=self._timeout)
        return None if blob is None else int(blob.size or 0)

    def read(self, bucket: str, name: str) -> bytes:
        data: bytes = (
            self._client.bucket(bucket).blob(name).download_as_bytes(timeout=self._timeout)
        )
        return data

    def write(self, bucket: str, name: str, data: bytes, content_type: str) -> None:
        blob = self._client.bucket(bucket).blob(name)
        blob.upload_from_string(data, content_type=content_type, timeout=self._timeout)

    def move(self, bucket: str, name: str, target: str) -> None:
        """Copy, then delete: the report (written first) and the file land before the
        upload disappears, so a crash in between leaves the upload to be processed again."""
        source = self._client.bucket(bucket)
        blob = source.blob(name)
        source.copy_blob(blob, source, target, timeout=self._timeout)
        blob.delete(timeout=self._timeout)
