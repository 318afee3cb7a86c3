"""The ``quantrun`` command line.

Server-side commands (``serve``, ``worker``, ``keys``, ``webhooks``, ``load-prices``,
``load-actions``) build the adapters from ``QUANTRUN_*`` settings through the composition
root; client commands (``submit``, ``status``) talk to the API over HTTP at
``QUANTRUN_URL`` (default http://127.0.0.1:8080) with ``QUANTRUN_API_KEY`` or embedded
mode's dev key.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from quantrun.domain.errors import QuantRunError
from quantrun.logging import configure_logging, get_logger
from quantrun.settings import ClientSettings, ConfigurationError, Settings, load_settings
from quantrun_cli import users, webhooks

log = get_logger("quantrun.cli")

DEV_USER = "dev"
DEV_KEY_FILE = "dev-api-key"


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as exc:
        raise SystemExit(f"quantrun: configuration error: {exc}") from None


def _port(given: int | None, default: int) -> int:
    # Cloud Run tells a container its port in PORT
    return given or int(os.environ.get("PORT", default))


def ensure_dev_key(settings: Settings, store: Any) -> str:
    """Embedded mode's dev key: QUANTRUN_API_KEY, else the one saved at first start."""
    from quantrun.app.auth import create_key, generate_key

    path = settings.data_dir / DEV_KEY_FILE
    if settings.embedded.api_key is not None:
        key = settings.embedded.api_key.get_secret_value()
    elif path.exists():
        key = path.read_text().strip()
    else:
        key = generate_key()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(key + "\n")
    create_key(store, DEV_USER, key)
    return key


def cmd_serve(args: argparse.Namespace) -> int:
    from quantrun.bootstrap import bootstrap
    from quantrun_api.app import create_app
    from quantrun_cli.serve import serve
    from quantrun_worker.embedded import EmbeddedWorker

    settings = _settings()
    host = args.host or settings.api.host
    port = _port(args.port, settings.api.port)
    workers = args.workers or settings.api.api_workers
    if settings.mode == "gcp" and workers > 1:
        # Several processes: each builds its own adapters (and outbox relay) at start.
        bootstrap(settings).close()  # migrate once before the workers start
        serve("quantrun_cli.serve:create_app_from_env", host=host, port=port, workers=workers)
        return 0
    container = bootstrap(settings)
    url = f"http://{host}:{port}"
    worker: EmbeddedWorker | None = None
    if settings.mode == "embedded":
        key = ensure_dev_key(settings, container.store)
        worker = EmbeddedWorker(container)
        worker.start()
        sys.stderr.write(
            f"\nQuantRun (embedded mode) serving at {url}  (API docs: {url}/docs)\n"
            f"Dev API key: {key}\n"
            "Try:\n"
            f"  curl -s -X POST {url}/v1/jobs -H 'Authorization: Bearer {key}' "
            '-H \'Content-Type: application/json\' -d \'{"model": "black_scholes", '
            '"params": {"type": "call", "spot": 100, "strike": 100, "maturity": 1, '
            '"rate": 0.05, "volatility": 0.2}}\'\n\n'
        )
        sys.stderr.flush()
    container.start_relay()
    container.start_webhooks()
    try:
        serve(create_app(container), host=host, port=port, on_exit=container.drain)
    finally:
        if worker is not None:
            worker.stop()
        container.close()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from quantrun.bootstrap import bootstrap, push_verifier

    settings = _settings()
    container = bootstrap(settings)
    try:
        if settings.mode == "embedded":
            from quantrun_worker.embedded import EmbeddedWorker

            worker = EmbeddedWorker(container)
            stop = threading.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
            worker.start()
            stop.wait()
            container.drain()
            worker.stop()
        elif args.pull is not None:
            from quantrun_worker.pull import run_pull_worker

            subscription = args.pull or settings.gcp.long_jobs_subscription
            run_pull_worker(container, subscription=subscription)
        else:
            from quantrun_cli.serve import serve
            from quantrun_worker.push import create_push_app

            app = create_push_app(container, push_verifier(settings))
            container.start_relay()
            serve(
                app,
                host=args.host or settings.api.host,
                port=_port(args.port, 8081),
                on_exit=container.drain,
            )
    finally:
        container.close()
    return 0


