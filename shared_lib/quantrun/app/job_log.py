"""The one log line a job's end writes on the worker, which Cloud Monitoring counts.

``infra/modules/monitoring`` defines log-based metrics on these lines (jobs finished by
model and status, their run time), so their shape is a contract with Terraform: the
field ``event`` is ``job_finished``, ``model`` and ``status`` label the metric, and
``seconds`` (when known) is the run's wall time. ``tests/e2e/test_gcp_stack.py`` holds the
metrics' filters to lines a real run wrote.
"""

from __future__ import annotations

from typing import Any

from quantrun.domain.jobs import JobStatus

JOB_FINISHED = "job_finished"


def finished_fields(model: str, status: JobStatus, seconds: float | None) -> dict[str, Any]:
    fields: dict[str, Any] = {"event": JOB_FINISHED, "model": model, "status": status.value}
    if seconds is not None:
        fields["seconds"] = round(seconds, 4)
    return fields
