"""The monitoring module read as Cloud Monitoring would see it: its log-based metrics, the
filter of every alert condition and dashboard chart, with Terraform's references
resolved for one example environment (python-hcl2 gives the unevaluated strings)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from tests.infra.hcl import INFRA, Module, load_module

MODULE_DIR = INFRA / "modules" / "monitoring"
EXAMPLE_VARS: dict[str, str] = {
    "project_id": "qr-test",
    "environment": "dev",
    "region": "europe-west1",
    "api_service_name": "quantrun-dev-api",
    "api_host": "quantrun-dev-api-123.europe-west1.run.app",
    "jobs_subscription": "quantrun-jobs-push",
    "long_jobs_subscription": "quantrun-jobs-long-pull",
    "database_id": "qr-test:quantrun-dev",
}

# Built-in metric types the module uses, with their monitored resource and the metric
# labels a filter may name. Source: Google Cloud metrics list,
# https://cloud.google.com/monitoring/api/metrics_gcp (run, pubsub, cloudsql, monitoring).
BUILTIN_METRICS: dict[str, tuple[str, frozenset[str]]] = {
    "run.googleapis.com/request_count": (
        "cloud_run_revision",
        frozenset({"response_code", "response_code_class", "route"}),
    ),
    "run.googleapis.com/request_latencies": (
        "cloud_run_revision",
        frozenset({"response_code", "response_code_class", "route"}),
    ),
    "pubsub.googleapis.com/subscription/dead_letter_message_count": (
        "pubsub_subscription",
        frozenset(),
    ),
    "pubsub.googleapis.com/subscription/oldest_unacked_message_age": (
        "pubsub_subscription",
        frozenset(),
    ),
    "cloudsql.googleapis.com/database/cpu/utilization": ("cloudsql_database", frozenset()),
    "cloudsql.googleapis.com/database/postgresql/num_backends": (
        "cloudsql_database",
        frozenset({"database"}),
    ),
    "monitoring.googleapis.com/uptime_check/check_passed": (
        "uptime_url",
        frozenset({"check_id", "checker_location"}),
    ),
}

_REF = re.compile(r"\$\{([^{}]+)\}")


@dataclass(frozen=True)
class LogMetric:
    name: str  # as created (the metric type is logging.googleapis.com/user/<name>)
    filter: str
    labels: dict[str, str]  # label -> extractor
    value_extractor: str | None

    @property
    def type(self) -> str:
        return f"logging.googleapis.com/user/{self.name}"


@dataclass(frozen=True)
class Filter:
    where: str  # e.g. "alert dead_letters" or "dashboard: <chart title>"
    text: str


class Monitoring:
    def __init__(self, module: Module | None = None) -> None:
        self.module = module or load_module(MODULE_DIR)
        self.log_metrics = {
            key: LogMetric(
                name=self.render(spec["name"]),
                filter=self.render(spec["filter"]),
                labels=dict(spec.get("label_extractors", {})),
                value_extractor=spec.get("value_extractor"),
            )
            for key, spec in self.module.resources["google_logging_metric"].items()
        }

    def render(self, text: str, extra: dict[str, str] | None = None) -> str:
        """``text`` with HCL's escaped quotes and ``${...}`` references resolved."""
        text = text.replace('\\"', '"')

        def resolve(ref: re.Match[str]) -> str:
            name = ref.group(1).strip()
            if extra and name in extra:
                return extra[name]
            if name.startswith("var."):
                return EXAMPLE_VARS[name[4:]]
            if name.startswith("local."):
                return self.render(str(self.module.locals[name[6:]]), extra)
            found = re.fullmatch(r"google_logging_metric\.(\w+)\.name", name)
            if found:
                spec = self.module.resources["google_logging_metric"][found.group(1)]
                return self.render(spec["name"])
            found = re.fullmatch(
                r"google_monitoring_uptime_check_config\.(\w+)\.uptime_check_id", name
            )
            if found:
                return "quantrun-dev-api-health-abc123"
            raise KeyError(f"cannot resolve ${{{name}}}")

        previous = None
        while previous != text:  # references inside resolved locals
            previous, text = text, _REF.sub(resolve, text)
        return text

    def alert_filters(self) -> list[Filter]:
        found = []
        for name, policy in self.module.resources["google_monitoring_alert_policy"].items():
            blocks: list[tuple[dict[str, Any], dict[str, str]]] = [
                (c, {}) for c in policy.get("conditions", [])
            ]
            for dynamic in policy.get("dynamic", []):
                spec = dynamic["conditions"]
                values = [self.render(v) for v in self._list(spec["for_each"])]
                blocks += [(c, {"conditions.value": v}) for v in values for c in spec["content"]]
            for condition, extra in blocks:
                for kind in ("condition_threshold", "condition_absent"):
                    for body in condition.get(kind, []):
                        for key in ("filter", "denominator_filter"):
                            if key in body:
                                found.append(Filter(f"alert {name}", self.render(body[key], extra)))
        return found

    def _list(self, expression: str) -> list[str]:
        name = expression.strip().removeprefix("${").removesuffix("}")
        value = self.module.locals[name.removeprefix("local.")]
        assert isinstance(value, list)
        return value

    def dashboard(self) -> dict[str, Any]:
        """The dashboard's JSON as templatefile() renders it."""
        call = self.module.resources["google_monitoring_dashboard"]["quantrun"]["dashboard_json"]
        arguments: dict[str, str] = {}
        for key, value in re.findall(r'(\w+)\s*=\s*("(?:[^"\\]|\\.|\$\{[^}]*\})*"|var\.\w+)', call):
            raw = value[1:-1] if value.startswith('"') else "${" + value + "}"
            arguments[key] = self.render(raw)
        template = (MODULE_DIR / "dashboard.json.tftpl").read_text()
        rendered = re.sub(
            r"\$\{(\w+)\}", lambda m: json.dumps(arguments[m.group(1)])[1:-1], template
        )
        parsed: dict[str, Any] = json.loads(rendered)
        return parsed

    def dashboard_filters(self) -> list[Filter]:
        found = []
        for tile in self.dashboard()["mosaicLayout"]["tiles"]:
            widget = tile["widget"]
            for data in widget["xyChart"]["dataSets"]:
                text = data["timeSeriesQuery"]["timeSeriesFilter"]["filter"]
                found.append(Filter(f"dashboard: {widget['title']}", text))
        return found


def terms(filter_text: str) -> dict[str, str]:
    """``path -> value`` of a monitoring filter's ``path="value"`` terms."""
    return dict(re.findall(r'([\w.]+)\s*=\s*"([^"]*)"', filter_text))


def load() -> Monitoring:
    return Monitoring(load_module(MODULE_DIR))
