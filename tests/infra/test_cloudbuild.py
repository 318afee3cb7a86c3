"""The delivery pipeline runs as written (#14): every command a Cloud Build step calls is
one its image provides (the table below) or one the step installs first; each test
suite runs in exactly one step and together they are `make test`; the steps are in the
order the README's deploy section lists."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
BUILD = yaml.safe_load((ROOT / "cloudbuild.yaml").read_text())
STEPS: list[dict[str, Any]] = BUILD["steps"]

# What each builder image has on its PATH (from the images' documentation and
# Dockerfiles); kept short: the commands the steps call.
IMAGE_TOOLS = {
    "python:3.11-slim": {"bash", "sh", "apt-get", "python3", "pip", "mkdir", "cp"},
    "hashicorp/terraform:1.11": {"sh", "terraform", "mkdir", "cp"},
    "gcr.io/cloud-builders/docker": {"docker", "bash"},
    "gcr.io/google.com/cloudsdktool/google-cloud-cli:emulators": {
        "bash", "apt-get", "gcloud", "java", "curl",
    },
    "gcr.io/google.com/cloudsdktool/google-cloud-cli:slim": {
        "bash", "gcloud", "curl", "python3", "seq", "cat",
    },
}  # fmt: skip
# the shell's own words and the coreutils every one of these images has
SHELL = {
    "set", "if", "then", "fi", "for", "do", "done", "echo", "exit", "export", "cd", "[",
    "sleep", "true", "false", "trap", "pwd", "mktemp", "find", "rm", "cp", "mkdir", "cat",
}  # fmt: skip
# test targets and the suites they run; `make test` runs all of tests/
TEST_TARGETS = {
    "test-unit": {"unit"},
    "test-integration": {"integration"},
    "test-e2e": {"e2e"},
    "infra-check": {"infra"},
}


def script(step: dict[str, Any]) -> str:
    args = step.get("args", [])
    if step.get("entrypoint") in ("bash", "sh") and args[:1] == ["-c"]:
        return str(args[1])
    return " ".join([str(step.get("entrypoint", "")), *map(str, args)])


def commands(text: str) -> list[list[str]]:
    """Each simple command of a shell script, as words (after variable assignments)."""
    found = []
    for line in text.replace("\\\n", " ").splitlines():
        for part in re.split(r"&&|\|\||;|\|(?!\|)|\$\(", line):
            try:
                words = shlex.split(part, comments=True)
            except ValueError:
                words = part.split()
            while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
                words = words[1:]
            if words:  # a subshell's "(", a command substitution's closing ")"
                words[0] = words[0].lstrip("(").rstrip(")\"'")
            if words and words[0]:
                found.append(words)
    return found


def with_scripts(text: str, where: Path) -> str:
    """The step's script and the scripts it runs (``bash path``, relative to its cd)."""
    more = []
    cwd = where
    for words in commands(text):
        if words[0] == "cd" and len(words) > 1:
            cwd = where / words[1].replace("$fn", "ingest_prices")
        if words[0] in ("bash", "sh") and len(words) > 1 and words[1].endswith(".sh"):
            more.append((cwd / words[1]).resolve().read_text())
    return "\n".join([text, *more])


def installed(text: str) -> set[str]:
    tools = set()
    for words in commands(text):
        if words[:2] == ["apt-get", "install"]:
            tools |= {w for w in words[2:] if not w.startswith("-")}
    # the Debian package names that provide another command name
    if "python3-venv" in tools:
        tools.add("python3")
    return tools


def test_every_step_calls_only_what_its_image_provides() -> None:
    for step in STEPS:
        image = step["name"]
        assert image in IMAGE_TOOLS, f"{step['id']}: no tool list for image {image}"
        text = with_scripts(script(step), ROOT)
        available = IMAGE_TOOLS[image] | installed(text) | SHELL
        if "/workspace/.bin" in text:
            available.add("terraform")  # copied there by the terraform-binary step
        if step.get("entrypoint") is None:
            continue  # the image's own entrypoint (docker build ...)
        for words in commands(text):
            assert words[0] in available, f"{step['id']}: {words[0]!r} is not in {image}"


def test_terraform_reaches_the_infra_checks() -> None:
    ids = [s["id"] for s in STEPS]
    copy = STEPS[ids.index("terraform-binary")]
    assert "/bin/terraform" in script(copy) and copy["name"].startswith("hashicorp/terraform")
    checks = STEPS[ids.index("infra-checks")]
    assert checks["waitFor"] == ["terraform-binary"]
    assert "PATH=/workspace/.bin:" in script(checks)


def test_each_suite_runs_once_and_together_they_are_make_test() -> None:
    targets: list[str] = []
    for step in STEPS:
        for words in commands(script(step)):
            if words[0] == "make":
                targets += words[1:]
    assert "test" not in targets  # the whole suite would repeat the steps' suites
    runs = [t for t in targets if t in TEST_TARGETS]
    assert sorted(runs) == sorted(TEST_TARGETS), runs  # each once
    suites = {p.name for p in (ROOT / "tests").iterdir() if list(p.glob("test_*.py"))}
    assert set().union(*TEST_TARGETS.values()) == suites
    makefile = (ROOT / "Makefile").read_text()
    for target in set(targets):
        assert re.search(rf"^{re.escape(target)}:", makefile, re.M), f"no make target {target}"


def test_steps_are_in_the_readme_order() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Deploying to your own project") :]
    section = section[: section.index("\n## ", 3)]
    listed = re.findall(r"(?:^|, )\d+\. `([a-z-]+)`", section, re.M)
    assert listed == [s["id"] for s in STEPS]
