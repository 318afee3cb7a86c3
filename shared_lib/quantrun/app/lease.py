"""Keeping a running job's lease alive.

A claimed job holds a lease (``lease_expires_at``) that the worker renews every third of
its length while the model runs; a lost lease or a cancellation turns into
``JobCancelled`` at the model's next checkpoint. One keeper thread per process renews
every lease that is due, so a job costs no thread of its own (most jobs finish before
their first renewal).

``drain`` is a process's shutdown (SIGTERM, Ctrl-C): every job it runs goes back on the
queue at once, its attempt not counted, so another worker takes it without waiting for
the lease to expire; the models stop at their next checkpoint, and no new job is claimed.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from quantrun.clock import utcnow
from quantrun.domain.errors import JobCancelled
from quantrun.logging import get_logger
from quantrun.ports import JobStore

log = get_logger(__name__)


@dataclass(frozen=True)
class WorkerConfig:
    worker_id: str
    lease_seconds: float = 30.0
    max_attempts: int = 3
    # a queued job waiting longer than this is published again (its message may be lost)
    queued_grace_seconds: float = 300.0
    # the job limits, checked again before a job runs
    max_cost: float = math.inf
    # what this consumer runs itself; a costlier job is handed off (a push request's
    # deadline: see Worker.run's handoff)
    push_max_cost: float = math.inf
    max_result_values: float = math.inf
    # array values a result keeps in its JSON (beyond: an artifact)
    inline_values: int = 100_000
    # what manifest.json records as the code that ran
    code_version: str = "unknown"


class Lease:
    """A claimed job's lease; a context manager that has the keeper renew it."""

    def __init__(
        self,
        store: JobStore,
        job_id: str,
        cfg: WorkerConfig,
        keepalive: Callable[[], None],
        keeper: Keeper | None = None,
    ) -> None:
        self._store, self.job_id, self._cfg, self._keepalive = store, job_id, cfg, keepalive
        self._keeper = keeper or _KEEPER
        self.interval = cfg.lease_seconds / 3
        self._lost = threading.Event()
        self._lock = threading.Lock()  # one renewal at a time; none after release
        self._released = False
        self._progress: float | None = None
        self._last_beat = self._keeper.clock()
        self.next_beat = self._last_beat + self.interval

    def __enter__(self) -> Lease:
        self._keeper.add(self)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._keeper.discard(self)

    def beat(self) -> None:
        """Renew now (the keeper's thread, or a checkpoint); a refused renewal means the
        lease was lost or the job cancelled."""
        with self._lock:
            if self._released:
                return
            until = utcnow() + timedelta(seconds=self._cfg.lease_seconds)
            ok = self._store.heartbeat(
                self.job_id, worker=self._cfg.worker_id, progress=self._progress, lease_until=until
            )
            self._last_beat = self._keeper.clock()
            self.next_beat = self._last_beat + self.interval
        if not ok:
            self._lost.set()
        else:
            self._keepalive()

    def checkpoint(self, fraction: float) -> None:
        self._progress = min(max(float(fraction), 0.0), 1.0)
        if self._keeper.clock() - self._last_beat > 0.5:
            self.beat()
        if self._lost.is_set():
            raise JobCancelled("the job was cancelled or its lease was lost")

    def give_back(self) -> bool:
        """Shutdown: the job is queued again (its attempt not counted) and this lease is
        lost, so the model stops at its next checkpoint and its result is never stored.
        False when the job had already moved on (finished, cancelled)."""
        self._keeper.discard(self)
        with self._lock:
            if self._released:
                return False
            self._released = True
        self._lost.set()
        return self._store.release(self.job_id, worker=self._cfg.worker_id, now=utcnow())

    def release(self) -> None:
        """Expire the lease now, so a redelivery can claim the job without waiting. No
        renewal happens after this (one would make the lease live again)."""
        self._keeper.discard(self)
        with self._lock:
            self._released = True
        self._store.heartbeat(
            self.job_id, worker=self._cfg.worker_id, progress=None, lease_until=utcnow()
        )


class Keeper:
    """Renews the leases it holds when they are due: the process's one renewal thread
    (started on first use), or, with ``threaded=False``, a test's ``tick`` on a test
    clock. ``clock`` is monotonic seconds."""

    # with no lease to renew, the keeper still wakes this often: a new lease (due a
    # renewal interval later) then never needs to wake it, which under load would cost
    # a thread switch per job
    IDLE_WAKE_SECONDS = 1.0

    def __init__(self, clock: Callable[[], float] = time.monotonic, threaded: bool = True) -> None:
        self.clock = clock
        self._threaded = threaded
        self._leases: set[Lease] = set()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._wake_at = 0.0  # when the keeper next wakes by itself (monotonic)

    def add(self, lease: Lease) -> None:
        with self._changed:
            self._leases.add(lease)
            if not self._threaded:
                return
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)
                self._thread.start()
            elif lease.next_beat < self._wake_at:
                # otherwise the keeper already wakes in time for it
                self._changed.notify()

    def discard(self, lease: Lease) -> None:
        with self._changed:
            self._leases.discard(lease)

    def held(self) -> list[Lease]:
        with self._changed:
            return list(self._leases)

    def tick(self) -> int:
        """Renew the leases due now; how many were."""
        with self._changed:
            due = self._due(self.clock())
        self._renew(due)
        return len(due)

    def _due(self, now: float) -> list[Lease]:
        return [lease for lease in self._leases if lease.next_beat <= now]

    def _run(self) -> None:
        while True:
            with self._changed:
                now = self.clock()
                due = self._due(now)
                if not due:
                    self._wake_at = min(
                        (ls.next_beat for ls in self._leases), default=now + self.IDLE_WAKE_SECONDS
                    )
                    self._changed.wait(max(self._wake_at - now, 0.01))
                    self._wake_at = 0.0
                    continue
            self._renew(due)

    def _renew(self, due: list[Lease]) -> None:
        for lease in due:
            try:
                lease.beat()
            except Exception:
                lease.next_beat = self.clock() + lease.interval
                log.warning(
                    "lease renewal failed",
                    exc_info=True,
                    extra={"fields": {"job_id": lease.job_id}},
                )


_KEEPER = Keeper()
_DRAINING = threading.Event()


def draining() -> bool:
    """The process is shutting down: claim nothing more."""
    return _DRAINING.is_set()


def drain(publish: Callable[[str], None]) -> list[str]:
    """Shut down this process's work: claim no more jobs, and give every job it runs
    back to the queue now (``publish`` puts each on the queue at once; in gcp mode the
    release's outbox row would too, later). The ids given back."""
    _DRAINING.set()
    given: list[str] = []
    for lease in _KEEPER.held():
        try:
            if lease.give_back():
                given.append(lease.job_id)
                publish(lease.job_id)
        except Exception:
            # the lease then expires and the reclaim sweep requeues the job
            log.warning(
                "job not given back", exc_info=True, extra={"fields": {"job_id": lease.job_id}}
            )
    if given:
        log.info("jobs given back at shutdown", extra={"fields": {"job_ids": given}})
    return given
