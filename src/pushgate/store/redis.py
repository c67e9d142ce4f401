"""The Redis store: any number of stateless gateway replicas over one Redis.

Each replica keeps the same in-memory :class:`~pushgate.store.state.State` as
the embedded store (groups, consistency indexes, render caches), so scrapes
and reads cost what they cost on a single node. Redis holds the truth (see
:mod:`pushgate.store.redis_changes` for the keys):

* **Writes** go through the replica's one ordered writer, batched as in
  :class:`~pushgate.store.journaled.JournaledStore` and planned with the same
  rules (``_apply``: the consistency check, expiry, retention, limits)
  against the local state. The batch is committed by one Lua script that
  applies it only if Redis's head is still the one the local state reflects
  (optimistic concurrency, one round trip). If another replica wrote first,
  the script answers with the entries this replica missed: the batch is
  undone, those entries applied, and the batch planned again together with
  the writes that arrived meanwhile. A replica that keeps losing takes the
  short-lived commit lock (see :mod:`pushgate.store.redis_changes`). So the
  consistency check always runs on an up-to-date index, and two replicas
  can never accept conflicting types for one family.
* **Reads** are served from the local state, which a follower task keeps
  current by reading the change stream (``XREAD BLOCK``): a write on any
  replica is visible on every other within milliseconds. A replica that
  missed entries (trimmed stream, failover that discarded history) reloads
  the whole hash.
* **Failure**: when Redis cannot be reached, writes fail with
  :class:`~pushgate.core.errors.StoreError` (HTTP 503) and nothing is
  applied; reads keep serving the last known state, :attr:`RedisStore.stale`
  turns true (``pushgate_store_stale 1``), and the follower reconnects and
  resynchronises by itself.

A write is acknowledged once the script ran on the Redis primary and, with
``wait_replicas=N``, once N Redis replicas confirmed it (``WAIT``). How
durable that is depends on Redis's AOF settings: docs/redis.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialBackoff
from redis.exceptions import NoScriptError, RedisError

from pushgate.core.errors import PushgateError, StoreError, StoreOpenError
from pushgate.core.model import GroupingKey, Labels, MetricType
from pushgate.store.codec import decode_group, encode_group, encode_key
from pushgate.store.contract import Change, Group, StoredFamily
from pushgate.store.journaled import Clock, JournaledStore, _Op, _Waiting
from pushgate.store.limits import SeriesLimits
from pushgate.store.memory import MemoryJournal
from pushgate.store.policy import StorePolicy
from pushgate.store.redis_changes import (
    COMMIT_SCRIPT,
    COMMITTED,
    CONFLICT,
    EMPTY_HEAD,
    LOCK_SCRIPT,
    UNLOCK_SCRIPT,
    ChangeEntry,
    Head,
    Keys,
    decode_key,
    parse_entries,
    stream_id_order,
)
from pushgate.store.redis_url import RedisTarget, parse_redis_url

log = logging.getLogger("pushgate.store.redis")

#: Conflicts in a row after which a replica takes the commit lock.
LOCK_AFTER = 8
#: Lifetime of the commit lock (ms): how long a replica that died holding it
#: delays the others.
LOCK_MS = 2000
#: How long a batch may wait for its turn among the replicas before it fails.
COMMIT_DEADLINE = 10.0
#: How long a replica waits for the lock holder's commit before it looks again.
LOCK_WAIT = 0.02
#: Entries read per XRANGE/XREAD call.
READ_COUNT = 512
#: How long the follower blocks in XREAD before it checks the head (at most;
#: always well under the socket timeout, or the read would time out first).
FOLLOW_BLOCK_MS = 1000


@dataclass(frozen=True)
class _Script:
    source: str

    @property
    def sha(self) -> str:
        return hashlib.sha1(self.source.encode()).hexdigest()


_COMMIT = _Script(COMMIT_SCRIPT)
_LOCK = _Script(LOCK_SCRIPT)
_UNLOCK = _Script(UNLOCK_SCRIPT)


#: A queued operation and the future its caller awaits.


@dataclass(frozen=True)
class _Reply:
    """What the commit script answered (see redis_changes.COMMIT_SCRIPT)."""

    status: int
    head: Head
    entries: list[ChangeEntry]
    confirmed: int | None = None


#: A change entry with its groups decoded.
_Decoded = tuple[ChangeEntry, list[tuple[GroupingKey, Group | None]]]
_SUFFIXES = ("_count", "_sum", "_bucket")


def _base_name(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


@dataclass(frozen=True)
class _Rebase:
    """What a planned batch depends on, to tell whether other commits touch it.

    A plan stays valid on top of other replicas' commits that change none of
    its groups (nor the groups its operations named), give no family it
    writes another type, expose none of its series, and add no family whose
    name is a ``_count``/``_sum``/``_bucket`` relative of one it writes: the
    consistency check would then decide exactly as it did, and both orders
    of the commits give the same state. Batches whose outcome depends on the
    whole store (rejections, wipes, sweeps, retention, series limits) are
    never rebased, only planned again.
    """

    keys: frozenset[GroupingKey]
    types: dict[str, str]
    related: frozenset[str]
    bases: frozenset[str]
    #: The families the plan writes, for :attr:`series` (only needed when
    #: another replica committed first, so only then read).
    written: tuple[StoredFamily, ...]

    @classmethod
    def of(cls, keys: set[GroupingKey], changes: Mapping[GroupingKey, Group | None]) -> _Rebase:
        types: dict[str, str] = {}
        written: list[StoredFamily] = []
        for group in changes.values():
            if group is None:
                continue
            for name, stored in group.families.items():
                if not stored.empty:
                    types[name] = stored.type
                    written.append(stored)
        bases = frozenset(_base_name(n) for n in types)
        return cls(frozenset(keys), types, bases | frozenset(types), bases, tuple(written))

    @cached_property
    def series(self) -> frozenset[tuple[str, Labels]]:
        return frozenset((s.name, m.labels) for s in self.written for m in s.family.metrics)

    def interferes(self, decoded: list[_Decoded]) -> bool:
        for _, changes in decoded:
            for key, group in changes:
                if key in self.keys:
                    return True
                if group is None:
                    continue
                for name, stored in group.families.items():
                    if stored.empty:
                        continue
                    mine = self.types.get(name)
                    if mine is None:
                        if _base_name(name) in self.related or name in self.bases:
                            return True
                        continue  # a family the plan does not write: no shared series
                    if mine != stored.type:
                        return True
                    if any((name, m.labels) in self.series for m in stored.family.metrics):
                        return True
        return False


@dataclass(frozen=True)
class _Retry:
    """A batch not committed: locked out, or after ``conflicts`` conflicts."""

    status: int
    conflicts: int


@dataclass(frozen=True)
class _Done:
    """A batch answered: its outcomes, and whether it wrote to Redis."""

    outcomes: list[object]
    wrote: bool


def _describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) < 300 else text[:300] + "..."


async def _call(client: Redis, *args: Any) -> Any:
    """One Redis command (redis-py leaves ``execute_command`` untyped)."""
    return await client.execute_command(*args)  # type: ignore[no-untyped-call]


def _connection_kwargs(target: RedisTarget) -> dict[str, Any]:
    options = target.options
    kwargs: dict[str, Any] = {
        "username": target.username,
        "password": target.password,
        "socket_timeout": options.socket_timeout,
        "socket_connect_timeout": options.socket_connect_timeout,
        "socket_keepalive": True,
        # A retried command is safe: the commit script is conditional and
        # carries a token (see RedisStore._process).
        "retry": Retry(ExponentialBackoff(cap=0.2, base=0.01), 2),
    }
    if target.ssl:
        kwargs["ssl"] = True
        kwargs.update(options.tls)
    return kwargs


class _Connector(Protocol):
    """Finds the Redis primary that holds the store's slot."""

    async def primary(self) -> Redis: ...

    async def reset(self) -> None:
        """Forget the primary after an error, so the next call looks again."""
        ...

    async def close(self) -> None: ...


