"""``manifest.json``: what produced a job's result (CONTRACT 5.4), written beside the
job's other artifacts when it succeeds.

It holds the model; the params as validated (defaults filled in), in canonical JSON
(keys sorted, no spaces) and that text's SHA-256; the code version (the build's commit,
``QUANTRUN_CODE_VERSION``); the versions of Python and the numeric libraries; a
fingerprint of every price matrix the run loaded (symbols, first and last date, rows,
SHA-256 of its dates and closes as little-endian int64 days and float64, NaN where a
price is missing); the seed and how random numbers derive from it, when the model draws
any; the seconds spent loading prices, computing and storing artifacts; the shard count;
each BigQuery query its loads made, with the ``total_bytes_processed`` BigQuery reports
(``bigquery``: none on the embedded store); and the SHA-256 of the result's canonical
JSON. The same model, params, data fingerprint,
seed and code version give the same result hash.

A sharded job's manifest fingerprints what its merge loaded (the shards load the same
history) and times the merge.
"""

from __future__ import annotations

import functools
import hashlib
import json
import platform
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from importlib import metadata
from typing import TYPE_CHECKING, Any

import numpy as np

from quantrun.app import report
from quantrun.app.stored import manifest_size, put_new
from quantrun.clock import utcnow
from quantrun.domain.artifacts import ArtifactRef
from quantrun.domain.jobs import Job
from quantrun.domain.prices import PriceMatrix
from quantrun.metering import metered
from quantrun.ports import ArtifactStore

if TYPE_CHECKING:
    from pydantic import BaseModel

    from quantrun.app.lease import WorkerConfig
    from quantrun.catalog.spec import ModelOutput, ModelSpec

NAME = "manifest.json"
CHARTS = "charts.json"
CONTENT_TYPE = "application/json"
LIBRARIES = ("numpy", "scipy", "numba", "pyarrow", "pydantic")


def canonical(value: Any) -> bytes:
    """JSON with keys sorted and no spaces: the text the hashes are taken of."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fingerprint(matrix: PriceMatrix) -> dict[str, Any]:
    """What identifies a loaded price matrix: its extent and a hash of its values."""
    digest = hashlib.sha256()
    digest.update(",".join(matrix.symbols).encode())
    digest.update(matrix.dates.astype("datetime64[D]").astype("<i8").tobytes())
    digest.update(np.ascontiguousarray(matrix.close, dtype="<f8").tobytes())
    rows = int(matrix.dates.size)
    return {
        "symbols": list(matrix.symbols),
        "first_date": str(matrix.dates[0]) if rows else None,
        "last_date": str(matrix.dates[-1]) if rows else None,
        "rows": rows,
        "sha256": digest.hexdigest(),
    }


@dataclass
class RecordedLoads:
    """A price loader that records what it gave and the time it took (a model may load
    from threads: the record is locked)."""

    load: Callable[[Sequence[str], date, date], PriceMatrix]
    loads: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    queries: list[dict[str, Any]] = field(default_factory=list)  # the warehouse's, in order
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, symbols: Sequence[str], start: date, end: date) -> PriceMatrix:
        began = time.monotonic()
        with metered() as queries:
            matrix = self.load(symbols, start, end)
        took = time.monotonic() - began
        seen = fingerprint(matrix)
        with self._lock:
            self.seconds += took
            self.queries.extend(queries)
            if seen not in self.loads:
                self.loads.append(seen)
        return matrix


@dataclass(frozen=True)
class Timings:
    compute_with_loads: float
    artifacts: float


@functools.cache
def _versions() -> dict[str, str | None]:
    # once a process: importlib.metadata parses each package's METADATA on every call
    # (3.6 ms for these six, 70% of a small job's CPU when it ran per job)
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def manifest(
    *,
    job_id: str,
    model: str,
    params: dict[str, Any],
    result: dict[str, Any],
    loads: RecordedLoads,
    timings: Timings,
    code_version: str,
    seeding: str | None,
    shards: int | None,
) -> dict[str, Any]:
    """The manifest of a succeeded job."""
    params_text = canonical(params)
    seed = result.get("seed")
    return {
        "job_id": job_id,
        "model": model,
        "params": params,
        "params_canonical": params_text.decode(),
        "params_sha256": sha256(params_text),
        "code_version": code_version,
        "libraries": dict(_versions()),
        "data": loads.loads,
        "random": {"seed": seed, "scheme": seeding} if seeding and seed is not None else None,
        "timings": {
            "load_seconds": round(loads.seconds, 6),
            "compute_seconds": round(max(0.0, timings.compute_with_loads - loads.seconds), 6),
            "artifacts_seconds": round(timings.artifacts, 6),
        },
        "shards": shards,
        "bigquery": {
            "queries": loads.queries,
            "total_bytes_processed": sum(q["total_bytes_processed"] or 0 for q in loads.queries),
        },
        "result_sha256": sha256(canonical(result)),
    }


@dataclass(frozen=True)
class Outcome:
    """What a succeeded run made, as ``record`` needs it."""

    params: BaseModel
    result: dict[str, Any]
    output: ModelOutput
    loads: RecordedLoads
    timings: Timings
    shards: int | None = None


@dataclass(frozen=True)
class Recorded:
    """What ``record`` made: the artifacts it stored and the manifest, which the job's row
    keeps (its reference says so: ``kept="job"``)."""

    artifacts: list[ArtifactRef]
    manifest: dict[str, Any]


def record(
    artifacts: ArtifactStore, job: Job, spec: ModelSpec[Any], outcome: Outcome, cfg: WorkerConfig
) -> Recorded:
    """A succeeded job's ``manifest.json``, and its ``charts.json`` (its line charts'
    data, when it drew any) and, when it read price history, ``report.html``, written
    under its attempt as its other artifacts. The manifest is not written here: the
    transaction that finishes the job stores it in the job's row, so a succeeded job
    always has it and a job with no other artifacts writes nothing to the bucket."""
    params = outcome.params.model_dump(mode="json")
    document = manifest(
        job_id=job.id,
        model=spec.name,
        params=params,
        result=outcome.result,
        loads=outcome.loads,
        timings=outcome.timings,
        code_version=cfg.code_version,
        seeding=spec.seeding,
        shards=outcome.shards,
    )
    refs = []
    lines = {a.name: a.series for a in outcome.output.artifacts if a.series}
    if lines:  # the line charts' data, for the console to draw (CHARTS)
        text = json.dumps(lines, separators=(",", ":"), allow_nan=False).encode()
        refs.append(put_new(artifacts, job.id, CHARTS, text, CONTENT_TYPE, job.attempts))
    size = manifest_size(document)
    refs.append(ArtifactRef(NAME, CONTENT_TYPE, size, job.attempts, kept="job"))
    if outcome.loads.loads:
        page = report.render(
            job_id=job.id,
            model=spec.name,
            params=params,
            result=outcome.result,
            manifest=document,
            charts=report.charts_with_drawdown(outcome.output.artifacts),
            finished=utcnow().strftime("%Y-%m-%d %H:%M UTC"),
        )
        refs.append(
            put_new(artifacts, job.id, report.NAME, page, report.CONTENT_TYPE, job.attempts)
        )
    return Recorded(refs, document)
