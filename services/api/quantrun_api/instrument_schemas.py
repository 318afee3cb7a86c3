"""Request and response bodies of /v1/instruments (CONTRACT 6.2)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from quantrun.domain.symbols import SYMBOL_INPUT

AssetType = Literal["equity", "etf", "index", "fx"]


class InstrumentRecordOut(BaseModel):
    symbol: str
    name: str
    asset_type: AssetType
    exchange: str | None
    currency: str
    active: bool = Field(description="scheduled ingest fetches the active ones")


class InstrumentOut(InstrumentRecordOut):
    first_date: date | None = Field(description="its first stored price (null: none yet)")
    last_date: date | None
    rows: int


class CreateInstrument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    symbol: str = Field(max_length=32, json_schema_extra={"pattern": SYMBOL_INPUT})
    name: str = Field(min_length=1, max_length=200)
    asset_type: AssetType = "equity"
    exchange: str | None = Field(None, max_length=32)
    currency: str = Field("USD", pattern="^[A-Z]{3}$", description="ISO 4217 code")
    active: bool = True


class ChangeInstrument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    asset_type: AssetType | None = None
    exchange: str | None = Field(None, max_length=32)
    currency: str | None = Field(None, pattern="^[A-Z]{3}$", description="ISO 4217 code")
    active: bool | None = None

    @field_validator("name", "asset_type", "currency", "active")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:  # only exchange may be cleared
            raise ValueError("may not be null (leave it out to keep it)")
        return value
