"""``quantrun keys create | list | revoke`` and ``quantrun webhooks reseal`` as a user runs
them (embedded mode's job store)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

QUANTRUN = str(Path(sys.executable).parent / "quantrun")
T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTRUN_")}
    env["QUANTRUN_DATA_DIR"] = str(tmp_path)
    return subprocess.run(
        [QUANTRUN, "keys", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_keys_are_created_listed_and_revoked_from_the_cli(tmp_path: Path) -> None:
    made = _run(tmp_path, "create", "--user", "ann", "--expires-in", "7")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    prefix = key[:12]
    assert key.startswith("qr_") and f"created API key {prefix}" in made.stderr
    assert "expires" in made.stderr and "shown only once" in made.stderr
    other = _run(tmp_path, "create", "--user", "bo")
    assert other.returncode == 0

    listed = _run(tmp_path, "list", "--user", "ann")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()[1:]]
    assert [(r[0], r[1], r[2]) for r in rows] == [(prefix, "ann", "active")]
    assert key not in listed.stdout  # only the prefix is ever shown again
    assert len(_run(tmp_path, "list").stdout.splitlines()) == 3  # header, ann's, bo's

    revoked = _run(tmp_path, "revoke", prefix)
    assert revoked.returncode == 0 and "revoked" in revoked.stderr
    rows = [line.split() for line in _run(tmp_path, "list", "--user", "ann").stdout.splitlines()]
    assert rows[1][2] == "revoked"


def test_bad_key_commands_say_what_is_wrong(tmp_path: Path) -> None:
    unknown = _run(tmp_path, "revoke", "qr_nothing12")
    assert unknown.returncode != 0 and "no API key with prefix 'qr_nothing12'" in unknown.stderr
    nobody = _run(tmp_path, "list", "--user", "nobody")
    assert nobody.returncode != 0 and "no user 'nobody'" in nobody.stderr
    never = _run(tmp_path, "create", "--user", "ann", "--expires-in", "0")
    assert never.returncode != 0 and "give 1 to 3650" in never.stderr
    assert "Traceback" not in unknown.stderr + nobody.stderr + never.stderr


def test_a_sealing_key_rotation_from_the_cli(tmp_path: Path) -> None:
    """The embedded key file is the old key; the new one comes first in the secret, the
    old after it; reseal; then the new key alone opens every secret."""
    import base64

    from quantrun.adapters.sealed import SecretBox, key_file
    from quantrun.adapters.sql.engine import make_engine
    from quantrun.adapters.sql.webhook_rows import SqlWebhookStore
    from quantrun.bootstrap import admin
    from quantrun.domain.webhooks import Webhook
    from quantrun.settings import Settings

    container = admin(Settings(data_dir=tmp_path))  # makes the database
    user = container.store.get_or_create_user("fay").id
    hook = Webhook("w-1", user, "https://hooks.example/x", ("job.failed",), "whsec_1", T0)
    container.webhooks.add(hook)  # sealed with the key file it makes
    container.close()
    old = (tmp_path / "webhook-secrets.key").read_text().strip()
    new = base64.b64encode(b"n" * 32).decode()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTRUN_")}
    env |= {
        "QUANTRUN_DATA_DIR": str(tmp_path),
        "QUANTRUN_SECRET_WEBHOOK_SECRETS_KEY": f"{new},{old}",
    }
    done = subprocess.run(
        [QUANTRUN, "webhooks", "reseal"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "resealed 1 webhook secret(s)" in done.stderr
    engine = make_engine(f"sqlite:///{tmp_path / 'quantrun.db'}")
    found = SqlWebhookStore(engine, lambda: SecretBox(b"n" * 32)).get("w-1")
    assert found is not None and found.secret == "whsec_1"
    assert key_file(tmp_path / "webhook-secrets.key")  # the old file is left alone
    env["QUANTRUN_SECRET_WEBHOOK_SECRETS_KEY"] = "not-a-key"
    bad = subprocess.run(
        [QUANTRUN, "webhooks", "reseal"], env=env, capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 1 and "openssl rand -base64 32" in bad.stderr


def test_roles_are_granted_and_revoked_from_the_cli_and_audited(tmp_path: Path) -> None:
    from quantrun.adapters.sql.audit_rows import SqlAuditLog
    from quantrun.adapters.sql.engine import make_engine
    from quantrun.adapters.sql.job_store import SqlJobStore

    assert _run(tmp_path, "create", "--user", "cat").returncode == 0

    def users(*args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTRUN_")}
        env["QUANTRUN_DATA_DIR"] = str(tmp_path)
        return subprocess.run([QUANTRUN, "users", *args], env=env, capture_output=True,
                              text=True, timeout=60)  # fmt: skip

    granted = users("grant-admin", "cat")
    assert granted.returncode == 0 and "cat is now admin" in granted.stderr
    assert users("revoke-admin", "cat").returncode == 0
    unknown = users("grant-admin", "nobody")
    assert unknown.returncode != 0 and "no user 'nobody'" in unknown.stderr
    engine = make_engine(f"sqlite:///{tmp_path / 'quantrun.db'}")
    assert SqlJobStore(engine).find_user("cat").role == "member"  # type: ignore[union-attr]
    entries = SqlAuditLog(engine).entries(limit=10, cursor=None).items
    assert [e.action for e in entries] == ["role.revoke", "role.grant", "key.create"]
    assert all(e.actor_name == "command line" and e.address is None for e in entries)
