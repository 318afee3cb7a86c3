"""The pins: every lock file pins each package to one version with the sha256 of its
files (installs run with ``--require-hashes``), no two locks that are installed together
disagree on a version (``make bench`` failed to install when they did), and the images'
base is pinned by digest. Offline: ``devtools/lock_hashes.py`` wrote the hashes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from devtools.lock_hashes import normalize

ROOT = Path(__file__).resolve().parents[2]
LOCKS = {
    "runtime": ROOT / "requirements.lock",
    "dev": ROOT / "requirements-dev.lock",
    "peers": ROOT / "benchmarks" / "requirements-peers.lock",
    "client-test": ROOT / "clients" / "python" / "requirements-test.lock",
}
FUNCTIONS = sorted((ROOT / "functions").glob("*/requirements.txt"))


def pins(path: Path) -> dict[str, tuple[str, int]]:
    """package -> (version, how many hashes), from a lock with continuation lines."""
    found: dict[str, tuple[str, int]] = {}
    current: str | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("--hash=sha256:"):
            assert current is not None, f"{path.name}: a hash before any pin"
            assert re.fullmatch(r"--hash=sha256:[0-9a-f]{64}( \\)?", line), line
            version, count = found[current]
            found[current] = (version, count + 1)
            continue
        pin = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
        if pin:
            current = normalize(pin.group(1))
            assert current not in found, f"{path.name}: {current} pinned twice"
            found[current] = (pin.group(2), 0)
    return found


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_pin_carries_its_hashes(lock: str) -> None:
    found = pins(LOCKS[lock])
    assert len(found) > 10
    unhashed = sorted(name for name, (_, count) in found.items() if count == 0)
    assert unhashed == []


def test_locks_installed_together_agree_on_every_version() -> None:
    every = {name: pins(path) for name, path in LOCKS.items()}
    for path in FUNCTIONS:  # Cloud Functions' builds: plain pins, as the lock has them
        every[str(path.relative_to(ROOT))] = {
            normalize(line.split("==")[0]): (line.split("==")[1].strip(), 0)
            for line in path.read_text().splitlines()
            if "==" in line and not line.startswith("#")
        }
    versions: dict[str, dict[str, str]] = {}
    for lock, found in every.items():
        for name, (version, _) in found.items():
            versions.setdefault(name, {})[lock] = version
    disagree = {name: by for name, by in versions.items() if len(set(by.values())) > 1}
    assert disagree == {}


def test_the_dev_lock_builds_on_the_runtime_lock() -> None:
    assert "-r requirements.lock" in LOCKS["dev"].read_text().splitlines()
    assert not set(pins(LOCKS["runtime"])) & set(pins(LOCKS["dev"]))


def test_installs_require_hashes_and_the_base_image_is_pinned_by_digest() -> None:
    # the environments' installs from a lock (uv's in the Makefile; pip's of uv itself)
    makefile = (ROOT / "Makefile").read_text()
    installs = [line for line in makefile.splitlines() if "$(UV_PIP)" in line and " -r " in line]
    assert len(installs) >= 3 and all("--require-hashes" in line for line in installs), installs
    bootstrap = (ROOT / "devtools" / "tool-venv.sh").read_text()
    assert "--require-hashes \\\n      -r devtools/requirements-uv.lock" in bootstrap
    uv_lock = (ROOT / "devtools" / "requirements-uv.lock").read_text()
    assert re.search(r"^uv==[\d.]+ \\$", uv_lock, re.M) and "--hash=sha256:" in uv_lock
    dockerfile = (ROOT / "services" / "Dockerfile").read_text()
    bases = re.findall(r"^FROM (\S+)", dockerfile, flags=re.MULTILINE)
    external = [b for b in bases if ":" in b or "/" in b]
    assert external and all(re.search(r"@sha256:[0-9a-f]{64}$", b) for b in external), bases
    assert "--require-hashes -r requirements.lock" in dockerfile
