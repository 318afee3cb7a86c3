"""Request rate per user: a token bucket per user, per process.

Each user may make ``burst`` requests at once and ``rate`` a second after that; a
request that finds the bucket empty is refused with the seconds until a token is back
(``Retry-After``). Buckets live in the process (Cloud Run instances do not share them:
the limit is per instance; the external load balancer's Cloud Armor rate rule is the
cross-instance option, see infra/), and the least recently seen are dropped past
``max_users``, so memory stays bounded whoever calls.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self,
        rate: float,
        burst: float,
        *,
        max_users: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate, self.burst = rate, max(burst, 1.0)
        self._max_users = max_users
        self._clock = clock
        self._lock = threading.Lock()
        # user -> (tokens, when they were counted)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, user_id: str) -> float:
        """0.0 when the request may go ahead, else the seconds until it could."""
        if not self.enabled:
            return 0.0
        now = self._clock()
        with self._lock:
            tokens, then = self._buckets.pop(user_id, (self.burst, now))
            tokens = min(self.burst, tokens + (now - then) * self.rate)
            if tokens >= 1.0:
                tokens -= 1.0
                wait = 0.0
            else:
                wait = (1.0 - tokens) / self.rate
            self._buckets[user_id] = (tokens, now)
            if len(self._buckets) > self._max_users:
                self._buckets.popitem(last=False)
        return wait


def retry_after(wait: float) -> str:
    """``Retry-After`` is whole seconds; never 0 for a refused request."""
    return str(max(1, math.ceil(wait)))