def cmd_keys_create(args: argparse.Namespace) -> int:
    from quantrun.app.auth import create_key, expiry
    from quantrun.bootstrap import admin
    from quantrun.clock import utcnow

    container = admin(_settings())
    try:
        new = create_key(container.store, args.user, expires_at=expiry(utcnow(), args.expires_in))
    except QuantRunError as exc:
        raise SystemExit(f"quantrun: {exc.message}") from None
    finally:
        container.close()
    print(new.key)
    until = f", expires {new.stored.expires_at:%Y-%m-%d %H:%M} UTC" if new.stored.expires_at else ""
    sys.stderr.write(
        f"created API key {new.prefix}... for user {new.user.name!r}{until}; "
        "it is shown only once\n"
    )
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    from quantrun.app.auth import list_keys
    from quantrun.bootstrap import admin
    from quantrun.clock import utcnow

    container = admin(_settings())
    try:
        keys = list_keys(store=container.store, user=args.user)
    except QuantRunError as exc:
        raise SystemExit(f"quantrun: {exc.message}") from None
    finally:
        container.close()
    now = utcnow()

    def when(at: Any) -> str:
        return at.strftime("%Y-%m-%d %H:%M") if at else "-"

    print(f"{'prefix':<14}{'user':<20}{'state':<9}{'created':<18}{'expires':<18}last used")
    for k in keys:
        state = "revoked" if k.revoked_at else ("active" if k.usable(now) else "expired")
        print(
            f"{k.prefix:<14}{k.user_name[:19]:<20}{state:<9}{when(k.created_at):<18}"
            f"{when(k.expires_at):<18}{when(k.last_used_at)}"
        )
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    from quantrun.app.auth import revoke_key
    from quantrun.bootstrap import admin
    from quantrun.clock import utcnow

    container = admin(_settings())
    try:
        revoked = revoke_key(store=container.store, prefix=args.prefix, now=utcnow())
    except QuantRunError as exc:
        raise SystemExit(f"quantrun: {exc.message}") from None
    finally:
        container.close()
    sys.stderr.write(
        f"revoked {args.prefix}... of user {revoked[0].user_name!r}; every API process "
        "refuses it within 5 s\n"
    )
    return 0


def cmd_load_prices(args: argparse.Namespace) -> int:
    from quantrun.app.price_files import load_price_csv

    def load(text: str, prices: Any) -> str:
        loaded = load_price_csv(text=text, store=prices, source=args.source)
        symbols = loaded.symbols
        return f"loaded {loaded.rows} rows for {len(symbols)} symbol(s): {', '.join(symbols[:20])}"

    return _load_file(Path(args.file), load)


def cmd_load_actions(args: argparse.Namespace) -> int:
    from quantrun.app.price_files import load_actions_csv

    path = Path(args.file)

    def load(text: str, prices: Any) -> str:
        actions = load_actions_csv(text=text, store=prices, source=f"upload:{path.name}")
        symbols = sorted({a.symbol for a in actions})
        return (
            f"loaded {len(actions)} actions for {len(symbols)} symbol(s): {', '.join(symbols[:20])}"
        )

    return _load_file(path, load)


def _load_file(path: Path, load: Callable[[str, Any], str]) -> int:
    """A file into the price store through ``load`` (which says what it loaded)."""
    from quantrun.bootstrap import admin
    from quantrun.domain.actions import ActionFileError
    from quantrun.domain.errors import TransientError
    from quantrun.domain.price_csv import PriceFileError

    settings = _settings()
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SystemExit(f"quantrun: no such file: {path}") from None
    container = admin(settings)
    try:
        try:
            prices = container.prices()
        except TransientError as exc:  # embedded: the running server holds the DuckDB file
            raise SystemExit(
                f"quantrun: {exc}; stop the running server, load, then start it again"
            ) from None
        said = load(text, prices)
    except (PriceFileError, ActionFileError) as exc:
        sys.stderr.write(f"quantrun: {path} rejected, nothing loaded:\n")
        for problem in exc.problems:
            sys.stderr.write(f"  {problem}\n")
        return 1
    finally:
        container.close()
    print(said)
    return 0


def _client_config() -> tuple[str, str]:
    client = ClientSettings()
    key = client.api_key.get_secret_value() if client.api_key else None
    if not key:
        path = client.data_dir / DEV_KEY_FILE
        if path.exists():
            key = path.read_text().strip()
    if not key:
        raise SystemExit("quantrun: set QUANTRUN_API_KEY (or run `quantrun serve` once here)")
    return client.url.rstrip("/"), key


