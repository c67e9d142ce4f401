"""A bounded memo for values derived from what pushers send.

Pushers repeat themselves: the same group paths, grouping keys, label sets,
help texts. Remembering what was derived from them saves most of a push's
work, but what they send is not ours to keep without bound, so a memo holds
at most ``entries`` values (it empties when full: cheap, and a busy pusher
refills it at once) and only those that ``keep`` accepts (small ones).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedMemo(Generic[K, V]):
    """``make(key)``, remembered for keys that ``keep(key, value)`` accepts.

    An exception from ``make`` propagates and nothing is remembered, so
    errors are computed (and reported) every time.
    """

    __slots__ = ("_entries", "_keep", "_make", "values")

    def __init__(
        self,
        make: Callable[[K], V],
        *,
        entries: int = 8192,
        keep: Callable[[K, V], bool] = lambda key, value: True,
    ) -> None:
        self._make = make
        self._entries = entries
        self._keep = keep
        #: What is remembered now (for tests and introspection).
        self.values: dict[K, V] = {}

    def __call__(self, key: K) -> V:
        value = self.values.get(key)
        if value is None:
            value = self._make(key)
            if self._keep(key, value):
                if len(self.values) >= self._entries:
                    self.values.clear()
                self.values[key] = value
        return value
