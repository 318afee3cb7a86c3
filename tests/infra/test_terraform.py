"""Static checks of infra/: formatting, references that resolve, and the security and
reliability wiring a reviewer expects (python-hcl2; providers cannot be downloaded here,
so `terraform validate` cannot run)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.infra.hcl import INFRA, Module, all_module_dirs, load_module, references, walk

MODULES = {p.relative_to(INFRA).as_posix(): load_module(p) for p in all_module_dirs()}
PLATFORM = MODULES["modules/platform"]
JOB_QUEUE = MODULES["modules/job_queue"]
PRIMITIVE = {"roles/owner", "roles/editor", "roles/viewer"}


def test_terraform_fmt_is_clean() -> None:
    terraform = shutil.which("terraform")
    assert terraform, "terraform is not installed"
    result = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(INFRA)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_have_the_standard_files_and_typed_described_variables(name: str) -> None:
    module = MODULES[name]
    files = {p.name for p in module.path.glob("*.tf")}
    assert {"main.tf", "variables.tf", "outputs.tf", "versions.tf"} <= files
    for var, spec in module.variables.items():
        assert "type" in spec, f"{name}: variable {var} has no type"
        assert spec.get("description"), f"{name}: variable {var} has no description"
    for out, spec in module.outputs.items():
        assert spec.get("description"), f"{name}: output {out} has no description"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_reference_resolves(name: str) -> None:
    module = MODULES[name]
    assert references(module.text, "var") <= set(module.variables), name
    declared_locals = set(module.locals)
    assert references(module.text, "local") <= declared_locals, name
    assert references(module.text, "module") <= set(module.modules), name
    declared = {f"{t}.{n}" for t, named in module.resources.items() for n in named}
    for rtype, rname in re.findall(r"(?<![\w.\"])(google_[a-z0-9_]+)\.([a-z0-9_]+)", module.text):
        if rtype in module.resources or rtype in module.data or f"{rtype}.{rname}" in declared:
            assert f"{rtype}.{rname}" in declared, f"{name}: {rtype}.{rname} is not declared"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_calls_pass_exactly_the_declared_variables(name: str) -> None:
    module = MODULES[name]
    for call, args in module.modules.items():
        source = (module.path / args["source"]).resolve()
        target = load_module(source)
        given = set(args) - {"source", "depends_on", "providers", "count", "for_each"}
        assert given <= set(target.variables), (
            f"{name}.{call}: unknown {given - set(target.variables)}"
        )
        required = {v for v, spec in target.variables.items() if "default" not in spec}
        assert required <= given, f"{name}.{call}: missing {required - given}"
        for ref in re.findall(r"module\.([a-z0-9_]+)\.([a-z0-9_]+)", str(args)):
            other = load_module((module.path / module.modules[ref[0]]["source"]).resolve())
            assert ref[1] in other.outputs, f"{name}.{call}: module.{ref[0]} has no output {ref[1]}"


def test_push_subscription_targets_the_worker_with_oidc() -> None:
    sub = JOB_QUEUE.resource("google_pubsub_subscription", "push")
    push = sub["push_config"][0]
    assert push["push_endpoint"] == "${var.worker_url}/pubsub/push"
    oidc = push["oidc_token"][0]
    assert oidc["service_account_email"] == "${var.push_service_account_email}"
    assert oidc["audience"] == "${var.worker_url}"
    call = PLATFORM.modules["job_queue"]
    assert call["worker_url"] == "${local.worker_url}"
    assert call["worker_service_name"] == "${module.worker.name}"
    assert call["push_service_account_email"] == "${module.push_sa.email}"
    # the worker checks exactly this identity and audience
    worker_env = PLATFORM.modules["worker"]["env"]
    assert "module.push_sa.email" in worker_env and "QUANTRUN_PUSH_AUDIENCE" in worker_env
    assert re.search(r"QUANTRUN_PUSH_AUDIENCE = local\.worker_url\b", worker_env)
    assert re.search(r"QUANTRUN_VERIFY_PUSH_TOKEN = \"true\"", worker_env)


def _iam_bindings(module: Module) -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for rtype, named in module.resources.items():
        if rtype.endswith("_iam_member") or rtype.endswith("_iam_binding"):
            for rname, body in named.items():
                out.append((rtype, rname, body))
    return out


def test_push_identity_holds_run_invoker_on_the_worker_only() -> None:
    invokers = [
        (t, n, b) for t, n, b in _iam_bindings(JOB_QUEUE) if b.get("role") == "roles/run.invoker"
    ]
    assert len(invokers) == 1
    rtype, _, body = invokers[0]
    assert rtype == "google_cloud_run_v2_service_iam_member"
    assert body["name"] == "${var.worker_service_name}"
    assert body["member"] == "serviceAccount:${var.push_service_account_email}"
    # nowhere else is the push identity granted anything but token creation for Pub/Sub
    for name, module in MODULES.items():
        for _, rname, body in _iam_bindings(module):
            if "push_sa" in str(body.get("member", "")):
                pytest.fail(f"{name}: {rname} grants the push identity {body.get('role')}")
    assert "project_roles" not in PLATFORM.modules["push_sa"]


def test_dead_letter_and_retry_policy_are_set() -> None:
    sub = JOB_QUEUE.resource("google_pubsub_subscription", "push")
    dead = sub["dead_letter_policy"][0]
    assert dead["dead_letter_topic"] == "${google_pubsub_topic.dead_letter.id}"
    assert PLATFORM.modules["job_queue"]["max_delivery_attempts"] == 5
    retry = sub["retry_policy"][0]
    assert retry["minimum_backoff"] and retry["maximum_backoff"]
    roles = {
        (b["role"], b.get("topic", b.get("subscription"))) for _, _, b in _iam_bindings(JOB_QUEUE)
    }
    assert ("roles/pubsub.publisher", "${google_pubsub_topic.dead_letter.name}") in roles
    assert ("roles/pubsub.subscriber", "${google_pubsub_subscription.push.name}") in roles
    dlq_push = JOB_QUEUE.resource("google_pubsub_subscription", "dead_letter_push")
    assert dlq_push["push_config"][0]["push_endpoint"] == "${var.worker_url}/pubsub/dead-letter"


def test_ack_deadline_covers_the_worker_request_timeout() -> None:
    assert PLATFORM.modules["job_queue"]["ack_deadline_seconds"] == "${local.worker_timeout}"
    assert PLATFORM.modules["worker"]["request_timeout_seconds"] == "${local.worker_timeout}"
    sub = JOB_QUEUE.resource("google_pubsub_subscription", "push")
    assert sub["ack_deadline_seconds"] == "${var.ack_deadline_seconds}"
    timeout = PLATFORM.variables["worker_request_timeout_seconds"]
    assert timeout["default"] <= 600  # Pub/Sub's maximum ack deadline


def test_no_primitive_roles_anywhere() -> None:
    for name, module in MODULES.items():
        for value in walk({**module.resources, **module.modules}):
            if isinstance(value, str):
                assert value not in PRIMITIVE, f"{name} uses {value}"


def test_buckets_are_not_public() -> None:
    found = 0
    for name, module in MODULES.items():
        for rname, bucket in module.resources.get("google_storage_bucket", {}).items():
            found += 1
            assert bucket["public_access_prevention"] == "enforced", f"{name}.{rname}"
            assert bucket["uniform_bucket_level_access"] is True, f"{name}.{rname}"
        for rtype, _, body in _iam_bindings(module):
            if rtype.startswith("google_storage"):
                assert "allUsers" not in str(body) and "allAuthenticatedUsers" not in str(body)
    assert found >= 3


def test_cloud_run_secrets_come_from_secret_manager() -> None:
    service = MODULES["modules/cloud_run_service"].resource("google_cloud_run_v2_service", "this")
    text = str(service)
    assert "secret_key_ref" in text
    for call in ("api", "worker"):
        args = PLATFORM.modules[call]
        plain = str(args.get("env", ""))
        assert not re.search(
            r"(PASSWORD|SECRET_|_KEY\b|TOKEN\b)\W", plain.replace("QUANTRUN_VERIFY_PUSH_TOKEN", "")
        ), f"{call} has a secret-looking plain env var"
        if "secret_env" in args:
            assert "google_secret_manager_secret.secrets" in str(args["secret_env"])


def test_one_service_account_per_service() -> None:
    emails = {call: PLATFORM.modules[call]["service_account_email"] for call in ("api", "worker")}
    assert emails == {"api": "${module.api_sa.email}", "worker": "${module.worker_sa.email}"}
    for fn in ("ingest_prices", "ingest_upload"):
        assert PLATFORM.modules[fn]["service_account_email"] == "${module.ingest_sa.email}"


def test_contract_resource_names() -> None:
    names = {k: v["default"] for k, v in JOB_QUEUE.variables.items() if "default" in v}
    assert names["topic_name"] == "quantrun-jobs"
    assert names["dead_letter_topic_name"] == "quantrun-jobs-dead"
    assert names["subscription_name"] == "quantrun-jobs-push"
    data = MODULES["modules/data"]
    assert data.variables["dataset_id"]["default"] == "quantrun"
    prices = data.resource("google_bigquery_table", "prices")
    assert prices["table_id"] == "prices" and prices["clustering"] == ["symbol"]
    assert prices["time_partitioning"][0]["field"] == "date"
    actions = data.resource("google_bigquery_table", "corporate_actions")
    assert actions["table_id"] == "corporate_actions" and actions["clustering"] == ["symbol"]
    assert (
        "google_pubsub_topic" in PLATFORM.resources
        and PLATFORM.resource("google_pubsub_topic", "ingest")["name"] == "quantrun-ingest"
    )


@pytest.mark.parametrize(
    "table",
    [
        "prices",
        "instrument_names",
        "instruments",
        "corporate_actions",
        "ingest_runs",
        "provider_calls",
    ],
)
def test_bigquery_tables_match_the_schema_the_adapter_creates(table: str) -> None:
    """Terraform makes the tables in gcp mode, the adapter's ensure_schema on the
    emulator: the same columns, types and modes in both."""
    from quantrun.adapters.gcp import bigquery_schema

    declared = MODULES["modules/data"].resource("google_bigquery_table", table)["schema"]
    fields = re.findall(r'\{name = "(\w+)", type = "(\w+)", mode = "(\w+)"\}', declared)
    assert fields, declared
    created = bigquery_schema.fields(getattr(bigquery_schema, table.upper()))
    assert fields == [(f.name, f.field_type, f.mode) for f in created]


def test_image_is_owned_by_the_deploy_step() -> None:
    service = MODULES["modules/cloud_run_service"].resource("google_cloud_run_v2_service", "this")
    ignored = str(service["lifecycle"][0]["ignore_changes"])
    assert "containers[0].image" in ignored


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_environments_keep_state_in_gcs(env: str) -> None:
    text = (INFRA / "envs" / env / "backend.tf").read_text()
    assert 'backend "gcs"' in text
    prod = MODULES["envs/prod"].modules["quantrun"]
    assert prod["deletion_protection"] is True and prod["database_high_availability"] is True


def test_checked_paths_exist() -> None:
    assert Path(INFRA / "envs" / "dev" / "terraform.tfvars.example").exists()


def test_the_cross_instance_rate_rule_is_off_by_default_and_throttles_per_ip() -> None:
    """README "Limits and quotas": the API's token bucket counts per instance; the edge
    module's Cloud Armor rule is the limit across instances, created only on request."""
    assert PLATFORM.variables["edge_domain"]["default"] is None
    edge = PLATFORM.modules["edge"]
    assert "edge_domain == null ? 0 : 1" in str(edge["count"])
    api = PLATFORM.modules["api"]
    assert "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER" in str(api["ingress"])  # with the edge
    policy = MODULES["modules/edge"].resource("google_compute_security_policy", "api")
    (throttle,) = [r for r in policy["rule"] if r["action"] == "throttle"]
    options = (
        throttle["rate_limit_options"][0]
        if isinstance(throttle["rate_limit_options"], list)
        else throttle["rate_limit_options"]
    )
    assert options["exceed_action"] == "deny(429)" and options["enforce_on_key"] == "IP"
    backend = MODULES["modules/edge"].resource("google_compute_backend_service", "api")
    assert "google_compute_security_policy.api" in str(backend["security_policy"])


