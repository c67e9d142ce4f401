"""The store contract: what every backend promises to the HTTP layer.

The HTTP handlers only translate requests into :class:`WriteRequest` values
and call a :class:`Store`. The store owns every rule of the Pushgateway data
model (sanitising, replace/merge, the consistency check, the failure
bookkeeping) and the durability of each write.

Contract, for every implementation:

* **Order.** Writes are applied one at a time in the order :meth:`Store.write`
  was called. A DELETE followed by a PUT of the same group leaves the PUT's
  group, and vice versa.
* **Atomicity.** A write is applied completely or not at all. A rejected write
  (:class:`~pushgate.core.errors.ConsistencyError`) changes nothing but the
  group's ``push_failure_time_seconds`` (which it may create, see
  :func:`pushgate.store.rules.plan_failure`). A write the backend could not make
  durable (:class:`~pushgate.core.errors.StoreError`) changes nothing at all,
  in memory or on disk.
* **Durability.** When :meth:`Store.write` or :meth:`Store.wipe` returns, the
  effect is committed to the backend: a durable backend keeps it across a
  process crash (and, in the ``os`` durability mode, across an OS crash).
  Concurrent writes share commits (group commit).
* **Consistency.** Whatever is stored can always be exposed: families of one
  name have one type across all groups, no two groups expose the same series,
  no summary/histogram collides with a ``_count``/``_sum``/``_bucket``
  family, every label name and value is valid. The check is incremental: a
  write costs what it contains, not what the store holds.
* **Readers never block the writer and never see half a write.** The read
  methods return immutable snapshots (:class:`Group` values are frozen and
  shared); they may be called from the event loop at any time.
* **Shutdown.** :meth:`Store.close` finishes the writes already accepted,
  commits them, and releases the backend. Writes after ``close`` raise
  :class:`~pushgate.core.errors.StoreError`.
* **Expiry, retention, limits** (:mod:`pushgate.store.policy`). A group whose
  ``expires_at`` has passed is absent from every read at once, deleted or
  not yet; the backend deletes it durably soon after (a sweep, in order with
  the writes). A write that creates a group deletes, in the same commit, the
  groups retention by count no longer keeps. A write that would exceed a
  series limit raises :class:`~pushgate.core.errors.LimitError` and changes
  nothing, not even the failure time. :meth:`Store.configure` replaces the
  policy in order with the writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from pushgate.core.model import GroupingKey, MetricFamily
from pushgate.store.stored import StoredFamily as StoredFamily

if TYPE_CHECKING:  # policy.py builds on this module
    from pushgate.store.policy import StorePolicy

WriteKind = Literal["put", "post", "delete"]

PUSH_TIME_NAME = "push_time_seconds"
PUSH_FAILURE_TIME_NAME = "push_failure_time_seconds"
PUSH_TIME_HELP = "Last Unix time when changing this group in the Pushgateway succeeded."
PUSH_FAILURE_TIME_HELP = "Last Unix time when changing this group in the Pushgateway failed."


@dataclass(frozen=True, slots=True)
class WriteRequest:
    """One PUT (replace the group), POST (replace same-named families) or DELETE.

    ``timestamp`` is the request time in Unix seconds, read by the HTTP edge
    after the body was parsed. ``families`` is empty for DELETE. ``ttl`` is
    the time to live in seconds the pusher asked for, if any (see
    :attr:`Group.ttl`).
    """

    key: GroupingKey
    kind: WriteKind
    families: tuple[MetricFamily, ...]
    timestamp: float
    ttl: float | None = None


@dataclass(frozen=True, slots=True)
class Group:
    """The families stored under one grouping key (immutable; replaced whole).

    ``families`` maps family name to :class:`StoredFamily` and always holds
    ``push_time_seconds`` and ``push_failure_time_seconds``.

    ``ttl`` is the time to live (seconds) the pusher asked for: a PUT sets it
    (or clears it), a POST without one keeps the group's. It is stored.
    ``expires_at`` (Unix seconds, ``None``: never) is derived by the store
    from ``ttl``, the operator's rules and the push time
    (:mod:`pushgate.store.retention`); it is recomputed when the rules change
    and is not stored.
    """

    key: GroupingKey
    families: Mapping[str, StoredFamily]
    ttl: float | None = None
    expires_at: float | None = None

    def _gauge(self, name: str) -> float:
        stored = self.families.get(name)
        return 0.0 if stored is None else stored.first_value()

    @property
    def push_time(self) -> float:
        return self._gauge(PUSH_TIME_NAME)

    @property
    def push_failure_time(self) -> float:
        return self._gauge(PUSH_FAILURE_TIME_NAME)

    @property
    def last_push_successful(self) -> bool:
        return self.push_failure_time <= self.push_time

    @property
    def series_count(self) -> int:
        return sum(s.metric_count for s in self.families.values())


#: A change to commit: the new group, or ``None`` when the group was deleted.
Change = tuple[GroupingKey, Group | None]


class Journal(Protocol):
    """The persistence seam under a store: where committed groups live.

    A journal only stores and loads whole groups; it knows no rules. Its
    methods are blocking and are called from one thread at a time.
    """

    #: True when :meth:`commit` may block for long (an fsync): the store then
    #: runs it in a worker thread so that reads go on meanwhile. A cheap commit
    #: runs on the event loop, which saves two thread hand-offs per batch.
    slow_commit: bool

    def load(self) -> Iterable[Group]:
        """Every group committed so far, in any order. Called once, at start."""
        ...

    def commit(self, changes: Sequence[Change]) -> None:
        """Make ``changes`` durable atomically: all of them, or none.

        Each key appears at most once in ``changes`` (its final group, or
        None for a deletion), so they may be applied in any order.

        Raises :class:`~pushgate.core.errors.StoreError` if it cannot, in
        which case nothing of ``changes`` is kept.
        """
        ...

    def close(self) -> None:
        """Release files and connections. Idempotent."""
        ...


class Store(Protocol):
    """What the HTTP layer needs of a store. See the module docstring."""

    async def write(self, request: WriteRequest) -> None:
        """Apply one write durably, in order.

        Raises :class:`~pushgate.core.errors.ConsistencyError` if the write
        was rejected (the failure time was recorded), or
        :class:`~pushgate.core.errors.StoreError` if it could not be made
        durable (nothing changed).
        """
        ...

    async def record_failure(self, key: GroupingKey, timestamp: float) -> None:
        """Record a failed push to ``key`` found before the store saw it."""
        ...

    async def wipe(self) -> int:
        """Delete every group in one atomic, durable step; return how many."""
        ...

    def groups(self) -> Sequence[Group]:
        """A snapshot of every group, sorted by grouping key."""
        ...

    def group(self, key: GroupingKey) -> Group | None:
        """One group, or ``None``."""
        ...

    def render_text(self, own: Sequence[MetricFamily]) -> bytes:
        """The text exposition of every group merged with ``own`` families.

        Families are sorted by name and merged across groups; ``own`` (the
        gateway's own metrics) take precedence for HELP. Unchanged families
        are not re-rendered.
        """
        ...

    def merged_families(self, own: Sequence[MetricFamily]) -> list[MetricFamily]:
        """The same content as :meth:`render_text` as model objects."""
        ...

    def render_delimited(self, own: Sequence[MetricFamily]) -> bytes:
        """:meth:`merged_families` as length-delimited protobuf messages
        (the format Prometheus negotiates); unchanged families are not
        encoded again."""
        ...

    @property
    def healthy(self) -> bool:
        """False when the backend is known to be failing (last commit failed)."""
        ...

    async def close(self) -> None:
        """Finish accepted writes, commit them and release the backend."""
        ...

    async def configure(self, policy: StorePolicy) -> int:
        """Replace the expiry, retention and limit policy, in order with the writes.

        Every group is re-dated under the new rules; what they expire or no
        longer keep is deleted in one commit. Returns how many groups that was.
        """
        ...

    async def sweep(self) -> int:
        """Durably delete the expired groups (and any beyond a keep count); return how many."""
        ...
