"""Expiry, retention by count and series limits in the store, with a fake clock.

Nothing sleeps: the clock is moved by hand, and sweeps are awaited. The
durable variants reopen the SQLite file to prove what survives a restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from pushgate.core.errors import ConsistencyError, LimitError
from pushgate.core.model import GroupingKey, Metric, MetricFamily
from pushgate.core.selector import parse_selector
from pushgate.core.textformat import render_text
from pushgate.server.selfmetrics import OWN_TYPES, SelfMetrics
from pushgate.store import JournaledStore, open_store
from pushgate.store.contract import WriteRequest
from pushgate.store.limits import SeriesLimits, family_samples
from pushgate.store.policy import StorePolicy, merge_visible
from pushgate.store.retention import ExpiryRule, KeepRule, RetentionPolicy
from pushgate.store.sqlite import SqliteJournal
from tests.unit.store.fakes import DAY, T0, FakeClock, RecordingJournal

KEY = (("job", "a"),)


def gauge(name: str, value: float = 1.0, **labels: str) -> MetricFamily:
    return MetricFamily(name, "gauge", "h", (Metric(tuple(labels.items()), float(value)),))


def gauges(name: str, n: int) -> MetricFamily:
    metrics = tuple(Metric((("n", str(i)),), float(i)) for i in range(n))
    return MetricFamily(name, "gauge", "h", metrics)


def put(
    key: GroupingKey, *families: MetricFamily, ts: float = T0, ttl: float | None = None
) -> WriteRequest:
    return WriteRequest(key, "put", families, ts, ttl)


def post(
    key: GroupingKey, *families: MetricFamily, ts: float = T0, ttl: float | None = None
) -> WriteRequest:
    return WriteRequest(key, "post", families, ts, ttl)


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


def expiry(*rules: tuple[str, float | None], **kw: Any) -> StorePolicy:
    parsed = tuple(ExpiryRule(parse_selector(s), ttl) for s, ttl in rules)
    return StorePolicy(RetentionPolicy(expiry=parsed, **kw))


def keep(n: int, *by: str, match: str = "{}", limits: SeriesLimits | None = None) -> StorePolicy:
    rule = KeepRule(tuple(by), n, parse_selector(match))
    return StorePolicy(RetentionPolicy(keep=(rule,)), limits or SeriesLimits())


StoreFactory = Callable[[FakeClock, StorePolicy | None], JournaledStore]


@pytest.fixture(params=["memory", "sqlite"])
def factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    path = None if request.param == "memory" else tmp_path / "store.db"
    return lambda clock, policy: open_store(path, own_types=OWN_TYPES, policy=policy, clock=clock)


def durable(tmp_path: Path) -> StoreFactory:
    path = tmp_path / "store.db"
    return lambda clock, policy: open_store(path, own_types=OWN_TYPES, policy=policy, clock=clock)


async def started(store: JournaledStore) -> JournaledStore:
    await store.start()
    return store


def stored_keys(path: Path) -> set[GroupingKey]:
    """What the SQLite file holds, read without any policy."""
    journal = SqliteJournal(path)
    try:
        return {g.key for g in journal.load()}
    finally:
        journal.close()


def instance(i: int, branch: str = "main", job: str = "proj") -> GroupingKey:
    return (("branch", branch), ("instance", f"1.0-{i:07x}"), ("job", job))


# -- expiry -----------------------------------------------------------------------------
def test_pusher_ttl_hides_the_group_at_once_and_a_sweep_reclaims_it(
    factory: StoreFactory,
) -> None:
    clock = FakeClock()

    async def body() -> None:
        store = await started(factory(clock, None))
        await store.write(put(KEY, gauge("m"), ttl=60.0))
        await store.write(put((("job", "b"),), gauge("other")))
        group = store.group(KEY)
        assert group is not None and group.expires_at == T0 + 60
        clock.now = T0 + 59.999
        assert store.group(KEY) is not None
        assert b'm{instance="",job="a"}' in store.render_text([])

        clock.now = T0 + 60  # expired: gone from every read before any sweep
        assert store.group(KEY) is None
        assert [g.key for g in store.groups()] == [(("job", "b"),)]
        text = store.render_text([])
        assert b'job="a"' not in text and b"# TYPE m gauge" not in text
        assert b'other{instance="",job="b"}' in text
        assert {f.name for f in store.merged_families([])} == {
            "other",
            "push_time_seconds",
            "push_failure_time_seconds",
        }

        await store.sweep()  # (reads woke the sweeper: it may have been first)
        assert len(store) == 1
        assert store.usage().expired_total == 1
        await store.close()

    run(body())


def test_the_durable_sweep_deletes_from_the_file(tmp_path: Path) -> None:
    clock = FakeClock()
    open_ = durable(tmp_path)

    async def body() -> None:
        store = await started(open_(clock, None))
        await store.write(put(KEY, gauge("m"), ttl=60.0))
        clock.now += 61
        await store.sweep()
        await store.close()

    run(body())
    assert stored_keys(tmp_path / "store.db") == set()


def test_writes_never_see_an_expired_group(factory: StoreFactory) -> None:
    clock = FakeClock()

    async def body() -> None:
        store = await started(factory(clock, None))
        await store.write(put(KEY, gauge("old"), ttl=60.0))
        clock.now = T0 + 100
        # A POST merges with the stored group, but that group has expired.
        await store.write(post(KEY, gauge("new"), ts=clock.now))
        group = store.group(KEY)
        assert group is not None
        assert "old" not in group.families and "new" in group.families
        assert group.expires_at is None  # a POST without TTL keeps the group's: it had none
        assert store.usage().expired_total == 1
        await store.close()

    run(body())


def test_rules_default_and_cap(factory: StoreFactory) -> None:
    clock = FakeClock()
    policy = expiry(
        ('{job=~"ci-.*"}', 30 * DAY),
        ('{job="keep"}', None),
        default_ttl=7 * DAY,
        max_ttl=10 * DAY,
    )

    async def body() -> None:
        store = await started(factory(clock, policy))
        cases: list[tuple[str, float | None, float | None]] = [
            ("ci-shop", None, T0 + 30 * DAY),  # first matching rule
            ("keep", None, None),  # a rule that keeps forever
            ("other", None, T0 + 7 * DAY),  # the default
            ("ci-cap", 20 * DAY, T0 + 10 * DAY),  # the pusher's TTL, capped
            ("ci-short", DAY, T0 + DAY),  # the pusher's TTL beats the rule
        ]
        for job, ttl, _ in cases:
            await store.write(put((("job", job),), gauge(f"m_{job.replace('-', '_')}"), ttl=ttl))
        for job, _, expected in cases:
            group = store.group((("job", job),))
            assert group is not None and group.expires_at == expected, job
        await store.close()

    run(body())


def test_put_sets_the_ttl_post_keeps_it(factory: StoreFactory) -> None:
    clock = FakeClock()

    async def body() -> None:
        store = await started(factory(clock, None))
        await store.write(put(KEY, gauge("a"), ttl=100.0))
        await store.write(post(KEY, gauge("b"), ts=T0 + 50))
        group = store.group(KEY)
        assert group is not None and group.ttl == 100 and group.expires_at == T0 + 150
        await store.write(post(KEY, gauge("b"), ts=T0 + 60, ttl=10.0))
        group = store.group(KEY)
        assert group is not None and group.expires_at == T0 + 70
        await store.write(put(KEY, gauge("c"), ts=T0 + 65))  # a PUT replaces the TTL too
        group = store.group(KEY)
        assert group is not None and group.ttl is None and group.expires_at is None
        await store.close()

    run(body())


def test_a_failed_push_does_not_keep_stale_data_alive(factory: StoreFactory) -> None:
    clock = FakeClock()

    async def body() -> None:
        store = await started(factory(clock, expiry(default_ttl=100.0)))
        counter = MetricFamily("c", "counter", None, (Metric((), 1.0),))
        await store.write(put(KEY, counter))
        with pytest.raises(ConsistencyError):
            await store.write(put((("job", "b"),), gauge("c"), ts=T0 + 50))
        a = store.group(KEY)
        assert a is not None and a.expires_at == T0 + 100
        # A group created by a failed push counts from that failure.
        b = store.group((("job", "b"),))
        assert b is not None and b.push_time == 0 and b.expires_at == T0 + 150
        z = MetricFamily("z", "counter", None, (Metric((), 1.0),))
        await store.write(put((("job", "z"),), z, ts=T0 + 80))
        with pytest.raises(ConsistencyError):
            await store.write(put(KEY, gauge("z"), ts=T0 + 90))  # z is a counter elsewhere
        a = store.group(KEY)
        assert a is not None and a.push_failure_time == T0 + 90 and a.expires_at == T0 + 100
        await store.close()

    run(body())


def test_expiry_survives_a_restart(tmp_path: Path) -> None:
    clock = FakeClock()
    open_ = durable(tmp_path)

    async def first() -> None:
        store = await started(open_(clock, None))
        await store.write(put(KEY, gauge("m"), ttl=100.0))
        await store.write(put((("job", "b"),), gauge("n")))
        await store.close()

    async def later(now: float) -> JournaledStore:
        clock.now = now
        return open_(clock, None)

    run(first())

    async def before_expiry() -> None:
        store = await later(T0 + 50)
        group = store.group(KEY)
        assert group is not None and group.ttl == 100 and group.expires_at == T0 + 100
        await store.close()

    async def after_expiry() -> None:
        store = await later(T0 + 150)  # expired while the gateway was down
        assert store.group(KEY) is None  # hidden before anything started
        await store.start()
        await store.sweep()
        await store.close()

    run(before_expiry())
    run(after_expiry())
    assert stored_keys(tmp_path / "store.db") == {(("job", "b"),)}


def test_new_rules_redate_every_group(factory: StoreFactory) -> None:
    clock = FakeClock()

    async def body() -> None:
        store = await started(factory(clock, None))
        await store.write(put((("job", "ci-a"),), gauge("a")))
        await store.write(put((("job", "other"),), gauge("b")))
        clock.now = T0 + 2 * DAY
        deleted = await store.configure(expiry(('{job=~"ci-.*"}', DAY)))
        assert deleted == 1
        assert [g.key for g in store.groups()] == [(("job", "other"),)]
        await store.configure(expiry(default_ttl=10 * DAY))
        group = store.group((("job", "other"),))
        assert group is not None and group.expires_at == T0 + 10 * DAY
        await store.configure(StorePolicy())  # rules removed: kept forever again
        group = store.group((("job", "other"),))
        assert group is not None and group.expires_at is None
        assert store.usage().expired_total == 1
        await store.close()

    run(body())


def test_rules_changed_while_down_apply_at_start(tmp_path: Path) -> None:
    clock = FakeClock()
    open_ = durable(tmp_path)

    async def first() -> None:
        store = await started(open_(clock, None))
        await store.write(put((("job", "ci-a"),), gauge("a")))
        await store.close()

    async def second() -> None:
        clock.now = T0 + 2 * DAY
        store = open_(clock, expiry(('{job=~"ci-.*"}', DAY)))
        assert store.groups() == []
        await store.start()
        await store.sweep()
        await store.close()

    run(first())
    run(second())
    assert stored_keys(tmp_path / "store.db") == set()


# -- retention by count ------------------------------------------------------------------
def test_retention_keeps_the_newest_per_label_values(factory: StoreFactory) -> None:
    clock = FakeClock()

    async def body() -> None:
        store = await started(factory(clock, keep(3, "job", "branch")))
        for i in range(6):
            await store.write(put(instance(i), gauge("m", i), ts=T0 + i))
        for i in range(2):
            await store.write(put(instance(i, "dev"), gauge("m", i), ts=T0 + 10 + i))
        await store.write(put(instance(0, job="other"), gauge("m"), ts=T0 + 20))
        kept = {g.key for g in store.groups()}
        assert kept == {
            instance(3),
            instance(4),
            instance(5),
            instance(0, "dev"),
            instance(1, "dev"),
            instance(0, job="other"),
        }
        assert store.usage().retention_deleted_total == 3
        await store.close()

    run(body())


def test_retention_deletes_in_the_same_commit_as_the_push() -> None:
    clock = FakeClock()
    journal = RecordingJournal()

    async def body() -> None:
        store = JournaledStore(journal, OWN_TYPES, policy=keep(2, "job"), clock=clock)
        await store.start()
        for i in range(3):
            await store.write(put(instance(i), gauge("m", i), ts=T0 + i))
        await store.close()

    run(body())
    assert journal.commits[-1] == [
        (instance(2), journal.commits[-1][0][1]),
        (instance(0), None),
    ]


def test_a_repush_makes_a_group_the_newest_without_evicting(factory: StoreFactory) -> None:
    clock = FakeClock()

    async def body() -> None:
        store = await started(factory(clock, keep(3, "job", "branch")))
        for i in range(3):
            await store.write(put(instance(i), gauge("m", i), ts=T0 + i))
        await store.write(put(instance(0), gauge("m", 9), ts=T0 + 10))  # no new group
        assert len(store.groups()) == 3
        await store.write(put(instance(3), gauge("m", 3), ts=T0 + 11))
        assert {g.key for g in store.groups()} == {instance(0), instance(2), instance(3)}
        await store.close()

    run(body())


def test_retention_selector_limits_the_rule(factory: StoreFactory) -> None:
    clock = FakeClock()

    async def body() -> None:
        store = await started(factory(clock, keep(1, "job", match='{job=~"ci-.*"}')))
        for i in range(3):
            await store.write(put(instance(i, job="ci-x"), gauge("m", i), ts=T0 + i))
            await store.write(put(instance(i, job="prod"), gauge("n", i), ts=T0 + i))
        jobs = sorted(dict(g.key)["job"] for g in store.groups())
        assert jobs == ["ci-x", "prod", "prod", "prod"]
        await store.close()

    run(body())


def test_lowering_keep_while_down_trims_at_start(tmp_path: Path) -> None:
    clock = FakeClock()
    open_ = durable(tmp_path)

    async def first() -> None:
        store = await started(open_(clock, keep(5, "job")))
        for i in range(5):
            await store.write(put(instance(i), gauge("m", i), ts=T0 + i))
        await store.close()

    async def second() -> None:
        store = await started(open_(clock, keep(2, "job")))
        await store.sweep()
        assert {g.key for g in store.groups()} == {instance(3), instance(4)}
        assert store.usage().retention_deleted_total == 3
        await store.close()

    run(first())
    run(second())
    assert stored_keys(tmp_path / "store.db") == {instance(3), instance(4)}


def test_retention_across_a_restart(tmp_path: Path) -> None:
    clock = FakeClock()
    open_ = durable(tmp_path)
    policy = keep(2, "job", "branch")

    async def pushes(start: int, stop: int) -> None:
        store = await started(open_(clock, policy))
        for i in range(start, stop):
            await store.write(put(instance(i), gauge("m", i), ts=T0 + i))
        await store.close()

    run(pushes(0, 3))
    run(pushes(3, 4))  # the index is rebuilt from the file: the oldest goes
    assert stored_keys(tmp_path / "store.db") == {instance(2), instance(3)}


# -- series limits -------------------------------------------------------------------------
def test_series_limits_refuse_and_change_nothing(factory: StoreFactory) -> None:
    clock = FakeClock()
    limits = SeriesLimits(per_group=5, per_job=8, total=12)
    policy = StorePolicy(limits=limits)

    async def body() -> None:
        store = await started(factory(clock, policy))
        await store.write(put(KEY, gauges("m", 3)))  # 3 + 2 push gauges = 5
        before_group = store.group(KEY)
        before_text = store.render_text([])

        with pytest.raises(
            LimitError, match=r"hold 6 series, more than max_series_per_group \(5\)"
        ) as e:
            await store.write(put(KEY, gauges("m", 4), ts=T0 + 1))
        assert e.value.status == 413 and e.value.reason == "series_per_group"
        assert store.group(KEY) is before_group  # not even the failure time changed
        assert store.render_text([]) == before_text

        await store.write(put((("instance", "2"), ("job", "a")), gauges("m2", 1)))  # job: 8
        with pytest.raises(LimitError, match=r"job 'a' holds 8 series and the push adds 3") as e:
            await store.write(put((("instance", "3"), ("job", "a")), gauges("m3", 1)))
        assert e.value.status == 429 and e.value.reason == "series_per_job"
        assert store.group((("instance", "3"), ("job", "a"))) is None

        await store.write(put((("job", "b"),), gauges("m4", 2)))  # total: 12
        with pytest.raises(LimitError, match=r"max_series_total \(12\)") as e:
            await store.write(put((("job", "c"),), gauges("m5", 1)))
        assert e.value.reason == "series_total"

        # A write that does not grow the store is always allowed.
        await store.write(put(KEY, gauges("m", 2), ts=T0 + 2))
        assert store.usage().series_total == 11
        assert store.usage().rejections == {
            "series_per_group": 1,
            "series_per_job": 1,
            "series_total": 1,
        }
        await store.close()

    run(body())


def test_retention_frees_room_before_the_limit_is_checked(factory: StoreFactory) -> None:
    clock = FakeClock()
    # Two runs of 3 series each fill the job; the third run replaces the first.
    policy = keep(2, "job", limits=SeriesLimits(per_job=6))

    async def body() -> None:
        store = await started(factory(clock, policy))
        for i in range(3):
            await store.write(put(instance(i), gauges("m", 1), ts=T0 + i))
        assert {g.key for g in store.groups()} == {instance(1), instance(2)}
        assert store.usage().series_by_job == {"proj": 6}
        await store.close()

    run(body())


def test_series_are_counted_as_prometheus_counts_them() -> None:
    histogram = MetricFamily(
        "h", "histogram", None, (Metric((), buckets=((1.0, 1), (float("inf"), 2))),)
    )
    implicit_inf = MetricFamily("h", "histogram", None, (Metric((), buckets=((1.0, 1),)),))
    summary = MetricFamily("s", "summary", None, (Metric((), quantiles=((0.5, 1.0),)),))
    assert family_samples(histogram) == 4  # two buckets, _sum, _count
    assert family_samples(implicit_inf) == 4  # +Inf is rendered anyway
    assert family_samples(summary) == 3
    assert family_samples(gauges("g", 7)) == 7


# -- the read path between expiry and sweep ---------------------------------------------
def test_the_uncached_render_matches_the_cached_one() -> None:
    clock = FakeClock()
    histogram = MetricFamily(
        "lat",
        "histogram",
        "Latency.",
        (Metric((("le_x", "1"),), buckets=((0.5, 1),), sample_count=2, sample_sum=3.0),),
    )
    summary = MetricFamily(
        "sz",
        "summary",
        "Size.",
        (Metric((), quantiles=((0.9, 4.0),), sample_count=1, sample_sum=4.0),),
    )
    own = SelfMetrics().families()

    async def body() -> None:
        store = await started(open_store(None, own_types=OWN_TYPES, clock=clock))
        await store.write(put(KEY, gauge("m", 1, x="b"), histogram, summary))
        await store.write(put((("job", "b"),), gauge("m", 2, x="a"), ts=T0 + 1))
        await store.write(
            put(
                (("instance", "z"), ("job", "c")),
                MetricFamily("pushgateway_build_info", "gauge", "x", (Metric((("v", "1"),), 1.0),)),
            )
        )
        groups = store.groups()
        assert render_text(merge_visible(groups, own, for_text=True)) == store.render_text(own)
        assert merge_visible(groups, own, for_text=False) == store.merged_families(own)
        await store.close()

    run(body())


def test_a_read_that_finds_an_expired_group_wakes_the_sweeper() -> None:
    clock = FakeClock()

    async def body() -> None:
        store = await started(open_store(None, own_types=OWN_TYPES, clock=clock))
        await store.write(put(KEY, gauge("m"), ttl=60.0))
        clock.now += 61
        assert store.render_text([]) == b""  # hidden, and the sweeper is woken
        for _ in range(1000):  # yields to the event loop; no time passes
            if store.usage().expired_total:  # counted once committed
                break
            await asyncio.sleep(0)
        assert len(store) == 0 and store.usage().expired_total == 1
        await store.close()

    run(body())