class _DirectConnector:
    def __init__(self, target: RedisTarget) -> None:
        host, port = target.nodes[0]
        self._client = Redis(host=host, port=port, db=target.db, **_connection_kwargs(target))

    async def primary(self) -> Redis:
        return self._client

    async def reset(self) -> None:
        return None  # redis-py drops a broken connection by itself

    async def close(self) -> None:
        await self._client.aclose()


class _SentinelConnector:
    """Sentinel's current master; redis-py asks Sentinel again on every reconnect."""

    def __init__(self, target: RedisTarget) -> None:
        options = target.options
        sentinel_kwargs: dict[str, Any] = {
            "socket_timeout": options.socket_timeout,
            "socket_connect_timeout": options.socket_connect_timeout,
            "username": options.sentinel_username,
            "password": options.sentinel_password,
        }
        if target.ssl:
            sentinel_kwargs["ssl"] = True
            sentinel_kwargs.update(options.tls)
        self._sentinel = Sentinel(  # type: ignore[no-untyped-call]
            list(target.nodes), sentinel_kwargs=sentinel_kwargs, **_connection_kwargs(target)
        )
        self._client: Redis = self._sentinel.master_for(target.service, db=target.db)

    async def primary(self) -> Redis:
        return self._client

    async def reset(self) -> None:
        # Idle connections may still point at a master that was replaced.
        await self._client.connection_pool.disconnect(inuse_connections=False)

    async def close(self) -> None:
        await self._client.aclose()
        for sentinel in self._sentinel.sentinels:
            await sentinel.aclose()


