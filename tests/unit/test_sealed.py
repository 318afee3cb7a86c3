"""Sealed secrets (adapters/sealed.py): what a key may look like, the embedded key file,
and values that do not open."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from quantrun.adapters.sealed import SealError, SecretBox, key_file, parse_key, parse_keys

KEY = os.urandom(32)


@pytest.mark.parametrize(
    "text",
    [
        base64.b64encode(KEY).decode(),  # openssl rand -base64 32
        base64.urlsafe_b64encode(KEY).decode().rstrip("="),
        base64.b64encode(KEY).decode() + "\n",  # as a file or a secret version often ends
    ],
    ids=["standard", "urlsafe-unpadded", "standard-newline"],  # the same under every xdist worker
)
def test_a_key_in_base64_either_alphabet(text: str) -> None:
    assert parse_key(text) == KEY


@pytest.mark.parametrize("text", ["", "short", base64.b64encode(b"x" * 16).decode(), "!!!!"])
def test_a_key_that_is_not_32_bytes_is_refused_with_how_to_make_one(text: str) -> None:
    with pytest.raises(ValueError, match="openssl rand -base64 32"):
        parse_key(text)


def test_the_embedded_key_file_is_made_once_for_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "data" / "webhook-secrets.key"
    first = key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key_file(path) == first  # a restart reads the same key
    sealed = SecretBox(first).seal("whsec_abc", row_id="w1")
    assert SecretBox(key_file(path)).open(sealed, row_id="w1") == "whsec_abc"


def test_each_seal_differs_and_altered_values_do_not_open() -> None:
    box = SecretBox(KEY)
    a, b = box.seal("s", row_id="w1"), box.seal("s", row_id="w1")
    assert a != b and box.open(a, row_id="w1") == box.open(b, row_id="w1") == "s"
    flipped = a[:-2] + ("A" if a[-2] != "A" else "B") + a[-1]
    for bad in (flipped, "v1:", "v1:%%%"):
        with pytest.raises(SealError, match="w1"):
            box.open(bad, row_id="w1")


def test_where_the_key_comes_from(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from quantrun.bootstrap import _webhook_box
    from quantrun.domain.errors import TransientError
    from quantrun.settings import Settings

    for name in ("QUANTRUN_SECRET_WEBHOOK_SECRETS_KEY", "QUANTRUN_MODE"):
        monkeypatch.delenv(name, raising=False)
    # embedded: a key file beside the data, the same one on the next start
    embedded = Settings(data_dir=tmp_path)
    sealed = _webhook_box(embedded).seal("s", row_id="w")
    assert (tmp_path / "webhook-secrets.key").exists()
    assert _webhook_box(embedded).open(sealed, row_id="w") == "s"
    # gcp: the secret, or an error naming it (503 to whoever registers a webhook)
    for name, value in {
        "QUANTRUN_MODE": "gcp",
        "QUANTRUN_PROJECT": "p1",
        "QUANTRUN_ARTIFACTS_BUCKET": "b1",
        "QUANTRUN_DATABASE_URL": "postgresql+pg8000://u@h/db",
        "QUANTRUN_SECRETS_FROM_ENV_ONLY": "true",
    }.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(TransientError, match="QUANTRUN_SECRET_WEBHOOK_SECRETS_KEY"):
        _webhook_box(Settings())
    monkeypatch.setenv("QUANTRUN_SECRET_WEBHOOK_SECRETS_KEY", base64.b64encode(KEY).decode())
    box = _webhook_box(Settings())
    assert SecretBox(KEY).open(box.seal("s", row_id="w"), row_id="w") == "s"


def test_while_rotating_the_new_key_seals_and_either_opens() -> None:
    old, new = os.urandom(32), os.urandom(32)
    sealed_before = SecretBox(old).seal("before", row_id="w")
    text = f"{base64.b64encode(new).decode()}, {base64.b64encode(old).decode()}\n"
    rotating = SecretBox(*parse_keys(text))
    assert rotating.open(sealed_before, row_id="w") == "before"
    sealed_now = rotating.seal("now", row_id="w")
    assert SecretBox(new).open(sealed_now, row_id="w") == "now"  # sealed with the first
    with pytest.raises(SealError):
        SecretBox(old).open(sealed_now, row_id="w")
    with pytest.raises(ValueError, match="openssl"):
        parse_keys(" , ")