def test_least_privilege_for_artifacts_and_the_database() -> None:
    """#14: the worker creates and reads artifacts (no delete, no overwrite, no admin),
    and so does the API (a manifest copied from its job's row on first download); the
    ingest functions have no database user and no artifact access; the worker's ingress
    is internal."""
    data = MODULES["modules/data"]
    writers = data.resource("google_storage_bucket_iam_member", "artifact_writers")
    text = str(writers)
    assert "roles/storage.objectCreator" in text and "roles/storage.objectViewer" in text
    assert "objectAdmin" not in text and "objectUser" not in text
    members = PLATFORM.modules["data"]["artifact_writers"]
    assert sorted(members) == ["${module.api_sa.member}", "${module.worker_sa.member}"]
    database = str(PLATFORM.modules["database"]["iam_service_accounts"])
    assert "module.ingest_sa" not in database and "module.worker_sa" in database
    assert PLATFORM.modules["worker"]["ingress"] == "INGRESS_TRAFFIC_INTERNAL_ONLY"


def test_the_api_timeout_outlasts_an_event_stream() -> None:
    """An event stream ends itself (QUANTRUN_EVENTS_MAX_SECONDS) before Cloud Run cuts
    the request: the client sees a clean end and reconnects."""
    from quantrun.settings import ApiSettings

    timeout = PLATFORM.modules["api"]["request_timeout_seconds"]
    assert ApiSettings().events_max_seconds < timeout <= 3600


