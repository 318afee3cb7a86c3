"""What every settings group shares: the ``QUANTRUN_`` prefix, refusing placeholder values,
and the list and secret-name helpers."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PLACEHOLDER = re.compile(
    r"^\s*(<.*>|changeme|change[-_ ]me|todo|tbd|xxx+|placeholder|your[-_].*|replace[-_]?me)\s*$",
    re.IGNORECASE,
)
SECRET_PREFIX = "QUANTRUN_SECRET_"  # noqa: S105 (a variable name prefix)

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
LogFormat = Literal["auto", "json", "text"]


def comma_list(text: str) -> list[str]:
    """The non-empty items of a comma-separated setting, stripped."""
    return [item.strip() for item in text.split(",") if item.strip()]


def most_per_user(default: int, what: str, *, le: int = 10_000) -> Any:
    """How many of ``what`` one user may have: over it, 429 ``quota_exceeded``."""
    return Field(
        default, ge=1, le=le, description=f"{what} one user may have (429 `quota_exceeded`)"
    )


class SettingsGroup(BaseSettings):
    """A group of settings: frozen, unknown variables ignored, placeholders refused."""

    model_config = SettingsConfigDict(
        env_prefix="QUANTRUN_", extra="ignore", frozen=True, populate_by_name=True
    )

    @classmethod
    def variables(cls) -> dict[str, str]:
        """The environment variable(s) each field is read from, by field name."""
        prefix = cls.model_config.get("env_prefix", "")
        names: dict[str, str] = {}
        for name, info in cls.model_fields.items():
            alias = info.validation_alias
            if isinstance(alias, AliasChoices):
                names[name] = " or ".join(str(c) for c in alias.choices)
            elif isinstance(alias, str):
                names[name] = alias
            else:
                names[name] = f"{prefix}{name}".upper()
        return names

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_placeholders(cls, value: Any, info: Any) -> Any:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(raw, str) and _PLACEHOLDER.match(raw):
            variable = cls.variables().get(info.field_name, info.field_name)
            raise ValueError(f"{variable} is a placeholder ({raw!r}); set a real value")
        return value
