"""Decoding the events the ingest functions receive.

- Pub/Sub CloudEvents (``google.cloud.pubsub.topic.v1.messagePublished``): ``data`` holds
  ``{"message": {"data": <base64>, "attributes": {...}}, "subscription": ...}``; a raw
  push body converted by functions-framework has the same shape.
- Cloud Storage CloudEvents (``google.cloud.storage.object.v1.finalized``, Eventarc):
  ``data`` is the object resource (``bucket``, ``name``, ...).
- Cloud Storage notifications delivered through Pub/Sub (how the storage emulator and
  classic bucket notifications arrive): a Pub/Sub message whose attributes carry
  ``bucketId``, ``objectId`` and ``eventType`` = ``OBJECT_FINALIZE``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any


class BadEvent(ValueError):
    pass


def pubsub_payload(data: Any) -> tuple[bytes, dict[str, str]]:
    """The message bytes and attributes of a Pub/Sub CloudEvent's data."""
    if isinstance(data, bytes | str):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise BadEvent(f"event data is not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("message"), dict):
        raise BadEvent("not a Pub/Sub event (no message)")
    message = data["message"]
    raw = message.get("data") or ""
    try:
        body = base64.b64decode(raw, validate=True) if raw else b""
    except ValueError as exc:
        raise BadEvent(f"message data is not base64: {exc}") from None
    attributes = message.get("attributes") or {}
    return body, {str(k): str(v) for k, v in attributes.items()}


@dataclass(frozen=True)
class StorageObject:
    bucket: str
    name: str


def storage_object(event_type: str, data: Any) -> StorageObject | None:
    """The finalized object, or None for an event that is not an object finalize."""
    if event_type.startswith("google.cloud.storage"):
        if not isinstance(data, dict) or "bucket" not in data or "name" not in data:
            raise BadEvent("storage event without bucket and name")
        return StorageObject(str(data["bucket"]), str(data["name"]))
    _, attributes = pubsub_payload(data)
    if attributes.get("eventType") != "OBJECT_FINALIZE":
        return None
    if "bucketId" not in attributes or "objectId" not in attributes:
        raise BadEvent("storage notification without bucketId and objectId")
    return StorageObject(attributes["bucketId"], attributes["objectId"])
