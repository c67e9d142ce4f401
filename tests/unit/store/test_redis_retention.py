"""Expiry, retention and series limits on the Redis store (issue 10, item 4).

Every test of the retention suite (test_retention.py) that takes a store
``factory`` runs here again against a real Redis: the Redis store plans its
batches with the same writer logic (``_apply``), so the same rules hold. The
tests below add what only replicas have: an expiry or a limit decided on one
replica holds on the others.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable

import pytest

from pushgate.core.errors import LimitError
from pushgate.server.selfmetrics import OWN_TYPES
from pushgate.store import JournaledStore, open_store
from pushgate.store.limits import SeriesLimits
from pushgate.store.policy import StorePolicy
from tests.unit.store import test_retention as suite
from tests.unit.store.fakes import T0, FakeClock

StoreFactory = Callable[[FakeClock, StorePolicy | None], JournaledStore]

# The suite's factory tests, collected in this module so that they use the
# factory fixture below.
for _name, _test in vars(suite).items():
    if _name.startswith("test_") and "factory" in inspect.signature(_test).parameters:
        globals()[_name] = _test


@pytest.fixture
def factory(redis_url: str) -> StoreFactory:
    return lambda clock, policy: open_store(
        None, own_types=OWN_TYPES, policy=policy, clock=clock, url=redis_url
    )


async def eventually(check: Callable[[], bool], what: str, timeout: float = 1.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        await asyncio.sleep(0.005)


def test_an_expiry_swept_on_one_replica_is_gone_everywhere(factory: StoreFactory) -> None:
    clock = FakeClock()

    async def body() -> None:
        a, b = factory(clock, None), factory(clock, None)
        await a.start()
        await b.start()
        try:
            await a.write(suite.put(suite.KEY, suite.gauge("m"), ttl=60.0))
            await eventually(lambda: b.group(suite.KEY) is not None, "seen on b")
            group = b.group(suite.KEY)
            assert group is not None and group.expires_at == T0 + 60  # derived on b too
            clock.now = T0 + 61
            assert a.group(suite.KEY) is None and b.group(suite.KEY) is None  # hidden at once
            # Reads woke both replicas' sweepers; whichever commits first
            # deletes, the other finds nothing left once it caught up.
            await b.sweep()
            await a.sweep()
            await eventually(lambda: len(a) == len(b) == 0, "swept everywhere")
            assert a.usage().expired_total + b.usage().expired_total == 1
        finally:
            await a.close()
            await b.close()

    asyncio.run(body())


def test_series_limits_hold_across_replicas(factory: StoreFactory) -> None:
    clock = FakeClock()
    policy = StorePolicy(limits=SeriesLimits(per_job=8))

    async def body() -> None:
        a, b = factory(clock, policy), factory(clock, policy)
        await a.start()
        await b.start()
        try:
            await a.write(suite.put((("instance", "1"), ("job", "a")), suite.gauges("m", 3)))
            # b has not necessarily seen a's push yet; it must count it anyway.
            with pytest.raises(LimitError, match=r"job 'a' holds 5 series"):
                await b.write(suite.put((("instance", "2"), ("job", "a")), suite.gauges("m", 2)))
            assert b.group((("instance", "2"), ("job", "a"))) is None
        finally:
            await a.close()
            await b.close()

    asyncio.run(body())
