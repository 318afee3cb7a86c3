"""Write a lock file's pins with the sha256 of every file PyPI has for each pinned
version, so ``pip install --require-hashes -r <lock>`` installs exactly those bytes on any
platform (what ``pip-compile --generate-hashes`` gives). Comments and ``-r`` lines are
kept; a line's existing hashes are replaced.

    python -m devtools.lock_hashes requirements.lock requirements-dev.lock ...

Needs the package index (PEP 691 JSON at https://pypi.org/simple/); run it after
changing a pin, never in tests (``tests/unit/test_locks.py`` checks the result offline).
"""

from __future__ import annotations

import json
import re
import sys
import urllib.request
from pathlib import Path

INDEX = "https://pypi.org/simple"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _file_version(filename: str, name: str) -> str | None:
    """The version a distribution file is of, when it is of ``name``."""
    stem = filename
    for suffix in (".whl", ".tar.gz", ".zip", ".tar.bz2"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    else:
        return None
    if filename.endswith(".whl"):
        parts = stem.split("-")
        return parts[1] if normalize(parts[0]) == normalize(name) else None
    dist, _, version = stem.rpartition("-")
    return version if normalize(dist) == normalize(name) else None


def hashes(name: str, version: str) -> list[str]:
    request = urllib.request.Request(
        f"{INDEX}/{normalize(name)}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        files = json.load(answer)["files"]
    found = sorted(
        {
            f["hashes"]["sha256"]
            for f in files
            if "sha256" in f.get("hashes", {}) and _file_version(f["filename"], name) == version
        }
    )
    if not found:
        raise SystemExit(f"no files of {name}=={version} on {INDEX}")
    return found


def rewrite(path: Path) -> None:
    out: list[str] = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("--hash") or line == "\\":
            continue  # the pin above it is rewritten with fresh hashes
        pin = _PIN.match(line)
        if pin is None:
            out.append(raw)
            continue
        name, version = pin.groups()
        sums = hashes(name, version)
        out.append(f"{name}=={version} \\")
        out += [
            f"    --hash=sha256:{h}" + (" \\" if i < len(sums) - 1 else "")
            for i, h in enumerate(sums)
        ]
    path.write_text("\n".join(out) + "\n")


def main() -> None:
    for name in sys.argv[1:]:
        rewrite(Path(name))
        print(f"{name}: hashed")


if __name__ == "__main__":
    main()
