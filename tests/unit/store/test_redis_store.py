"""The Redis store with several replicas in one process, against a real Redis.

Each test opens two or three :class:`RedisStore` instances on one key prefix:
they behave as gateway replicas do (one writer each, a follower each), only
without HTTP. The cross-process tests are in tests/integration/test_redis_*.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pushgate.core.errors import ConsistencyError, StoreError, StoreOpenError
from pushgate.core.model import Metric, MetricFamily
from pushgate.server.selfmetrics import OWN_TYPES
from pushgate.store.contract import WriteRequest
from pushgate.store.redis import RedisStore
from tests.redisproc import RedisProcess, redis_farm

KEY_A = (("job", "a"),)
KEY_B = (("job", "b"),)


def gauge(name: str, value: float, **labels: str) -> MetricFamily:
    return MetricFamily(name, "gauge", "h", (Metric(tuple(labels.items()), value=float(value)),))


def counter(name: str, value: float) -> MetricFamily:
    return MetricFamily(name, "counter", None, (Metric((), value=float(value)),))


def put(
    key: tuple[tuple[str, str], ...], *families: MetricFamily, ts: float = 100.0
) -> WriteRequest:
    return WriteRequest(key, "put", families, ts)


async def eventually(check: Callable[[], bool], what: str, timeout: float = 1.0) -> None:
    """Wait until ``check()``; the replicas promise one second."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        await asyncio.sleep(0.005)


Body = Callable[[list[RedisStore]], Awaitable[None]]


async def with_replicas(url: str, count: int, body: Body) -> None:
    stores = [RedisStore.from_url(url, OWN_TYPES) for _ in range(count)]
    try:
        for store in stores:
            await store.start()
        await body(stores)
    finally:
        for store in stores:
            await store.close()


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coro)


def test_a_write_on_one_replica_is_seen_by_the_others(redis_url: str) -> None:
    async def body(stores: list[RedisStore]) -> None:
        a, b, c = stores
        await a.write(put(KEY_A, gauge("m", 1)))
        await eventually(lambda: b.group(KEY_A) is not None and c.group(KEY_A) is not None, "seen")
        await c.write(put(KEY_B, gauge("m", 2, x="y")))
        await eventually(lambda: a.group(KEY_B) is not None, "seen back")
        await eventually(
            lambda: a.render_text([]) == b.render_text([]) == c.render_text([]), "same"
        )
        assert await b.wipe() == 2
        await eventually(lambda: len(a) == len(c) == 0, "wiped everywhere")

    run(with_replicas(redis_url, 3, body))


def test_conflicting_types_rejected_across_replicas(redis_url: str) -> None:
    async def body(stores: list[RedisStore]) -> None:
        a, b = stores
        await a.write(put(KEY_A, counter("c", 1)))
        # No waiting: b must check against Redis's state, not its cache.
        with pytest.raises(ConsistencyError, match=r'"c" .* is not a COUNTER'):
            await b.write(put(KEY_B, gauge("c", 1), ts=200))
        failed = b.group(KEY_B)
        assert failed is not None and failed.push_failure_time == 200

    run(with_replicas(redis_url, 2, body))


def test_a_delete_right_after_a_write_elsewhere_deletes(redis_url: str) -> None:
    async def body(stores: list[RedisStore]) -> None:
        a, b = stores
        for i in range(20):
            key = (("job", f"j{i}"),)
            await a.write(put(key, gauge("m", i)))
            await b.write(WriteRequest(key, "delete", (), 100.0))
            assert b.group(key) is None
        await eventually(lambda: len(a) == 0, "deleted on a too")

    run(with_replicas(redis_url, 2, body))


def test_concurrent_writers_converge(redis_url: str) -> None:
    async def body(stores: list[RedisStore]) -> None:
        writes = []
        for i in range(600):
            store = stores[i % 3]
            key = (("job", f"j{i % 40}"),)
            writes.append(store.write(put(key, gauge("m", i), ts=float(i))))
        results = await asyncio.gather(*writes, return_exceptions=True)
        assert [r for r in results if r is not None] == []
        a, b, c = stores
        await eventually(lambda: a.version == b.version == c.version, "same version")
        assert a.render_text([]) == b.render_text([]) == c.render_text([])
        assert len(a) == 40
        for j in range(40):
            group = a.group((("job", f"j{j}"),))
            assert group is not None
            # Some write to that group won, whole: its value and time agree.
            value = group.families["m"].family.metrics[0].value
            assert value % 40 == j and group.push_time == value

    run(with_replicas(redis_url, 3, body))


