"""The emulator stack: PostgreSQL + Pub/Sub, BigQuery and storage emulators, resources
provisioned as Terraform would in a project, and the API and worker as real processes in
gcp mode, the worker fed by a real Pub/Sub push subscription.

``make stack`` runs ``python -m devtools.stack`` (fixed ports, ``.stack/env``, serves
until Ctrl-C); the e2e tests start the same stack with free ports and unique names.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import hashlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from devtools.emulators import ROOT, UPLOAD_EVENTS_TOPIC, Emulators, start_emulators
from devtools.postgres import PostgresServer, free_port, start_postgres

# Production retries a push from 10 s (infra/modules/job_queue), so its 5 deliveries span
# about 150 s; the stack retries from 1 s so that tests see redeliveries at once, and with
# 5 its deliveries would span 15 s, less than a worker's restart can take on a loaded
# two-core machine (a killed worker's job was dead-lettered while its replacement started)
STACK_DELIVERY_ATTEMPTS = 10

QUANTRUN = str(Path(sys.executable).parent / "quantrun")


@dataclass
class Names:
    suffix: str = ""

    def _n(self, base: str) -> str:
        return f"{base}-{self.suffix}" if self.suffix else base

    @property
    def topic(self) -> str:
        return self._n("quantrun-jobs")

    @property
    def dead_topic(self) -> str:
        return self._n("quantrun-jobs-dead")

    @property
    def subscription(self) -> str:
        return self._n("quantrun-jobs-push")

    @property
    def long_topic(self) -> str:
        return self._n("quantrun-jobs-long")

    @property
    def long_subscription(self) -> str:
        return self._n("quantrun-jobs-long-pull")

    @property
    def dead_subscription(self) -> str:
        return self._n("quantrun-jobs-dead-push")

    @property
    def dataset(self) -> str:
        return "quantrun" + (f"_{self.suffix}" if self.suffix else "")

    @property
    def ingest_topic(self) -> str:
        return self._n("quantrun-ingest")

    @property
    def upload_events_subscription(self) -> str:
        return self._n("quantrun-upload-events-push")

    @property
    def artifacts_bucket(self) -> str:
        return self._n("quantrun-artifacts")

    @property
    def uploads_bucket(self) -> str:
        return self._n("quantrun-uploads")


def gcp_env(emu: Emulators, database_url: str, names: Names) -> dict[str, str]:
    return {
        **emu.env(),
        "QUANTRUN_MODE": "gcp",
        "QUANTRUN_PROJECT": emu.project,
        "QUANTRUN_DATABASE_URL": database_url,
        "QUANTRUN_JOBS_TOPIC": names.topic,
        "QUANTRUN_DEAD_LETTER_TOPIC": names.dead_topic,
        "QUANTRUN_PUSH_SUBSCRIPTION": names.subscription,
        "QUANTRUN_LONG_JOBS_TOPIC": names.long_topic,
        "QUANTRUN_LONG_JOBS_SUBSCRIPTION": names.long_subscription,
        "QUANTRUN_BQ_DATASET": names.dataset,
        "QUANTRUN_ARTIFACTS_BUCKET": names.artifacts_bucket,
        "QUANTRUN_UPLOADS_BUCKET": names.uploads_bucket,
        "QUANTRUN_INGEST_TOPIC": names.ingest_topic,
        # The emulator sends no OIDC token; production verifies it (see README).
        "QUANTRUN_VERIFY_PUSH_TOKEN": "false",
        # Cloud Run injects it from Secret Manager; one stack, one key (not a secret here)
        "QUANTRUN_SECRET_WEBHOOK_SECRETS_KEY": base64.b64encode(
            hashlib.sha256(f"quantrun-stack-{names.suffix}".encode()).digest()
        ).decode(),
    }


def provision(
    env: dict[str, str],
    names: Names,
    worker_url: str,
    *,
    load_sample: bool = True,
    ack_deadline: int = 60,
    sample_symbols: list[str] | None = None,
    functions_url: dict[str, str] | None = None,
) -> None:
    """Create what Terraform creates in a real project (idempotent)."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        from google.api_core import exceptions
        from google.cloud import pubsub_v1, storage  # type: ignore[attr-defined]
        from google.protobuf import duration_pb2

        from quantrun.adapters.embedded.sample import SAMPLE_NAMES, sample_rows
        from quantrun.adapters.gcp.bigquery_prices import BigQueryPriceStore
        from quantrun.adapters.gcp.clients import bigquery_client, storage_client

        project = env["QUANTRUN_PROJECT"]
        publisher = pubsub_v1.PublisherClient()
        subscriber = pubsub_v1.SubscriberClient()
        topics = (
            names.topic,
            names.dead_topic,
            names.long_topic,
            names.ingest_topic,
            UPLOAD_EVENTS_TOPIC,
        )
        for topic in topics:
            with contextlib.suppress(exceptions.AlreadyExists):
                publisher.create_topic(name=publisher.topic_path(project, topic), timeout=10)
        dead_topic = publisher.topic_path(project, names.dead_topic)
        retry = pubsub_v1.types.RetryPolicy(
            minimum_backoff=duration_pb2.Duration(seconds=1),
            maximum_backoff=duration_pb2.Duration(seconds=10),
        )
        subscriptions = [
            (
                names.subscription,
                names.topic,
                f"{worker_url}/pubsub/push",
                pubsub_v1.types.DeadLetterPolicy(
                    dead_letter_topic=dead_topic, max_delivery_attempts=STACK_DELIVERY_ATTEMPTS
                ),
            ),
            (names.dead_subscription, names.dead_topic, f"{worker_url}/pubsub/dead-letter", None),
            # pulled by `quantrun worker --pull` (no push: no request deadline)
            (names.long_subscription, names.long_topic, None, None),
        ]
        if functions_url:  # Eventarc's role: Pub/Sub push into the functions
            subscriptions += [
                (
                    names._n("quantrun-ingest-push"),
                    names.ingest_topic,
                    functions_url["ingest_prices"],
                    None,
                ),
                (
                    names.upload_events_subscription,
                    UPLOAD_EVENTS_TOPIC,
                    functions_url["ingest_upload"],
                    None,
                ),
            ]
        for sub, topic, endpoint, dead_letter in subscriptions:
            request: dict[str, Any] = {
                "name": subscriber.subscription_path(project, sub),
                "topic": publisher.topic_path(project, topic),
                "ack_deadline_seconds": ack_deadline,
                "retry_policy": retry,
            }
            if endpoint is not None:
                request["push_config"] = pubsub_v1.types.PushConfig(push_endpoint=endpoint)
            if dead_letter is not None:
                request["dead_letter_policy"] = dead_letter
            with contextlib.suppress(exceptions.AlreadyExists):
                subscriber.create_subscription(request=request, timeout=10)
        client: storage.Client = storage_client(project, emulator=env["STORAGE_EMULATOR_HOST"])
        for bucket in (names.artifacts_bucket, names.uploads_bucket):
            with contextlib.suppress(exceptions.Conflict):
                client.create_bucket(bucket, timeout=10)
        bq = bigquery_client(project, emulator=env["BIGQUERY_EMULATOR_HOST"])
        prices = BigQueryPriceStore(bq, dataset=names.dataset)
        prices.ensure_schema()
        if load_sample:
            rows = sample_rows()
            if sample_symbols is not None:
                rows = [r for r in rows if r.symbol in sample_symbols]
            prices.upsert(rows, source="sample")
            prices.set_names(SAMPLE_NAMES)
        publisher.stop()
        subscriber.close()
    finally:
        os.environ.clear()
        os.environ.update(saved)


