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
"""

from __future__ import annotations

import asyncio
import bisect
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from pushgate.core.errors import ConsistencyError, StoreError
from pushgate.core.model import GroupingKey, MetricFamily, MetricType
from pushgate.core.textformat import render_family_header, render_metric
from pushgate.store.contract import Change, Group, Journal, WriteRequest
from pushgate.store.rules import plan_failure, plan_write
from pushgate.store.state import State

log = logging.getLogger("pushgate.store")

#: Same capacity as the official gateway's write queue; /-/healthy reports
#: unhealthy when it is full.
WRITE_QUEUE_CAPACITY = 1000
MAX_BATCH = 512


@dataclass(frozen=True, slots=True)
class _Op:
    kind: Literal["write", "failure", "wipe", "stop"]
    request: WriteRequest | None = None
    key: GroupingKey = ()
    timestamp: float = 0.0


class JournaledStore:
    """A :class:`~pushgate.store.contract.Store` over any journal."""

    def __init__(
        self,
        journal: Journal,
        own_types: Mapping[str, MetricType] | None = None,
        *,
        name: str = "memory",
    ) -> None:
        self.name = name
        self._journal = journal
        self._state = State(own_types)
        for group in journal.load():
            self._state.replace_group(group.key, group)
        self._queue: asyncio.Queue[tuple[_Op, asyncio.Future[object]]] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pushgate-commit")
        self._healthy = True
        self._closed = False
        self._seg_version = -1
        self._seg_own: tuple[str, ...] = ()
        self._segments: list[bytes] = []

    # -- lifecycle ---------------------------------------------------------
    async def start(self) -> None:
        if self._writer is None:
            self._queue = asyncio.Queue(WRITE_QUEUE_CAPACITY)
            self._writer = asyncio.create_task(self._run(), name="pushgate-writer")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
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
        if self._queue is None:
            raise StoreError("the store is not started")
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
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

    def _apply(
        self, op: _Op, undo: list[Change], changes: dict[GroupingKey, Group | None]
    ) -> object:
        state = self._state

        def replace(key: GroupingKey, group: Group | None) -> None:
            undo.append((key, state.replace_group(key, group)))
            changes[key] = group

        if op.kind == "wipe":
            keys = [g.key for g in state.groups()]
            for key in keys:
                replace(key, None)
            return len(keys)
        if op.kind == "failure":
            failed = plan_failure(op.key, op.timestamp, state)
            if failed is not None:
                replace(op.key, failed)
            return None
        request = op.request
        assert request is not None
        try:
            group = plan_write(request, state)
        except ConsistencyError as e:
            failed = plan_failure(request.key, request.timestamp, state)
            if failed is not None:
                replace(request.key, failed)
            return e
        if group is None and state.group(request.key) is None:
            return None  # deleting a missing group: nothing to commit
        replace(request.key, group)
        return None

    async def _run(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            undo: list[Change] = []
            changes: dict[GroupingKey, Group | None] = {}
            outcomes: list[object] = []
            for op, _ in batch:
                if op.kind == "stop":
                    stopping = True
                    outcomes.append(None)
                    continue
                try:
                    outcomes.append(self._apply(op, undo, changes))
                except Exception as e:  # a bug must not kill the writer
                    log.exception("applying a write failed")
                    outcomes.append(StoreError(f"internal error while applying the write: {e}"))
            if changes:
                try:
                    await loop.run_in_executor(
                        self._executor, self._journal.commit, list(changes.items())
                    )
                    self._healthy = True
                except Exception as e:
                    self._healthy = False
                    for key, previous in reversed(undo):
                        self._state.replace_group(key, previous)
                    error = e if isinstance(e, StoreError) else StoreError(str(e))
                    log.error("commit failed, %d write(s) rejected: %s", len(batch), error)
                    outcomes = [error for _ in batch]
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)

    # -- reads ----------------------------------------------------------------
    def groups(self) -> Sequence[Group]:
        return self._state.groups()

    def group(self, key: GroupingKey) -> Group | None:
        return self._state.group(key)

    def __len__(self) -> int:
        return len(self._state)

    def render_text(self, own: Sequence[MetricFamily]) -> bytes:
        own_by_name = {f.name: f for f in own if f.metrics}
        own_names = tuple(sorted(own_by_name))
        state = self._state
        if self._seg_version != state.version or self._seg_own != own_names:
            parts: list[list[bytes]] = [[] for _ in range(len(own_names) + 1)]
            for name in state.family_names():
                if name in own_by_name:
                    continue
                parts[bisect.bisect_left(own_names, name)].append(state.family_block(name))
            self._segments = [b"".join(p) for p in parts]
            self._seg_version = state.version
            self._seg_own = own_names
        out = [self._segments[0]]
        for i, name in enumerate(own_names):
            family = own_by_name[name]
            if state.family_type(name) is not None:
                out.append(
                    state.family_block(name, help_override=family.help or "", extra=family.metrics)
                )
            else:
                out.append(render_family_header(name, family.type, family.help))
                out.extend(render_metric(name, family.type, m) for m in family.metrics)
            out.append(self._segments[i + 1])
        return b"".join(out)

    def merged_families(self, own: Sequence[MetricFamily]) -> list[MetricFamily]:
        state = self._state
        own_by_name = {f.name: f for f in own if f.metrics}
        names = sorted(set(state.family_names()) | set(own_by_name))
        out: list[MetricFamily] = []
        for name in names:
            pushed = state.merged_family(name) if state.family_type(name) is not None else None
            mine = own_by_name.get(name)
            if pushed is None:
                assert mine is not None
                out.append(mine)
            elif mine is None:
                out.append(pushed)
            else:
                out.append(MetricFamily(name, mine.type, mine.help, mine.metrics + pushed.metrics))
        return out
