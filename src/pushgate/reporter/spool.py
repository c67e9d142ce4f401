"""Keeping payloads that could not be delivered, and delivering them later.

A spool is a directory of one JSON file per payload, named so that sorting by
name is sorting by time. Each file is written to a temporary name, flushed to
disk and then renamed, so a crash leaves either a whole payload or none.
Credentials are never written: they come from the environment at flush time.

Delivery is at least once. A payload is removed only after the gateway
accepted it; if ``flush`` dies in between, the next flush sends it again,
which is harmless because a push replaces the group (PUT) or the same
families (POST). Payloads the gateway refuses outright (a 4xx, which would
never pass) move to ``rejected/`` with the reason beside them, so nothing is
silently dropped and the spool does not retry them forever.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pushgate.reporter.client import (
    TEXT_CONTENT_TYPE,
    USER_AGENT,
    Credentials,
    HttpClient,
    HttpRequest,
)
from pushgate.reporter.errors import PushError, ReportInputError

PushMethod = Literal["PUT", "POST"]

#: Header carrying the group's time to live (pushgate only; others ignore it).
TTL_HEADER = "X-Pushgate-TTL"

FORMAT_VERSION = 1
REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Payload:
    """One push: where to, how, and the exposition body (text format 0.0.4)."""

    method: PushMethod
    gateway: str
    path: str
    body: bytes
    #: Time to live of the group (``30d``), sent as :data:`TTL_HEADER`.
    ttl: str | None = None

    @property
    def url(self) -> str:
        return self.gateway.rstrip("/") + self.path

    def request(self, credentials: Credentials, gateway: str | None = None) -> HttpRequest:
        base = (gateway or self.gateway).rstrip("/")
        headers = (
            ("Content-Type", TEXT_CONTENT_TYPE),
            ("User-Agent", USER_AGENT),
            *(((TTL_HEADER, self.ttl),) if self.ttl else ()),
            *credentials.headers(),
        )
        return HttpRequest(self.method, base + self.path, headers, self.body)


def dump_payload(payload: Payload, *, reason: str, created: float) -> bytes:
    document = {
        "format": FORMAT_VERSION,
        "created": created,
        "reason": reason,
        "method": payload.method,
        "gateway": payload.gateway,
        "path": payload.path,
        "body": payload.body.decode("utf-8"),
    }
    if payload.ttl:
        document["ttl"] = payload.ttl
    return json.dumps(document, indent=1, sort_keys=True).encode("utf-8") + b"\n"


def load_payload(data: bytes, source: Path) -> Payload:
    try:
        document = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ReportInputError(f"{source}: not a spooled payload (invalid JSON)") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT_VERSION:
        raise ReportInputError(
            f"{source}: not a spooled payload of format {FORMAT_VERSION}; "
            "was it written by another pushgate version?"
        )
    method = document.get("method")
    fields = (document.get("gateway"), document.get("path"), document.get("body"))
    if method not in ("PUT", "POST") or not all(isinstance(f, str) for f in fields):
        raise ReportInputError(f"{source}: spooled payload lacks method, gateway, path or body")
    gateway, path, body = (str(f) for f in fields)
    ttl = document.get("ttl")
    if ttl is not None and not isinstance(ttl, str):
        raise ReportInputError(f"{source}: spooled payload has a ttl that is not a string")
    return Payload("PUT" if method == "PUT" else "POST", gateway, path, body.encode("utf-8"), ttl)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        # Some file systems refuse fsync on directories; the rename is done.
        pass
    finally:
        os.close(fd)


def _write_atomic(target: Path, data: bytes) -> None:
    temp = target.with_name(f".{target.name}.tmp")
    with temp.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temp, target)
    _fsync_dir(target.parent)


class Spool:
    """A spool directory; created on first write."""

    def __init__(self, directory: Path, clock: Callable[[], float] = time.time) -> None:
        self.directory = directory
        self._clock = clock

    def put(self, payload: Payload, reason: str) -> Path:
        """Keep ``payload``; the file's path."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            now = self._clock()
            name = f"{int(now * 1e9):020d}-{uuid.uuid4().hex[:12]}.json"
            target = self.directory / name
            _write_atomic(target, dump_payload(payload, reason=reason, created=now))
        except OSError as exc:
            raise ReportInputError(
                f"--spool {self.directory}: cannot write ({exc.strerror or exc}); "
                "the payload is lost unless the directory is writable"
            ) from exc
        return target

    def entries(self) -> list[Path]:
        """Spooled payload files, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(
            p
            for p in self.directory.iterdir()
            if p.suffix == ".json" and not p.name.startswith(".")
        )

    def load(self, entry: Path) -> Payload:
        try:
            data = entry.read_bytes()
        except OSError as exc:
            raise ReportInputError(f"{entry}: cannot read ({exc.strerror or exc})") from exc
        return load_payload(data, entry)

    def remove(self, entry: Path) -> None:
        entry.unlink(missing_ok=True)
        _fsync_dir(self.directory)

    def reject(self, entry: Path, reason: str) -> Path:
        """Move ``entry`` to ``rejected/`` and write the reason beside it."""
        rejected = self.directory / REJECTED
        rejected.mkdir(exist_ok=True)
        target = rejected / entry.name
        _write_atomic(target.with_suffix(".reason.txt"), (reason + "\n").encode("utf-8"))
        os.replace(entry, target)
        _fsync_dir(self.directory)
        return target


@dataclass(frozen=True, slots=True)
class FlushOutcome:
    """What happened to each spooled payload: delivered, kept for later, or rejected."""

    delivered: tuple[Path, ...]
    kept: tuple[tuple[Path, str], ...]
    rejected: tuple[tuple[Path, str], ...]


def flush_spool(
    spool: Spool,
    client: HttpClient,
    credentials: Credentials,
    gateway: str | None = None,
    *,
    stop_when_down: bool = True,
) -> FlushOutcome:
    """Deliver every spooled payload, oldest first.

    ``gateway`` replaces the gateway a payload was meant for (the grouping
    path is kept). With ``stop_when_down`` the first transient failure stops
    the flush: the gateway is down, and waiting out the retries of every
    other payload would only make the job slower.
    """
    delivered: list[Path] = []
    kept: list[tuple[Path, str]] = []
    rejected: list[tuple[Path, str]] = []
    entries = spool.entries()
    for index, entry in enumerate(entries):
        try:
            payload = spool.load(entry)
        except ReportInputError as exc:
            rejected.append((spool.reject(entry, str(exc)), str(exc)))
            continue
        try:
            client.send(payload.request(credentials, gateway))
        except PushError as exc:
            if exc.retryable:
                kept.append((entry, str(exc)))
                if stop_when_down:
                    kept.extend(
                        (rest, "not tried: the gateway is down") for rest in entries[index + 1 :]
                    )
                    break
            else:
                rejected.append((spool.reject(entry, str(exc)), str(exc)))
            continue
        spool.remove(entry)
        delivered.append(entry)
    return FlushOutcome(tuple(delivered), tuple(kept), tuple(rejected))
