"""The store: in-memory state, one ordered writer, and a journal underneath.

Every write goes through one asyncio queue to one writer task, which takes
all writes waiting at that moment as a batch, applies each to the in-memory
state in order (checking it incrementally), commits the batch's changes to
the journal in one transaction in a worker thread (group commit), and only
then answers the waiting requests. If the commit fails, the batch is undone
in memory and every request of the batch gets a
:class:`~pushgate.core.errors.StoreError`: nothing was acknowledged, nothing
changed.

Reads run on the event loop between batches and see the state as applied;
they never wait for the disk.

Expiry and retention (:mod:`pushgate.store.policy`): each write's group is
stamped with its expiry time and admitted against the series limits, and the
groups retention deletes go into the same commit. A group that expired is
hidden from reads at once (the clock is checked on read) and deleted by a
sweep in the writer: at the start of any batch when something is due, and by
a timer at the next expiry time.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from pushgate.core.errors import ConsistencyError, LimitError, StoreError
from pushgate.core.model import GroupingKey, MetricFamily, MetricType
from pushgate.core.protobuf import render_delimited as encode_delimited
from pushgate.core.textformat import render_family_header, render_metric, render_text
from pushgate.store.contract import Change, Group, Journal, WriteRequest
from pushgate.store.policy import PolicyIndex, StorePolicy, StoreUsage, merge_visible
from pushgate.store.rules import plan_failure, plan_write
from pushgate.store.state import State, gzip_member

log = logging.getLogger("pushgate.store")

#: Same capacity as the official gateway's write queue; /-/healthy reports
#: unhealthy when it is full.
WRITE_QUEUE_CAPACITY = 1000
MAX_BATCH = 512
#: The expiry timer re-checks at least this often (seconds), whatever the clock says.
SWEEP_MAX_WAIT = 60.0
#: Re-pushed families are compacted once they have not been pushed again for
#: COMPACT_AFTER seconds, looked for every COMPACT_EVERY seconds: groups
#: pushed more often keep their objects (cheaper to compare and render).
COMPACT_AFTER = 5.0
COMPACT_EVERY = 1.0

#: The store's notion of now (Unix seconds); tests pass a fake.
Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class _Op:
    kind: Literal["write", "failure", "wipe", "stop", "sweep", "configure"]
    request: WriteRequest | None = None
    key: GroupingKey = ()
    timestamp: float = 0.0
    policy: StorePolicy | None = None


#: An operation and the future its caller awaits.
_Waiting = tuple[_Op, "asyncio.Future[object]"]


class JournaledStore:
    """A :class:`~pushgate.store.contract.Store` over any journal."""

    def __init__(
        self,
        journal: Journal,
        own_types: Mapping[str, MetricType] | None = None,
        *,
        name: str = "memory",
        policy: StorePolicy | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.name = name
        self._journal = journal
        self._state = State(own_types)
        self._clock = clock
        self._policy = PolicyIndex(policy)
        self._policy.attach(self._state)
        # Groups that expired while the gateway was down are hidden at once
        # and deleted by the first sweep.
        self._state.load(self._policy.stamp(group) for group in journal.load())
        self._sweeper: asyncio.Task[None] | None = None
        self._warmer: asyncio.Task[None] | None = None
        self._sweep_wake: asyncio.Event | None = None
        self._queue: asyncio.Queue[tuple[_Op, asyncio.Future[object]]] | None = None
        #: The loop the store runs on, kept from start(): asking asyncio for
        #: it on every write costs a system call (a fork check) each time.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writer: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pushgate-commit")
        self._healthy = True
        self._closed = False
        #: compressed? -> ((state version, own names), the blocks between own families)
        self._segments: dict[bool, tuple[tuple[int, tuple[str, ...]], list[list[bytes]]]] = {}

    # -- lifecycle ---------------------------------------------------------
    async def start(self) -> None:
        if self._writer is None:
            self._loop = asyncio.get_running_loop()
            self._queue = asyncio.Queue(WRITE_QUEUE_CAPACITY)
            self._writer = asyncio.create_task(self._run(), name="pushgate-writer")
            self._sweep_wake = asyncio.Event()
            self._sweeper = asyncio.create_task(self._sweep_timer(), name="pushgate-sweeper")
            self._sweep_wake.set()  # rules may have changed while the gateway was down
            self._warmer = asyncio.create_task(self._warm_up(), name="pushgate-warm-up")

    async def _warm_up(self) -> None:
        """Place the families loaded at start, a few per turn of the event
        loop, so the first scrape finds them ready and requests are served
        meanwhile; then compact re-pushed families now and then (see
        State.compact_stale), in the same small steps."""
        while self._state.warm_up():
            await asyncio.sleep(0)
        while True:
            await asyncio.sleep(COMPACT_EVERY)
            while self._state.compact_stale(COMPACT_AFTER):
                await asyncio.sleep(0)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._warmer is not None:
            self._warmer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._warmer
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if self._writer is not None:
            await self._submit(_Op("stop"))
            await self._writer
        self._executor.shutdown(wait=True)
        self._journal.close()

    @property
    def healthy(self) -> bool:
        return self._healthy

    @property
    def queue_full(self) -> bool:
        return self._queue is not None and self._queue.full()

    # -- writes --------------------------------------------------------------
    async def _submit(self, op: _Op) -> object:
        if self._queue is None or self._loop is None:
            raise StoreError("the store is not started")
        future: asyncio.Future[object] = self._loop.create_future()
        await self._queue.put((op, future))
        return await future

    async def write(self, request: WriteRequest) -> None:
        if self._closed:
            raise StoreError("the gateway is shutting down; the push was not stored")
        await self._submit(_Op("write", request=request))

    async def record_failure(self, key: GroupingKey, timestamp: float) -> None:
        if not self._closed:
            await self._submit(_Op("failure", key=key, timestamp=timestamp))

    async def wipe(self) -> int:
        if self._closed:
            raise StoreError("the gateway is shutting down; nothing was wiped")
        result = await self._submit(_Op("wipe"))
        assert isinstance(result, int)
        return result

    # -- expiry, retention, limits ---------------------------------------------
    @property
    def policy(self) -> StorePolicy:
        return self._policy.policy

    async def configure(self, policy: StorePolicy) -> int:
        """Apply new rules in order with the writes; return how many groups they deleted."""
        if self._closed:
            raise StoreError("the gateway is shutting down; the rules were not changed")
        result = await self._submit(_Op("configure", policy=policy))
        assert isinstance(result, int)
        return result

    async def sweep(self) -> int:
        """Delete the expired groups and those beyond a keep count now; return how many."""
        if self._closed:
            return 0
        result = await self._submit(_Op("sweep"))
        assert isinstance(result, int)
        return result

    def usage(self) -> StoreUsage:
        return self._policy.usage(len(self._state))

    def _wake_sweeper(self) -> None:
        if self._sweep_wake is not None:
            self._sweep_wake.set()

    async def _sweep_timer(self) -> None:
        assert self._sweep_wake is not None
        while not self._closed:
            due = self._policy.retention.next_expiry()
            wait = SWEEP_MAX_WAIT if due is None else due - self._clock()
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a
            # cancellation that arrives as the event is set.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(max(wait, 0.0), SWEEP_MAX_WAIT)):
                    await self._sweep_wake.wait()
            self._sweep_wake.clear()
            if not (self._policy.due(self._clock()) or self._policy.retention.over_limit()):
                continue
            try:
                await self.sweep()
            except StoreError:
                # Logged by the writer; the expired groups stay hidden. Do not
                # hammer a failing disk.
                await asyncio.sleep(1.0)

    def _apply(
        self, op: _Op, undo: list[Change], changes: dict[GroupingKey, Group | None]
    ) -> object:
        state = self._state

        def replace(key: GroupingKey, group: Group | None) -> None:
            undo.append((key, state.replace_group(key, group)))
            changes[key] = group

        def admit(key: GroupingKey, group: Group | None) -> None:
            # Expiry stamp, series limits (may raise LimitError), retention.
            stamped = self._policy.stamp(group) if group is not None else None
            victims = self._policy.admit(key, state.group(key), stamped)
            replace(key, stamped)
            for victim in victims:
                replace(victim, None)

        def record_failure(key: GroupingKey, timestamp: float) -> None:
            failed = plan_failure(key, timestamp, state)
            if failed is not None:
                with contextlib.suppress(LimitError):  # no room: the failure goes unrecorded
                    admit(key, failed)

        if op.kind == "wipe":
            keys = [g.key for g in state.groups()]
            for key in keys:
                replace(key, None)
            return len(keys)
        if op.kind == "sweep":
            removed = self._policy.sweep(self._clock())
            for key in removed:
                replace(key, None)
            return len(removed)
        if op.kind == "configure":
            assert op.policy is not None
            self._policy.configure(op.policy)
            return self._apply(_Op("sweep"), undo, changes)
        if op.kind == "failure":
            record_failure(op.key, op.timestamp)
            return None
        request = op.request
        assert request is not None
        try:
            group = plan_write(request, state)
        except ConsistencyError as e:
            record_failure(request.key, request.timestamp)
            return e
        if group is None and state.group(request.key) is None:
            return None  # deleting a missing group: nothing to commit
        try:
            admit(request.key, group)
        except LimitError as e:
            return e  # nothing changed, not even the failure time
        return None

    async def _run(self) -> None:
        """The one writer: take the waiting operations as a batch, process, answer."""
        assert self._queue is not None
        stopping = False
        while not stopping:
            batch: list[_Waiting] = [await self._queue.get()]
            self._take_waiting(batch)
            outcomes = await self._process(batch)
            stopping = any(op.kind == "stop" for op, _ in batch)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)

    def _take_waiting(self, batch: list[_Waiting]) -> None:
        """Add the operations waiting in the queue to ``batch``, up to a stop."""
        assert self._queue is not None
        while len(batch) < MAX_BATCH and not self._queue.empty() and batch[-1][0].kind != "stop":
            batch.append(self._queue.get_nowait())

    def _apply_one(
        self, op: _Op, undo: list[Change], changes: dict[GroupingKey, Group | None]
    ) -> object:
        try:
            return self._apply(op, undo, changes)
        except Exception as e:  # a bug must not kill the writer
            log.exception("applying a write failed")
            return StoreError(f"internal error while applying the write: {e}")

    def _undo(self, undo: list[Change], *, forget: bool = True) -> None:
        """Put back the groups a batch replaced (and forget its policy changes)."""
        if forget:
            self._policy.rollback()
        for key, previous in reversed(undo):
            self._state.replace_group(key, previous)

    async def _process(self, batch: list[_Waiting]) -> list[object]:
        """Apply one batch, commit it to the journal, and return an outcome per operation.

        The hook a backend with another way of committing overrides (Redis).
        """
        undo: list[Change] = []
        changes: dict[GroupingKey, Group | None] = {}
        if self._policy.due(self._clock()):
            self._apply(_Op("sweep"), undo, changes)  # writes never see expired groups
        outcomes = [
            None if op.kind == "stop" else self._apply_one(op, undo, changes) for op, _ in batch
        ]
        if not changes:
            return outcomes
        try:
            if self._journal.slow_commit:
                await asyncio.get_running_loop().run_in_executor(
                    self._executor, self._journal.commit, list(changes.items())
                )
            else:
                self._journal.commit(list(changes.items()))
        except Exception as e:
            self._healthy = False
            self._undo(undo)
            error = e if isinstance(e, StoreError) else StoreError(str(e))
            log.error("commit failed, %d write(s) rejected: %s", len(batch), error)
            # Every write of the batch failed; a stop request did not.
            return [None if op.kind == "stop" else error for op, _ in batch]
        self._healthy = True
        self._policy.commit()
        return outcomes

    # -- reads ----------------------------------------------------------------
    def groups(self) -> Sequence[Group]:
        groups = self._state.groups()
        now = self._clock()
        if self._policy.due(now):
            self._wake_sweeper()
            return [g for g in groups if self._policy.visible(g, now)]
        return groups

    def group(self, key: GroupingKey) -> Group | None:
        group = self._state.group(key)
        if group is None or self._policy.visible(group, self._clock()):
            return group
        return None

    def _expired_pending(self) -> bool:
        """Whether some group expired but is not swept yet (then wake the sweeper)."""
        if self._policy.due(self._clock()):
            self._wake_sweeper()
            return True
        return False

    def __len__(self) -> int:
        return len(self._state)

    def render_text(self, own: Sequence[MetricFamily], *, compress: bool = False) -> bytes:
        """The text exposition; with ``compress``, gzip-encoded.

        The gzip body is a concatenation of gzip members, one per family
        (RFC 1952 allows several; Go's and Python's readers read them all), so
        each family is compressed once when it changes, not on every scrape.
        """
        if self._expired_pending():
            body = render_text(merge_visible(self.groups(), own, for_text=True))
            return gzip_member(body) if compress else body
        own_by_name = {f.name: f for f in own if f.metrics}
        own_names = tuple(sorted(own_by_name))
        state = self._state
        cache_key = (state.version, own_names)
        segments = self._segments.get(compress)
        if segments is None or segments[0] != cache_key:
            block = state.family_block_gz if compress else state.family_block
            parts: list[list[bytes]] = [[] for _ in range(len(own_names) + 1)]
            for name in state.family_names():
                if name not in own_by_name:
                    parts[bisect.bisect_left(own_names, name)].append(block(name))
            # The blocks themselves, joined only into the response: a joined
            # copy kept here would hold the whole body a second time.
            segments = (cache_key, parts)
            self._segments[compress] = segments
        joined = segments[1]
        out = list(joined[0])
        for i, name in enumerate(own_names):
            family = own_by_name[name]
            if state.family_type(name) is not None:
                text = state.family_block(
                    name, help_override=family.help or "", extra=family.metrics
                )
            else:
                text = render_family_header(name, family.type, family.help) + b"".join(
                    render_metric(name, family.type, m) for m in family.metrics
                )
            out.append(gzip_member(text) if compress else text)
            out.extend(joined[i + 1])
        return b"".join(out)

    def merged_families(self, own: Sequence[MetricFamily]) -> list[MetricFamily]:
        if self._expired_pending():
            return merge_visible(self.groups(), own, for_text=False)
        own_by_name = {f.name: f for f in own if f.metrics}
        names = sorted(set(self._state.family_names()) | set(own_by_name))
        return [self._merged_family(name, own_by_name.get(name)) for name in names]

    def _merged_family(self, name: str, mine: MetricFamily | None) -> MetricFamily:
        """A pushed family merged with the gateway's own of that name (first)."""
        state = self._state
        pushed = state.merged_family(name) if state.family_type(name) is not None else None
        if pushed is None:
            assert mine is not None
            return mine
        if mine is None:
            return pushed
        return MetricFamily(name, mine.type, mine.help, mine.metrics + pushed.metrics)

    def render_delimited(self, own: Sequence[MetricFamily]) -> bytes:
        """:meth:`merged_families` as length-delimited protobuf messages.

        Pushed families come from the state's cached encodings (made again
        per chunk of runs when they change); a family merged with the
        gateway's own is encoded afresh.
        """
        if self._expired_pending():
            return encode_delimited(merge_visible(self.groups(), own, for_text=False))
        state = self._state
        own_by_name = {f.name: f for f in own if f.metrics}
        names = sorted(set(state.family_names()) | set(own_by_name))
        out = []
        for name in names:
            mine = own_by_name.get(name)
            if mine is None:
                out.append(state.family_delimited(name))
            else:
                out.append(encode_delimited([self._merged_family(name, mine)]))
        return b"".join(out)
