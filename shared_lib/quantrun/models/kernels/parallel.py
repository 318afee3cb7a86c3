"""Splitting work over threads: the kernels release the GIL, so plain threads run
their parts in parallel (no numba threading layer, so concurrent jobs cannot trip
over it)."""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TypeVar

import numpy as np

_helpers: ThreadPoolExecutor | None = None
_helpers_lock = threading.Lock()


def _helper_pool() -> ThreadPoolExecutor:
    """One pool of helper threads per process, made on first use: starting threads for
    every call cost more than the work of a small chunk (~3 ms per split)."""
    global _helpers
    with _helpers_lock:
        if _helpers is None:
            _helpers = ThreadPoolExecutor(
                max_workers=max(1, (os.cpu_count() or 1) - 1), thread_name_prefix="kernels"
            )
        return _helpers


def run_split(work: Callable[[int, int], None], n: int, threads: int, start: int = 0) -> None:
    """Call work(lo, hi) over [start, start + n) in ``threads`` contiguous parts at once:
    the first on the calling thread, the rest on the process's helper threads (the
    kernels release the GIL, so the parts run in parallel; a busy pool only delays them)."""
    threads = max(1, min(threads, n))
    if threads == 1:
        work(start, start + n)
        return
    bounds = [start + int(x) for x in np.linspace(0, n, threads + 1)]
    parts = list(itertools.pairwise(bounds))
    pool = _helper_pool()
    futures = [pool.submit(work, a, b) for a, b in parts[1:]]
    try:
        work(*parts[0])
    finally:
        for f in futures:
            f.result()


T = TypeVar("T")


def map_blocks(
    work: Callable[[int], T],
    n: int,
    threads: int,
    progress: Callable[[float], None] = lambda _f: None,
) -> list[T]:
    """[work(0), ..., work(n - 1)] on ``threads`` threads (numpy's generators and array
    passes release the GIL), ``progress(done / n)`` called on the calling thread after
    each; if it raises (a cancelled job), the blocks not started are dropped."""
    if threads <= 1 or n <= 1:
        out = []
        for i in range(n):
            out.append(work(i))
            progress((i + 1) / n)
        return out
    results: dict[int, T] = {}
    pool = ThreadPoolExecutor(max_workers=threads)
    try:
        futures = {pool.submit(work, i): i for i in range(n)}
        for done, future in enumerate(as_completed(futures), start=1):
            results[futures[future]] = future.result()
            progress(done / n)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return [results[i] for i in range(n)]
