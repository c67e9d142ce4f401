"""The store contract (pushgate.store.contract), for every backend.

Each test runs against the memory store, the durable SQLite store and the
shared Redis store (a real redis-server); the durable ones are also reopened
to prove what was acknowledged was kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

from pushgate.core.errors import ConsistencyError
from pushgate.core.model import Metric, MetricFamily
from pushgate.server.selfmetrics import OWN_TYPES
from pushgate.store import JournaledStore, open_store
from pushgate.store.contract import WriteRequest

KEY_A = (("job", "a"),)
KEY_AI = (("instance", "i"), ("job", "a"))
KEY_B = (("job", "b"),)


def gauge(name: str, value: float, help_: str | None = "h", **labels: str) -> MetricFamily:
    return MetricFamily(name, "gauge", help_, (Metric(tuple(labels.items()), value=float(value)),))


def counter(name: str, value: float, **labels: str) -> MetricFamily:
    return MetricFamily(name, "counter", None, (Metric(tuple(labels.items()), value=float(value)),))


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


StoreFactory = Callable[[], JournaledStore]


@pytest.fixture(params=["memory", "sqlite", "redis"])
def factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    if request.param == "redis":  # a real redis-server (tests/unit/store/conftest.py)
        url: str = request.getfixturevalue("redis_url")
        yield lambda: open_store(None, own_types=OWN_TYPES, url=url)
        return
    path = None if request.param == "memory" else tmp_path / "store.db"
    yield lambda: open_store(path, own_types=OWN_TYPES)


@pytest.fixture(params=["sqlite", "redis"])
def durable(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    if request.param == "redis":
        url: str = request.getfixturevalue("redis_url")
        return lambda: open_store(None, own_types=OWN_TYPES, url=url)
    return lambda: open_store(tmp_path / "store.db", own_types=OWN_TYPES)


async def with_store(
    factory: StoreFactory, body: Callable[[JournaledStore], Coroutine[Any, Any, Any]]
) -> Any:
    store = factory()
    await store.start()
    try:
        return await body(store)
    finally:
        await store.close()


def put(
    key: tuple[tuple[str, str], ...], *families: MetricFamily, ts: float = 100.0
) -> WriteRequest:
    return WriteRequest(key, "put", families, ts)


def post(
    key: tuple[tuple[str, str], ...], *families: MetricFamily, ts: float = 100.0
) -> WriteRequest:
    return WriteRequest(key, "post", families, ts)


def delete(key: tuple[tuple[str, str], ...], ts: float = 100.0) -> WriteRequest:
    return WriteRequest(key, "delete", (), ts)


def names(store: JournaledStore, key: tuple[tuple[str, str], ...]) -> list[str]:
    group = store.group(key)
    assert group is not None
    return sorted(group.families)


def test_put_sanitises_and_adds_push_gauges(factory: StoreFactory) -> None:
    async def body(store: JournaledStore) -> None:
        await store.write(put(KEY_A, gauge("m", 1.0, job="other", x="y")))
        group = store.group(KEY_A)
        assert group is not None
        assert sorted(group.families) == ["m", "push_failure_time_seconds", "push_time_seconds"]
        (metric,) = group.families["m"].family.metrics
        assert metric.labels == (("instance", ""), ("job", "a"), ("x", "y"))
        assert group.push_time == 100.0
        assert group.push_failure_time == 0.0
        assert group.last_push_successful

    run(with_store(factory, body))


def test_put_replaces_post_merges(factory: StoreFactory) -> None:
    async def body(store: JournaledStore) -> None:
        await store.write(put(KEY_A, gauge("a", 1), gauge("b", 1)))
        await store.write(post(KEY_A, gauge("b", 2), gauge("c", 2), ts=200))
        group = store.group(KEY_A)
        assert group is not None
        assert group.families["a"].family.metrics[0].value == 1
        assert group.families["a"].last_push == 100
        assert group.families["b"].family.metrics[0].value == 2
        assert group.families["c"].last_push == 200
        await store.write(put(KEY_A, gauge("c", 3), ts=300))
        assert names(store, KEY_A) == ["c", "push_failure_time_seconds", "push_time_seconds"]

    run(with_store(factory, body))


def test_empty_put_keeps_group_empty_post_bumps_time(factory: StoreFactory) -> None:
    async def body(store: JournaledStore) -> None:
        await store.write(put(KEY_A, gauge("a", 1)))
        await store.write(post(KEY_A, ts=150))
        assert "a" in names(store, KEY_A)
        group = store.group(KEY_A)
        assert group is not None and group.push_time == 150
        await store.write(put(KEY_A, ts=160))
        assert names(store, KEY_A) == ["push_failure_time_seconds", "push_time_seconds"]

    run(with_store(factory, body))


def test_delete_exact_key_only(factory: StoreFactory) -> None:
    async def body(store: JournaledStore) -> None:
        await store.write(put(KEY_A, gauge("a", 1)))
        await store.write(put(KEY_AI, gauge("a", 1)))
        await store.write(delete(KEY_A))
        assert store.group(KEY_A) is None
        assert store.group(KEY_AI) is not None
        await store.write(delete(KEY_B))  # deleting a missing group is a no-op

    run(with_store(factory, body))


def test_type_conflict_rejected_and_failure_recorded(factory: StoreFactory) -> None:
    async def body(store: JournaledStore) -> None:
        await store.write(put(KEY_A, counter("tc", 1)))
        with pytest.raises(ConsistencyError, match=r'collected metric "tc" .* is not a COUNTER'):
            await store.write(put(KEY_B, gauge("tc", 1), ts=200))
        failed = store.group(KEY_B)
        assert failed is not None
        assert failed.push_time == 0 and failed.push_failure_time == 200
        assert not failed.last_push_successful
        # Changing the type within the only group that has the family is fine.
        await store.write(put(KEY_A, gauge("tc", 1)))

    run(with_store(factory, body))


def test_duplicate_series_across_groups(factory: StoreFactory) -> None:
    async def body(store: JournaledStore) -> None:
        await store.write(put(KEY_A, gauge("m", 1, instance="i")))
        with pytest.raises(ConsistencyError, match="was collected before with the same name"):
            # {job="a",instance="i"} exposes m{instance="i",job="a"} too.
            await store.write(put(KEY_AI, gauge("m", 1)))
        # {job=a} and {job=a,instance=""} expose identical push_time_seconds series.
        with pytest.raises(ConsistencyError, match="was collected before"):
            await store.write(put((("instance", ""), ("job", "a")), gauge("other", 1)))

    run(with_store(factory, body))


def test_suffix_collisions(factory: StoreFactory) -> None:
    summary = MetricFamily("s", "summary", None, (Metric((), sample_count=1, sample_sum=2.0),))

    async def body(store: JournaledStore) -> None:
        await store.write(put(KEY_A, gauge("s_count", 1)))
        with pytest.raises(ConsistencyError, match='named "s" collides with previously'):
            await store.write(put(KEY_B, summary))
        await store.write(delete(KEY_A))
        await store.write(put(KEY_B, summary))
        with pytest.raises(ConsistencyError, match='"s_sum" collides with previously collected'):
            await store.write(put(KEY_A, gauge("s_sum", 1)))

    run(with_store(factory, body))


def test_timestamps_rejected(factory: StoreFactory) -> None:
    stamped = MetricFamily("t", "gauge", None, (Metric((), value=1, timestamp_ms=5),))

    async def body(store: JournaledStore) -> None:
        with pytest.raises(ConsistencyError, match="must not have timestamps"):
            await store.write(put(KEY_A, stamped))
        group = store.group(KEY_A)
        assert group is not None and "t" not in group.families

    run(with_store(factory, body))


def test_own_metric_type_conflict(factory: StoreFactory) -> None:
    async def body(store: JournaledStore) -> None:
        with pytest.raises(ConsistencyError, match="process_cpu_seconds_total has type GAUGE"):
            await store.write(put(KEY_A, gauge("process_cpu_seconds_total", 1)))

    run(with_store(factory, body))


def test_invalid_label_names_and_values(factory: StoreFactory) -> None:
    async def body(store: JournaledStore) -> None:
        with pytest.raises(ConsistencyError, match="invalid name: __x"):
            await store.write(put(KEY_A, gauge("m", 1, __x="1")))
        with pytest.raises(ConsistencyError, match="not utf8"):
            await store.write(put(KEY_A, gauge("m", 1, x="\udcff")))

    run(with_store(factory, body))


def test_wipe_is_atomic(factory: StoreFactory) -> None:
    async def body(store: JournaledStore) -> None:
        for i in range(10):
            await store.write(put((("job", f"j{i}"),), gauge("m", i, n=str(i))))
        assert await store.wipe() == 10
        assert store.groups() == []

    run(with_store(factory, body))


def test_concurrent_writes_keep_order(factory: StoreFactory) -> None:
    async def body(store: JournaledStore) -> None:
        ops = []
        for i in range(200):
            ops.append(store.write(put(KEY_A, gauge("m", i), ts=float(i))))
            if i % 7 == 0:
                ops.append(store.write(delete(KEY_A)))
        await asyncio.gather(*ops)
        group = store.group(KEY_A)
        assert group is not None
        assert group.families["m"].family.metrics[0].value == 199

    run(with_store(factory, body))


def test_render_text_merges_and_sorts(factory: StoreFactory) -> None:
    async def body(store: JournaledStore) -> None:
        await store.write(put(KEY_B, gauge("zz", 2), gauge("aa", 1)))
        await store.write(put(KEY_A, gauge("zz", 1)))
        text = store.render_text([]).decode()
        lines = [line for line in text.splitlines() if not line.startswith("#")]
        assert lines.index('aa{instance="",job="b"} 1') < lines.index('zz{instance="",job="a"} 1')
        assert lines.index('zz{instance="",job="a"} 1') < lines.index('zz{instance="",job="b"} 2')
        assert text.count("# TYPE zz gauge") == 1
        # The cache is invalidated by a write.
        await store.write(put(KEY_A, gauge("zz", 5)))
        assert 'zz{instance="",job="a"} 5' in store.render_text([]).decode()

    run(with_store(factory, body))


def test_durable_store_survives_reopen(durable: StoreFactory) -> None:
    async def write_all(store: JournaledStore) -> None:
        await store.write(put(KEY_A, gauge("a", 1.5, help_="help a"), ts=111.25))
        await store.write(put(KEY_B, counter("c", 2)))
        with pytest.raises(ConsistencyError):
            await store.write(put(KEY_AI, gauge("c", 1), ts=222.0))
        await store.write(delete(KEY_B))

    async def check(store: JournaledStore) -> None:
        a = store.group(KEY_A)
        assert a is not None
        assert a.families["a"].family.help == "help a"
        assert a.push_time == 111.25 and a.families["a"].last_push == 111.25
        assert store.group(KEY_B) is None
        failed = store.group(KEY_AI)
        assert failed is not None and failed.push_failure_time == 222.0

    run(with_store(durable, write_all))
    run(with_store(durable, check))