SUMMARY = MetricFamily("s", "summary", None, (Metric((), sample_count=1, sample_sum=2.0),))
RACES = {
    # Each pair is consistent alone and inconsistent together.
    "type": [
        put((("job", "x"),), MetricFamily("t", "counter", None, (Metric((), 1.0),))),
        put((("job", "y"),), MetricFamily("t", "gauge", None, (Metric((), 1.0),))),
    ],
    "series": [
        put(KEY_A, gauge("m", 1, instance="i")),
        put((("instance", "i"), ("job", "a")), gauge("m", 2)),
    ],
    "suffix": [put(KEY_A, SUMMARY), put(KEY_B, gauge("s_count", 1))],
}


@pytest.mark.parametrize("race", sorted(RACES))
def test_conflicting_pushes_race_to_one_winner(redis_url: str, race: str) -> None:
    async def body(stores: list[RedisStore]) -> None:
        a, b = stores
        for round_ in range(10):
            # Both replicas plan against the same state and commit at once:
            # the one that commits second must see the first and reject.
            first, second = RACES[race]
            results = await asyncio.gather(
                a.write(replace(first, timestamp=float(round_))),
                b.write(replace(second, timestamp=float(round_))),
                return_exceptions=True,
            )
            assert sorted(type(r).__name__ for r in results) == ["ConsistencyError", "NoneType"]
            await eventually(lambda: a.render_text([]) == b.render_text([]), "same")
            await a.wipe()
            await eventually(lambda: len(b) == 0, "wiped")

    run(with_replicas(redis_url, 2, body))


def test_type_conflicts_race_to_one_winner(redis_url: str) -> None:
    async def body(stores: list[RedisStore]) -> None:
        # Three replicas, three groups, one family name, three types, all at once.
        kinds = ("counter", "gauge", "untyped")
        results = await asyncio.gather(
            *(
                store.write(
                    put((("job", kind),), MetricFamily("t", kind, None, (Metric((), 1.0),)))
                )
                for store, kind in zip(stores, kinds, strict=True)
            ),
            return_exceptions=True,
        )
        assert [r for r in results if r is None] == [None]
        assert all(isinstance(r, ConsistencyError) for r in results if r is not None)
        a, b, c = stores
        await eventually(
            lambda: a.render_text([]) == b.render_text([]) == c.render_text([]), "same"
        )
        assert a.render_text([]).count(b"# TYPE t ") == 1

    run(with_replicas(redis_url, 3, body))


def test_unrelated_commits_are_rebased_not_replanned(redis_url: str) -> None:
    async def body(stores: list[RedisStore]) -> None:
        a, b = stores
        # Many disjoint groups sharing family names and types: conflicts
        # between the replicas are rebased; everything is accepted.
        writes = [
            (a if i % 2 else b).write(put((("job", f"j{i}"),), gauge("m", i), ts=float(i)))
            for i in range(300)
        ]
        assert set(await asyncio.gather(*writes)) == {None}
        await eventually(lambda: a.version == b.version, "same version")
        assert a.render_text([]) == b.render_text([])
        assert len(a) == 300

    run(with_replicas(redis_url, 2, body))


def test_reopening_reloads_everything(redis_url: str) -> None:
    async def write(stores: list[RedisStore]) -> None:
        for i in range(50):
            await stores[0].write(put((("job", f"j{i}"),), gauge("m", i)))

    async def check(stores: list[RedisStore]) -> None:
        assert len(stores[0]) == 50
        assert stores[0].version == 50

    run(with_replicas(redis_url, 1, write))
    run(with_replicas(redis_url, 1, check))


