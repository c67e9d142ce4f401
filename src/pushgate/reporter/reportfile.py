"""Finding and safely reading the report files that CI tools write.

Every reader goes through here so that the same rules hold for each format:
globs are expanded relative to the project directory, a file bigger than the
limit is refused before it is read, XML entity tricks (billion laughs, external
entities) are refused by ``defusedxml``, and every error names the file.
"""

from __future__ import annotations

import glob
import xml.etree.ElementTree as ET
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import IO, Literal

import defusedxml
import defusedxml.ElementTree as SafeET

from pushgate.reporter.errors import ReportInputError

#: Biggest report file read. JUnit files with captured output reach tens of MiB;
#: anything beyond this is much more likely a wrong path (a core dump, a log).
MAX_REPORT_BYTES = 256 * 1024 * 1024

XmlEvent = Literal["start", "end"]


def expand_patterns(patterns: Sequence[str], base: Path, *, option: str) -> list[Path]:
    """The files matched by glob ``patterns`` (relative to ``base``), sorted, without duplicates.

    A pattern that matches nothing is an error naming the pattern: a CI step
    that writes no report usually means the tests never ran.
    """
    found: dict[Path, None] = {}
    for pattern in patterns:
        full = pattern if Path(pattern).is_absolute() else str(base / pattern)
        matches = sorted(Path(m) for m in glob.glob(full, recursive=True) if Path(m).is_file())
        if not matches:
            raise ReportInputError(
                f"{option} {pattern!r}: no file matches (looked in {base}); "
                "check the path, or that the step that writes it ran"
            )
        for m in matches:
            found.setdefault(m, None)
    return list(found)


class _LimitedReader:
    """A binary reader that refuses to go past ``limit`` bytes.

    The size is checked with ``stat`` first; this also covers pipes and files
    that grow while being read.
    """

    def __init__(self, raw: IO[bytes], path: Path, limit: int) -> None:
        self._raw = raw
        self._path = path
        self._limit = limit
        self._seen = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._raw.read(size if size >= 0 else self._limit + 1)
        self._seen += len(chunk)
        if self._seen > self._limit:
            raise ReportInputError(_too_big(self._path, self._limit))
        return chunk


def _too_big(path: Path, limit: int) -> str:
    return (
        f"{path}: larger than the {_human(limit)} limit for a report file; is this the right file?"
    )


def _human(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):g} MiB"
    if size >= 1024:
        return f"{size / 1024:g} KiB"
    return f"{size} bytes"


def _check_size(path: Path, limit: int) -> None:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ReportInputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if size > limit:
        raise ReportInputError(_too_big(path, limit))


def read_head(path: Path, size: int = 4096) -> bytes:
    """The first ``size`` bytes of ``path``, to recognise its format."""
    try:
        with path.open("rb") as raw:
            return raw.read(size)
    except OSError as exc:
        raise ReportInputError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def read_bytes(path: Path, limit: int = MAX_REPORT_BYTES) -> bytes:
    """The content of ``path``, refusing files over ``limit`` bytes."""
    _check_size(path, limit)
    try:
        with path.open("rb") as raw:
            return _LimitedReader(raw, path, limit).read()
    except OSError as exc:
        raise ReportInputError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def read_text(path: Path, limit: int = MAX_REPORT_BYTES) -> str:
    """The UTF-8 text of ``path``; invalid UTF-8 is an error naming the file."""
    data = read_bytes(path, limit)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReportInputError(
            f"{path}: not UTF-8 text (byte {exc.start}); is it the right file?"
        ) from exc


def iter_xml(
    path: Path, kind: str, limit: int = MAX_REPORT_BYTES
) -> Generator[tuple[XmlEvent, ET.Element], None, None]:
    """Stream ``(event, element)`` pairs of an XML file, safely.

    Streaming keeps memory flat for big JUnit files; callers clear elements
    they are done with. ``kind`` ("JUnit XML", ...) goes into error messages.
    DTDs are allowed because JaCoCo writes a DOCTYPE; entity declarations and
    external references are refused.
    """
    _check_size(path, limit)
    try:
        with path.open("rb") as raw:
            reader = _LimitedReader(raw, path, limit)
            for event, element in SafeET.iterparse(reader, events=("start", "end")):
                # Only the two requested events occur; the test narrows the type.
                if event == "start" or event == "end":
                    yield event, element
    except ET.ParseError as exc:
        line, column = exc.position
        raise ReportInputError(
            f"{path}: not well-formed XML at line {line}, column {column + 1}; "
            f"expected a {kind} report"
        ) from exc
    except defusedxml.DefusedXmlException as exc:
        raise ReportInputError(
            f"{path}: refused: the XML declares entities or external references "
            f"({type(exc).__name__}), which {kind} reports never need"
        ) from exc
    except OSError as exc:
        raise ReportInputError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def local_name(tag: str) -> str:
    """An element name without its ``{namespace}``, so namespaced reports parse too."""
    return tag.rsplit("}", 1)[-1]
