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
    line.split("==")[0].lower(): line.strip().split("==")[1].split()[0]
    for line in (ROOT / "requirements.lock").read_text().splitlines()
    if "==" in line and not line.lstrip().startswith("#")
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


_CLOSURE = r"""
import importlib.metadata as md, json, re, sys
sys.path.insert(0, sys.argv[1])
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
wanted = [l.split("==")[0] for l in open(sys.argv[2]).read().splitlines()
          if l.strip() and not l.startswith("#")]
closure, todo = set(), list(wanted)
while todo:  # the requirements and everything they depend on (no extras)
    name = norm(todo.pop())
    if name in closure:
        continue
    closure.add(name)
    try:
        requires = md.requires(name) or []
    except md.PackageNotFoundError:  # a marker's dependency, not installed here
        continue
    for req in requires:
        if "extra ==" not in req:
            todo.append(re.split(r"[ ;<>=!~\[(]", req, maxsplit=1)[0])
before = set(sys.modules)
import main  # noqa: E402
owner = {}
for dist in md.distributions():
    dist_name = norm(dist.metadata["Name"])  # parsed once a distribution, not once a file
    for f in dist.files or []:
        if f.suffix in (".py", ".so"):
            owner[str(f.locate())] = dist_name
outside = sorted({
    owner[m.__file__]
    for name, m in list(sys.modules.items())
    if name not in before and getattr(m, "__file__", None) in owner
    and owner[m.__file__] not in closure
})
print(json.dumps(outside))
"""


@pytest.mark.parametrize("name", ["ingest_prices", "ingest_upload"])
def test_function_imports_only_what_its_requirements_install(name: str, tmp_path: Path) -> None:
    """Cloud Functions installs requirements.txt and nothing else: importing the entry
    point (and the library beside it) may load no package outside their dependencies."""
    out = tmp_path / f"{name}.zip"
    folder = ROOT / "functions" / name
    subprocess.run(["bash", "../package.sh", str(out)], cwd=folder, check=True, timeout=120)
    with zipfile.ZipFile(out) as zf:
        zf.extractall(tmp_path / "unpacked")
    found = subprocess.run(
        [
            sys.executable,
            "-c",
            _CLOSURE,
            str(tmp_path / "unpacked"),
            str(folder / "requirements.txt"),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert found.stdout.strip() == "[]", f"imported outside requirements.txt: {found.stdout}"


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