def test_a_flushed_redis_is_noticed(redis_url: str, redis_server: RedisProcess) -> None:
    async def body(stores: list[RedisStore]) -> None:
        (a,) = stores
        await a.write(put(KEY_A, gauge("m", 1)))
        prefix = redis_url.rpartition("prefix=")[2]
        with redis_server.client() as c:
            c.delete(f"{{{prefix}}}:groups", f"{{{prefix}}}:head", f"{{{prefix}}}:changes")
        # The follower checks the head when the stream is idle (every second).
        await eventually(lambda: len(a) == 0, "reloaded empty", timeout=3.0)
        await a.write(put(KEY_B, gauge("m", 1)))
        assert a.version == 1

    run(with_replicas(redis_url, 1, body))


def test_wait_for_replicas_that_do_not_exist_fails_the_ack(redis_url: str) -> None:
    url = redis_url + "&wait_replicas=1&wait_timeout=0.05"

    async def body(stores: list[RedisStore]) -> None:
        (a,) = stores
        with pytest.raises(StoreError, match="only 0 of 1 Redis replicas confirmed"):
            await a.write(put(KEY_A, gauge("m", 1)))
        # Applied on the primary all the same (WAIT cannot roll back).
        assert a.group(KEY_A) is not None

    run(with_replicas(url, 1, body))


def test_redis_down_then_back(tmp_path: Path) -> None:
    with redis_farm(tmp_path) as farm:
        server = farm.server()
        url = server.url + "?socket_timeout=1&socket_connect_timeout=0.5"

        async def body(stores: list[RedisStore]) -> None:
            a, b = stores
            await a.write(put(KEY_A, gauge("m", 1)))
            await eventually(lambda: b.group(KEY_A) is not None, "seen")
            before = b.render_text([])
            server.kill()
            with pytest.raises(StoreError) as caught:
                await b.write(put(KEY_B, gauge("m", 2)))
            message = str(caught.value)
            assert server.url in message and "nothing was stored" in message
            assert b.group(KEY_B) is None  # nothing half-applied
            await eventually(lambda: a.stale and b.stale, "stale", timeout=3.0)
            assert b.render_text([]) == before  # reads keep the last known state
            assert not b.healthy
            server.start()  # Redis comes back: same port, same append-only file
            await eventually(lambda: not a.stale and not b.stale, "in sync again", timeout=5.0)
            await b.write(put(KEY_B, gauge("m", 2)))
            await eventually(lambda: a.group(KEY_B) is not None, "seen after recovery")
            assert a.group(KEY_A) is not None  # the AOF kept the acknowledged write

        run(with_replicas(url, 2, body))


def test_unreachable_redis_at_start_is_an_open_error() -> None:
    url = "redis://:secret@127.0.0.1:1/0?start_timeout=0.3&socket_connect_timeout=0.1"
    store = RedisStore.from_url(url, OWN_TYPES)

    async def start() -> None:
        try:
            await store.start()
        finally:
            await store.close()

    with pytest.raises(StoreOpenError, match="cannot reach the Redis store") as caught:
        asyncio.run(start())
    assert "secret" not in str(caught.value)


def test_a_type_handed_between_groups_in_one_batch_is_followed(redis_url: str) -> None:
    async def body(stores: list[RedisStore]) -> None:
        a, b = stores
        await a.write(put(KEY_A, counter("x", 1)))
        await eventually(lambda: b.group(KEY_A) is not None, "seen")
        # One batch on a (queued together): B appears first, then A's counter
        # goes away and B takes the name as a gauge. Its net changes list B
        # before A, which b must not apply naively.
        await asyncio.gather(
            a.write(put(KEY_B, gauge("z", 1))),
            a.write(WriteRequest(KEY_A, "delete", (), 100.0)),
            a.write(put(KEY_B, gauge("x", 2), ts=101)),
        )
        await eventually(lambda: b.group(KEY_A) is None, "followed")
        assert b"# TYPE x gauge" in b.render_text([])
        # b's index knows x is a gauge now: another gauge x is fine there.
        await b.write(put((("job", "c"),), gauge("x", 3)))

    run(with_replicas(redis_url, 2, body))
