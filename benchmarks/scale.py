"""`make bench-scale`: sharded jobs (CONTRACT 5.2) through the emulator stack, and a
walk-forward study in-process. Figures only, printed as a table.

- Per-shard overhead: a 64-shard job whose shards compute almost nothing (a European
  Monte Carlo of 64 blocks) against the same job in one piece; (difference) / 63 is
  what a shard costs through PostgreSQL, the outbox, Pub/Sub push, the push front, the
  worker and the merge. Median of ``SCALE_REPEATS`` runs.
- Speed-up: the seeded Asian Monte Carlo of the issue (2e6 paths x 252 steps) in one
  piece on one worker, as 16 shards on one worker, and as 16 shards on two worker
  processes (the push front spreads them). Each shard (and the one-piece job) uses the
  machine's cores through its kernel's threads, so on this 2-core machine one worker is
  already using both: the two-worker row shows the overhead of more processes, not more
  cores. On Cloud Run every instance brings its own vCPUs: the pinned rows run each
  worker process on one core of its own, as one vCPU per instance, and show the scaling.
  A job's time is the job store's, creation to finish; the client polls every 0.25 s (a
  tight poll kept the API busy on the workers' cores: 1.61x measured that way, 1.9x not).
- Cold instances: the first shard of a fresh process with the image's portable numba
  cache and with one built for another CPU, and the portable build's speed
  (``benchmarks/cold_start.py``).
- Walk-forward: 50 rolling windows over 16 sma_cross parameter sets x 20 symbols of the
  sample data, in-process (the model alone, no stack).
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devtools.jobs import BLACK_SCHOLES, asian_monte_carlo
from devtools.stack import start_stack

REPEATS = int(os.environ.get("SCALE_REPEATS", "3"))


def timed_job(client: httpx.Client, params: dict[str, Any], shards: int) -> float:
    """Seconds from the job's creation to its finish, as the job store recorded them. The
    client polls slowly: a tight poll keeps the API busy on the cores the workers use."""
    job = client.post(
        "/v1/jobs",
        json={"model": "monte_carlo_option", "params": params, "options": {"shards": shards}},
    ).json()
    while (done := client.get(f"/v1/jobs/{job['id']}").json())["status"] not in (
        "succeeded",
        "failed",
        "cancelled",
    ):
        time.sleep(0.25)
    assert done["status"] == "succeeded", done
    created = datetime.fromisoformat(done["created_at"])
    return (datetime.fromisoformat(done["finished_at"]) - created).total_seconds()


def pin(pid: int, core: int) -> None:
    """Every thread of a process on one core (threads it starts later inherit it)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(tid), {core})


def walk_forward_seconds() -> tuple[float, int]:
    from quantrun.adapters.embedded.prices import DuckDBPriceStore
    from quantrun.adapters.embedded.sample import SAMPLE_NAMES
    from quantrun.catalog.spec import RunContext
    from quantrun.catalog.walk_forward import SPEC

    store = DuckDBPriceStore(":memory:")
    store.load_sample_data()
    symbols = sorted(s for s in SAMPLE_NAMES if s != "SPY")[:20]
    start, end = date(1995, 1, 1), date(2018, 12, 31)
    rows = store.load_close(symbols, start, end).dates.size
    train = 252
    test = math.ceil((rows - train) / 50)
    params = SPEC.params.model_validate(
        {
            "symbols": symbols,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "strategy": {"name": "sma_cross", "fast": [5, 10, 20, 40], "slow": [50, 100, 150, 200]},
            "train_days": train,
            "test_days": test,
        }
    )
    context = RunContext(load_prices=store.load_close, charts=False, threads=os.cpu_count() or 1)
    SPEC.run(params, context)  # compile and warm
    started = time.monotonic()
    result = SPEC.run(params, context).result
    return time.monotonic() - started, len(result["windows"])


def main() -> None:
    rows: list[tuple[str, str]] = []
    stack = start_stack(
        sample_symbols=["AAPL"],
        workers=2,
        service_env={"QUANTRUN_RATE_REQUESTS_PER_SECOND": "0", "QUANTRUN_MAX_SHARDS": "256"},
    )
    try:
        with stack.client("bench-scale") as client:
            tiny = {**BLACK_SCHOLES, "style": "european", "paths": 64 * 8192, "seed": 1}
            timed_job(client, tiny, 64)  # warm every process
            one = statistics.median(timed_job(client, tiny, 1) for _ in range(REPEATS))
            many = statistics.median(timed_job(client, tiny, 64) for _ in range(REPEATS))
            rows.append(("tiny job, 1 shard (s)", f"{one:.3f}"))
            rows.append(("tiny job, 64 shards (s)", f"{many:.3f}"))
            rows.append(("overhead per shard (ms)", f"{(many - one) / 63 * 1000:.1f}"))
            big = asian_monte_carlo(paths=2_000_000, seed=2026)
            two_workers = statistics.median(timed_job(client, big, 16) for _ in range(REPEATS))
            stack.workers[1].stop()  # one worker: the push front sends everything to it
            whole = statistics.median(timed_job(client, big, 1) for _ in range(REPEATS))
            one_worker = statistics.median(timed_job(client, big, 16) for _ in range(REPEATS))
            rows.append(("Asian 2e6 x 252, one piece, 1 worker (s)", f"{whole:.2f}"))
            rows.append(("  as 16 shards, 1 worker (s)", f"{one_worker:.2f}"))
            rows.append(("  as 16 shards, 2 workers (s)", f"{two_workers:.2f}"))
            rows.append(("  speed-up, 2 workers over 1 (x)", f"{one_worker / two_workers:.2f}"))
            # one core per worker process, as one vCPU per Cloud Run instance: restarted
            # and pinned before their first job (a process reads its cores once)
            for index in (0, 1):
                stack.workers[index].stop()
                pin(stack.start_worker(index).proc.pid, index)
            pinned_two = statistics.median(timed_job(client, big, 16) for _ in range(REPEATS))
            stack.workers[1].stop()
            pinned_one = statistics.median(timed_job(client, big, 16) for _ in range(REPEATS))
            rows.append(("  16 shards, 1 worker pinned to 1 core (s)", f"{pinned_one:.2f}"))
            rows.append(("  16 shards, 2 workers pinned to 1 core each (s)", f"{pinned_two:.2f}"))
            rows.append(
                ("  speed-up, pinned, 2 workers over 1 (x)", f"{pinned_one / pinned_two:.2f}")
            )
    finally:
        stack.stop()
    from benchmarks.cold_start import rows as cold_rows

    rows += cold_rows()
    seconds, windows = walk_forward_seconds()
    rows.append((f"walk-forward, {windows} windows x 16 sets x 20 symbols (s)", f"{seconds:.2f}"))
    width = max(len(name) for name, _ in rows)
    print(f"\n{'bench-scale':<{width}}  value")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
