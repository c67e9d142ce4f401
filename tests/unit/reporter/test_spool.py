"""The spool: atomic files, at-least-once flush, rejects kept aside."""

from __future__ import annotations

import json
from pathlib import Path

from pushgate.reporter.client import (
    Credentials,
    HttpClient,
    HttpResponse,
    RetryPolicy,
    TransportError,
)
from pushgate.reporter.spool import Payload, Spool, flush_spool
from tests.unit.reporter.fakes import NO_SLEEP, FakeTransport

PAYLOAD = Payload("PUT", "http://gw:9091", "/metrics/job/j/branch@base64/ZmVhdHVyZS94", b"m 1\n")


def _client(transport: FakeTransport) -> HttpClient:
    return HttpClient(transport, RetryPolicy(attempts=2), sleep=NO_SLEEP)


def test_put_and_load_round_trip(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", clock=lambda: 1700000000.5)
    entry = spool.put(PAYLOAD, "gateway down")
    assert spool.entries() == [entry]
    assert spool.load(entry) == PAYLOAD
    document = json.loads(entry.read_text())
    assert document["reason"] == "gateway down" and document["created"] == 1700000000.5
    assert entry.stat().st_size < 1000
    # No temporary files are left behind.
    assert [p.name for p in (tmp_path / "spool").iterdir()] == [entry.name]


def test_entries_are_oldest_first_and_ignore_temporaries(tmp_path: Path) -> None:
    times = iter([3.0, 1.0, 2.0])
    spool = Spool(tmp_path, clock=lambda: next(times))
    paths = [spool.put(PAYLOAD, str(i)) for i in range(3)]
    (tmp_path / ".x.json.tmp").write_text("partial")
    assert spool.entries() == [paths[1], paths[2], paths[0]]


def test_flush_delivers_and_removes(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.put(PAYLOAD, "down")
    spool.put(Payload("POST", "http://gw:9091", "/metrics/job/k", b"n 2\n"), "down")
    transport = FakeTransport()
    outcome = flush_spool(spool, _client(transport), Credentials(token="t"))
    assert len(outcome.delivered) == 2 and not outcome.kept and not outcome.rejected
    assert spool.entries() == []
    first, second = transport.requests
    assert (first.method, first.url, first.body) == ("PUT", PAYLOAD.url, b"m 1\n")
    assert ("Authorization", "Bearer t") in first.headers
    assert second.method == "POST"


def test_flush_to_another_gateway_keeps_the_grouping_path(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.put(PAYLOAD, "down")
    transport = FakeTransport()
    flush_spool(spool, _client(transport), Credentials(), "http://other:9091/pg")
    assert transport.requests[0].url == "http://other:9091/pg" + PAYLOAD.path


def test_gateway_still_down_keeps_everything(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    entries = [spool.put(PAYLOAD, "down") for _ in range(3)]
    transport = FakeTransport([TransportError("Connection refused")])
    outcome = flush_spool(spool, _client(transport), Credentials())
    assert [p for p, _ in outcome.kept] == entries
    assert spool.entries() == entries
    # The first failure stops the flush: 2 attempts, not 6.
    assert len(transport.requests) == 2


def test_refused_payloads_move_to_rejected_with_the_reason(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    bad = spool.put(PAYLOAD, "down")
    good = spool.put(PAYLOAD, "down")
    transport = FakeTransport([HttpResponse(400, b"type conflict\n"), HttpResponse(200)])
    outcome = flush_spool(spool, _client(transport), Credentials())
    assert outcome.delivered == (good,)
    ((moved, reason),) = outcome.rejected
    assert moved == tmp_path / "rejected" / bad.name and moved.exists()
    assert "HTTP 400: type conflict" in reason
    assert "type conflict" in moved.with_suffix(".reason.txt").read_text()
    assert spool.entries() == []


def test_corrupt_spool_file_is_set_aside(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    (tmp_path / "00000000000000000001-x.json").write_text("{not json")
    outcome = flush_spool(spool, _client(FakeTransport()), Credentials())
    ((_, reason),) = outcome.rejected
    assert "not a spooled payload" in reason
    assert spool.entries() == []


def test_spooled_files_hold_no_credentials(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    entry = spool.put(PAYLOAD, "down")
    assert "Authorization" not in entry.read_text()


def test_the_ttl_round_trips_and_older_files_load(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", clock=lambda: 1.0)
    with_ttl = Payload(PAYLOAD.method, PAYLOAD.gateway, PAYLOAD.path, PAYLOAD.body, "30d")
    entry = spool.put(with_ttl, "down")
    assert spool.load(entry) == with_ttl
    request = with_ttl.request(Credentials())
    assert ("X-Pushgate-TTL", "30d") in request.headers
    # A payload spooled before --ttl existed has no "ttl" key.
    plain = spool.put(PAYLOAD, "down")
    assert "ttl" not in json.loads(plain.read_text())
    assert spool.load(plain).ttl is None