@dataclass
class Service:
    name: str
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    # Cloud Run's grace between SIGTERM and SIGKILL
    GRACE_SECONDS = 10.0

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Signal the service's whole process group (a server's worker processes too),
        then SIGKILL whatever of it is left after the grace time."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=self.GRACE_SECONDS)
        # a worker process outlives a master that exited or was killed: the group goes too
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)


def start_service(
    name: str,
    args: list[str],
    port: int,
    env: dict[str, str],
    workdir: Path,
    ready_path: str = "/healthz",
) -> Service:
    log = workdir / f"{name}.log"
    proc = subprocess.Popen(
        [QUANTRUN, *args, "--port", str(port)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env={**os.environ, **env},
        cwd=ROOT,
        # its own process group: the stack stops it (a terminal's Ctrl-C reaches the
        # stack only, which stops everything in order)
        start_new_session=True,
    )
    service = Service(name, f"http://127.0.0.1:{port}", proc, log)
    return await_ready(service, lambda: _answers(service.url + ready_path, ok_only=True))


def _answers(url: str, *, ok_only: bool) -> bool:
    try:
        status = httpx.get(url, timeout=1).status_code
    except httpx.HTTPError:
        return False
    return status == 200 or not ok_only


def await_ready(service: Service, ready: Callable[[], bool], timeout: float = 60) -> Service:
    """Wait for ``ready()``. Whatever ends the wait otherwise (the process exiting, the
    timeout, Ctrl-C or SIGTERM reaching the caller) stops the service first: a start
    never leaves a process behind."""
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            if service.proc.poll() is not None:
                raise RuntimeError(f"{service.name} exited:\n{service.log.read_text()[-4000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{service.name} did not become ready:\n{service.log.read_text()[-4000:]}"
                )
            time.sleep(0.1)
    except BaseException:
        service.stop()
        raise
    return service


@dataclass
class Stack:
    workdir: Path
    postgres: PostgresServer
    emulators: Emulators
    names: Names
    env: dict[str, str]
    api_port: int
    worker_port: int
    api: Service | None = None
    worker: Service | None = None
    extra: list[Service] = field(default_factory=list)
    owns_backends: bool = True
    function_ports: dict[str, int] = field(default_factory=dict)
    # with a push front: it listens on worker_port, the workers on these
    worker_ports: list[int] = field(default_factory=list)
    workers: dict[int, Service] = field(default_factory=dict)
    front: Service | None = None
    worker_env: dict[str, str] = field(default_factory=dict)

    @property
    def functions_url(self) -> dict[str, str]:
        return {name: f"http://127.0.0.1:{port}" for name, port in self.function_ports.items()}

    def start_functions(self, **extra_env: str) -> list[Service]:
        """The ingest functions under functions-framework, as Cloud Functions runs them."""
        started = []
        framework = str(Path(sys.executable).parent / "functions-framework")
        for name, port in self.function_ports.items():
            log = self.workdir / f"function-{name}.log"
            env = {
                **os.environ,
                **self.env,
                "HOME": str(self.workdir),
                "QUANTRUN_INGEST_PROVIDERS": "synthetic",
                **extra_env,
            }
            proc = subprocess.Popen(
                [
                    framework,
                    "--target",
                    name,
                    "--source",
                    str(ROOT / "functions" / name / "main.py"),
                    "--signature-type",
                    "cloudevent",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                stdout=log.open("ab"),
                stderr=subprocess.STDOUT,
                env=env,
                cwd=ROOT,
                start_new_session=True,
            )
            service = Service(f"function-{name}", f"http://127.0.0.1:{port}", proc, log)
            await_ready(service, functools.partial(_answers, service.url, ok_only=False))
            self.extra.append(service)
            started.append(service)
        return started

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def worker_url(self) -> str:
        """Where pushes and the scheduler's tasks go: the push front, or the one worker."""
        return f"http://127.0.0.1:{self.worker_port}"

    def front_control(self, method: str, path: str, **body: Any) -> Any:
        """The push front's control endpoints (``/control/certs``, ``/control/stats``)."""
        assert self.front is not None, "this stack has no push front"
        r = httpx.request(method, f"{self.worker_url}{path}", json=body or None, timeout=10)
        r.raise_for_status()
        return r.json() if r.content else None

    def create_key(self, user: str) -> str:
        """A new API key, made the way an operator does (``quantrun keys create``)."""
        return subprocess.run(
            [QUANTRUN, "keys", "create", "--user", user],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, **self.env},
        ).stdout.strip()

    def client(self, user: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.api_url,
            timeout=30,
            headers={"Authorization": f"Bearer {self.create_key(user)}"},
        )

    @contextlib.contextmanager
    def env_applied(self) -> Iterator[None]:
        """This process's environment pointed at the stack (for google-cloud clients)."""
        saved = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        try:
            yield
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def start_worker(self, index: int = 0, **extra_env: str) -> Service:
        """Worker ``index`` (behind the push front when there is one; ``worker`` is 0)."""
        port = self.worker_ports[index] if self.worker_ports else self.worker_port
        service = start_service(
            f"worker-{index}" if self.worker_ports else "worker",
            ["worker"],
            port,
            {**self.env, **self.worker_env, **extra_env},
            self.workdir,
        )
        self.workers[index] = service
        if index == 0:
            self.worker = service
        return service

    def start_front(self) -> Service:
        """One push endpoint on ``worker_port`` in front of the workers (devtools.push_front)."""
        log = self.workdir / "push-front.log"
        targets = [
            a for port in self.worker_ports for a in ("--target", f"http://127.0.0.1:{port}")
        ]
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devtools.push_front",
                "--port",
                str(self.worker_port),
                *targets,
            ],
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
        self.front = Service("push-front", self.worker_url, proc, log)
        return await_ready(
            self.front, lambda: _answers(f"{self.worker_url}/control/stats", ok_only=True), 30
        )

    def start_long_worker(self, **extra_env: str) -> Service:
        """The pull consumer of the long-jobs subscription (`quantrun worker --pull`)."""
        log = self.workdir / "long-worker.log"
        proc = subprocess.Popen(
            [QUANTRUN, "worker", "--pull"],
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env, **extra_env},
            cwd=ROOT,
            start_new_session=True,
        )
        service = Service("long-worker", "", proc, log)
        await_ready(service, lambda: b"pull worker started" in log.read_bytes())
        self.extra.append(service)
        return service

    def start_api(self, **extra_env: str) -> Service:
        self.api = start_service(
            "api",
            ["serve"],
            self.api_port,
            {**self.env, **extra_env},
            self.workdir,
            ready_path="/readyz",
        )
        return self.api

    def stop(self) -> None:
        for service in (self.api, self.front, *self.workers.values(), *self.extra):
            if service is not None:
                service.stop()
        if self.owns_backends:
            self.emulators.stop()
            self.postgres.stop()


