"""Jobs: submit, read, list, cancel, download artifacts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import JSONResponse, RedirectResponse

from quantrun.app import jobs
from quantrun.app.strategies import submit_from
from quantrun.app.submit import submit_job
from quantrun.bootstrap import Container
from quantrun.clock import utcnow
from quantrun.domain.errors import InvalidInput
from quantrun.domain.job_pages import CURSOR_PATTERN
from quantrun.domain.jobs import Job, JobStatus
from quantrun.tracing import current_traceparent
from quantrun_api.deps import ContainerDep, CurrentUser
from quantrun_api.responses import errors
from quantrun_api.schemas import JobOut, JobPageOut, SubmitJob

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

ARTIFACT_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"

_ERRORS = errors(401, 404)


def _retained(job: Job, container: Container) -> Job:
    days = container.settings.gcp.artifact_retention_days
    return jobs.retained(job, now=utcnow(), days=days)


def job_response(job: Job, container: Container, status_code: int = 200) -> Response:
    """The job as JSON, serialised once by pydantic (returning the model would have
    FastAPI validate it again against ``response_model``, which only documents it)."""
    return Response(
        JobOut.from_job(_retained(job, container)).model_dump_json(),
        status_code=status_code,
        media_type="application/json",
    )


@router.post(
    "",
    status_code=202,
    response_model=JobOut,
    summary="Submit a job",
    responses={
        200: {"model": JobOut, "description": "replay of an Idempotency-Key"},
        **errors(
            (404, "no strategy strategy_id of yours"),
            409,
            (413, "the estimated cost is over the job limit"),
            422,
        ),
    },
)
def create_job(
    body: SubmitJob,
    user: CurrentUser,
    container: ContainerDep,
    idempotency_key: Annotated[
        str | None,
        Header(max_length=255, description="the same key within 24 h returns the same job"),
    ] = None,
) -> Response:
    missing = body.missing()
    if missing is not None:
        raise InvalidInput(f"{missing}: give model and params, or strategy_id alone", field=missing)
    shards = body.options.shards if body.options else None
    if body.strategy_id is not None:
        job, created = submit_from(
            strategies=container.strategies,
            user=user,
            strategy_id=body.strategy_id,
            rules=container.job_rules,
            now=utcnow(),
            idempotency_key=idempotency_key,
            shards=shards,
            trace=current_traceparent(),
        )
    else:
        assert body.model is not None and body.params is not None  # SubmitJob's rule
        job, created = submit_job(
            store=container.store,
            queue=container.queue,
            known=container.known_symbols,
            user=user,
            model=body.model,
            params=body.params,
            idempotency_key=idempotency_key,
            now=utcnow(),
            shards=shards,
            trace=current_traceparent(),
            **container.job_rules.submit_limits,
        )
    return job_response(job, container, status_code=202 if created else 200)


FIELDS = Query(
    max_length=300,
    json_schema_extra={"pattern": jobs.FIELDS_PATTERN},
    description="comma-separated job fields to return, `id` always among them (for "
    "example `status,progress`); by default every field but `result`, which comes "
    "only when named (`fields=result`, or a list with it)",
)


@router.get("", response_model=JobPageOut, summary="List your jobs, newest first")
def list_jobs(
    user: CurrentUser,
    container: ContainerDep,
    status: Annotated[JobStatus | None, Query()] = None,
    model: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[
        str | None,
        Query(
            json_schema_extra={"pattern": CURSOR_PATTERN},
            description="next_cursor of the page before",
        ),
    ] = None,
    fields: Annotated[str | None, FIELDS] = None,
) -> Response:
    chosen = jobs.parse_fields(fields)
    page = jobs.list_jobs(
        store=container.store,
        user=user,
        status=status,
        model=model,
        limit=limit,
        cursor=cursor,
        fields=chosen,
    )
    items = [
        JobOut.from_job(_retained(j, container)).model_dump(mode="json", include=set(chosen))
        for j in page.items
    ]
    return JSONResponse({"items": items, "next_cursor": page.next_cursor})


@router.get("/{job_id}", response_model=JobOut, summary="Read a job", responses=_ERRORS)
def get_job(job_id: str, user: CurrentUser, container: ContainerDep) -> Response:
    return job_response(jobs.get_job(store=container.store, user=user, job_id=job_id), container)


@router.post(
    "/{job_id}/cancel",
    response_model=JobOut,
    summary="Cancel a queued or running job",
    responses=errors(401, 404, 409),
)
def cancel_job(job_id: str, user: CurrentUser, container: ContainerDep) -> Response:
    return job_response(
        jobs.cancel_job(store=container.store, user=user, job_id=job_id, now=utcnow()), container
    )


@router.get(
    "/{job_id}/artifacts/{name}",
    summary="Download an artifact (bytes, or a 307 to a short-lived signed URL)",
    responses={
        **_ERRORS,
        200: {"content": {"application/octet-stream": {}}},
        307: {"description": "redirect to a signed URL"},
    },
    response_class=Response,
)
def get_artifact(job_id: str, name: str, user: CurrentUser, container: ContainerDep) -> Response:
    download = jobs.artifact_download(
        store=container.store,
        artifacts=container.artifacts,
        user=user,
        job_id=job_id,
        name=name,
        now=utcnow(),
        retention_days=container.settings.gcp.artifact_retention_days,
    )
    if download.url is not None:
        return RedirectResponse(download.url, status_code=307)
    return Response(
        download.data,
        media_type=download.content_type,
        headers={
            "Content-Disposition": f'inline; filename="{name}"',
            # the declared type is the only one: a browser must not sniff a CSV into HTML
            "X-Content-Type-Options": "nosniff",
            # an artifact (a report.html) is shown as a document of its own, sandboxed: no
            # script runs, nothing loads from elsewhere, it cannot read the console's
            # storage on this origin
            "Content-Security-Policy": ARTIFACT_POLICY,
        },
    )
