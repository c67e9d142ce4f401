"""How the Redis backend lays out the store in Redis: keys, head, change stream.

Four keys, all under one hash tag so that Redis Cluster puts them in one
slot (a commit touches them atomically; correctness over sharding)::

    {PREFIX}:groups   hash    encoded grouping key -> encoded group (store/codec.py)
    {PREFIX}:head     string  "<version> <stream entry id>" of the last commit
    {PREFIX}:changes  stream  one entry per committed batch
    {PREFIX}:lock     string  the commit lock a starved replica takes (short-lived)

A change entry has four fields: ``v`` (its version, the previous plus one),
``p`` (the id of the previous entry: the entries form a chain, so a replica
that missed one, or followed a history that a failover discarded, notices),
``t`` (a random token of the commit, so a writer recognises its own commit
after an ambiguous failure) and ``c``, the batch's changes as repeated
``<len>:<encoded key><len>:<encoded group>``, an empty group meaning a delete.

:data:`COMMIT_SCRIPT` commits a batch only if the head is still the one the
batch was planned against (optimistic concurrency in one round trip); if it
is not, it answers with the entries the replica has not seen yet.

Optimism alone can starve a replica: one whose batches take longer to plan
keeps losing to replicas with small ones. After a few conflicts in a row a
replica takes the commit lock (:data:`LOCK_SCRIPT`, which also answers with
the entries it missed), plans once more and commits; while the lock is held
other replicas' commits answer "locked" and wait. The lock expires by itself
(a replica that dies holding it delays the others, never corrupts), and
correctness never depends on it: the head check still decides.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pushgate.core.errors import StoreError
from pushgate.core.model import GroupingKey


@dataclass(frozen=True)
class Keys:
    """The three keys of one store (one hash slot)."""

    prefix: str

    @property
    def groups(self) -> str:
        return f"{{{self.prefix}}}:groups"

    @property
    def head(self) -> str:
        return f"{{{self.prefix}}}:head"

    @property
    def changes(self) -> str:
        return f"{{{self.prefix}}}:changes"

    @property
    def lock(self) -> str:
        return f"{{{self.prefix}}}:lock"


def stream_id_order(entry_id: str) -> tuple[int, int]:
    """A stream entry id (``"<ms>-<seq>"``) as a comparable pair."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


@dataclass(frozen=True)
class Head:
    """The version of the store and the id of the entry that made it."""

    version: int
    entry_id: str

    def encode(self) -> bytes:
        return f"{self.version} {self.entry_id}".encode()

    @classmethod
    def from_bytes(cls, raw: bytes | str | None) -> Head:
        if raw is None:
            return EMPTY_HEAD
        text = raw.decode() if isinstance(raw, bytes) else raw
        version, sep, entry_id = text.partition(" ")
        if not sep or not version.isdigit():
            raise StoreError(f"the Redis head key holds {text!r}, which pushgate did not write")
        return cls(int(version), entry_id)


EMPTY_HEAD = Head(0, "0-0")


@dataclass(frozen=True)
class ChangeEntry:
    """One committed batch, read from the change stream."""

    entry_id: str
    version: int
    previous: str
    token: str
    changes: list[tuple[bytes, bytes]]


def encode_changes(changes: Iterable[tuple[bytes, bytes]]) -> bytes:
    """The ``c`` field (the commit script builds the same bytes in Lua)."""
    out = bytearray()
    for key, body in changes:
        out += b"%d:%s%d:%s" % (len(key), key, len(body), body)
    return bytes(out)


def decode_changes(blob: bytes) -> list[tuple[bytes, bytes]]:
    """Inverse of :func:`encode_changes`; malformed bytes raise :class:`StoreError`."""
    out: list[tuple[bytes, bytes]] = []
    pos = 0
    end = len(blob)
    try:
        while pos < end:
            fields: list[bytes] = []
            for _ in range(2):
                colon = blob.index(b":", pos)
                length = int(blob[pos:colon])
                start = colon + 1
                if length < 0 or start + length > end:
                    raise ValueError("truncated")
                fields.append(blob[start : start + length])
                pos = start + length
            out.append((fields[0], fields[1]))
    except ValueError as e:
        raise StoreError(f"a change entry in Redis cannot be decoded ({e})") from e
    return out


