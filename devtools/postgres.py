"""A throwaway PostgreSQL cluster for the test session (see ../shared/EMULATORS.md).

initdb refuses to run as root, so as root the cluster runs as the ``postgres`` user, in
a folder that user owns (a data dir under a 0700 root-owned parent fails): in memory
(/dev/shm) when it has room, else under /tmp. The tests make a database each (``CREATE
DATABASE`` copies the 7 MB template): on this machine's disk that took 110-250 ms a
database, and removing a session's cluster at its end 5-7 s; in memory 13-21 ms, and about
a second.
"""

from __future__ import annotations

import glob
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def _find(binary: str) -> str:
    found = shutil.which(binary)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{binary}"))
    if candidates:
        return candidates[-1]
    raise FileNotFoundError(
        f"PostgreSQL's {binary} was not found; run `make system-deps` (apt: postgresql)"
    )


# ports below the kernel's ephemeral range (Linux's default starts at 32768): a port
# picked from that range can be taken as the source port of any outgoing connection
# (a database client's, an HTTP client's) before the server it was picked for binds it
_PICKED_PORTS = range(20000, 32000)
_pick = random.SystemRandom()
_given: set[int] = set()  # never the same port twice to one process


def free_port() -> int:
    """A port nothing listens on now, outside the ephemeral range where the machine's
    own outgoing connections could take it before it is bound."""
    low = _ephemeral_low()
    ports = range(_PICKED_PORTS.start, min(_PICKED_PORTS.stop, low))
    for _ in range(100):
        port = _pick.choice(ports) if ports else 0
        if port in _given:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            port = int(s.getsockname()[1])
            _given.add(port)
            return port
    raise RuntimeError(f"no free port found in {ports}")


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


@dataclass
class PostgresServer:
    base: Path
    port: int
    as_root: bool

    @property
    def url(self) -> str:
        return f"postgresql+pg8000://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *cmd: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        full = ["runuser", "-u", "postgres", "--", *cmd] if self.as_root else list(cmd)
        return subprocess.run(full, capture_output=True, text=True, timeout=timeout, check=False)

    def start(self) -> None:
        data = self.base / "data"
        init = self._run(
            _find("initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{init.stdout}\n{init.stderr}")
        opts = self._options()
        started = self._run(
            _find("pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(self.base / "pg.log"),
            "-w",
            "-t",
            "30",
            "start",
            "-o",
            opts,
        )
        if started.returncode != 0:
            log = (self.base / "pg.log").read_text() if (self.base / "pg.log").exists() else ""
            raise RuntimeError(f"PostgreSQL did not start:\n{started.stderr}\n{log}")

    def _options(self) -> str:
        return (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )

    def halt(self) -> None:
        """Stop the server, keeping its data (``resume`` starts it again): an outage."""
        self._run(_find("pg_ctl"), "-D", str(self.base / "data"), "-m", "fast", "-w", "stop")

    def resume(self) -> None:
        started = self._run(
            _find("pg_ctl"), "-D", str(self.base / "data"), "-l", str(self.base / "pg.log"),
            "-w", "-t", "30", "start", "-o", self._options(),
        )  # fmt: skip
        if started.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start again:\n{started.stderr}")

    def stop(self) -> None:
        self._run(
            _find("pg_ctl"),
            "-D",
            str(self.base / "data"),
            "-m",
            "immediate",
            "-w",
            "stop",
            timeout=30,
        )
        shutil.rmtree(self.base, ignore_errors=True)

    def create_database(self, name: str) -> str:
        import pg8000.native

        conn = pg8000.native.Connection("postgres", host="127.0.0.1", port=self.port)
        try:
            conn.run(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return f"postgresql+pg8000://postgres@127.0.0.1:{self.port}/{name}"


# what /dev/shm must have free to hold the clusters: the two test processes' databases
# came to 1.8 GB at the end of make test (a container's default /dev/shm is 64 MB: such a
# machine uses /tmp)
MEMORY_NEEDED = 4 << 30


def _scratch() -> str:
    try:
        shm = os.statvfs("/dev/shm")
    except OSError:
        return "/tmp"
    roomy = shm.f_bavail * shm.f_frsize >= MEMORY_NEEDED
    return "/dev/shm" if roomy and os.access("/dev/shm", os.W_OK) else "/tmp"


def start_postgres(port: int | None = None) -> PostgresServer:
    as_root = os.geteuid() == 0
    base = Path(tempfile.mkdtemp(prefix="quantrun-pg-", dir=_scratch()))
    if as_root:
        shutil.chown(base, "postgres", "postgres")
    base.chmod(0o700)
    server = PostgresServer(base=base, port=port or free_port(), as_root=as_root)
    deadline = time.monotonic() + 60
    while True:
        try:
            server.start()
            return server
        except RuntimeError:
            if port is not None or time.monotonic() > deadline:
                raise
            server.port = free_port()  # port taken between probe and start: try another
            shutil.rmtree(base / "data", ignore_errors=True)
