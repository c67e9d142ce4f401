"""The store: its contract, its rules, and its backends."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

from pushgate.core.model import MetricType
from pushgate.store.journaled import JournaledStore
from pushgate.store.memory import MemoryJournal
from pushgate.store.policy import StorePolicy
from pushgate.store.sqlite import Durability, SqliteJournal

__all__ = ["JournaledStore", "StorePolicy", "open_store"]


def open_store(
    path: str | Path | None,
    *,
    durability: Durability = "process",
    own_types: Mapping[str, MetricType] | None = None,
    policy: StorePolicy | None = None,
    clock: Callable[[], float] = time.time,
    url: str | None = None,
) -> JournaledStore:
    """The durable SQLite store at ``path``, or a memory store for ``None``.

    ``policy`` sets expiry, retention and series limits (default: none);
    ``clock`` is the store's notion of now, for expiry (tests pass a fake).
    ``url`` (``--store``) selects the shared Redis store instead of ``path``.
    """
    if url is not None:
        # Imported here: redis-py is loaded only by gateways that use it.
        from pushgate.store.redis import RedisStore

        return RedisStore.from_url(url, own_types, policy=policy, clock=clock)
    if path is None:
        return JournaledStore(MemoryJournal(), own_types, name="memory", policy=policy, clock=clock)
    return JournaledStore(
        SqliteJournal(path, durability),
        own_types,
        name=f"sqlite:{path}",
        policy=policy,
        clock=clock,
    )
