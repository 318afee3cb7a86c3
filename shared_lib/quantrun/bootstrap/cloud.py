"""The composition root's Google Cloud part (``quantrun.bootstrap``): the BigQuery and
Cloud Storage adapters of gcp mode, Pub/Sub publishing, the push verifier, Google
sign-in, and secrets (environment first, then Secret Manager)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from quantrun.adapters.embedded.secrets import EnvSecrets
from quantrun.bootstrap.containers import Closers
from quantrun.logging import get_logger
from quantrun.ports import (
    ArtifactStore,
    PriceStore,
    PushVerifier,
    Secrets,
)
from quantrun.settings import Settings, comma_list, secret_environment

# Adapters are imported where they are built: the ingest functions ship with their own,
# smaller requirements (no database driver, DuckDB, numba or scipy), and a process builds
# only its mode's adapters.
if TYPE_CHECKING:
    from quantrun.adapters.sealed import SecretBox
    from quantrun.app.auth import GoogleSignIn
    from quantrun.app.ingest_request import IngestRequest

log = get_logger(__name__)


def _price_store(settings: Settings, closers: Closers) -> PriceStore:
    if settings.mode == "gcp":
        from quantrun.adapters.gcp import clients
        from quantrun.adapters.gcp.bigquery_prices import BigQueryPriceStore

        gcp = settings.gcp
        client = clients.bigquery_client(str(gcp.project), emulator=gcp.bigquery_emulator_host)
        return BigQueryPriceStore(
            client,
            dataset=gcp.bq_dataset,
            table=gcp.bq_table,
            timeout=gcp.gcp_timeout_seconds,
            max_bytes_billed=gcp.bq_max_bytes_billed,
        )
    from quantrun.adapters.embedded.prices import DuckDBPriceStore

    prices = DuckDBPriceStore(settings.price_db_path)
    closers.add(prices)
    if settings.embedded.load_sample_data and prices.is_empty():
        rows = prices.load_sample_data()
        log.info("loaded the bundled sample prices", extra={"fields": {"rows": rows}})
    return prices


def _gcs_artifacts(settings: Settings) -> ArtifactStore:
    from quantrun.adapters.gcp import clients
    from quantrun.adapters.gcp.gcs_artifacts import GcsArtifactStore

    gcp = settings.gcp
    emulator = gcp.storage_emulator_host
    signing = None
    if emulator:
        from quantrun.adapters.gcp.emulator import throwaway_signing_credentials

        signing = throwaway_signing_credentials()
    return GcsArtifactStore(
        clients.storage_client(str(gcp.project), emulator=emulator),
        str(gcp.artifacts_bucket),
        url_seconds=gcp.signed_url_seconds,
        signing_credentials=signing,
        signing_email=gcp.signing_service_account,
        api_endpoint=emulator,
        timeout=gcp.gcp_timeout_seconds,
    )


def push_verifier(settings: Settings) -> PushVerifier:
    """The worker's check of a push request: Google's OIDC token for the push identity in
    gcp mode; nothing for emulators (``QUANTRUN_VERIFY_PUSH_TOKEN=false``) or embedded."""
    from quantrun.adapters.gcp.oidc import AcceptAll, GoogleCerts, OidcPushVerifier

    worker = settings.worker
    if settings.mode != "gcp" or not worker.verify_push_token:
        return AcceptAll()
    if not (worker.push_audience and worker.push_service_account):
        raise ValueError(
            "verifying push tokens needs QUANTRUN_PUSH_AUDIENCE and "
            "QUANTRUN_PUSH_SERVICE_ACCOUNT (or QUANTRUN_VERIFY_PUSH_TOKEN=false "
            "for an emulator)"
        )
    # the certificates are fetched once an hour, not per push: a network blip is no 401
    return OidcPushVerifier(
        audience=worker.push_audience,
        email=worker.push_service_account,
        certs=GoogleCerts(settings.api.google_certs_url),
    )


WEBHOOK_KEY_SECRET = "webhook-secrets-key"  # noqa: S105 - the secret's name, not its value


def _webhook_box(settings: Settings) -> SecretBox:
    """The key webhook secrets are sealed with: the ``webhook-secrets-key`` secret (older
    keys after it, comma-separated, while rotating); in embedded mode without one, a key
    file beside the data, made on first use."""
    from quantrun.adapters.sealed import SecretBox, key_file, parse_keys

    configured = secrets(settings).get(WEBHOOK_KEY_SECRET)
    if configured is not None:
        return SecretBox(*parse_keys(configured))
    if settings.mode == "gcp":
        from quantrun.domain.errors import TransientError

        raise TransientError(
            f"webhooks are unavailable: the {WEBHOOK_KEY_SECRET} secret is not set "
            f"({EnvSecrets.variable_for(WEBHOOK_KEY_SECRET)} or Secret Manager)"
        )
    return SecretBox(key_file(settings.data_dir / "webhook-secrets.key"))


def secrets(settings: Settings) -> Secrets:
    """Secrets by ``QUANTRUN_SECRET_<NAME>`` first; in gcp mode then Secret Manager."""
    env = EnvSecrets(secret_environment())
    if settings.mode != "gcp" or settings.ingest.secrets_from_env_only or not settings.gcp.project:
        return env
    from quantrun.adapters.gcp.secret_manager import SecretManagerSecrets, lazy_client

    return SecretManagerSecrets(lazy_client(), settings.gcp.project, env=env)


def _publish_one(publisher: Any, job_id: str) -> None:
    """Publish one job id; a failure is transient (the message is redelivered)."""
    from quantrun.domain.errors import TransientError
    from quantrun.domain.messages import JobMessage

    (error,) = publisher.publish_many([JobMessage(job_id)])
    if error is not None:
        raise TransientError(f"cannot hand the job to the long-jobs topic: {error}")


def _publish_ingest(publisher: Any, request: IngestRequest) -> None:
    """A backfill for the ingest function (the scheduled ingest's topic and message)."""
    body = {"symbols": request.symbols, "start": request.start, "end": request.end,
            "run_id": request.run_id}  # fmt: skip
    data = json.dumps({k: str(v) if k in ("start", "end") and v else v for k, v in body.items()})
    publisher.publish_one(data.encode(), {}, what="hand the backfill to the ingest function")


def _google_sign_in(settings: Settings) -> GoogleSignIn | None:
    api = settings.api
    if not api.google_audience:
        return None
    from quantrun.adapters.gcp.oidc import GoogleCerts, GoogleIdTokens
    from quantrun.app.auth import GoogleSignIn

    certs = GoogleCerts(api.google_certs_url)
    verifier = GoogleIdTokens(audience=api.google_audience, certs=certs)
    return GoogleSignIn.of(
        verifier, comma_list(api.allowed_emails), comma_list(api.allowed_domains)
    )
