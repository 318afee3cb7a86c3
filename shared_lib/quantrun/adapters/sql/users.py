"""Users and hashed API keys in the SQL job store."""

from __future__ import annotations

import uuid

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from quantrun.adapters.sql.schema import api_keys, users
from quantrun.clock import utcnow
from quantrun.errors import Conflict
from quantrun.jobs.domain import User


class SqlUsers:
    _engine: Engine

    def get_or_create_user(self, name: str) -> User:
        with self._engine.begin() as conn:
            row = conn.execute(select(users.c.id, users.c.name).where(users.c.name == name)).first()
            if row:
                return User(id=row.id, name=row.name)
        user = User(id=str(uuid.uuid4()), name=name)
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(users).values(id=user.id, name=name, created_at=utcnow()))
        except IntegrityError:  # created concurrently: read the winner's row
            with self._engine.connect() as conn:
                row = conn.execute(select(users).where(users.c.name == name)).one()
                return User(id=row.id, name=row.name)
        return user

    def add_api_key(self, user_id: str, key_hash: str, prefix: str) -> None:
        with self._engine.begin() as conn:
            exists = conn.execute(
                select(api_keys.c.user_id).where(api_keys.c.key_hash == key_hash)
            ).first()
            if exists is None:
                conn.execute(
                    insert(api_keys).values(
                        key_hash=key_hash, prefix=prefix, user_id=user_id, created_at=utcnow()
                    )
                )
            elif exists.user_id != user_id:
                raise Conflict("this API key already belongs to another user")

    def user_for_key_hash(self, key_hash: str) -> User | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(users.c.id, users.c.name)
                .join(api_keys, api_keys.c.user_id == users.c.id)
                .where(api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None))
            ).first()
        return User(id=row.id, name=row.name) if row else None

    # -- jobs -----------------------------------------------------------------
