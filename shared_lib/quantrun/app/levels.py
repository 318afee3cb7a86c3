"""An index strategy's levels across its runs (CONTRACT 5.5): each succeeded job of an
``index_strategy`` strategy computed the index over its window; the history stitches
them oldest first, each later run taking over from the first date it shares with what
came before, chain-linked there (scaled so the level carries on), so a run on fresher or
restated data revises the history from where it starts and a run on a later window
extends it."""

from __future__ import annotations

from typing import Any

from quantrun.app.owned import found
from quantrun.domain.errors import InvalidInput
from quantrun.domain.jobs import Job
from quantrun.domain.users import User
from quantrun.ports import JobStore, StrategyStore


def stitch(runs: list[Job]) -> dict[str, Any]:
    dates: list[str] = []
    values: list[float] = []
    used = []
    for job in runs:
        levels = (job.result or {}).get("levels") or {}
        run_dates, run_values = levels.get("dates") or [], levels.get("values") or []
        if not run_dates:
            continue
        at = {d: i for i, d in enumerate(dates)}
        shared = next((i for i, d in enumerate(run_dates) if d in at), None)
        if shared is None:  # nothing in common: what it has after the rest is appended
            after = (i for i, d in enumerate(run_dates) if not dates or d > dates[-1])
            start = next(after, None)
            if start is None:
                continue
            keep, scale, first = len(dates), 1.0, start
        else:
            keep = at[run_dates[shared]]
            scale = values[keep] / run_values[shared]
            first = shared
        dates = dates[:keep] + run_dates[first:]
        values = values[:keep] + [v * scale for v in run_values[first:]]
        used.append({"job_id": job.id, "first_date": run_dates[0], "last_date": run_dates[-1]})
    return {"dates": dates, "values": values, "runs": used}


def strategy_levels(
    *, strategies: StrategyStore, jobs: JobStore, user: User, strategy_id: str
) -> dict[str, Any]:
    strategy = found(strategies.strategy(strategy_id, user.id), f"strategy {strategy_id}")
    if strategy.model != "index_strategy":
        raise InvalidInput(
            f"levels are for index_strategy strategies; this one runs {strategy.model}",
            field="strategy_id",
        )
    return {"strategy_id": strategy.id, **stitch(jobs.strategy_jobs(strategy.id, user.id))}
