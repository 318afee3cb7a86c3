"""How many shards a job runs as (CONTRACT 5.2): ``options.shards`` when given (up to
``max_shards``), else enough that each shard's estimated cost is about ``shard_cost``;
never more than the model's params can split into."""

from __future__ import annotations

import math
from dataclasses import dataclass

from quantrun.domain.errors import QuantRunError


class InvalidShards(QuantRunError):
    code = "validation_error"


@dataclass(frozen=True)
class ShardPolicy:
    max_shards: int = 256
    shard_cost: float = 2e8

    def count(self, *, cost: float, most: int, requested: int | None, splits: bool) -> int:
        """The shards for a job of estimated ``cost`` whose params split into at most
        ``most`` (``splits``: its model splits at all); 1 means it runs in one piece."""
        if requested is not None:
            if requested > self.max_shards:
                raise InvalidShards(
                    f"at most {self.max_shards} shards (QUANTRUN_MAX_SHARDS), got {requested}",
                    field="options.shards",
                )
            if requested > 1 and not splits:
                raise InvalidShards(
                    "this model runs in one piece; options.shards must be 1",
                    field="options.shards",
                )
            return max(1, min(requested, most))
        if not splits:
            return 1
        wanted = math.ceil(cost / self.shard_cost) if math.isfinite(cost) else self.max_shards
        return max(1, min(wanted, self.max_shards, most))
