"""What Cloud Functions uploads: each function folder packages to a zip with main.py, a
requirements.txt pinned like requirements.lock, and the shared package; the entry point
imports from the unpacked zip alone."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCK = {
    line.split("==")[0].lower(): line.strip().split("==")[1]
    for line in (ROOT / "requirements.lock").read_text().splitlines()
    if "==" in line
}


@pytest.mark.parametrize("name", ["ingest_prices", "ingest_upload"])
def test_function_packages_and_imports(name: str, tmp_path: Path) -> None:
    out = tmp_path / f"{name}.zip"
    subprocess.run(
        ["bash", "../package.sh", str(out)],
        cwd=ROOT / "functions" / name,
        check=True,
        capture_output=True,
        timeout=120,
    )
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        zf.extractall(tmp_path / "unpacked")
    assert {
        "main.py",
        "requirements.txt",
        "quantrun/__init__.py",
        "quantrun/app/ingest.py",
    } <= {n.removeprefix("./") for n in names}
    assert not any("sample_data" in n or "__pycache__" in n for n in names)
    # the entry point imports with the unpacked folder first on the path (as the runtime does)
    code = (
        f"import sys; sys.path.insert(0, {str(tmp_path / 'unpacked')!r}); import main; "
        f"import quantrun; assert quantrun.__file__.startswith({str(tmp_path)!r}); "
        f"assert callable(main.{name})"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=tmp_path)


@pytest.mark.parametrize("name", ["ingest_prices", "ingest_upload"])
def test_function_requirements_are_pinned_like_the_lock(name: str) -> None:
    for line in (ROOT / "functions" / name / "requirements.txt").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        package, version = line.split("==")
        assert LOCK[package.lower()] == version, (
            f"{package} {version} != lock {LOCK[package.lower()]}"
        )
