"""The architecture as rules on imports, read from the source (``make lint`` runs this).

Arrows point down: entrypoints -> use cases (``app``) -> ports -> domain; adapters ->
ports and domain; models -> domain; the composition root (``bootstrap``) is the only
module of the library that names an adapter, and ``settings`` the only reader of the
environment. Each rule lists what a layer may import of QuantRun; anything else fails
with the file, the line and the import.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "shared_lib" / "quantrun"
ENTRYPOINTS = [
    ROOT / "services" / "api" / "quantrun_api",
    ROOT / "services" / "worker" / "quantrun_worker",
    ROOT / "services" / "cli" / "quantrun_cli",
    ROOT / "functions",
]
OURS = ("quantrun", "quantrun_api", "quantrun_worker", "quantrun_cli", "devtools", "tests")
LONG_MODULE_LINES = 300
LONG_ON_PURPOSE = "Long on purpose:"


@dataclass(frozen=True)
class Import:
    path: Path
    line: int
    module: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line} imports {self.module}"


def _python_files(*folders: Path) -> Iterator[Path]:
    for folder in folders:
        yield from sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def _module_name(path: Path) -> str:
    relative = path.relative_to(LIBRARY.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> Iterator[Import]:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(path, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield Import(path, node.lineno, node.module)
            for alias in node.names:  # ``from quantrun.app import jobs`` imports quantrun.app.jobs
                yield Import(path, node.lineno, f"{node.module}.{alias.name}")


def _ours(module: str) -> bool:
    return module.split(".")[0] in OURS


def _within(module: str, *allowed: str) -> bool:
    return any(module == a or module.startswith(a + ".") for a in allowed)


# layer (module prefix) -> what of QuantRun it may import, besides itself
LIBRARY_RULES: dict[str, tuple[str, ...]] = {
    "quantrun.domain": (),
    "quantrun.models": ("quantrun.domain",),
    "quantrun.ports": ("quantrun.domain",),
    "quantrun.catalog": ("quantrun.domain", "quantrun.models"),
    "quantrun.app": (
        "quantrun.domain",
        "quantrun.models",
        "quantrun.catalog",
        "quantrun.ports",
        "quantrun.logging",
        "quantrun.tracing",
        "quantrun.clock",
        "quantrun.metering",
    ),
    "quantrun.adapters": (
        "quantrun.domain",
        "quantrun.ports",
        "quantrun.logging",
        "quantrun.clock",
        "quantrun.metering",
    ),
    "quantrun.logging": ("quantrun.tracing",),
    "quantrun.tracing": (),
    "quantrun.clock": (),
    "quantrun.metering": (),
    "quantrun.settings": (),
    "quantrun.bootstrap": ("quantrun",),
}
# what an entrypoint may import of the library: the use cases, the composition root, the
# domain's types and the settings, never an adapter or a port's internals
ENTRYPOINT_MAY_IMPORT = (
    "quantrun.app",
    "quantrun.bootstrap",
    "quantrun.domain",
    "quantrun.settings",
    "quantrun.logging",
    "quantrun.tracing",
    "quantrun.clock",
    "quantrun.ports",
    # the Cloud Functions' event payloads (Pub/Sub and Cloud Storage wire formats), shared
    # by both functions, which ship with the library alone
    "quantrun.adapters.gcp.events",
)


def _layer(module: str) -> str:
    if module == "quantrun":  # the package itself: its version, nothing else
        return "quantrun.clock"
    matches = [layer for layer in LIBRARY_RULES if _within(module, layer)]
    assert matches, f"{module} belongs to no layer: add it to LIBRARY_RULES"
    return max(matches, key=len)


def test_every_library_module_keeps_to_its_layer() -> None:
    broken = []
    for path in _python_files(LIBRARY):
        module = _module_name(path)
        layer = _layer(module)
        allowed = (layer, *LIBRARY_RULES[layer])
        for imp in _imports(path):
            if _ours(imp.module) and not _within(imp.module, *allowed):
                broken.append(f"{imp} ({layer} may import {', '.join(allowed)})")
    assert broken == []


def test_the_library_never_imports_its_entrypoints() -> None:
    broken = [
        str(imp)
        for path in _python_files(LIBRARY)
        for imp in _imports(path)
        if _ours(imp.module) and not _within(imp.module, "quantrun")
    ]
    assert broken == []


def test_entrypoints_reach_adapters_only_through_the_composition_root() -> None:
    broken = []
    for path in _python_files(*ENTRYPOINTS):
        own = path.relative_to(ROOT).parts[1] if path.parts[-3] != "functions" else ""
        for imp in _imports(path):
            module = imp.module
            if module == "quantrun":  # its __version__
                continue
            if _within(module, "quantrun") and not _within(module, *ENTRYPOINT_MAY_IMPORT):
                broken.append(str(imp))
            # the API and the worker are separate services; only the CLI starts both
            if _within(module, "quantrun_api") and own == "worker":
                broken.append(str(imp))
            if _within(module, "quantrun_worker") and own == "api":
                broken.append(str(imp))
            if _within(module, "quantrun_cli", "devtools", "tests") and own != "cli":
                broken.append(str(imp))
    assert broken == []


def _environment_reads(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
            yield node.lineno, ast.unparse(node)
        if isinstance(node, ast.ImportFrom) and node.module == "os":
            for alias in node.names:
                if alias.name in ("environ", "getenv"):
                    yield node.lineno, f"from os import {alias.name}"


def test_only_settings_reads_the_environment() -> None:
    """Entrypoints may read ``PORT`` (Cloud Run's port) and nothing else."""
    broken = []
    for path in _python_files(LIBRARY, *ENTRYPOINTS):
        if path.is_relative_to(LIBRARY / "settings"):
            continue
        source = path.read_text().splitlines()
        for line, what in _environment_reads(path):
            text = source[line - 1]
            if path.is_relative_to(LIBRARY) or '"PORT"' not in text:
                broken.append(f"{path.relative_to(ROOT)}:{line}: {what}")
    assert broken == []


@pytest.mark.parametrize("path", list(_python_files(LIBRARY)), ids=lambda p: _module_name(p))
def test_long_modules_say_why(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    if lines > LONG_MODULE_LINES:
        docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
        assert LONG_ON_PURPOSE in docstring, (
            f"{path.relative_to(ROOT)} has {lines} lines: split it, or say why in its "
            f"docstring ('{LONG_ON_PURPOSE} ...')"
        )


CLIENT = ROOT / "clients" / "python" / "quantrun_client"
# the Python client's whole world: the standard library, its two dependencies, itself
CLIENT_MAY_IMPORT = ("httpx", "pandas", "quantrun_client")


@pytest.mark.parametrize("path", list(_python_files(CLIENT)), ids=lambda p: p.name)
def test_the_python_client_imports_only_httpx_pandas_and_the_standard_library(
    path: Path,
) -> None:
    """``pip install ./clients/python`` brings httpx and pandas only (CONTRACT 6.3); an
    import of the server library, or of anything else, would break there. (tqdm and
    pyarrow, the extras, are found at run time, never imported at the top.)"""
    import sys

    strays = [
        str(found)
        for found in _imports(path)
        if found.module.split(".")[0] not in sys.stdlib_module_names
        and not _within(found.module, *CLIENT_MAY_IMPORT)
    ]
    assert strays == []
    lines = len(path.read_text().splitlines())
    assert lines <= LONG_MODULE_LINES, f"{path.name} has {lines} lines: split it"


# what each inner layer may import from outside the standard library and QuantRun: the
# domain is plain data (numpy arrays in it), the models are numerical code
THIRD_PARTY = {
    "quantrun.domain": ("numpy",),
    "quantrun.models": ("numpy", "scipy", "numba", "llvmlite", "matplotlib"),
}
EVERY_SOURCE = ["shared_lib", "services", "functions", "devtools", "clients", "benchmarks", "tests"]


def _relative_imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level:
            dots = "." * node.level
            yield f"{path.relative_to(ROOT)}:{node.lineno} imports {dots}{node.module or ''}"


def test_no_relative_imports_anywhere() -> None:
    """Absolute imports only: the rules above read module names, and a relative import
    would slip past them."""
    assert [r for folder in EVERY_SOURCE for p in _python_files(ROOT / folder)
            for r in _relative_imports(p)] == []  # fmt: skip


@pytest.mark.parametrize("layer", sorted(THIRD_PARTY))
def test_inner_layers_import_only_their_third_party_libraries(layer: str) -> None:
    import sys

    folder = LIBRARY / layer.split(".")[1]
    strays = [
        str(imp)
        for path in _python_files(folder)
        for imp in _imports(path)
        if not _ours(imp.module)
        and imp.module.split(".")[0] not in sys.stdlib_module_names
        and not _within(imp.module, *THIRD_PARTY[layer])
    ]
    assert strays == []


def test_devtools_and_tests_are_never_imported_by_what_ships() -> None:
    """The library, the services (but the CLI, which starts the local stack), the
    functions and the client ship without devtools/ and tests/."""
    shipped = [LIBRARY, *ENTRYPOINTS[:2], ENTRYPOINTS[3], CLIENT]
    broken = [
        str(imp)
        for path in _python_files(*shipped)
        for imp in _imports(path)
        if _within(imp.module, "devtools", "tests", "benchmarks")
    ]
    assert broken == []
