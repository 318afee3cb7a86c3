"""Read Terraform files with python-hcl2 into plain dicts (quotes stripped), per module."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2

INFRA = Path(__file__).resolve().parents[2] / "infra"


# python-hcl2's markers and the comments it keeps inside blocks: not Terraform arguments
_NOT_ARGUMENTS = {"__is_block__", "__comments__", "__inline_comments__"}


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {_unquote(k): _clean(v) for k, v in value.items() if k not in _NOT_ARGUMENTS}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, str):
        return _unquote(value)
    return value


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return text[1:-1]
    return text


@dataclass
class Module:
    path: Path
    resources: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    data: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    text: str = ""

    def resource(self, rtype: str, name: str) -> dict[str, Any]:
        return self.resources[rtype][name]


def load_module(path: Path) -> Module:
    module = Module(path)
    for tf in sorted(path.glob("*.tf")):
        module.text += tf.read_text() + "\n"
        with tf.open() as fh:
            parsed = _clean(hcl2.load(fh))
        for block in parsed.get("resource", []):
            for rtype, named in block.items():
                module.resources.setdefault(rtype, {}).update(named)
        for block in parsed.get("data", []):
            for rtype, named in block.items():
                module.data.setdefault(rtype, {}).update(named)
        for block in parsed.get("module", []):
            module.modules.update(block)
        for block in parsed.get("variable", []):
            module.variables.update(block)
        for block in parsed.get("output", []):
            module.outputs.update(block)
        for block in parsed.get("locals", []):
            module.locals.update(block)
    return module


def all_module_dirs() -> list[Path]:
    return sorted({tf.parent for tf in INFRA.rglob("*.tf") if ".terraform" not in tf.parts})


def strip_comments(text: str) -> str:
    return "\n".join(re.sub(r"(^|\s)(#|//).*$", "", line) for line in text.splitlines())


def references(text: str, kind: str) -> set[str]:
    """Names referenced as ``var.X`` / ``local.X`` / ``module.X`` in HCL source."""
    return set(re.findall(rf"(?<![\w.]){kind}\.([A-Za-z_][\w-]*)", strip_comments(text)))


def walk(value: Any) -> Any:
    """Every nested value, depth first."""
    yield value
    if isinstance(value, dict):
        for v in value.values():
            yield from walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v)
