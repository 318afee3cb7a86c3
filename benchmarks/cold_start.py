"""Cold instances (part of `make bench-scale`): what the first shard on a fresh process
pays for the numba kernels, and what a portable kernel cache costs in speed.

numba keys its on-disk cache by the CPU that compiled it. The image compiles every
kernel at build time (services/Dockerfile) on Cloud Build's machine; a Cloud Run host
with another CPU would miss that cache and compile again. The image sets
``NUMBA_CPU_NAME=generic`` at build and run, so the cache is keyed the same everywhere.

Each row runs in a fresh process: the time to the first finished walk-forward shard
(sample data, 16 sets x 4 symbols, every kernel it touches) with the portable cache,
with a cache built under another CPU name (so it compiles), and the speed of a warm
backtest grid compiled for this host's CPU against the generic build.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FIRST_SHARD = """
import time
started = time.monotonic()
from quantrun.adapters.embedded.prices import DuckDBPriceStore
from quantrun.catalog import REGISTRY
from quantrun.catalog.spec import RunContext
store = DuckDBPriceStore(":memory:")
store.load_sample_data()
spec = REGISTRY["walk_forward"]
params = spec.params.model_validate({**spec.example, "symbols": ["AAPL", "XOM", "JPM", "WMT"],
    "strategy": {"name": "sma_cross", "fast": [5, 10, 20, 40], "slow": [50, 100, 150, 200]}})
shard = spec.sharding.split(params, 4)[0]
spec.sharding.run(params, shard, RunContext(load_prices=store.load_close, charts=False))
print(time.monotonic() - started)
"""

GRID_SPEED = """
import time
import numpy as np
from quantrun.models import backtest as bt
rng = np.random.default_rng(1)
close = 50 * np.cumprod(1 + rng.normal(0.0003, 0.015, size=(2500, 20)), axis=0)
grid, _ = bt.expand_grid("rsi", {"period": [7, 14, 21, 28], "lower": [20, 25, 30, 35],
                                 "upper": [65, 70, 75, 80]})
kw = {"initial_cash": 1e6, "fees_bps": 5, "slippage_bps": 0}
bt.run_grid(close, "rsi", grid, **kw)
best = min(
    (lambda t: (bt.run_grid(close, "rsi", grid, **kw), time.perf_counter() - t)[1])(
        time.perf_counter()
    )
    for _ in range(5)
)
print(best)
"""


EVERY_KERNEL = """
import time
started = time.monotonic()
from quantrun.models.kernels import warm
warm()
print(time.monotonic() - started)
"""


def _python(code: str, cache: str, cpu: str | None) -> float:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CPU_NAME"}
    env["NUMBA_CACHE_DIR"] = cache
    if cpu is not None:
        env["NUMBA_CPU_NAME"] = cpu
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return float(done.stdout.strip().splitlines()[-1])


def rows() -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as generic, tempfile.TemporaryDirectory() as host:
        warm = "from quantrun.models.kernels import warm; warm(); print(0)"
        _python(warm, generic, "generic")  # as the image build does
        _python(warm, host, None)
        portable = _python(FIRST_SHARD, generic, "generic")
        missed = _python(FIRST_SHARD, generic, None)  # this CPU is not "generic": compiles
        all_portable = _python(EVERY_KERNEL, generic, "generic")
        with tempfile.TemporaryDirectory() as other:
            _python(warm, other, "generic")
            all_missed = _python(EVERY_KERNEL, other, None)
        speed_generic = _python(GRID_SPEED, generic, "generic")
        speed_host = _python(GRID_SPEED, host, None)
    return [
        ("first walk-forward shard, portable cache (s)", f"{portable:.2f}"),
        ("first shard, cache built for another CPU (s)", f"{missed:.2f}"),
        ("every kernel loaded, portable cache (s)", f"{all_portable:.2f}"),
        ("every kernel, cache built for another CPU (s)", f"{all_missed:.2f}"),
        ("rsi grid 64 sets x 20 symbols x 2500 days, host CPU build (s)", f"{speed_host:.3f}"),
        ("  the same, generic CPU build (s)", f"{speed_generic:.3f}"),
        ("  generic over host (x)", f"{speed_generic / speed_host:.2f}"),
    ]
