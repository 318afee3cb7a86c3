"""Cloud Monitoring as code (CONTRACT 6.4): every alert and chart names a metric that
exists, with labels it has; the policies the contract lists are there with its
thresholds; the dashboard is valid JSON with the contract's charts; the platform wires
the module. That the log-based metrics' filters match lines the code really writes is
checked on the emulator stack (tests/e2e: test_gcp_stack, test_ingest_stack)."""

from __future__ import annotations

import pytest

from tests.harness.log_filter import as_log_entry, extract, matches
from tests.infra.hcl import INFRA, load_module
from tests.infra.monitoring import BUILTIN_METRICS, Filter, load, terms

MONITORING = load()
POLICIES = MONITORING.module.resources["google_monitoring_alert_policy"]
FILTERS = MONITORING.alert_filters() + MONITORING.dashboard_filters()


def test_there_are_filters_to_check() -> None:
    assert len(MONITORING.alert_filters()) >= 9 and len(MONITORING.dashboard_filters()) >= 10


@pytest.mark.parametrize("found", FILTERS, ids=lambda f: f"{f.where}: {f.text[:60]}")
def test_every_filter_names_a_metric_that_exists_with_labels_it_has(found: Filter) -> None:
    parts = terms(found.text)
    metric = parts.get("metric.type")
    assert metric, f"{found.where}: no metric.type in {found.text}"
    assert "${" not in found.text, f"{found.where}: unresolved reference in {found.text}"
    log_metrics = {m.type: m for m in MONITORING.log_metrics.values()}
    used_labels = {k.split(".", 2)[2] for k in parts if k.startswith("metric.labels.")}
    if metric in log_metrics:
        assert used_labels <= set(log_metrics[metric].labels), found
        return
    assert metric in BUILTIN_METRICS, f"{found.where}: {metric} is neither built in nor defined"
    resource_type, labels = BUILTIN_METRICS[metric]
    assert parts.get("resource.type", resource_type) == resource_type, found
    assert used_labels <= labels, found


def test_the_contracts_alert_policies_are_there() -> None:
    by_metric: dict[str, list[str]] = {}
    for found in MONITORING.alert_filters():
        by_metric.setdefault(terms(found.text)["metric.type"], []).append(found.where)
    jobs = MONITORING.log_metrics["jobs_finished"].type
    ingest = MONITORING.log_metrics["ingest_runs"].type
    for metric in (
        "pubsub.googleapis.com/subscription/dead_letter_message_count",
        "pubsub.googleapis.com/subscription/oldest_unacked_message_age",
        "run.googleapis.com/request_count",
        jobs,
        ingest,
        "cloudsql.googleapis.com/database/cpu/utilization",
        "cloudsql.googleapis.com/database/postgresql/num_backends",
        "monitoring.googleapis.com/uptime_check/check_passed",
    ):
        assert metric in by_metric, f"no alert policy on {metric}"


def _threshold(policy: str) -> dict[str, object]:
    (condition,) = POLICIES[policy]["conditions"]
    (threshold,) = condition["condition_threshold"]
    return threshold  # type: ignore[no-any-return]


def test_thresholds_are_the_contracts() -> None:
    variables = MONITORING.module.variables
    assert variables["queue_age_seconds"]["default"] == 600  # 10 minutes
    assert variables["api_error_ratio"]["default"] == 0.01
    assert variables["job_failure_ratio"]["default"] == 0.05
    api = _threshold("api_errors")
    assert api["duration"] == "300s" and "denominator_filter" in api  # 1% for 5 minutes
    assert 'response_code_class="5xx"' in MONITORING.render(str(api["filter"]))
    failures = _threshold("job_failures")
    assert failures["aggregations"][0]["alignment_period"] == "900s"  # type: ignore[index]
    assert 'status="failed"' in MONITORING.render(str(failures["filter"]))
    (absent,) = POLICIES["ingest_stale"]["conditions"][0]["condition_absent"]
    assert absent["duration"] == "84600s"  # 23.5 h, the longest absence window allowed
    queues = [f.text for f in MONITORING.alert_filters() if f.where == "alert queue_age"]
    assert [terms(q)["resource.labels.subscription_id"] for q in queues] == [
        "quantrun-jobs-push",
        "quantrun-jobs-long-pull",
    ]


