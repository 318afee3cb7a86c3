"""What Terraform gives each service and function is what the code reads (#14): every
variable it sets is one the settings read, and what it sets is enough for the code to
start in gcp mode (the settings validate; the worker can verify pushes; the functions
know their project and dataset). Read from the HCL with python-hcl2, checked against the
``Settings`` model itself."""

from __future__ import annotations

import re
from typing import Any

import pytest

from quantrun.bootstrap import push_verifier
from quantrun.settings import SECRET_PREFIX, Settings, load_settings
from tests.infra.hcl import INFRA, load_module

PLATFORM = load_module(INFRA / "modules" / "platform")
COMMON = PLATFORM.locals["common_env"]
SERVICES = ("api", "worker", "long_jobs")
FUNCTIONS = ("ingest_prices", "ingest_upload")
# values Terraform computes, as the code will see them
COMPUTED = {
    "QUANTRUN_CLOUDSQL_IP_TYPE": "public",
    "QUANTRUN_ARTIFACT_RETENTION_DAYS": str(
        PLATFORM.variables["artifact_retention_days"]["default"]
    ),
}


POOL = PLATFORM.resource("google_cloud_run_v2_worker_pool", "long_jobs")


def environment(module: str) -> dict[str, str]:
    """The variables Terraform sets on a service, function or the long-jobs worker pool:
    name -> value (a literal, or a stand-in for what Terraform computes)."""
    given = POOL["template"] if module == "long_jobs" else PLATFORM.modules[module]["env"]
    text = str(given)
    env: dict[str, Any] = dict(COMMON) if "local.common_env" in text else {}
    if isinstance(given, dict) and module != "long_jobs":
        env.update(given)
    for name, literal in re.findall(r'\b(QUANTRUN_[A-Z0-9_]+)\s*=\s*("[^"]*"|[^,}]+)', text):
        env[name] = literal.strip()
    return {
        name: COMPUTED.get(name)
        or (str(v).strip('"') if "${" not in str(v) and "." not in str(v) else "from-terraform")
        for name, v in env.items()
    }


def secret_names(module: str) -> set[str]:
    """The QUANTRUN_SECRET_* names its secret_env gives, for the default secret list."""
    body = PLATFORM.modules.get(module, {}).get("secret_env")
    if body is None:
        return set()
    names = PLATFORM.variables["secret_names"]["default"]
    provider_only = 'startswith(name, "provider-")' in str(body) and "!startswith" not in str(body)
    chosen = [n for n in names if n.startswith("provider-") == provider_only]
    return {SECRET_PREFIX + n.upper().replace("-", "_") for n in chosen}


@pytest.mark.parametrize("module", SERVICES + FUNCTIONS)
def test_terraform_sets_only_variables_the_code_reads(module: str) -> None:
    # a setting with aliases is documented as "A or B"
    read = {
        v for doc in Settings.documented_variables() for v in re.findall(r"[A-Z][A-Z0-9_]+", doc)
    }
    unknown = sorted(set(environment(module)) - read)
    assert unknown == [], f"{module}: Terraform sets {unknown}, which no setting reads"
    for name in secret_names(module):
        assert name.startswith(SECRET_PREFIX)  # read as a secret by name (secrets())


@pytest.fixture
def only(monkeypatch: pytest.MonkeyPatch) -> Any:
    def apply(env: dict[str, str]) -> Settings:
        for name in list(__import__("os").environ):
            if name.startswith("QUANTRUN_"):
                monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return load_settings()

    return apply


@pytest.mark.parametrize("module", SERVICES)
def test_each_service_gets_what_it_needs_to_start_in_gcp_mode(module: str, only: Any) -> None:
    settings = only(environment(module))
    assert settings.mode == "gcp" and settings.db.cloudsql_instance and settings.db.user
    if module == "worker":
        assert settings.worker.verify_push_token
        push_verifier(settings)  # raises without the push audience and identity
    if module == "long_jobs":  # pulls the subscription Terraform creates
        assert '"--pull"' in str(POOL["template"]) or "--pull" in str(POOL["template"])
        queue = load_module(INFRA / "modules" / "job_queue").variables
        assert (
            settings.gcp.long_jobs_subscription == queue["long_jobs_subscription_name"]["default"]
        )
        assert settings.gcp.long_jobs_topic == queue["long_jobs_topic_name"]["default"]


@pytest.mark.parametrize("module", FUNCTIONS)
def test_each_function_knows_its_project_and_dataset(module: str, only: Any) -> None:
    env = environment(module)
    settings = only(env)
    assert settings.gcp.project and "QUANTRUN_BQ_DATASET" in env


def test_a_missing_variable_is_caught(only: Any) -> None:
    """The check can fail: the worker without its push identity does not start."""
    env = environment("worker")
    del env["QUANTRUN_PUSH_SERVICE_ACCOUNT"]
    with pytest.raises(ValueError, match="QUANTRUN_PUSH_SERVICE_ACCOUNT"):
        push_verifier(only(env))
    env = environment("api")
    del env["QUANTRUN_DB_USER"]
    with pytest.raises(ValueError, match="QUANTRUN_DB_USER"):
        only(env)
