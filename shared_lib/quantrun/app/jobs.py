"""Reading, listing and cancelling a user's jobs, and fetching their artifacts."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from quantrun.app.stored import manifest_bytes
from quantrun.domain.artifacts import ArtifactRef
from quantrun.domain.errors import Conflict, InvalidInput, NotFound
from quantrun.domain.job_pages import JobPage, JobQuery
from quantrun.domain.jobs import Job, JobStatus
from quantrun.domain.lists import list_pattern, split_list
from quantrun.domain.users import User
from quantrun.ports import ArtifactStore, JobStore

# a job's fields as the API shows them (CONTRACT 2); ``fields=`` on a list picks some
JOB_FIELDS = (
    "id",
    "model",
    "status",
    "params",
    "created_at",
    "started_at",
    "finished_at",
    "progress",
    "attempts",
    "result",
    "error",
    "artifacts",
    "shards",
    "strategy_id",
    "schedule_id",
)
# what ``fields=`` may say (the OpenAPI document publishes it; parse_fields reads it)
FIELDS_PATTERN = list_pattern("|".join(JOB_FIELDS), at_least_one=False)
# the fields a list reads from the store only when asked for (they may be large)
PAYLOAD_FIELDS = frozenset({"params", "result"})


# a list's fields when none are asked for: all but the result, which may be megabytes
# (``fields=result`` or a list naming it brings it), so a page's size is bounded
DEFAULT_LIST_FIELDS = frozenset(JOB_FIELDS) - {"result"}


def parse_fields(raw: str | None) -> frozenset[str]:
    """The fields a list returns (``id`` always); all but ``result`` by default."""
    if raw is None:
        return DEFAULT_LIST_FIELDS
    names = set(split_list(raw))
    unknown = sorted(names - set(JOB_FIELDS))
    if unknown:
        raise InvalidInput(
            f"fields: no job field {', '.join(unknown)}; choose from {', '.join(JOB_FIELDS)}",
            field="fields",
        )
    return frozenset(names | {"id"})


def get_job(*, store: JobStore, user: User, job_id: str) -> Job:
    """The user's job; another user's id is as unknown as a made-up one."""
    job = store.get_job(job_id, user.id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    return job


def list_jobs(
    *,
    store: JobStore,
    user: User,
    status: JobStatus | None,
    model: str | None,
    limit: int,
    cursor: str | None,
    fields: frozenset[str] | None = None,
) -> JobPage:
    """A page of the user's jobs; with ``fields`` not naming params or result, those are
    not read (the page's jobs carry them empty)."""
    with_payload = fields is None or bool(fields & PAYLOAD_FIELDS)
    try:
        return store.list_jobs(user.id, JobQuery(limit, status, model, cursor, with_payload))
    except ValueError as exc:
        raise InvalidInput(f"cursor: {exc}", field="cursor") from None


def cancel_job(*, store: JobStore, user: User, job_id: str, now: datetime) -> Job:
    """Cancel a queued or running job (a running one stops at its next checkpoint).
    Cancelling a cancelled job returns it; a finished one raises ``Conflict``."""
    moved = store.cancel(job_id, user_id=user.id, now=now)
    if moved is not None:
        return moved
    job = get_job(store=store, user=user, job_id=job_id)
    if job.status != JobStatus.CANCELLED:
        raise Conflict(f"job {job_id} already finished ({job.status.value})")
    return job


@dataclass(frozen=True)
class ArtifactDownload:
    """Either a short-lived URL to send the client to, or the bytes to serve."""

    name: str
    url: str | None = None
    content_type: str | None = None
    data: bytes | None = None


def retained(job: Job, *, now: datetime, days: int) -> Job:
    """The job as it can be read ``days`` after it started: the bucket's lifecycle deletes
    artifacts that old (counted from their writing, which is after the start), so the job
    lists none; ``days`` 0: kept for ever."""
    began = job.started_at or job.created_at
    if days <= 0 or not job.artifacts or now - began < timedelta(days=days):
        return job
    return replace(job, artifacts=())


def artifact_download(
    *,
    store: JobStore,
    artifacts: ArtifactStore,
    user: User,
    job_id: str,
    name: str,
    now: datetime,
    retention_days: int = 0,
) -> ArtifactDownload:
    job = retained(get_job(store=store, user=user, job_id=job_id), now=now, days=retention_days)
    # a name no artifact can have is as absent as any other (writes check it: put)
    ref = next((a for a in job.artifacts if a.name == name), None)
    if ref is None:
        raise NotFound(f"job {job_id} has no artifact {name!r}")
    url = artifacts.signed_url(job_id, name, attempt=ref.attempt, content_type=ref.content_type)
    if ref.kept == "job":  # the job's row keeps it (manifest.json)
        return _from_row(artifacts, job, ref, url)
    if url is not None:
        return ArtifactDownload(name, url=url)
    stored = artifacts.get(job_id, name, attempt=ref.attempt)
    if stored is None:
        raise NotFound(f"artifact {name!r} of job {job_id} is missing from storage")
    return ArtifactDownload(name, content_type=stored.content_type, data=stored.data)


def _from_row(
    artifacts: ArtifactStore, job: Job, ref: ArtifactRef, url: str | None
) -> ArtifactDownload:
    """An artifact the job's row keeps: its bytes where the store serves none (embedded);
    else the store gets its copy on the first download (create-only), and the answer is
    the signed URL, as for any artifact. A later download reads the copy (one request)
    rather than writing it again."""
    if job.manifest is None:
        raise NotFound(f"artifact {ref.name!r} of job {job.id} is missing from its row")
    data = manifest_bytes(job.manifest)
    here = ArtifactDownload(ref.name, content_type=ref.content_type, data=data)
    if url is None:
        return here
    copy = artifacts.get(job.id, ref.name, attempt=ref.attempt)
    if copy is None:
        try:
            artifacts.put(job.id, ref.name, data, ref.content_type, attempt=ref.attempt)
        except Conflict:  # another download's copy raced ours with other bytes
            return here
    elif copy.data != data:  # other bytes under its key (a run given back wrote them)
        return here
    return ArtifactDownload(ref.name, url=url)
