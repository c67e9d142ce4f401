"""Fakes at the store's seams: the clock, and a journal that records its commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pushgate.store.contract import Change
from pushgate.store.memory import MemoryJournal

#: A fixed start time (2023-11-14T22:13:20Z) for fake clocks.
T0 = 1_700_000_000.0
DAY = 86_400.0


@dataclass
class FakeClock:
    """A clock that only moves when told to: ``clock.now += DAY``."""

    now: float = T0

    def __call__(self) -> float:
        return self.now


@dataclass
class RecordingJournal(MemoryJournal):
    """A memory journal that keeps every commit it was given, in order."""

    commits: list[list[Change]] = field(default_factory=list)

    def commit(self, changes: Sequence[Change]) -> None:
        self.commits.append(list(changes))