class _ClusterConnector:
    """The cluster node that serves the store's one slot, as a plain client.

    Every key of the store is in one slot, so one node serves them all; a
    plain client to it keeps ``WAIT`` on the connection that wrote.
    """

    def __init__(self, target: RedisTarget, keys: Keys) -> None:
        self._kwargs = _connection_kwargs(target)
        self._cluster = RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in target.nodes],
            require_full_coverage=False,
            **self._kwargs,
        )
        self._key = keys.head
        self._node: Redis | None = None
        self._initialized = False

    async def primary(self) -> Redis:
        if self._node is None:
            if self._initialized:
                await self._cluster.nodes_manager.initialize()
            else:
                await self._cluster.initialize()
                self._initialized = True
            node = self._cluster.get_node_from_key(self._key)
            if node is None:
                raise StoreError(f"no Redis Cluster node serves the slot of {self._key}")
            self._node = Redis(host=node.host, port=int(node.port), **self._kwargs)
        return self._node

    async def reset(self) -> None:
        node, self._node = self._node, None
        if node is not None:
            await node.aclose()

    async def close(self) -> None:
        await self.reset()
        await self._cluster.aclose()


def _connector_for(target: RedisTarget, keys: Keys) -> _Connector:
    if target.kind == "sentinel":
        return _SentinelConnector(target)
    if target.kind == "cluster":
        return _ClusterConnector(target, keys)
    return _DirectConnector(target)


