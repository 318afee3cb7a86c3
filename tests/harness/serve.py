"""`quantrun serve` as a real process on a free port (embedded mode), for tests that
drive it over HTTP the way users and their tools do."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

QUANTRUN = str(Path(sys.executable).parent / "quantrun")


class Server:
    def __init__(self, data_dir: Path, port: int, **env: str) -> None:
        self.data_dir, self.port = data_dir, port
        self.url = f"http://127.0.0.1:{port}"
        self.env = {
            **os.environ,
            "QUANTRUN_DATA_DIR": str(data_dir),
            "QUANTRUN_PORT": str(port),
            "QUANTRUN_LEASE_SECONDS": "2",
            "QUANTRUN_RECLAIM_INTERVAL_SECONDS": "0.5",
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        self.stderr = self.data_dir.parent / f"serve-{self.port}-{self.starts}.err"
        self.stdout = self.data_dir.parent / f"serve-{self.port}-{self.starts}.out"
        self.proc = subprocess.Popen(
            [QUANTRUN, "serve"],
            env=self.env,
            stdout=self.stdout.open("wb"),
            stderr=self.stderr.open("wb"),
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited: {self.stderr.read_text()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"serve did not become ready: {self.stderr.read_text()}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    @property
    def key(self) -> str:
        return (self.data_dir / "dev-api-key").read_text().strip()

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=30
        )
