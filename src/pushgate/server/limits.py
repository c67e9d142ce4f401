"""Request limits checked before the store is touched, and the pusher's TTL.

:class:`Limiter` holds the limits of the config file in force (replaced on
reload), one token bucket per job for the push rate, and the number of
rejections per limit. Every check raises
:class:`~pushgate.core.errors.LimitError`, whose message names the limit and
the figure that exceeded it; a rejected request changes nothing stored (not
even ``push_failure_time_seconds``). The series limits that need the store's
counts (per group, per job, in total) are the store's:
:mod:`pushgate.store.limits`.

The time to live a pusher asks for is read from the ``X-Pushgate-TTL``
header or the ``ttl`` query parameter (docs/retention.md shows how to send
either from prometheus_client, curl and ``pushgate report``).
"""

from __future__ import annotations

import math
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from aiohttp import web

from pushgate.core.duration import parse_duration
from pushgate.core.errors import ConfigError, LimitError, ParseError
from pushgate.core.model import GroupingKey, MetricFamily
from pushgate.core.selector import Selector
from pushgate.server.hardening import read_body
from pushgate.store.limits import family_samples, job_of

TTL_HEADER = "X-Pushgate-TTL"
TTL_PARAM = "ttl"

#: Every reason a request can be refused for, in the order they are checked.
REASONS = (
    "body_size",
    "push_rate",
    "samples_per_push",
    "labels_per_series",
    "label_name_length",
    "label_value_length",
    "series_per_group",
    "series_per_job",
    "series_total",
)

#: Token buckets kept before idle (full) ones are dropped.
MAX_BUCKETS = 10_000


@dataclass(frozen=True, slots=True)
class RateLimit:
    """``per_second`` pushes per job on average, up to ``burst`` at once."""

    per_second: float
    burst: int


@dataclass(frozen=True, slots=True)
class RateRule:
    """A different rate for the jobs ``selector`` matches (it sees only ``job``)."""

    selector: Selector
    rate: RateLimit


@dataclass(frozen=True, slots=True)
class RequestLimits:
    """Limits of one request (``None``: no limit)."""

    max_body_bytes: int | None = None
    max_samples_per_push: int | None = None
    max_labels_per_series: int | None = None
    max_label_name_length: int | None = None
    max_label_value_length: int | None = None
    push_rate: RateLimit | None = None
    push_rate_rules: tuple[RateRule, ...] = ()

    def rate_for(self, job: str) -> RateLimit | None:
        labels = {"job": job}
        for rule in self.push_rate_rules:
            if rule.selector.matches(labels):
                return rule.rate
        return self.push_rate


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


def parse_ttl(request: web.BaseRequest) -> float | None:
    """The TTL (seconds) the pusher asked for, or ``None``; a bad value is a 400."""
    header = request.headers.get(TTL_HEADER)
    query = request.query.get(TTL_PARAM)
    if header is not None and query is not None and header.strip() != query.strip():
        raise ParseError(
            f"the TTL is given twice, as {TTL_HEADER}: {header!r} and as ?{TTL_PARAM}={query!r};"
            " send only one"
        )
    text = header if header is not None else query
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ConfigError as e:
        where = f"{TTL_HEADER} header" if header is not None else f"?{TTL_PARAM}= parameter"
        raise ParseError(f"invalid {where}: {e}") from None


def _gzip_size_over(raw: bytes, limit: int) -> int | None:
    """The decoded size of a gzip body if it is over ``limit`` (decoded in bounded steps).

    ``None`` when it fits or cannot be decoded (the push handler then reports
    the decoding error as the official gateway does).
    """
    decoder = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    size = 0
    data = raw
    try:
        while data:
            size += len(decoder.decompress(data, 1 << 20))
            if size > limit:
                return size
            data = decoder.unconsumed_tail
    except zlib.error:
        return None
    return None


