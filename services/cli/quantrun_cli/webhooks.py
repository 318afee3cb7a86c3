"""``quantrun webhooks reseal``: every stored webhook secret sealed again with the
current ``webhook-secrets-key`` (the last step of a key rotation; also seals secrets
stored as plain text before sealing existed)."""

from __future__ import annotations

import argparse
import sys

from quantrun.domain.errors import QuantRunError


def cmd_webhooks_reseal(_args: argparse.Namespace) -> int:
    from quantrun.bootstrap import admin
    from quantrun_cli.main import _settings

    container = admin(_settings())
    try:
        done, unreadable = container.webhooks.reseal()
    except (QuantRunError, ValueError) as exc:  # no key, or a key that is not one
        raise SystemExit(f"quantrun: {exc}") from None
    finally:
        container.close()
    sys.stderr.write(f"resealed {done} webhook secret(s) with the current key\n")
    if unreadable:
        sys.stderr.write(
            f"{len(unreadable)} did not open with any configured key (they stay as they "
            f"are; their deliveries fail until the key that sealed them is configured): "
            f"{', '.join(unreadable)}\n"
        )
        return 1
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    webhooks = sub.add_parser("webhooks", help="webhook administration").add_subparsers(
        dest="webhooks_command", required=True
    )
    reseal = webhooks.add_parser(
        "reseal", help="seal every stored webhook secret again with the current key"
    )
    reseal.set_defaults(func=cmd_webhooks_reseal)
