"""Fixtures for the store tests: a real ``redis-server`` for the Redis backend.

One server serves the whole session; every test gets its own key prefix, so
tests never see each other's groups and nothing needs flushing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.redisproc import RedisProcess, redis_farm


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    with redis_farm(tmp_path_factory.mktemp("redis")) as farm:
        yield farm.server()


@pytest.fixture
def redis_url(redis_server: RedisProcess) -> str:
    """A store URL of its own on the session's Redis."""
    return f"{redis_server.url}?prefix=test-{uuid.uuid4().hex}"