def test_cloud_scheduler_calls_every_worker_task_with_the_push_identity() -> None:
    """Each ``/tasks/...`` route of the push worker is called by a Cloud Scheduler job
    whose OIDC token is the push identity's (the worker accepts no other): reclaim and
    schedules every minute, the paper portfolios every 10 minutes."""
    source = (INFRA.parent / "services/worker/quantrun_worker/push.py").read_text()
    tasks = set(re.findall(r'@app\.post\("(/tasks/[a-z_-]+)"\)', source))
    every = {
        "/tasks/reclaim": "* * * * *",
        "/tasks/schedules": "* * * * *",
        "/tasks/portfolios": "*/10 * * * *",
    }
    assert tasks == set(every)
    called = {}
    for job in PLATFORM.resources["google_cloud_scheduler_job"].values():
        for target in job.get("http_target", []):
            if target["uri"].startswith("${local.worker_url}/tasks/"):
                task = target["uri"].removeprefix("${local.worker_url}")
                called[task] = (job["schedule"], target["oidc_token"][0])
    assert set(called) == tasks
    for task, (schedule, token) in called.items():
        assert schedule == every[task]
        assert token["service_account_email"] == "${module.push_sa.email}"


def test_the_trigger_identity_may_invoke_each_function() -> None:
    """Eventarc delivers as the trigger identity: without run.invoker on the function's
    service every upload and scheduled ingest would be refused in production."""
    function = MODULES["modules/function"]
    invoker = function.resource("google_cloud_run_v2_service_iam_member", "trigger_invokes")
    assert invoker["role"] == "roles/run.invoker"
    assert invoker["member"] == "serviceAccount:${var.trigger_service_account_email}"
    assert "google_cloudfunctions2_function.this.service_config[0].service" in invoker["name"]
    (trigger,) = function.resource("google_cloudfunctions2_function", "this")["event_trigger"]
    assert trigger["service_account_email"] == "${var.trigger_service_account_email}"
    for name in ("ingest_prices", "ingest_upload"):
        call = PLATFORM.modules[name]
        assert call["trigger_service_account_email"] == "${module.trigger_sa.email}"