def start_stack(
    *,
    workdir: Path | None = None,
    suffix: str | None = None,
    ports: dict[str, int] | None = None,
    load_sample: bool = True,
    sample_symbols: list[str] | None = None,
    start_services: bool = True,
    ack_deadline: int = 60,
    postgres: PostgresServer | None = None,
    emulators: Emulators | None = None,
    service_env: dict[str, str] | None = None,
    with_functions: bool = False,
    function_env: dict[str, str] | None = None,
    workers: int = 1,
    push_front: bool | None = None,
    storage_on_disk: bool = True,
) -> Stack:
    """Start (or reuse) PostgreSQL and the emulators, provision, and start the services
    (and, with ``with_functions``, the ingest functions fed by push subscriptions).

    ``workers`` > 1 (or ``push_front=True``) puts devtools.push_front on the worker port,
    in front of that many worker processes: it balances the pushes and signs each with an
    OIDC token that the workers verify, as Pub/Sub and Cloud Run do in production."""
    push_front = workers > 1 if push_front is None else push_front
    ports = ports or {}
    workdir = workdir or Path(tempfile.mkdtemp(prefix="quantrun-stack-"))
    workdir.mkdir(parents=True, exist_ok=True)
    names = Names(uuid.uuid4().hex[:8] if suffix is None else suffix)
    owns = postgres is None and emulators is None
    results: dict[str, Any] = {}

    def boot_pg() -> None:
        try:
            results["pg"] = start_postgres(port=ports.get("postgres"))
        except Exception as exc:
            results["pg_error"] = exc

    pg_thread = threading.Thread(target=boot_pg)
    emu: Emulators | None = emulators
    stack: Stack | None = None
    # whatever happens before the stack is returned (an error, Ctrl-C, SIGTERM turned
    # into an exception by the caller), what was started here is stopped here
    try:
        if postgres is None:
            pg_thread.start()
        emu = emulators or start_emulators(
            workdir / "emulators",
            pubsub_port=ports.get("pubsub"),
            bigquery_port=ports.get("bigquery"),
            storage_port=ports.get("storage"),
            storage_on_disk=storage_on_disk,
        )
        if postgres is None:
            pg_thread.join()
            if "pg_error" in results:
                raise results["pg_error"]
        pg: PostgresServer = postgres or results["pg"]
        database_url = pg.create_database(f"quantrun{('_' + names.suffix) if names.suffix else ''}")
        env = {**gcp_env(emu, database_url, names), **(service_env or {})}
        stack = Stack(
            workdir,
            pg,
            emu,
            names,
            env,
            ports.get("api") or free_port(),
            ports.get("worker") or free_port(),
            owns_backends=owns,
        )
        if push_front:
            from devtools.push_front import PUSH_SERVICE_ACCOUNT

            stack.worker_ports = [free_port() for _ in range(workers)]
            stack.worker_env = {
                "QUANTRUN_VERIFY_PUSH_TOKEN": "true",
                "QUANTRUN_PUSH_AUDIENCE": stack.worker_url,
                "QUANTRUN_PUSH_SERVICE_ACCOUNT": PUSH_SERVICE_ACCOUNT,
                "QUANTRUN_GOOGLE_CERTS_URL": f"{stack.worker_url}/certs",
            }
            stack.start_front()
        if with_functions:
            stack.function_ports = {
                "ingest_prices": ports.get("ingest_prices") or free_port(),
                "ingest_upload": ports.get("ingest_upload") or free_port(),
            }
        provision(
            env,
            names,
            stack.worker_url,
            load_sample=load_sample,
            ack_deadline=ack_deadline,
            sample_symbols=sample_symbols,
            functions_url=stack.functions_url if with_functions else None,
        )
        if start_services:
            for index in range(len(stack.worker_ports) or 1):
                stack.start_worker(index)
            stack.start_long_worker()
            stack.start_api()
        if with_functions:
            stack.start_functions(**(function_env or {}))
        return stack
    except BaseException:
        if stack is not None:
            stack.stop()
        elif owns:
            if emu is not None:
                emu.stop()
            if pg_thread.is_alive():
                pg_thread.join(timeout=90)
            if "pg" in results:
                results["pg"].stop()
        raise


