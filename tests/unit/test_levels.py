"""Stitching an index strategy's runs into one history (app/levels.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from quantrun.app.levels import stitch
from quantrun.domain.jobs import Job, JobStatus


def run(job_id: str, dates: list[str], values: list[float]) -> Job:
    return Job(
        id=job_id,
        user_id="u",
        model="index_strategy",
        params={},
        status=JobStatus.SUCCEEDED,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        result={"levels": {"dates": dates, "values": values}},
    )


def test_a_later_run_takes_over_from_its_first_shared_date_chain_linked() -> None:
    first = run("a", ["d1", "d2", "d3"], [100.0, 110.0, 121.0])
    # restated from d2 on, on its own base: its moves (x1.2, then x0.5) carry on from 110
    second = run("b", ["d2", "d3", "d4"], [50.0, 60.0, 30.0])
    got = stitch([first, second])
    assert got["dates"] == ["d1", "d2", "d3", "d4"]
    assert got["values"] == pytest.approx([100.0, 110.0, 132.0, 66.0])
    assert [r["job_id"] for r in got["runs"]] == ["a", "b"]


def test_a_run_with_nothing_in_common_is_appended_and_an_older_one_skipped() -> None:
    first = run("a", ["2020-01-02", "2020-01-03"], [100.0, 101.0])
    later = run("b", ["2020-02-03", "2020-02-04"], [50.0, 51.0])
    older = run("c", ["2019-01-02"], [7.0])
    got = stitch([first, later, older])
    assert got["dates"] == ["2020-01-02", "2020-01-03", "2020-02-03", "2020-02-04"]
    assert got["values"] == [100.0, 101.0, 50.0, 51.0]
    assert stitch([]) == {"dates": [], "values": [], "runs": []}