def test_data_access_audit_logs_are_on_for_the_buckets() -> None:
    """The checkov skips on the buckets say access is audited: it is, here."""
    audit = PLATFORM.resource("google_project_iam_audit_config", "storage_data_access")
    assert audit["service"] == "storage.googleapis.com"
    assert {c["log_type"] for c in audit["audit_log_config"]} == {"DATA_READ", "DATA_WRITE"}


def test_job_rows_and_the_artifact_lifecycle_agree() -> None:
    """One variable sets the bucket's delete age and QUANTRUN_ARTIFACT_RETENTION_DAYS."""
    data = MODULES["modules/data"]
    (rule,) = [
        r
        for r in data.resource("google_storage_bucket", "artifacts")["lifecycle_rule"]
        if "age" in r["condition"][0]
    ]
    assert rule["condition"][0]["age"] == "${var.artifact_retention_days}"
    call = PLATFORM.modules["data"]
    assert call["artifact_retention_days"] == "${var.artifact_retention_days}"
    env = PLATFORM.locals["common_env"]
    assert env["QUANTRUN_ARTIFACT_RETENTION_DAYS"] == "${tostring(var.artifact_retention_days)}"


def test_scheduled_ingest_fetches_the_active_instruments_seeded_by_the_variable() -> None:
    """CONTRACT 6.2: the scheduler's message asks for the active instruments; the
    Terraform list only seeds them (``app.ingest.parse_ingest_message`` reads it)."""
    from quantrun.app.ingest_request import parse_ingest_message

    job = PLATFORM.resource("google_cloud_scheduler_job", "ingest")
    data = job["pubsub_target"][0]["data"]
    assert data.startswith("${base64encode(jsonencode(") and "active = true" in data
    assert "seed = var.ingest_symbols" in data
    request = parse_ingest_message('{"active": true, "seed": ["SPY"], "since_last": true}')
    assert request.active and request.seed == ["SPY"] and request.start is None
