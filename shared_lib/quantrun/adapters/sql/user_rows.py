"""Users and their API keys: the ``JobStore`` methods that read and write them."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime

from sqlalchemy import Engine, and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from quantrun.adapters.sql import audit_rows
from quantrun.adapters.sql.rows import key_query, to_api_key, under_cap
from quantrun.adapters.sql.schema import api_keys, users
from quantrun.clock import utcnow
from quantrun.domain.audit import AuditEntry
from quantrun.domain.errors import Conflict
from quantrun.domain.users import ApiKey, HashedKey, User

_USER = select(users.c.id, users.c.name, users.c.role)


class UserRows:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    def get_or_create_user(self, name: str) -> User:
        found = self.find_user(name)
        if found is not None:
            return found
        user = User(id=str(uuid.uuid4()), name=name)
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(users).values(id=user.id, name=name, created_at=utcnow()))
        except IntegrityError:  # created concurrently: the winner's row
            found = self.find_user(name)
            assert found is not None
            return found
        return user

    def find_user(self, name: str) -> User | None:
        with self._autocommit.connect() as conn:
            row = conn.execute(_USER.where(users.c.name == name)).first()
        return User(id=row.id, name=row.name, role=row.role) if row else None

    def user_by_id(self, user_id: str) -> User | None:
        with self._autocommit.connect() as conn:
            row = conn.execute(_USER.where(users.c.id == user_id)).first()
        return User(id=row.id, name=row.name, role=row.role) if row else None

    def set_role(self, name: str, role: str, *, audit: AuditEntry | None = None) -> User | None:
        with self._engine.begin() as conn:
            moved = conn.execute(update(users).where(users.c.name == name).values(role=role))
            if moved.rowcount != 1:
                return None
            audit_rows.write(conn, audit)
            row = conn.execute(_USER.where(users.c.name == name)).one()
        return User(id=row.id, name=row.name, role=row.role)

    def add_api_key(
        self, key: HashedKey, *, most: int | None = None, audit: AuditEntry | None = None
    ) -> bool:
        with self._engine.begin() as conn:
            exists = conn.execute(
                select(api_keys.c.user_id).where(api_keys.c.key_hash == key.key_hash)
            ).first()
            if exists is None:
                now = utcnow()
                usable = and_(
                    api_keys.c.revoked_at.is_(None),
                    or_(api_keys.c.expires_at.is_(None), api_keys.c.expires_at > now),
                )
                if not under_cap(conn, api_keys, key.user_id, most, usable):
                    return False
                conn.execute(insert(api_keys).values(**asdict(key), created_at=now))
                audit_rows.write(conn, audit)
            elif exists.user_id != key.user_id:
                raise Conflict("this API key already belongs to another user")
        return True

    def api_key(self, key_hash: str) -> ApiKey | None:
        with self._autocommit.connect() as conn:
            row = conn.execute(key_query().where(api_keys.c.key_hash == key_hash)).first()
        return to_api_key(row) if row else None

    def list_api_keys(self, user_id: str | None = None) -> list[ApiKey]:
        query = key_query().order_by(api_keys.c.created_at.desc(), api_keys.c.prefix)
        if user_id is not None:
            query = query.where(api_keys.c.user_id == user_id)
        with self._autocommit.connect() as conn:
            return [to_api_key(r) for r in conn.execute(query)]

    def revoke_api_keys(
        self,
        prefix: str,
        *,
        now: datetime,
        user_id: str | None = None,
        audit: AuditEntry | None = None,
    ) -> int:
        query = update(api_keys).where(api_keys.c.prefix == prefix, api_keys.c.revoked_at.is_(None))
        if user_id is not None:
            query = query.where(api_keys.c.user_id == user_id)
        with self._engine.begin() as conn:
            revoked = int(conn.execute(query.values(revoked_at=now)).rowcount)
            if revoked:
                audit_rows.write(conn, audit)
        return revoked

    def touch_api_key(self, key_hash: str, *, now: datetime, unless_since: datetime) -> None:
        with self._autocommit.connect() as conn:
            conn.execute(
                update(api_keys)
                .where(
                    api_keys.c.key_hash == key_hash,
                    or_(
                        api_keys.c.last_used_at.is_(None),
                        api_keys.c.last_used_at < unless_since,
                    ),
                )
                .values(last_used_at=now)
            )

    def prefix_taken(self, prefix: str) -> bool:
        with self._autocommit.connect() as conn:
            found = conn.execute(select(api_keys.c.prefix).where(api_keys.c.prefix == prefix))
            return found.first() is not None