def ports_in_use(ports: dict[str, int]) -> list[str]:
    """The named ports something already listens on (checked before anything starts)."""
    taken = []
    for name, port in ports.items():
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                taken.append(f"{name} {port}")
    return taken


def write_env_file(stack: Stack, path: Path) -> None:
    lines = {
        **stack.env,
        "QUANTRUN_API_URL": stack.api_url,
        "QUANTRUN_WORKER_URL": stack.worker_url,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"export {k}='{v}'\n" for k, v in sorted(lines.items())))


def start_or_stop(start: Callable[[], Stack], stop: threading.Event) -> Stack | None:
    """``start()``'s stack, or None when Ctrl-C or SIGTERM came during it (all it started
    then stopped). During ``start()`` either signal sets ``stop`` and raises
    KeyboardInterrupt, which unwinds it (``start_stack`` stops what it started); afterwards
    they only set ``stop``. The exception alone is not enough: raised while Python runs a
    weakref callback or a ``__del__`` (an import's module lock has one), it is printed
    and dropped, and the start went on (a stack left running after Ctrl-C, in CI). The
    set ``stop`` is kept: a stack that started anyway is stopped here."""
    starting = True

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()
        if starting:
            raise KeyboardInterrupt(signal.Signals(signum).name)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    stack: Stack | None = None
    try:
        stack = start()
    except KeyboardInterrupt:
        pass
    finally:
        starting = False
    if stop.is_set() and stack is not None:
        stack.stop()
        return None
    return stack


