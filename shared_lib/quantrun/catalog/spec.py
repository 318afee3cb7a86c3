"""What the registry knows of a model, and what a model run gets and gives."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from quantrun.domain.prices import PriceMatrix

P = TypeVar("P", bound=BaseModel)


@dataclass(frozen=True)
class Artifact:
    name: str
    content_type: str
    data: bytes
    # a chart's SVG, inlined in the job's report.html (not stored on its own)
    svg: str | None = None
    # a line chart's data, gathered into the job's charts.json (for the console)
    series: dict[str, Any] | None = None


def chart(name: str, figure: Any) -> Artifact:
    """A chart artifact (a ``models.charts`` figure): the PNG stored, the SVG kept for
    the report, a line chart's data kept for charts.json."""
    from quantrun.models import charts

    data, svg = charts.png_and_svg(figure)
    return Artifact(name, "image/png", data, svg=svg, series=charts.data(figure))


@dataclass(frozen=True)
class ModelOutput:
    result: dict[str, Any]
    artifacts: list[Artifact] = field(default_factory=list)


def _never_cancelled(_fraction: float) -> None:
    return None


def _no_parts(part: dict[str, Any]) -> bytes:
    raise LookupError(f"no shard parts can be read here (asked for {part})")


@dataclass(frozen=True)
class RunContext:
    """What a model run may use: prices, a progress checkpoint, whether to draw charts,
    how many threads its compiled kernels may split work over, how many array values its
    JSON result may hold (beyond that they go to an artifact: ``option_arrays.py``).

    ``checkpoint(fraction)`` records progress and raises ``JobCancelled`` when the job
    was cancelled (or its lease lost): call it between chunks of work. ``read_part(ref)``
    gives the bytes of a shard's part (a merge only: ``Sharding``).
    """

    load_prices: Callable[[Sequence[str], date, date], PriceMatrix]
    checkpoint: Callable[[float], None] = _never_cancelled
    charts: bool = True
    threads: int = 1
    inline_values: int = 100_000
    read_part: Callable[[dict[str, Any]], bytes] = _no_parts


@dataclass(frozen=True)
class Sharding(Generic[P]):
    """How a job of the model splits into shards that run on many workers at once
    (CONTRACT 5.2), and how their partial results merge into the job's result.

    ``split(params, n)`` gives the n shards' inputs (small JSON stored with each shard:
    which part of the work, and a seed left to chance, drawn here once so every shard
    shares it); ``run(params, shard, ctx)`` computes one shard's partial result from the
    job's params: its ``result`` (JSON, kept in the shard's row) and any ``artifacts``,
    the shard's parts (too large for a row: stored beside the shard, and named in the
    partial's ``parts`` as references ``ctx.read_part`` reads back in the merge);
    ``merge(params, partials, ctx)`` gives the job's output from the partials in shard
    order. The merged result is the one-piece run's for any n: bit for bit where the
    model is seeded."""

    most: Callable[[P], int]  # the most shards the params can make (indivisible units)
    split: Callable[[P, int], list[dict[str, Any]]]
    run: Callable[[P, dict[str, Any], RunContext], ModelOutput]
    merge: Callable[[P, list[dict[str, Any]], RunContext], ModelOutput]


@dataclass(frozen=True)
class ModelSpec(Generic[P]):
    name: str
    description: str
    params: type[P]
    run: Callable[[P, RunContext], ModelOutput]
    artifacts: tuple[str, ...] = ()
    # Size of an input in the model's own units, compared with the sync-run limit.
    cost: Callable[[P], float] = lambda _p: 1.0
    # Array values the result holds (compared with the result limits), beyond a few
    # scalars and the rows of small tables.
    result_values: Callable[[P], float] = lambda _p: 0.0
    # Symbols the params name, checked against the price store at submit time.
    symbols: Callable[[P], list[str]] = lambda _p: []
    # Params that run on the bundled sample data (shown by GET /v1/models, used in tests).
    example: dict[str, Any] = field(default_factory=dict)
    # how a job splits into shards; None: it runs in one piece
    sharding: Sharding[P] | None = None
    # how its random numbers derive from the result's ``seed`` (manifest.json); None: it
    # draws none
    seeding: str | None = None

    def params_schema(self) -> dict[str, Any]:
        return self.params.model_json_schema()
