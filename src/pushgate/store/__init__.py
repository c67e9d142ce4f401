"""The store: its contract, its rules, and its backends."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pushgate.core.model import MetricType
from pushgate.store.journaled import JournaledStore
from pushgate.store.memory import MemoryJournal
from pushgate.store.sqlite import Durability, SqliteJournal

__all__ = ["JournaledStore", "open_store"]


def open_store(
    path: str | Path | None,
    *,
    durability: Durability = "process",
    own_types: Mapping[str, MetricType] | None = None,
) -> JournaledStore:
    """The durable SQLite store at ``path``, or a memory store for ``None``."""
    if path is None:
        return JournaledStore(MemoryJournal(), own_types, name="memory")
    return JournaledStore(SqliteJournal(path, durability), own_types, name=f"sqlite:{path}")