def _request(method: str, path: str, body: Any = None) -> dict[str, Any]:
    import httpx

    url, key = _client_config()
    try:
        response = httpx.request(
            method, url + path, json=body, timeout=30, headers={"Authorization": f"Bearer {key}"}
        )
    except httpx.HTTPError as exc:
        raise SystemExit(f"quantrun: cannot reach {url}: {exc}") from None
    data: dict[str, Any] = response.json()
    if response.status_code >= 400:
        err = data.get("error", {})
        raise SystemExit(
            f"quantrun: {response.status_code} {err.get('code')}: {err.get('message')}"
        )
    return data


def cmd_submit(args: argparse.Namespace) -> int:
    try:
        params = json.loads(args.params)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"quantrun: --params is not valid JSON: {exc}") from None
    job = _request("POST", "/v1/jobs", {"model": args.model, "params": params})
    deadline = time.monotonic() + args.timeout
    while args.wait and job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.25)
        job = _request("GET", f"/v1/jobs/{job['id']}")
    print(json.dumps(job, indent=2))
    return 1 if job["status"] in ("failed", "cancelled") else 0


def cmd_status(args: argparse.Namespace) -> int:
    print(json.dumps(_request("GET", f"/v1/jobs/{args.id}"), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="quantrun", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the API and a worker (embedded mode)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--workers",
        type=int,
        help="gcp mode: API processes (default $QUANTRUN_API_WORKERS or 1)",
    )
    serve.set_defaults(func=cmd_serve)
    worker = sub.add_parser(
        "worker", help="run a worker: the embedded queue, or (gcp) the Pub/Sub push endpoint"
    )
    worker.add_argument("--host")
    worker.add_argument("--port", type=int, help="push endpoint port (default $PORT or 8081)")
    worker.add_argument(
        "--pull",
        metavar="SUBSCRIPTION",
        nargs="?",
        const="",
        help="gcp: pull from this subscription instead of serving push (default: the "
        "long-jobs subscription, $QUANTRUN_LONG_JOBS_SUBSCRIPTION)",
    )
    worker.set_defaults(func=cmd_worker)
    keys = sub.add_parser("keys", help="API keys").add_subparsers(
        dest="keys_command", required=True
    )
    create = keys.add_parser("create", help="print a new API key for a user (creating it)")
    create.add_argument("--user", required=True)
    create.add_argument(
        "--expires-in", type=int, metavar="DAYS", help="days until the key stops working"
    )
    create.set_defaults(func=cmd_keys_create)
    listing = keys.add_parser("list", help="API keys (prefix, state, dates; never the key)")
    listing.add_argument("--user", help="only this user's keys")
    listing.set_defaults(func=cmd_keys_list)
    revoke = keys.add_parser("revoke", help="revoke the key with this prefix")
    revoke.add_argument("prefix")
    revoke.set_defaults(func=cmd_keys_revoke)
    webhooks.add_parser(sub)
    users.add_parser(sub)
    load = sub.add_parser("load-prices", help="load a price CSV (date,symbol,close,...)")
    load.add_argument("file")
    load.add_argument("--source", default="upload")
    load.set_defaults(func=cmd_load_prices)
    actions = sub.add_parser("load-actions", help="load corporate actions (symbol,date,kind,value)")
    actions.add_argument("file")
    actions.set_defaults(func=cmd_load_actions)
    submit = sub.add_parser("submit", help="submit a job through the API")
    submit.add_argument("model")
    submit.add_argument("--params", required=True, help="the params as JSON")
    submit.add_argument("--wait", action="store_true", help="wait until the job finishes")
    submit.add_argument("--timeout", type=float, default=600.0)
    submit.set_defaults(func=cmd_submit)
    status = sub.add_parser("status", help="show a job")
    status.add_argument("id")
    status.set_defaults(func=cmd_status)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in ("serve", "worker"):
        settings = _settings()
        configure_logging(
            settings.log_level, log_format=settings.log_format, project=settings.log_project
        )
    else:  # a command's output is its stdout; logs go to stderr
        configure_logging(ClientSettings().log_level, stream=sys.stderr)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