class Limiter:
    """The request limits in force, the per-job token buckets and the rejection counts."""

    def __init__(
        self, limits: RequestLimits | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits or RequestLimits()
        self.rejections: Counter[str] = Counter()
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def configure(self, limits: RequestLimits) -> None:
        """Switch to ``limits`` (a reload); the buckets keep their tokens."""
        self.limits = limits

    def _refuse(
        self, message: str, reason: str, status: int, retry_after: float | None = None
    ) -> LimitError:
        self.rejections[reason] += 1
        return LimitError(message, reason=reason, status=status, retry_after=retry_after)

    # -- before the body is parsed -------------------------------------------------
    async def read_body(self, request: web.BaseRequest) -> bytes:
        """The raw body, refused (413) as soon as it is known to be over the limit.

        A declared ``Content-Length`` over the limit is refused without
        reading; a chunked body stops being read at the limit; a gzip body
        is also refused when it would decode to more than the limit.
        """
        limit = self.limits.max_body_bytes
        if limit is None or limit >= request.client_max_size:
            return await read_body(request)  # the server's own cap (413 from aiohttp)
        declared = request.content_length
        if declared is not None and declared > limit:
            raise self._body_error(f"the request body is {declared} bytes", limit)
        try:
            raw = await read_body(request.clone(client_max_size=limit))
        except web.HTTPRequestEntityTooLarge:
            raise self._body_error("the request body is larger", limit) from None
        if request.headers.get("Content-Encoding") == "gzip":
            decoded = _gzip_size_over(raw, limit)
            if decoded is not None:
                raise self._body_error(f"the gzip body decodes to more than {decoded} bytes", limit)
        return raw

    def _body_error(self, what: str, limit: int) -> LimitError:
        return self._refuse(
            f"{what}, more than max_body_bytes ({limit}); push less per request;"
            " nothing was stored",
            "body_size",
            413,
        )

    def check_rate(self, key: GroupingKey) -> None:
        """Take one push from the job's token bucket, or refuse (429 with Retry-After)."""
        job = job_of(key)
        rate = self.limits.rate_for(job)
        if rate is None:
            return
        now = self._clock()
        bucket = self._buckets.get(job)
        if bucket is None:
            if len(self._buckets) >= MAX_BUCKETS:
                self._forget_idle(now)
            bucket = self._buckets[job] = _Bucket(float(rate.burst), now)
        else:
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(rate.burst), bucket.tokens + elapsed * rate.per_second)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return
        wait = (1.0 - bucket.tokens) / rate.per_second
        raise self._refuse(
            f"job {job!r} pushes faster than its push rate limit ({rate.per_second:g} per second,"
            f" bursts of {rate.burst}); retry in {math.ceil(wait)}s; nothing was stored",
            "push_rate",
            429,
            retry_after=wait,
        )

    def _forget_idle(self, now: float) -> None:
        for job in list(self._buckets):
            bucket = self._buckets[job]
            rate = self.limits.rate_for(job)
            if (
                rate is None
                or bucket.tokens + (now - bucket.updated) * rate.per_second >= rate.burst
            ):
                del self._buckets[job]

    # -- after the body is parsed --------------------------------------------------
    def check_push(
        self, request: web.BaseRequest, key: GroupingKey, families: Sequence[MetricFamily]
    ) -> float | None:
        """Check samples and labels of a parsed push; return the pusher's TTL."""
        limits = self.limits
        if limits.max_samples_per_push is not None:
            samples = sum(family_samples(f) for f in families)
            if samples > limits.max_samples_per_push:
                raise self._refuse(
                    f"the push has {samples} samples, more than max_samples_per_push"
                    f" ({limits.max_samples_per_push}); split it over several grouping keys;"
                    " nothing was stored",
                    "samples_per_push",
                    413,
                )
        if (
            limits.max_labels_per_series is not None
            or limits.max_label_name_length is not None
            or limits.max_label_value_length is not None
        ):
            self._check_labels(key, families)
        return parse_ttl(request)

    def _check_labels(self, key: GroupingKey, families: Sequence[MetricFamily]) -> None:
        limits = self.limits
        grouping = dict(key)
        grouping.setdefault("instance", "")
        self._check_pairs(grouping.items(), "the grouping key")
        checked: set[tuple[tuple[str, str], ...]] = set()
        for family in families:
            for metric in family.metrics:
                if metric.labels in checked:
                    continue
                checked.add(metric.labels)
                where = f"metric {family.name!r}"
                self._check_pairs(metric.labels, where)
                if limits.max_labels_per_series is not None:
                    count = len(grouping.keys() | {name for name, _ in metric.labels})
                    if count > limits.max_labels_per_series:
                        raise self._refuse(
                            f"a series of {where} would have {count} labels (grouping labels"
                            " included), more than max_labels_per_series"
                            f" ({limits.max_labels_per_series}); nothing was stored",
                            "labels_per_series",
                            400,
                        )

    def _check_pairs(self, pairs: Iterable[tuple[str, str]], where: str) -> None:
        limits = self.limits
        for name, value in pairs:
            if (
                limits.max_label_name_length is not None
                and len(name) > limits.max_label_name_length
            ):
                shown = name if len(name) <= 40 else name[:40] + "..."
                raise self._refuse(
                    f"label name {shown!r} in {where} is {len(name)} characters long,"
                    f" more than max_label_name_length ({limits.max_label_name_length});"
                    " nothing was stored",
                    "label_name_length",
                    400,
                )
            if (
                limits.max_label_value_length is not None
                and len(value) > limits.max_label_value_length
            ):
                raise self._refuse(
                    f"the value of label {name!r} in {where} is {len(value)} characters long,"
                    f" more than max_label_value_length ({limits.max_label_value_length});"
                    " nothing was stored",
                    "label_value_length",
                    400,
                )


#: Limits the config file may set, in its own words, for the own metrics.
LIMIT_NAMES = (
    "max_body_bytes",
    "max_samples_per_push",
    "max_labels_per_series",
    "max_label_name_length",
    "max_label_value_length",
)


def configured_limits(limits: RequestLimits) -> list[tuple[str, float]]:
    """``(name, value)`` of every request limit that is set."""
    out: list[tuple[str, float]] = []
    for name in LIMIT_NAMES:
        value = getattr(limits, name)
        if value is not None:
            out.append((name, float(value)))
    if limits.push_rate is not None:
        out.append(("push_rate_per_second", limits.push_rate.per_second))
        out.append(("push_rate_burst", float(limits.push_rate.burst)))
    return out
