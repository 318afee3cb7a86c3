"""`make bench`: QuantRun's hot paths, each interleaved with a reference measured in the
same process, as the median of paired ratios over REPEATS runs. Figures, not assertions.

Two tables: QuantRun against the peer libraries (when the bench environment has them)
and against plain references that need no third-party code."""

from __future__ import annotations

import os
import sys

from benchmarks import charts, models, peers, store, universe
from benchmarks.harness import REPEATS, machine, print_table


def main() -> None:
    only = set(sys.argv[1:])  # e.g. `python -m benchmarks peers`
    print(f"machine: {machine()}; repeats={REPEATS}; figures are medians")
    if not only or "peers" in only:
        missing = peers.available()
        if missing is None:
            print("\nQuantRun against peer libraries (same inputs, same process)\n")
            print_table(peers.rows())
        else:
            print(f"\npeer rows left out: {missing} is not importable (`make bench` installs it)")
    if not only or "models" in only:
        print("\nQuantRun against plain references\n")
        print_table(
            [
                *models.bench_black_scholes(),
                *models.bench_implied_vol(),
                *models.bench_monte_carlo(),
                *models.bench_var_mc(),
                models.bench_markowitz(),
                *models.bench_risk_metrics(),
                *models.bench_backtest(),
                models.bench_backtest_trades(),
                models.bench_price_load(),
                charts.bench_chart_artifact(),
            ]
        )
    if not only or "store" in only:
        print("\nThe job store's hot statements and job list (a PostgreSQL started for them)\n")
        print_table(store.bench_store())
    if not only or "universe" in only:
        print("\nA universe at scale (embedded DuckDB)\n")
        print_table(universe.bench_universe())
    print(f"\nload1 after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
