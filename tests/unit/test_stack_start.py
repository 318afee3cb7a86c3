"""`make stack`'s start-up under Ctrl-C (devtools.stack.start_or_stop): a signal during the
start unwinds it, and one whose KeyboardInterrupt Python dropped still stops the stack.
The whole program under real signals: tests/e2e/test_make_stack.py."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from devtools.postgres import free_port
from devtools.stack import Stack, start_or_stop


class Started:
    """Stands in for a started stack: remembers being stopped."""

    def __init__(self) -> None:
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True


class SignalsItself:
    """Sends this process ``sig`` from its ``__del__``, where Python prints the
    KeyboardInterrupt the handler raises and drops it (as in an import's module lock
    callback, where CI lost a Ctrl-C)."""

    def __init__(self, sig: signal.Signals) -> None:
        self.sig = sig

    def __del__(self) -> None:
        os.kill(os.getpid(), self.sig)
        sum(range(100))  # the handler runs at the next check, still in here


@pytest.fixture(autouse=True)
def handlers() -> Iterator[None]:
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_whose_exception_is_dropped_still_stops_the_stack(sig: signal.Signals) -> None:
    made = Started()

    def start() -> Any:
        SignalsItself(sig)  # made and collected at once: its __del__ signals
        return made

    stop = threading.Event()
    dropped: list[type[BaseException] | None] = []
    hook, sys.unraisablehook = sys.unraisablehook, lambda u: dropped.append(u.exc_type)
    try:
        assert start_or_stop(start, stop) is None
    finally:
        sys.unraisablehook = hook
    assert dropped == [KeyboardInterrupt]  # Python did drop it
    assert stop.is_set() and made.stopped


def test_a_signal_during_the_start_unwinds_it() -> None:
    reached: list[str] = []

    def start() -> Any:
        os.kill(os.getpid(), signal.SIGINT)
        reached.append("after the signal")  # never: the handler raised
        return Started()

    stop = threading.Event()
    assert start_or_stop(start, stop) is None
    assert stop.is_set() and reached == []


def test_after_the_start_a_signal_only_sets_stop() -> None:
    made = Started()
    stop = threading.Event()
    stack = start_or_stop(lambda: cast(Stack, made), stop)
    assert stack is made and not stop.is_set()
    os.kill(os.getpid(), signal.SIGTERM)  # no exception now
    sum(range(100))
    assert stop.is_set() and not made.stopped


def test_free_ports_lie_below_the_ephemeral_range_and_are_never_given_twice() -> None:
    """A port from the ephemeral range could become some outgoing connection's source
    port before its server binds it (PostgreSQL once failed to start that way)."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)
    assert all(1024 < port < low for port in ports)
