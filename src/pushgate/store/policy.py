"""The operator's store policy (expiry, retention, series limits) and its indexes.

:class:`StorePolicy` is what the config file sets for the store.
:class:`PolicyIndex` is what a backend's writer consults: attach it to the
:class:`~pushgate.store.state.State` (it listens to every change), then, for
each write, :meth:`PolicyIndex.stamp` the planned group with its expiry
time and :meth:`PolicyIndex.admit` it (series limits; the groups retention
deletes in the same commit). :meth:`PolicyIndex.sweep` lists what expired.
Nothing here does I/O or reads a clock: the writer passes ``now``.

Deletions by expiry and retention are counted only once committed
(:meth:`PolicyIndex.commit`; :meth:`PolicyIndex.rollback` forgets them when
the backend undid the batch).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pushgate.core.errors import LimitError
from pushgate.core.model import GroupingKey, Metric, MetricFamily, MetricType
from pushgate.core.textformat import metric_sort_key
from pushgate.store.contract import Group
from pushgate.store.limits import SeriesLimits, SeriesUsage
from pushgate.store.retention import RetentionIndex, RetentionPolicy
from pushgate.store.state import State

Removal = Literal["expired", "retention"]
_SortKey = str


@dataclass(frozen=True, slots=True)
class StorePolicy:
    """Expiry and retention rules and series limits (the default: keep all, no limits)."""

    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    limits: SeriesLimits = field(default_factory=SeriesLimits)


@dataclass(frozen=True, slots=True)
class StoreUsage:
    """A snapshot of what the policy watches, for the gateway's own metrics."""

    groups: int
    series_total: int
    series_by_job: dict[str, int]
    groups_expiring: int
    next_expiry: float | None
    expired_total: int
    retention_deleted_total: int
    rejections: dict[str, int]


class PolicyIndex:
    """Indexes and counters a :class:`StorePolicy` needs, over one state."""

    def __init__(self, policy: StorePolicy | None = None) -> None:
        self.policy = policy or StorePolicy()
        self.retention = RetentionIndex(self.policy.retention)
        self.series = SeriesUsage()
        self._state: State | None = None
        self._muted = False
        self._pending: Counter[Removal] = Counter()
        self._removed: Counter[Removal] = Counter()
        self._rejections: Counter[str] = Counter()

    def attach(self, state: State) -> None:
        """Follow every change of ``state`` (call before anything is stored)."""
        self._state = state
        state.add_listener(self._group_replaced)

    def _group_replaced(self, key: GroupingKey, old: Group | None, new: Group | None) -> None:
        if self._muted:
            return
        self.retention.group_replaced(key, old, new)
        self.series.group_replaced(key, old, new)

    # -- writes ----------------------------------------------------------------------
    def stamp(self, group: Group) -> Group:
        """``group`` with its expiry time under the current rules."""
        return self.policy.retention.stamp(group)

    def admit(self, key: GroupingKey, old: Group | None, new: Group | None) -> list[GroupingKey]:
        """The groups retention deletes if ``new`` replaces ``old``.

        Raises :class:`LimitError` (and counts the rejection) if the write
        would exceed a series limit. Call it before applying the write.
        """
        victims = self.retention.evictions(key) if old is None and new is not None else []
        try:
            self.series.check(key, old, new, victims, self.policy.limits)
        except LimitError as e:
            self._rejections[e.reason] += 1
            raise
        self._pending["retention"] += len(victims)
        return victims

    def configure(self, policy: StorePolicy) -> None:
        """Switch to ``policy``: re-date every group and rebuild the retention index.

        The new expiry times are derived data, so they are applied to the state
        directly and need no commit; :meth:`sweep` then lists what is due.
        """
        state = self._state
        assert state is not None, "attach() the index to a state first"
        self.policy = policy
        self._muted = True
        try:
            for group in list(state):
                stamped = self.stamp(group)
                if stamped is not group:
                    state.replace_group(group.key, stamped)
        finally:
            self._muted = False
        self.retention.reset(policy.retention, iter(state))

    def due(self, now: float) -> bool:
        """Whether some group has expired by ``now`` (O(1))."""
        first = self.retention.next_expiry()
        return first is not None and first <= now

    def sweep(self, now: float) -> list[GroupingKey]:
        """Groups to delete now: the expired, then those beyond a keep count."""
        expired = self.retention.expired(now)
        gone = set(expired)
        beyond = [k for k in self.retention.over_limit() if k not in gone]
        self._pending["expired"] += len(expired)
        self._pending["retention"] += len(beyond)
        return expired + beyond

    def commit(self) -> None:
        """The batch was committed: count its deletions."""
        self._removed.update(self._pending)
        self._pending.clear()

    def rollback(self) -> None:
        """The batch was undone: forget its deletions."""
        self._pending.clear()

    # -- reads -----------------------------------------------------------------------
    @staticmethod
    def visible(group: Group, now: float) -> bool:
        return group.expires_at is None or group.expires_at > now

    def usage(self, groups: int) -> StoreUsage:
        return StoreUsage(
            groups=groups,
            series_total=self.series.total,
            series_by_job=dict(self.series.by_job),
            groups_expiring=self.retention.expiring(),
            next_expiry=self.retention.next_expiry(),
            expired_total=self._removed["expired"],
            retention_deleted_total=self._removed["retention"],
            rejections=dict(self._rejections),
        )


def merge_visible(
    groups: Iterable[Group], own: Sequence[MetricFamily], *, for_text: bool
) -> list[MetricFamily]:
    """Every family of ``groups`` merged with ``own``, as the cached paths give it.

    The backends' render caches hold every stored group; between a group's
    expiry and the sweep that deletes it (milliseconds, normally), reads
    build the answer from the visible groups with this instead. It costs
    O(store), as every scrape of the official gateway does. ``for_text``
    merges own and pushed series in exposition order (the text path);
    otherwise own series come first (the protobuf path).
    """
    types: dict[str, MetricType] = {}
    helps: dict[str, tuple[float, str | None]] = {}
    series: dict[str, list[tuple[_SortKey, GroupingKey, Metric]]] = {}
    for group in groups:
        for name, stored in group.families.items():
            family = stored.family
            if not family.metrics:
                continue
            types.setdefault(name, family.type)
            best = helps.get(name)
            if best is None or stored.last_push > best[0]:
                helps[name] = (stored.last_push, family.help)
            series.setdefault(name, []).extend(
                (metric_sort_key(m), group.key, m) for m in family.metrics
            )
    own_by_name = {f.name: f for f in own if f.metrics}
    out: list[MetricFamily] = []
    for name in sorted(set(series) | set(own_by_name)):
        pushed = sorted(series.get(name, []), key=lambda s: (s[0], s[1]))
        mine = own_by_name.get(name)
        if mine is None:
            metrics = tuple(m for _, _, m in pushed)
            out.append(MetricFamily(name, types[name], helps[name][1], metrics))
        elif not pushed:
            out.append(mine)
        elif for_text:
            merged = sorted(
                [(metric_sort_key(m), m) for m in mine.metrics] + [(k, m) for k, _, m in pushed],
                key=lambda km: km[0],
            )
            out.append(MetricFamily(name, mine.type, mine.help or "", tuple(m for _, m in merged)))
        else:
            metrics = mine.metrics + tuple(m for _, _, m in pushed)
            out.append(MetricFamily(name, mine.type, mine.help, metrics))
    return out
