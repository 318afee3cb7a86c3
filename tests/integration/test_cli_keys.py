"""``quantrun keys create | list | revoke`` as a user runs them (embedded mode's job store)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

QUANTRUN = str(Path(sys.executable).parent / "quantrun")


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTRUN_")}
    env["QUANTRUN_DATA_DIR"] = str(tmp_path)
    return subprocess.run(
        [QUANTRUN, "keys", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_keys_are_created_listed_and_revoked_from_the_cli(tmp_path: Path) -> None:
    made = _run(tmp_path, "create", "--user", "ann", "--expires-in", "7")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    prefix = key[:12]
    assert key.startswith("qr_") and f"created API key {prefix}" in made.stderr
    assert "expires" in made.stderr and "shown only once" in made.stderr
    other = _run(tmp_path, "create", "--user", "bo")
    assert other.returncode == 0

    listed = _run(tmp_path, "list", "--user", "ann")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()[1:]]
    assert [(r[0], r[1], r[2]) for r in rows] == [(prefix, "ann", "active")]
    assert key not in listed.stdout  # only the prefix is ever shown again
    assert len(_run(tmp_path, "list").stdout.splitlines()) == 3  # header, ann's, bo's

    revoked = _run(tmp_path, "revoke", prefix)
    assert revoked.returncode == 0 and "revoked" in revoked.stderr
    rows = [line.split() for line in _run(tmp_path, "list", "--user", "ann").stdout.splitlines()]
    assert rows[1][2] == "revoked"


def test_bad_key_commands_say_what_is_wrong(tmp_path: Path) -> None:
    unknown = _run(tmp_path, "revoke", "qr_nothing12")
    assert unknown.returncode != 0 and "no API key with prefix 'qr_nothing12'" in unknown.stderr
    nobody = _run(tmp_path, "list", "--user", "nobody")
    assert nobody.returncode != 0 and "no user 'nobody'" in nobody.stderr
    never = _run(tmp_path, "create", "--user", "ann", "--expires-in", "0")
    assert never.returncode != 0 and "give 1 to 3650" in never.stderr
    assert "Traceback" not in unknown.stderr + nobody.stderr + never.stderr
