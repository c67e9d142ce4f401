"""Expiry and retention by count: how long the store keeps a group, and how many.

Expiry. A group's time to live comes, in this order, from the pusher (the
``ttl`` of its last PUT, see :attr:`~pushgate.store.contract.Group.ttl`,
capped by ``max_ttl``), from the first expiry rule whose selector matches its
grouping key, or from ``default_ttl``; ``None`` means never. It counts from
the group's last successful push (``push_time_seconds``), or, for a group
that only ever saw failed pushes, from its last failure: a failed push does
not keep stale data alive. ``expires_at`` is derived, so changing the rules
(a config reload) re-dates every group at once.

Retention by count. A keep rule (``by: [job, branch], keep: 20``) keeps, per
combination of the ``by`` label values, only the ``keep`` groups pushed most
recently; the oldest are deleted when a new group would exceed the count, in
the same commit as the push that created it. Absent labels count as empty,
as in PromQL.

:class:`RetentionIndex` keeps what both need incrementally (a sorted set of
expiry times, and per keep-bucket a sorted set of push times), fed by the
state's change listener, so a push costs O(log n), never a scan.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from sortedcontainers import SortedList

from pushgate.core.model import GroupingKey
from pushgate.core.selector import EVERYTHING, Selector
from pushgate.store.contract import Group


@dataclass(frozen=True, slots=True)
class ExpiryRule:
    """Groups matching ``selector`` live ``ttl`` seconds (``None``: forever)."""

    selector: Selector
    ttl: float | None


@dataclass(frozen=True, slots=True)
class KeepRule:
    """Of the groups matching ``selector``, keep the newest ``keep`` per ``by`` values."""

    by: tuple[str, ...]
    keep: int
    selector: Selector = EVERYTHING


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """The operator's expiry and retention rules (the default keeps everything)."""

    expiry: tuple[ExpiryRule, ...] = ()
    default_ttl: float | None = None
    max_ttl: float | None = None
    keep: tuple[KeepRule, ...] = ()

    def ttl_for(self, key: GroupingKey, requested: float | None) -> float | None:
        """The time to live of a group with grouping key ``key`` (see module doc)."""
        if requested is not None:
            return requested if self.max_ttl is None else min(requested, self.max_ttl)
        labels = dict(key)
        for rule in self.expiry:
            if rule.selector.matches(labels):
                return rule.ttl
        return self.default_ttl

    def expires_at(self, group: Group) -> float | None:
        ttl = self.ttl_for(group.key, group.ttl)
        return None if ttl is None else anchor_time(group) + ttl

    def stamp(self, group: Group) -> Group:
        """``group`` with its ``expires_at`` under this policy (the same object if unchanged)."""
        expires = self.expires_at(group)
        return group if expires == group.expires_at else replace(group, expires_at=expires)


def anchor_time(group: Group) -> float:
    """The time a group's age counts from: its last successful push, else its last failure."""
    pushed = group.push_time
    return pushed if pushed > 0 else group.push_failure_time


_BucketId = tuple[int, tuple[str, ...]]
_Entry = tuple[float, GroupingKey]


class RetentionIndex:
    """Expiry times and keep-buckets of every group, kept up to date incrementally.

    Feed it every change with :meth:`group_replaced` (the state's listener);
    it only reads the groups it is given, so any backend can use it.
    """

    def __init__(self, policy: RetentionPolicy) -> None:
        self.policy = policy
        self._expiry: SortedList = SortedList()  # (expires_at, key)
        self._buckets: dict[_BucketId, SortedList] = {}  # bucket -> (anchor time, key)
        #: key -> its buckets: the selectors run once per stored group, not per push.
        self._ids: dict[GroupingKey, tuple[_BucketId, ...]] = {}

    def reset(self, policy: RetentionPolicy, groups: Iterator[Group]) -> None:
        """Start over under ``policy`` with ``groups`` (already stamped with it)."""
        self.policy = policy
        self._expiry = SortedList()
        self._buckets = {}
        self._ids = {}
        for group in groups:
            self.group_replaced(group.key, None, group)

    def _bucket_ids(self, key: GroupingKey) -> tuple[_BucketId, ...]:
        if not self.policy.keep:
            return ()
        ids = self._ids.get(key)
        if ids is None:
            labels = dict(key)
            ids = tuple(
                (i, tuple(labels.get(name, "") for name in rule.by))
                for i, rule in enumerate(self.policy.keep)
                if rule.selector.matches(labels)
            )
        return ids

    def group_replaced(self, key: GroupingKey, old: Group | None, new: Group | None) -> None:
        if old is not None:
            if old.expires_at is not None:
                self._expiry.discard((old.expires_at, key))
            anchor = anchor_time(old)
            for bucket_id in self._bucket_ids(key):
                bucket = self._buckets.get(bucket_id)
                if bucket is not None:
                    bucket.discard((anchor, key))
                    if not bucket:
                        del self._buckets[bucket_id]
        if new is not None:
            if new.expires_at is not None:
                self._expiry.add((new.expires_at, key))
            anchor = anchor_time(new)
            ids = self._bucket_ids(key)
            if ids:
                self._ids[key] = ids
            for bucket_id in ids:
                self._buckets.setdefault(bucket_id, SortedList()).add((anchor, key))
        elif old is not None:
            self._ids.pop(key, None)

    # -- expiry ------------------------------------------------------------------
    def next_expiry(self) -> float | None:
        """The earliest expiry time of any group, or ``None``."""
        return self._expiry[0][0] if self._expiry else None

    def expiring(self) -> int:
        """How many groups have an expiry time."""
        return len(self._expiry)

    def expired(self, now: float) -> list[GroupingKey]:
        """Keys of the groups whose expiry time is ``now`` or earlier, oldest first."""
        out: list[GroupingKey] = []
        for expires_at, key in self._expiry:
            if expires_at > now:
                break
            out.append(key)
        return out

    # -- retention by count ---------------------------------------------------------
    def evictions(self, key: GroupingKey) -> list[GroupingKey]:
        """Groups to delete so that creating a group ``key`` keeps every bucket's count."""
        victims: dict[GroupingKey, None] = {}
        for bucket_id in self._bucket_ids(key):
            bucket = self._buckets.get(bucket_id)
            if bucket is None:
                continue
            keep = self.policy.keep[bucket_id[0]].keep
            excess = len(bucket) + 1 - keep
            for _, victim in bucket[: max(0, excess)]:
                if victim != key:
                    victims[victim] = None
        return list(victims)

    def over_limit(self) -> list[GroupingKey]:
        """The oldest groups beyond every bucket's count (after the rules changed)."""
        victims: dict[GroupingKey, None] = {}
        for (rule, _), bucket in self._buckets.items():
            excess = len(bucket) - self.policy.keep[rule].keep
            for _, victim in bucket[: max(0, excess)]:
                victims[victim] = None
        return list(victims)

    def bucket_sizes(self) -> list[int]:
        return [len(b) for b in self._buckets.values()]