def main() -> None:
    parser = argparse.ArgumentParser(description="QuantRun in gcp mode on the emulators")
    for name, default in (
        ("api", 8080),
        ("worker", 8081),
        ("pubsub", 8085),
        ("bigquery", 9050),
        ("storage", 4443),
        ("postgres", 5432),
        ("ingest_prices", 8091),
        ("ingest_upload", 8092),
    ):
        parser.add_argument(
            f"--{name.replace('_', '-')}-port",
            type=int,
            default=int(os.environ.get(f"{name.upper()}_PORT", default)),
        )
    parser.add_argument(
        "--dir",
        type=Path,
        default=ROOT / ".stack",
        help="where the env file and logs go (default .stack)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("WORKERS", "1")),
        help="worker processes; more than one puts a push front on the worker port",
    )
    args = parser.parse_args()
    ports = {
        n: getattr(args, f"{n}_port")
        for n in (
            "api",
            "worker",
            "pubsub",
            "bigquery",
            "storage",
            "postgres",
            "ingest_prices",
            "ingest_upload",
        )
    }
    taken = ports_in_use(ports)
    if taken:
        sys.stderr.write(
            f"ports already in use: {', '.join(taken)}; nothing was started "
            "(stop what holds them, or choose others: make stack API_PORT=... PUBSUB_PORT=...)\n"
        )
        sys.exit(2)

    stop = threading.Event()
    stack = start_or_stop(
        lambda: start_stack(
            workdir=args.dir / "run",
            suffix="",
            ports=ports,
            with_functions=True,
            workers=args.workers,
        ),
        stop,
    )
    if stack is None:
        sys.stderr.write("interrupted during start-up; everything started was stopped\n")
        sys.exit(130)
    env_file = args.dir / "env"
    write_env_file(stack, env_file)
    sys.stderr.write(
        f"\nQuantRun (gcp mode on emulators): API {stack.api_url}, worker {stack.worker_url}\n"
        f"Environment: source {env_file}\n"
        f"API key: .venv/bin/quantrun keys create --user you  (after sourcing the env file)\n"
        "Ctrl-C stops everything.\n"
    )
    try:
        while not stop.wait(5.0):
            # the reclaim sweep that Cloud Scheduler runs in production
            with contextlib.suppress(httpx.HTTPError):
                httpx.post(f"{stack.worker_url}/tasks/reclaim", timeout=10)
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