class RedisStore(JournaledStore):
    """A :class:`~pushgate.store.contract.Store` shared by replicas through Redis."""

    def __init__(
        self,
        target: RedisTarget,
        own_types: Mapping[str, MetricType] | None = None,
        *,
        policy: StorePolicy | None = None,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(
            MemoryJournal(), own_types, name=target.redacted, policy=policy, clock=clock
        )
        self._target = target
        self._options = target.options
        self._keys = Keys(target.options.prefix)
        self._connector = _connector_for(target, self._keys)
        #: Held while the local state changes: by the writer for a whole
        #: batch (plan, commit, undo), by the follower to apply entries.
        self._lock = asyncio.Lock()
        self._head = EMPTY_HEAD
        self._synced = False
        self._stale = True
        self._follower: asyncio.Task[None] | None = None
        self._stopping = False
        #: Set whenever entries of other replicas were applied.
        self._advanced = asyncio.Event()
        self._block_ms = max(10, min(FOLLOW_BLOCK_MS, round(self._options.socket_timeout * 500)))

    @classmethod
    def from_url(
        cls,
        url: str,
        own_types: Mapping[str, MetricType] | None = None,
        *,
        policy: StorePolicy | None = None,
        clock: Clock = time.time,
    ) -> RedisStore:
        return cls(parse_redis_url(url), own_types, policy=policy, clock=clock)

    # -- lifecycle ---------------------------------------------------------
    async def start(self) -> None:
        if self._follower is not None:
            return
        timeout = self._options.start_timeout
        deadline = time.monotonic() + timeout
        while True:
            try:
                async with self._lock:
                    await self._sync()
                break
            except (RedisError, OSError) as e:
                if time.monotonic() >= deadline:
                    await self._connector.close()
                    raise StoreOpenError(
                        f"cannot reach the Redis store at {self.name} within {timeout:g}s"
                        f" ({_describe(e)}). Check that Redis is running and that --store"
                        " names it (docs/redis.md)."
                    ) from e
                await asyncio.sleep(0.2)
            except PushgateError as e:
                await self._connector.close()
                if isinstance(e, StoreOpenError):
                    raise
                raise StoreOpenError(f"cannot load the Redis store at {self.name}: {e}") from e
        self._stale = False
        log.info("Redis store %s loaded at version %d", self.name, self._head.version)
        await self._check_durability()
        await super().start()
        self._follower = asyncio.create_task(self._follow(), name="pushgate-redis-follower")

    async def close(self) -> None:
        if self._closed:
            return
        await super().close()
        self._stopping = True
        follower = self._follower
        if follower is not None:
            follower.cancel()
            await asyncio.wait({follower}, timeout=0.2)
        # Closing the connections also ends a blocking XREAD that swallowed
        # the cancellation (a known redis-py race, redis/redis-py#2028); the
        # follower then sees _stopping and returns.
        await self._connector.close()
        if follower is not None and not follower.done():
            await asyncio.wait({follower}, timeout=self._options.socket_timeout * 3 + 1)
            await self._connector.close()  # what its last retry may have reopened

    @property
    def stale(self) -> bool:
        """True while Redis is unreachable: reads serve the last known state."""
        return self._stale

    @property
    def healthy(self) -> bool:
        return not self._stale

    @property
    def version(self) -> int:
        """The Redis version (number of commits) the local state reflects."""
        return self._head.version

    def _set_stale(self, stale: bool, error: BaseException | None = None) -> None:
        if stale and not self._stale:
            log.warning(
                "lost the Redis store at %s (%s): serving the last known state (stale),"
                " pushes get 503 until it is back",
                self.name,
                _describe(error) if error is not None else "unknown error",
            )
        elif not stale and self._stale:
            log.info("Redis store %s is back, in sync at version %d", self.name, self._head.version)
        self._stale = stale

    async def _check_durability(self) -> None:
        """Warn when Redis would lose acknowledged pushes on a restart."""
        try:
            client = await self._connector.primary()
            reply = await _call(client, "CONFIG", "GET", "appendonly")
        except RedisError:
            return  # CONFIG is often disabled on managed Redis: nothing to check
        values = (
            reply if isinstance(reply, Mapping) else dict(zip(reply[::2], reply[1::2], strict=True))
        )
        if values.get(b"appendonly", values.get("appendonly")) in (b"no", "no"):
            log.warning(
                "Redis at %s runs without its append-only file (appendonly no): a Redis"
                " restart loses the pushes made since its last snapshot (docs/redis.md)",
                self.name,
            )

    # -- the writer ------------------------------------------------------------
    async def _process(self, batch: list[_Waiting]) -> list[object]:
        """Plan, commit and answer one batch; return an outcome per operation.

        A batch that conflicted is planned again anyway, so it takes in the
        operations that arrived meanwhile: under contention, commits grow
        instead of multiplying.
        """
        deadline = time.monotonic() + COMMIT_DEADLINE
        conflicts = 0
        lock: str | None = None
        try:
            while True:
                ops = [op for op, _ in batch if op.kind != "stop"]
                if not ops:
                    return [None for _ in batch]
                if lock is None and conflicts >= LOCK_AFTER:
                    lock = await self._take_lock()
                if lock is not None or conflicts < LOCK_AFTER:
                    async with self._lock:
                        result = await self._attempt(ops, lock)
                    if isinstance(result, _Done):
                        if result.wrote:
                            lock = None  # the commit script released it
                        return self._align(batch, result.outcomes)
                    if result.status == CONFLICT:
                        conflicts += result.conflicts
                        if lock is not None:  # it expired and someone else committed
                            await self._release_lock(lock)
                            lock = None
                        self._take_waiting(batch)
                        continue
                # Another replica holds the commit lock: wait until it committed.
                if time.monotonic() > deadline:
                    raise StoreError(
                        f"the push waited {COMMIT_DEADLINE:g}s for its turn among the gateway"
                        f" replicas writing to {self.name} and was not stored; retry it"
                    )
                self._advanced.clear()
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._advanced.wait(), LOCK_WAIT)
                self._take_waiting(batch)
        except (RedisError, OSError) as e:
            self._synced = False
            self._set_stale(True, e)
            await self._reset_quietly()
            error: PushgateError = StoreError(
                f"the Redis store at {self.name} failed ({_describe(e)}); nothing was"
                " stored, retry the push later"
            )
        except PushgateError as e:
            self._synced = False
            error = e if isinstance(e, StoreError) else StoreError(str(e))
        finally:
            if lock is not None:
                await self._release_lock(lock)
        return [None if op.kind == "stop" else error for op, _ in batch]

    @staticmethod
    def _align(batch: list[_Waiting], outcomes: list[object]) -> list[object]:
        """The outcomes of the non-stop operations, spread over the whole batch."""
        results = iter(outcomes)
        return [None if op.kind == "stop" else next(results) for op, _ in batch]

    async def _attempt(self, ops: list[_Op], lock: str | None) -> _Done | _Retry:
        """One plan, committed (perhaps rebased); the caller holds ``self._lock``."""
        if not self._synced:
            await self._sync()
        undo: list[Change] = []
        changes: dict[GroupingKey, Group | None] = {}
        swept = self._policy.due(self._clock())
        if swept:
            self._apply(_Op("sweep"), undo, changes)  # writes never see expired groups
        outcomes = [self._apply_one(op, undo, changes) for op in ops]
        rebase = None if swept else self._rebase_basis(ops, outcomes, changes)
        conflicts = 0
        while True:
            token = secrets.token_hex(8)
            try:
                reply = await self._commit(changes, token, lock)
            except BaseException:
                self._undo(undo)
                raise
            if reply.status == COMMITTED:
                self._policy.commit()
                self._head = reply.head
                self._set_stale(False)
                wanted = self._options.wait_replicas
                if reply.confirmed is not None and reply.confirmed < wanted:
                    error = StoreError(
                        f"the write was applied on the Redis primary of {self.name}, but only"
                        f" {reply.confirmed} of {wanted} Redis replicas confirmed it within"
                        f" {self._options.wait_timeout:g}s, so it could be lost if the primary"
                        " failed now; retrying the push is safe"
                    )
                    outcomes = [error for _ in ops]
                return _Done(outcomes, wrote=bool(changes))
            if reply.status == CONFLICT and any(e.token == token for e in reply.entries):
                # An earlier, retried run of this very commit went through.
                self._undo(undo, forget=False)
                self._follow_entries(reply.entries, token)
                self._policy.commit()
                return _Done(outcomes, wrote=True)
            if reply.status == CONFLICT:
                conflicts += 1
            if reply.status == CONFLICT and rebase is not None and conflicts < LOCK_AFTER:
                decoded, chained = self._decode_new(reply.entries)
                caught_up = bool(decoded) and decoded[-1][0].entry_id == reply.head.entry_id
                if chained and caught_up and not rebase.interferes(decoded):
                    # The other commits touch nothing this plan depends on:
                    # put them under it and commit the same plan again.
                    self._apply_decoded(decoded, None)
                    continue
            self._undo(undo)
            if reply.status == CONFLICT:
                chained, _ = self._follow_entries(reply.entries, None)
                if not chained or self._head != reply.head:
                    self._synced = False
            return _Retry(reply.status, conflicts)

    def _rebase_basis(
        self,
        ops: list[_Op],
        outcomes: list[object],
        changes: Mapping[GroupingKey, Group | None],
    ) -> _Rebase | None:
        """What a plan depends on, if it can be rebased at all (see :class:`_Rebase`)."""
        policy = self._policy.policy
        if policy.retention.keep or policy.limits != SeriesLimits():
            return None  # evictions and limits depend on counts across groups
        if any(isinstance(outcome, PushgateError) for outcome in outcomes):
            return None  # a rejection was decided against the old state
        keys = set(changes)
        for op in ops:
            if op.kind == "write" and op.request is not None:
                keys.add(op.request.key)
            elif op.kind == "failure":
                keys.add(op.key)
            else:
                return None  # wipe, sweep, configure: the whole store
        return _Rebase.of(keys, changes)

    async def _reset_quietly(self) -> None:
        with suppress(RedisError, OSError):
            await self._connector.reset()

    async def _eval(self, script: _Script, keys: Sequence[str], args: Sequence[Any]) -> Any:
        client = await self._connector.primary()
        for _ in range(2):
            try:
                return await _call(client, "EVALSHA", script.sha, len(keys), *keys, *args)
            except NoScriptError:
                await _call(client, "SCRIPT", "LOAD", script.source)
        raise StoreError(f"Redis at {self.name} does not keep pushgate's scripts (SCRIPT LOAD)")

    async def _take_lock(self) -> str | None:
        """Take the commit lock and catch up, or ``None`` if another replica has it."""
        token = secrets.token_hex(8)
        keys = self._keys
        async with self._lock:
            reply = await self._eval(
                _LOCK,
                (keys.lock, keys.head, keys.changes),
                (token, LOCK_MS, self._head.entry_id),
            )
            if int(reply[0]) != 1:
                return None
            head = Head.from_bytes(reply[1])
            chained, _ = self._follow_entries(parse_entries(reply[2]), None)
            if not chained or self._head != head:
                self._synced = False
        return token

    async def _release_lock(self, token: str) -> None:
        with suppress(RedisError, OSError, PushgateError):
            await self._eval(_UNLOCK, (self._keys.lock,), (token,))

    async def _commit(
        self, changes: Mapping[GroupingKey, Group | None], token: str, lock: str | None
    ) -> _Reply:
        """Run the commit script (and WAIT); see redis_changes.COMMIT_SCRIPT."""
        args: list[bytes | str | int] = [
            self._head.encode(),
            self._options.stream_maxlen,
            token,
            lock or "",
        ]
        for key, group in changes.items():
            args.append(encode_key(key).encode())
            args.append(b"" if group is None else encode_group(group))
        keys = self._keys
        waiting = bool(changes) and self._options.wait_replicas > 0
        client = await self._connector.primary()
        for _ in range(2):
            pipe = client.pipeline(transaction=False)
            pipe.execute_command(
                "EVALSHA", _COMMIT.sha, 4, keys.head, keys.groups, keys.changes, keys.lock, *args
            )
            if waiting:
                # On the connection that wrote: WAIT counts this client's writes.
                timeout_ms = max(1, round(self._options.wait_timeout * 1000))
                pipe.execute_command("WAIT", self._options.wait_replicas, timeout_ms)
            results = await pipe.execute(raise_on_error=False)
            reply = results[0]
            if isinstance(reply, NoScriptError):
                await _call(client, "SCRIPT", "LOAD", _COMMIT.source)
                continue
            if isinstance(reply, BaseException):
                raise reply
            status = int(reply[0])
            head = Head.from_bytes(reply[1])
            if status == CONFLICT:
                return _Reply(status, head, parse_entries(reply[2]))
            confirmed = results[1] if waiting and status == COMMITTED else None
            if isinstance(confirmed, BaseException):
                raise confirmed
            return _Reply(status, head, [], None if confirmed is None else int(confirmed))
        raise StoreError(f"Redis at {self.name} does not keep pushgate's scripts (SCRIPT LOAD)")

    # -- following Redis ---------------------------------------------------
    def _apply_remote(self, changes: Sequence[tuple[GroupingKey, Group | None]]) -> None:
        """Apply another replica's net changes to the local state.

        Applied one by one in any order, the net changes of a batch pass only
        through states the indexes can represent, except when a family's type
        changes hands between groups (the type index keeps the type it has
        while any group still has the family). Only then is every changed
        group removed first and the new groups added after, which passes only
        through subsets of consistent states; otherwise each group is
        replaced directly, so a re-push with the same series updates its
        lines in place.
        """
        state = self._state
        stamp = self._policy.stamp  # expires_at is derived from the local rules
        if not any(self._changes_a_type(group) for _, group in changes):
            for key, group in changes:
                state.replace_group(key, None if group is None else stamp(group))
            return
        for key, _ in changes:
            if state.group(key) is not None:
                state.replace_group(key, None)
        for key, group in changes:
            if group is not None:
                state.replace_group(key, stamp(group))

    def _changes_a_type(self, group: Group | None) -> bool:
        if group is None:
            return False
        for name, stored in group.families.items():
            known = self._state.family_type(name)
            if known is not None and not stored.empty and known[0] != stored.type:
                return True
        return False

    def _decode_new(self, entries: list[ChangeEntry]) -> tuple[list[_Decoded], bool]:
        """The entries that continue the local chain, decoded; and whether it held.

        Entries at or before the local head (this replica's own commits) are
        skipped; decoding stops at the first entry that does not continue
        the chain.
        """
        out: list[_Decoded] = []
        last = self._head.entry_id
        where = f"Redis store {self.name}"
        for entry in entries:
            if stream_id_order(entry.entry_id) <= stream_id_order(last):
                continue
            if entry.previous != last:
                return out, False
            changes = [
                (decode_key(key), decode_group(body, where) if body else None)
                for key, body in entry.changes
            ]
            out.append((entry, changes))
            last = entry.entry_id
        return out, True

    def _apply_decoded(self, decoded: list[_Decoded], token: str | None) -> bool:
        """Apply decoded entries; return whether one carried ``token``."""
        ours = False
        for entry, changes in decoded:
            self._apply_remote(changes)
            self._head = Head(entry.version, entry.entry_id)
            self._advanced.set()
            ours = ours or entry.token == token
        return ours

    def _follow_entries(self, entries: list[ChangeEntry], token: str | None) -> tuple[bool, bool]:
        """Apply the entries that continue the local chain.

        Returns (the chain held, an entry carried ``token``).
        """
        decoded, chained = self._decode_new(entries)
        return chained, self._apply_decoded(decoded, token)

    async def _sync(self) -> None:
        """Bring the local state to Redis's head: replay the stream, else reload all.

        The caller holds ``self._lock``.
        """
        client = await self._connector.primary()
        keys = self._keys
        while self._head != EMPTY_HEAD:
            pipe = client.pipeline(transaction=True)
            pipe.execute_command(
                "XRANGE", keys.changes, "(" + self._head.entry_id, "+", "COUNT", READ_COUNT
            )
            pipe.execute_command("GET", keys.head)
            raw_entries, raw_head = await pipe.execute()
            head = Head.from_bytes(raw_head)
            entries = parse_entries(raw_entries)
            chained, _ = self._follow_entries(entries, None)
            if self._head == head:
                self._synced = True
                return
            if not chained or len(entries) < READ_COUNT:
                break
        await self._reload(client)
        self._synced = True

    async def _reload(self, client: Redis) -> None:
        """Replace the local state by Redis's groups (one atomic read)."""
        keys = self._keys
        pipe = client.pipeline(transaction=True)
        pipe.execute_command("GET", keys.head)
        pipe.execute_command("HGETALL", keys.groups)
        raw_head, raw_groups = await pipe.execute()
        head = Head.from_bytes(raw_head)
        where = f"Redis store {self.name}"
        bodies = raw_groups.values() if isinstance(raw_groups, Mapping) else raw_groups[1::2]
        loaded: dict[GroupingKey, Group] = {}
        for body in bodies:
            group = self._policy.stamp(decode_group(body, where))
            loaded[group.key] = group
        changed: list[tuple[GroupingKey, Group | None]] = [
            (group.key, loaded.get(group.key))
            for group in self._state
            if loaded.get(group.key) != group
        ]
        changed.extend(
            (key, group) for key, group in loaded.items() if self._state.group(key) is None
        )
        self._apply_remote(changed)
        if self._head != EMPTY_HEAD:
            log.info(
                "reloaded the Redis store %s at version %d (%d groups changed)",
                self.name,
                head.version,
                len(changed),
            )
        self._head = head

    async def _follow(self) -> None:
        """Keep the local state current from the change stream, forever."""
        delay = 0.05
        keys = self._keys
        while not self._stopping:
            try:
                if not self._synced:
                    async with self._lock:
                        if not self._synced:
                            await self._sync()
                client = await self._connector.primary()
                reply = await _call(
                    client,
                    "XREAD",
                    "COUNT",
                    READ_COUNT,
                    "BLOCK",
                    self._block_ms,
                    "STREAMS",
                    keys.changes,
                    self._head.entry_id,
                )
                async with self._lock:
                    if reply:
                        streams = (
                            reply.values()
                            if isinstance(reply, Mapping)
                            else [item[1] for item in reply]
                        )
                        for raw in streams:
                            chained, _ = self._follow_entries(parse_entries(raw), None)
                            if not chained:
                                self._synced = False
                    else:
                        # Nothing new for a while: check that the history we
                        # follow is still Redis's (a flush or a failover may
                        # have replaced it without a new entry).
                        raw_head = await _call(client, "GET", keys.head)
                        if Head.from_bytes(raw_head) != self._head:
                            self._synced = False
                if self._synced:
                    self._set_stale(False)
                delay = 0.05
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, PushgateError) as e:
                if self._stopping:
                    return
                self._synced = False
                self._set_stale(True, e)
                await self._reset_quietly()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
            except Exception:
                if self._stopping:
                    return
                log.exception("following the Redis store %s failed", self.name)
                self._synced = False
                await asyncio.sleep(1.0)
