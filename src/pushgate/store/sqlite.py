"""The durable embedded journal: one SQLite database file.

Why SQLite (see docs/dependencies.md): it ships with Python, its commits are
atomic and crash-safe, WAL mode lets one commit carry many pushes (group
commit), and the file can be inspected with standard tools.

Durability modes:

``process`` (default)
    WAL with ``synchronous=NORMAL``: a commit is in the operating system's
    page cache when the push is answered, so it survives any crash of the
    gateway process (SIGKILL, OOM kill). An OS crash or power loss may lose the
    last commits, never corrupt the file.
``os``
    WAL with ``synchronous=FULL``: every commit is fsync'ed before the push is
    answered, so it also survives an OS crash or power loss.

Schema versions are recorded in ``meta.schema_version``; older files are
migrated forward at start, newer ones are refused.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Literal

from pushgate.core.errors import StoreError, StoreOpenError
from pushgate.store.codec import decode_group, encode_group, encode_key
from pushgate.store.contract import Change, Group

Durability = Literal["process", "os"]
SCHEMA_VERSION = 2

#: Migrations from version N-1 to N, keyed by N. Version 1 is the initial schema.
_MIGRATIONS: dict[int, Callable[[sqlite3.Connection], object]] = {
    # execute(), not executescript(): the latter commits the migration's
    # transaction half-way.
    1: lambda db: db.execute(
        "CREATE TABLE IF NOT EXISTS groups (key TEXT PRIMARY KEY, body BLOB NOT NULL) WITHOUT ROWID"
    ),
    # Version 2: group documents may hold a family as its exposition lines
    # (store/codec.py). Version 1 documents are read as they are, so nothing
    # is rewritten; the number makes a version 1 pushgate refuse the file
    # ("written by a newer pushgate") instead of failing on a document.
    2: lambda db: None,
}


class SqliteJournal:
    """A journal in one SQLite file (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str], durability: Durability = "process") -> None:
        self.path = Path(path)
        self.durability = durability
        # Only the fsync of the os mode is slow; a WAL commit without fsync is
        # a few writes to the page cache.
        self.slow_commit = durability == "os"
        self._db: sqlite3.Connection | None = None
        self._open()

    def _fail_open(self, what: str, e: BaseException | None = None) -> StoreOpenError:
        detail = f": {e}" if e is not None else ""
        return StoreOpenError(
            f"cannot open the store file {str(self.path)!r}: {what}{detail}. "
            "pushgate never overwrites a store it cannot read: move the file away to start "
            "with an empty store, or restore it from a backup."
        )

    def _open(self) -> None:
        parent = self.path.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise self._fail_open("its directory cannot be created", e) from e
        if self.path.exists() and not os.access(self.path, os.R_OK | os.W_OK):
            raise self._fail_open("the file is not readable and writable by this user")
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={'FULL' if self.durability == 'os' else 'NORMAL'}")
            ok = db.execute("PRAGMA quick_check").fetchone()
            if ok is None or ok[0] != "ok":
                raise self._fail_open(f"the database is corrupt ({ok[0] if ok else 'no answer'})")
            db.execute(
                "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise self._fail_open(
                    f"it was written by a newer pushgate (schema {version}, this one knows up to"
                    f" {SCHEMA_VERSION}); upgrade pushgate"
                )
            if version == 0 and self._has_foreign_tables(db):
                raise self._fail_open("it is an SQLite database but not a pushgate store")
            for target in range(version + 1, SCHEMA_VERSION + 1):
                db.execute("BEGIN IMMEDIATE")
                _MIGRATIONS[target](db)
                db.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(target),),
                )
                db.execute("COMMIT")
        except sqlite3.DatabaseError as e:
            raise self._fail_open("it is not a readable SQLite database", e) from e
        self._db = db

    @staticmethod
    def _has_foreign_tables(db: sqlite3.Connection) -> bool:
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        return bool(names - {"meta", "groups"})

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError(f"the store file {str(self.path)!r} is closed")
        return self._db

    def load(self) -> Iterator[Group]:
        where = str(self.path)
        try:
            rows = self._conn().execute("SELECT body FROM groups").fetchall()
        except sqlite3.DatabaseError as e:
            raise self._fail_open("reading its groups failed", e) from e
        for (body,) in rows:
            yield decode_group(body, where)

    def commit(self, changes: Sequence[Change]) -> None:
        db = self._conn()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                # One statement per kind: the keys of a batch are distinct,
                # so the order of deletes and upserts does not matter.
                deletes = [(encode_key(key),) for key, group in changes if group is None]
                upserts = [
                    (encode_key(key), encode_group(group))
                    for key, group in changes
                    if group is not None
                ]
                if deletes:
                    db.executemany("DELETE FROM groups WHERE key = ?", deletes)
                if upserts:
                    db.executemany(
                        "INSERT OR REPLACE INTO groups (key, body) VALUES (?, ?)", upserts
                    )
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except sqlite3.Error as e:
            raise StoreError(
                f"could not write to the store file {str(self.path)!r}: {e}; nothing was changed"
                " (check free disk space and file permissions)"
            ) from e

    def close(self) -> None:
        if self._db is not None:
            try:
                self._db.close()
            finally:
                self._db = None
