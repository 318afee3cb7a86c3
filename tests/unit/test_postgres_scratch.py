"""Where the test harness's PostgreSQL keeps its files (devtools.postgres): in memory when
/dev/shm has room, else on disk under /tmp (a container's 64 MB /dev/shm would fill)."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from devtools import postgres


def _shm(free_bytes: int) -> SimpleNamespace:
    return SimpleNamespace(f_bavail=free_bytes // 4096, f_frsize=4096)


@pytest.mark.parametrize(
    ("free_bytes", "where"),
    [
        (postgres.MEMORY_NEEDED, "/dev/shm"),
        (postgres.MEMORY_NEEDED - 4096, "/tmp"),
        (64 << 20, "/tmp"),  # a container's default
    ],
)
def test_the_cluster_goes_to_memory_only_when_it_has_room(
    monkeypatch: pytest.MonkeyPatch, free_bytes: int, where: str
) -> None:
    monkeypatch.setattr(os, "statvfs", lambda path: _shm(free_bytes))
    monkeypatch.setattr(os, "access", lambda path, mode: True)
    assert postgres._scratch() == where


def test_an_unwritable_or_missing_dev_shm_means_tmp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "statvfs", lambda path: _shm(postgres.MEMORY_NEEDED))
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    assert postgres._scratch() == "/tmp"

    def missing(path: str) -> None:
        raise FileNotFoundError(path)

    monkeypatch.setattr(os, "statvfs", missing)
    assert postgres._scratch() == "/tmp"
