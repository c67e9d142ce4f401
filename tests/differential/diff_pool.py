"""Gateway processes shared by many cases, and the golden files.

Starting a gateway per case would dominate the run time, so one process is
kept per configuration (flag set) and its store is emptied before each case
(admin wipe, or a DELETE per group when the admin API is off). Cases that
stop the process ask for a ``fresh`` gateway of their own.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.conftest import (
    REQUIRE_ALL,
    GatewayProcess,
    free_port,
    pushgate_argv,
    require_binary,
)
from tests.differential.diff_harness import Case, Config, Observation, reset

__all__ = ["REQUIRE_ALL", "require_binary"]

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
GO_BINARY = "prometheus-pushgateway"

ArgvMaker = Callable[[int, tuple[str, ...], Path], list[str]]


def go_argv(port: int, flags: tuple[str, ...], data_dir: Path) -> list[str]:
    binary = shutil.which(GO_BINARY)
    if binary is None:
        raise RuntimeError(f"{GO_BINARY} is not installed")
    return [binary, f"--web.listen-address=127.0.0.1:{port}", "--persistence.file=", *flags]


def pushgate_serve_argv(port: int, flags: tuple[str, ...], data_dir: Path) -> list[str]:
    return pushgate_argv(port, *flags, data_dir=data_dir)


class GatewayPool:
    """Lazily started gateways, one per configuration."""

    def __init__(self, make_argv: ArgvMaker, workdir: Path) -> None:
        self._make_argv = make_argv
        self._workdir = workdir
        self._running: dict[object, GatewayProcess] = {}
        self._counter = 0

    def _start(self, config: Config) -> GatewayProcess:
        self._counter += 1
        data_dir = self._workdir / f"gw{self._counter}"
        data_dir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        gw = GatewayProcess(
            self._make_argv(port, config.flags, data_dir),
            port,
            data_dir,
            health_path=config.prefix + "/-/healthy",
        )
        try:
            gw.start()
        except BaseException:
            # Never leave a process behind, whatever went wrong while starting it.
            gw.stop()
            raise
        return gw

    @contextmanager
    def acquire(self, config: Config) -> Iterator[GatewayProcess]:
        """A running gateway for ``config`` with an empty store."""
        if config.fresh:
            gw = self._start(config)
            try:
                yield gw
            finally:
                gw.stop()
            return
        gw_or_none = self._running.get(config.key)
        if gw_or_none is None or gw_or_none.proc is None or gw_or_none.proc.poll() is not None:
            gw_or_none = self._running[config.key] = self._start(config)
        reset(gw_or_none.port, config)
        yield gw_or_none

    def close(self) -> None:
        for gw in self._running.values():
            gw.stop()
        self._running.clear()


def golden_path(section: str) -> Path:
    return GOLDEN_DIR / f"{section}.json"


def load_golden() -> dict[str, dict[str, Any]]:
    """Every recorded case, by name."""
    entries: dict[str, dict[str, Any]] = {}
    for path in sorted(GOLDEN_DIR.glob("*.json")):
        entries.update(json.loads(path.read_text(encoding="utf-8")))
    return entries


def golden_entry(case: Case, observations: list[Observation] | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "flags": list(case.config.flags),
        "requests": [step.describe() for step in case.steps],
    }
    if case.expected_difference:
        entry["expected_difference"] = case.expected_difference
    entry["observations"] = observations
    return entry


def dump_golden(section: str, entries: dict[str, dict[str, Any]]) -> None:
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    text = json.dumps(entries, indent=1, sort_keys=True, ensure_ascii=True) + "\n"
    golden_path(section).write_text(text, encoding="utf-8")
