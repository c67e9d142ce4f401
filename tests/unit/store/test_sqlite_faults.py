"""Faults of the durable store: clear errors, nothing half-changed, nothing overwritten."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from pushgate.core.errors import StoreError, StoreOpenError
from pushgate.core.model import Metric, MetricFamily
from pushgate.store import open_store
from pushgate.store.codec import encode_group, encode_key
from pushgate.store.contract import Group, StoredFamily, WriteRequest
from pushgate.store.sqlite import SCHEMA_VERSION, SqliteJournal


def family(i: int, width: int = 1) -> MetricFamily:
    return MetricFamily("m", "gauge", "x" * width, (Metric((("n", str(i)),), value=float(i)),))


def test_disk_full_rejects_batch_and_keeps_memory(tmp_path: Path) -> None:
    path = tmp_path / "s.db"

    async def body() -> None:
        store = open_store(path)
        await store.start()
        await store.write(WriteRequest((("job", "a"),), "put", (family(1),), 1.0))
        journal = store._journal
        assert isinstance(journal, SqliteJournal) and journal._db is not None
        pages = journal._db.execute("PRAGMA page_count").fetchone()[0]
        # Simulate a full disk: SQLite may not grow the file any more.
        journal._db.execute(f"PRAGMA max_page_count={pages}")
        before = store.render_text([])
        with pytest.raises(StoreError, match="database or disk is full"):
            await store.write(WriteRequest((("job", "b"),), "put", (family(2, 200_000),), 2.0))
        assert store.group((("job", "b"),)) is None
        assert store.render_text([]) == before
        journal._db.execute("PRAGMA max_page_count=1073741823")
        await store.write(WriteRequest((("job", "c"),), "put", (family(3),), 3.0))
        await store.close()

    asyncio.run(body())
    reopened = open_store(path)
    assert reopened.group((("job", "a"),)) is not None
    assert reopened.group((("job", "b"),)) is None
    assert reopened.group((("job", "c"),)) is not None


def test_corrupt_file_refused_and_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    path.write_bytes(b"this is not a database at all" * 100)
    before = path.read_bytes()
    with pytest.raises(StoreOpenError, match=r"s\.db") as info:
        open_store(path)
    assert "move the file away" in str(info.value)
    assert path.read_bytes() == before


def test_newer_schema_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SqliteJournal(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION + 1),))
    db.commit()
    db.close()
    with pytest.raises(StoreOpenError, match="newer pushgate"):
        open_store(path)


def test_foreign_database_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE customers (id INTEGER)")
    db.commit()
    db.close()
    with pytest.raises(StoreOpenError, match="not a pushgate store"):
        open_store(path)


def test_undecodable_group_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SqliteJournal(path).close()
    db = sqlite3.connect(path)
    db.execute("INSERT INTO groups (key, body) VALUES ('x', X'7b7b7b')")
    db.commit()
    db.close()
    with pytest.raises(StoreOpenError, match="cannot be decoded"):
        open_store(path)


def test_unusable_directory(tmp_path: Path) -> None:
    # A regular file where the data directory should be: creating the store
    # fails for every user, root included (unlike a chmod'ed directory).
    blocker = tmp_path / "data"
    blocker.write_text("not a directory")
    with pytest.raises(StoreOpenError, match="directory cannot be created"):
        open_store(blocker / "s.db")
    assert blocker.read_text() == "not a directory"


def test_file_becoming_unwritable_gives_store_error(tmp_path: Path) -> None:
    path = tmp_path / "s.db"

    async def body() -> None:
        store = open_store(path)
        await store.start()
        await store.write(WriteRequest((("job", "a"),), "put", (family(1),), 1.0))
        journal = store._journal
        assert isinstance(journal, SqliteJournal) and journal._db is not None
        journal._db.execute("PRAGMA query_only=ON")  # any write now fails, as on a read-only fs
        with pytest.raises(StoreError, match="nothing was changed"):
            await store.write(WriteRequest((("job", "a"),), "delete", (), 2.0))
        assert store.group((("job", "a"),)) is not None
        assert not store.healthy
        journal._db.execute("PRAGMA query_only=OFF")
        await store.close()

    asyncio.run(body())


def test_a_version_1_store_is_read_and_marked_version_2(tmp_path: Path) -> None:
    """Version 1 files hold metric lists only; they load unchanged, and the
    file is marked version 2 (documents may now hold lines)."""
    path = tmp_path / "s.db"
    SqliteJournal(path).close()
    group = Group(
        (("job", "old"),),
        {
            "g": StoredFamily(
                MetricFamily("g", "gauge", "h", (Metric((("job", "old"),), 1.5),)), 1.0
            )
        },
    )
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    db.execute(
        "INSERT INTO groups (key, body) VALUES (?, ?)",
        (encode_key(group.key), encode_group(group)),  # uncompacted: a metric list
    )
    db.commit()
    db.close()
    journal = SqliteJournal(path)
    (loaded,) = list(journal.load())
    journal.close()
    assert loaded.families["g"].family == group.families["g"].family
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("2",)
    db.close()
