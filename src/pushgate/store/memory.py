"""The memory journal: nothing survives a restart (the official default)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pushgate.store.contract import Change, Group


class MemoryJournal:
    """A journal that keeps nothing: commits always succeed, loads are empty."""

    slow_commit = False

    def load(self) -> Iterable[Group]:
        return ()

    def commit(self, changes: Sequence[Change]) -> None:
        return None

    def close(self) -> None:
        return None
