"""``quantrun users grant-admin NAME`` / ``revoke-admin NAME``: a user's role (CONTRACT
6.2), by name (an email for Google sign-in). Audited as the command line's change.
Processes that cached the user's key see the new role within the auth cache's TTL."""

from __future__ import annotations

import argparse
import sys

from quantrun.domain.errors import QuantRunError


def _set_role(name: str, role: str) -> int:
    from quantrun.app.users import set_role
    from quantrun.bootstrap import admin
    from quantrun.clock import utcnow
    from quantrun_cli.main import _settings

    container = admin(_settings())
    try:
        user = set_role(container.store, name, role, utcnow())
    except QuantRunError as exc:
        raise SystemExit(f"quantrun: {exc.message}") from None
    finally:
        container.close()
    sys.stderr.write(f"{user.name} is now {user.role}\n")
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = sub.add_parser("users", help="users' roles").add_subparsers(
        dest="users_command", required=True
    )
    for verb, role in (("grant-admin", "admin"), ("revoke-admin", "member")):
        command = users.add_parser(
            verb, help=f"make a user {'an admin' if role == 'admin' else 'a member'}"
        )
        command.add_argument("name", help="the user's name (an email for Google sign-in)")
        command.set_defaults(func=lambda args, role=role: _set_role(args.name, role))