def test_every_policy_notifies_the_channels_and_says_what_to_do() -> None:
    for name, policy in POLICIES.items():
        assert policy["notification_channels"] == "${var.notification_channels}", name
        assert policy["documentation"][0]["content"], name


def test_the_uptime_check_calls_health_over_https() -> None:
    check = MONITORING.module.resources["google_monitoring_uptime_check_config"]["api_health"]
    (http,) = check["http_check"]
    assert http["path"] == "/health" and http["use_ssl"] is True and http["port"] == 443
    (resource,) = check["monitored_resource"]
    assert resource["type"] == "uptime_url"
    assert (
        MONITORING.render(resource["labels"]["host"]) == "quantrun-dev-api-123.europe-west1.run.app"
    )


def test_the_dashboard_is_valid_json_with_the_contracts_charts() -> None:
    dashboard = MONITORING.dashboard()
    titles = " | ".join(t["widget"]["title"] for t in dashboard["mosaicLayout"]["tiles"])
    for wanted in (
        "by status and model",
        "percentiles",
        "queue age",
        "API latency",
        "by response class",
        "Ingest",
    ):
        assert wanted in titles, f"no chart for {wanted!r} in {titles}"
    for tile in dashboard["mosaicLayout"]["tiles"]:
        assert tile["xPos"] + tile["width"] <= dashboard["mosaicLayout"]["columns"]


def test_log_metrics_read_fields_the_lines_have() -> None:
    """On a line shaped as job_log.finished_fields writes it (the e2e tests use real ones)."""
    from quantrun.app.job_log import finished_fields
    from quantrun.domain.jobs import JobStatus

    line = {
        "severity": "INFO",
        "message": "job finished",
        "job_id": "j",
        **finished_fields("markowitz", JobStatus.SUCCEEDED, 0.25),
    }
    entry = as_log_entry(line)
    for key in ("jobs_finished", "job_seconds"):
        metric = MONITORING.log_metrics[key]
        assert matches(metric.filter, entry), key
        assert {k: extract(v, entry) for k, v in metric.labels.items()} == {
            "model": "markowitz",
            "status": "succeeded",
        }
    assert extract(MONITORING.log_metrics["job_seconds"].value_extractor or "", entry) == 0.25
    failed = as_log_entry(
        {"message": "job failed", **finished_fields("markowitz", JobStatus.FAILED, None)}
    )
    assert matches(MONITORING.log_metrics["jobs_finished"].filter, failed)
    assert not matches(MONITORING.log_metrics["job_seconds"].filter, failed)  # no run time
    assert not matches(
        MONITORING.log_metrics["jobs_finished"].filter, as_log_entry({"message": "x"})
    )


def test_the_filter_reader_refuses_what_it_cannot_read() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        matches('jsonPayload.a="x" OR jsonPayload.b="y"', as_log_entry({"a": "x"}))
    with pytest.raises(ValueError, match="unsupported"):
        extract('REGEXP_EXTRACT(jsonPayload.a, "(.*)")', as_log_entry({"a": "x"}))


def test_the_platform_wires_monitoring_with_the_queues_and_the_database() -> None:
    platform = load_module(INFRA / "modules" / "platform")
    call = platform.modules["monitoring"]
    assert call["source"] == "../monitoring"
    assert call["jobs_subscription"] == "${module.job_queue.subscription_name}"
    assert call["long_jobs_subscription"] == "${module.job_queue.long_jobs_subscription_name}"
    assert call["notification_channels"] == "${var.notification_channels}"
    assert "module.database.instance_name" in call["database_id"]
    for env in ("dev", "prod"):
        module = load_module(INFRA / "envs" / env)
        assert module.modules["quantrun"]["notification_channels"] == "${var.notification_channels}"