def decode_key(raw: bytes) -> GroupingKey:
    """Inverse of :func:`pushgate.store.codec.encode_key`."""
    try:
        pairs = json.loads(raw)
        return tuple((str(name), str(value)) for name, value in pairs)
    except (ValueError, TypeError) as e:
        raise StoreError(f"a grouping key in Redis cannot be decoded ({e})") from e


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def parse_entry(entry_id: Any, fields: Mapping[Any, Any] | Sequence[Any]) -> ChangeEntry:
    """A stream entry as redis-py (a dict) or a Lua reply (a flat list) gives it."""
    if isinstance(fields, Mapping):
        found = {_text(k): v for k, v in fields.items()}
    else:
        found = {_text(fields[i]): fields[i + 1] for i in range(0, len(fields) - 1, 2)}
    try:
        blob = found["c"]
        return ChangeEntry(
            entry_id=_text(entry_id),
            version=int(_text(found["v"])),
            previous=_text(found["p"]),
            token=_text(found["t"]),
            changes=decode_changes(blob if isinstance(blob, bytes) else str(blob).encode()),
        )
    except (KeyError, ValueError) as e:
        raise StoreError(f"a change entry in Redis lacks a field or is malformed ({e})") from e


def parse_entries(raw: Any) -> list[ChangeEntry]:
    """Entries of an XRANGE reply or of the commit script's conflict answer."""
    return [parse_entry(item[0], item[1]) for item in raw or ()]


COMMITTED, CONFLICT, LOCKED = 1, 0, 2

#: KEYS: head, groups, changes, lock. ARGV: the head the batch was planned
#: against, the stream's trim length, the commit token, the lock token this
#: replica holds (or ""), then encoded key/group pairs (an empty group
#: deletes). Answers ``{1, new head}``; ``{0, head, entries after the
#: expected head's entry}`` if the head moved; ``{2, head}`` if another
#: replica holds the lock. A batch without changes only checks the head.
#: Nothing is written before every check passed, and a script is atomic, so
#: a batch is committed whole or not at all.
COMMIT_SCRIPT = """
local head = redis.call('GET', KEYS[1]) or '0 0-0'
if head ~= ARGV[1] then
  local lastid = string.sub(ARGV[1], string.find(ARGV[1], ' ', 1, true) + 1)
  return {0, head, redis.call('XRANGE', KEYS[3], '(' .. lastid, '+', 'COUNT', 512)}
end
if #ARGV < 5 then
  return {1, head}
end
local lock = redis.call('GET', KEYS[4])
if lock and lock ~= ARGV[4] then
  return {2, head}
end
local gtype = redis.call('TYPE', KEYS[2])['ok']
local stype = redis.call('TYPE', KEYS[3])['ok']
if (gtype ~= 'hash' and gtype ~= 'none') or (stype ~= 'stream' and stype ~= 'none') then
  return redis.error_reply('pushgate keys ' .. KEYS[2] .. ' and ' .. KEYS[3] ..
    ' hold other data types: choose another prefix')
end
local sp = string.find(head, ' ', 1, true)
local version = string.format('%d', tonumber(string.sub(head, 1, sp - 1)) + 1)
local parts = {}
for i = 5, #ARGV, 2 do
  local k, b = ARGV[i], ARGV[i + 1]
  if b == '' then
    redis.call('HDEL', KEYS[2], k)
  else
    redis.call('HSET', KEYS[2], k, b)
  end
  parts[#parts + 1] = #k .. ':' .. k .. #b .. ':' .. b
end
local id = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], '*',
  'v', version, 'p', string.sub(head, sp + 1), 't', ARGV[3], 'c', table.concat(parts))
head = version .. ' ' .. id
redis.call('SET', KEYS[1], head)
if lock then
  redis.call('DEL', KEYS[4])
end
return {1, head}
"""

#: KEYS: lock, head, changes. ARGV: lock token, lock lifetime (ms), the id of
#: the last entry this replica applied. Answers ``{1, head, entries after
#: it}`` when the lock was taken, ``{0}`` when another replica holds it.
LOCK_SCRIPT = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1, redis.call('GET', KEYS[2]) or '0 0-0',
    redis.call('XRANGE', KEYS[3], '(' .. ARGV[3], '+', 'COUNT', 512)}
end
return {0}
"""

#: KEYS: lock. ARGV: lock token. Releases the lock if this replica holds it.
UNLOCK_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
