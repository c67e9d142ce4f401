"""The grouping-key codec: push URL path pieces <-> :data:`GroupingKey`.

A push URL addresses a group as ``/metrics/job/<job>{/<name>/<value>}``, or
with ``job@base64/<job>`` and ``<name>@base64/<value>`` for values that cannot
appear in a path segment (a ``/``, an empty value). The router hands this
module the pieces *after* Go-style percent-decoding: the ``:job`` segment and
the ``*labels`` catch-all with its leading ``/``.

Strings here may carry bytes that are not UTF-8: they are decoded with
``surrogateescape`` so that every byte survives, and the store rejects
invalid UTF-8 later, as the official gateway does (spec 2.3, B.1 item 8).

Error messages are the exact texts of the 1.5.1 gateway (HTTP 400 bodies),
including Go's ``%q`` quoting; ``tests/unit/core/test_grouping.py`` pins them
against answers recorded from the real binary.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from urllib.parse import quote

from pushgate.core.errors import GroupingKeyError
from pushgate.core.goquote import go_quote
from pushgate.core.memo import BoundedMemo
from pushgate.core.model import GroupingKey, grouping_key_from_mapping
from pushgate.core.names import is_reserved_label_name, is_valid_label_name

#: Suffix of a path label name (or of ``job``) whose value is base64url.
BASE64_SUFFIX = "@base64"

# RFC 4648 section 5 alphabet; -1 marks a byte that is not part of it.
_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_B64_VALUES: tuple[int, ...] = tuple(_B64_ALPHABET.find(bytes([b])) for b in range(256))

# Go's base64 decoder silently skips CR and LF wherever they appear, so a
# percent-encoded newline inside a base64 value is ignored (pinned by
# test_decode_skips_newlines).
_SKIPPED = frozenset(b"\r\n")


def _to_bytes(s: str) -> bytes:
    """The bytes behind ``s``: surrogate escapes become the original bytes."""
    try:
        return s.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        # A lone surrogate that is not an escaped byte: Go would hold its
        # (invalid) UTF-8 encoding, so keep exactly that.
        return s.encode("utf-8", "surrogatepass")


def _to_str(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


def _decode_base64(data: bytes) -> tuple[bytes, int | None]:
    """Go's ``RawURLEncoding.DecodeString`` after trimming trailing ``=``.

    Returns the decoded bytes and the offset of the first illegal input byte
    (``None`` on success). On failure the bytes are what Go returns too: every
    complete 4-character quantum before the failing one. The job error
    message quotes exactly that partial value (spec 2.1 step 1).
    """
    data = data.rstrip(b"=")
    out = bytearray()
    quantum: list[int] = []
    for offset, byte in enumerate(data):
        if byte in _SKIPPED:
            continue
        value = _B64_VALUES[byte]
        if value < 0:
            # Any byte outside the alphabet, '=' in the middle included.
            return bytes(out), offset
        quantum.append(value)
        if len(quantum) == 4:
            bits = quantum[0] << 18 | quantum[1] << 12 | quantum[2] << 6 | quantum[3]
            out += bits.to_bytes(3, "big")
            quantum.clear()
    if len(quantum) == 1:
        # A lone final character cannot make a byte. Go reports the input
        # length minus one, whatever newlines came in between.
        return bytes(out), len(data) - 1
    if quantum:
        # 2 or 3 characters make 1 or 2 bytes; leftover bits are ignored
        # (Go's non-strict mode).
        bits = 0
        for value in quantum:
            bits = bits << 6 | value
        bits <<= 6 * (4 - len(quantum))
        out += bits.to_bytes(3, "big")[: len(quantum) - 1]
    return bytes(out), None


def decode_base64_value(s: str) -> str:
    """Decode a ``@base64`` path value as the official gateway does.

    Trailing ``=`` are stripped, the rest is unpadded base64url; ``+`` and
    ``/`` are illegal; CR and LF are skipped. Raises :class:`GroupingKeyError`
    with Go's ``illegal base64 data at input byte N``.
    """
    decoded, error_at = _decode_base64(_to_bytes(s))
    if error_at is not None:
        raise GroupingKeyError(f"illegal base64 data at input byte {error_at}")
    return _to_str(decoded)


def encode_base64_value(value: str) -> str:
    """Unpadded base64url of ``value``; ``=`` for the empty value.

    The empty value needs a non-empty segment: ``//`` in a path is
    redirected, and ``=`` decodes to the empty string (spec 2.3).
    """
    encoded = base64.urlsafe_b64encode(_to_bytes(value)).rstrip(b"=").decode("ascii")
    return encoded or "="


def _split_labels(label_string: str) -> dict[str, str]:
    """The ``*labels`` part of a push URL as a mapping (spec 2.2)."""
    labels: dict[str, str] = {}
    if len(label_string) <= 1:
        return labels
    components = label_string[1:].split("/")
    if len(components) % 2 != 0:
        raise GroupingKeyError(f"odd number of components in label string {go_quote(label_string)}")
    for i in range(0, len(components), 2):
        name, value = components[i], components[i + 1]
        # Only one suffix is stripped: "a@base64@base64" stays invalid.
        trimmed = name.removesuffix(BASE64_SUFFIX)
        if not is_valid_label_name(trimmed) or is_reserved_label_name(trimmed):
            raise GroupingKeyError(f"improper label name {go_quote(trimmed)}")
        if trimmed != name:
            decoded, error_at = _decode_base64(_to_bytes(value))
            if error_at is not None:
                raise GroupingKeyError(
                    f"invalid base64 encoding for label {trimmed}={go_quote(value)}: "
                    f"illegal base64 data at input byte {error_at}"
                )
            value = _to_str(decoded)
        # Duplicate names: the last one wins, without an error (B.1 item 6).
        labels[trimmed] = value
    return labels


def parse_grouping_key(job: str, job_base64: bool, label_string: str) -> GroupingKey:
    """The grouping key addressed by a push URL.

    ``job`` is the (percent-decoded) job segment, ``job_base64`` tells
    whether the route was ``job@base64``, and ``label_string`` is the
    ``*labels`` catch-all including its leading ``/`` (or ``""``).

    The checks run in the gateway's order and the first failure wins:
    job decoding, label splitting, then the empty job. A ``job`` pair in the
    label part is overridden by the job segment. Raises
    :class:`GroupingKeyError`. Keys are remembered (a bounded memo of the
    successful ones): pushers address the same groups again and again.
    """
    return _remembered_keys((job, job_base64, label_string))


def _parse_grouping_key(job: str, job_base64: bool, label_string: str) -> GroupingKey:
    if job_base64:
        decoded, error_at = _decode_base64(_to_bytes(job))
        if error_at is not None:
            # Quirk kept on purpose: Go quotes the partially decoded job, not
            # the input (spec 2.1; test_job_error_quotes_partial_value).
            raise GroupingKeyError(
                f"invalid base64 encoding in job name {go_quote(_to_str(decoded))}: "
                f"illegal base64 data at input byte {error_at}"
            )
        job = _to_str(decoded)
    labels = _split_labels(label_string)
    if job == "":
        raise GroupingKeyError("job name is required")
    labels["job"] = job
    return grouping_key_from_mapping(labels)


def _plain_segment_ok(value: str) -> bool:
    """Whether ``value`` survives as a percent-encoded path segment.

    Not: the empty value (``//`` is redirected), a value with ``/`` (``%2F``
    is decoded before routing and splits the path), ``.`` and ``..`` (path
    cleaning removes them), and anything unprintable or not valid Unicode
    text, which proxies and servers may mangle.
    """
    if value in ("", ".", ".."):
        return False
    return "/" not in value and value.isprintable()


def _render_pair(name: str, value: str) -> str:
    if _plain_segment_ok(value):
        return f"/{name}/{quote(value, safe='')}"
    return f"/{name}{BASE64_SUFFIX}/{encode_base64_value(value)}"


def render_grouping_path(key: GroupingKey | Mapping[str, str]) -> str:
    """The URL path suffix (after ``/metrics``) that addresses ``key``.

    ``/job/<job>/<name>/<value>...``: job first, then the other labels
    sorted by name. Values that cannot be a plain path segment are sent as
    ``<name>@base64/<base64url>`` (``=`` for the empty value), all others are
    percent-encoded. :func:`parse_grouping_key` of the decoded pieces gives
    ``key`` back. Raises :class:`GroupingKeyError` when the key could never
    be accepted: no or empty job, or an improper label name.
    """
    labels = dict(key.items() if isinstance(key, Mapping) else key)
    job = labels.pop("job", None)
    if not job:
        raise GroupingKeyError("job name is required")
    parts = [_render_pair("job", job)]
    for name in sorted(labels):
        if not is_valid_label_name(name) or is_reserved_label_name(name):
            raise GroupingKeyError(f"improper label name {go_quote(name)}")
        parts.append(_render_pair(name, labels[name]))
    return "".join(parts)


_remembered_keys: BoundedMemo[tuple[str, bool, str], GroupingKey] = BoundedMemo(
    lambda request: _parse_grouping_key(*request),
    entries=4096,
    keep=lambda request, _: len(request[0]) + len(request[2]) <= 512,
)
