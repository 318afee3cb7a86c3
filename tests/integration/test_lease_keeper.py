"""The process's lease keeper thread, in real time (the unit tests step a keeper on a
test clock): a lease added while the thread sleeps past its first renewal wakes it."""

from __future__ import annotations

import time
from typing import Any

from quantrun.app.lease import Keeper, Lease, WorkerConfig
from tests.fakes import HeartbeatLog


def test_a_new_lease_due_before_the_keepers_wake_wakes_it() -> None:
    keeper = Keeper()  # its own thread, the process's clock
    store: Any = HeartbeatLog()
    long_lease = Lease(store, "long", WorkerConfig("w", lease_seconds=30.0), lambda: None, keeper)
    short_lease = Lease(store, "short", WorkerConfig("w", lease_seconds=0.15), lambda: None, keeper)
    with long_lease:
        time.sleep(0.05)  # the thread now sleeps until the long lease is due (10 s)
        with short_lease:
            time.sleep(0.5)  # ten renewal intervals of the short lease
    assert store.beats.count("short") >= 3 and "long" not in store.beats
