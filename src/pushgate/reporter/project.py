"""The project's own version, read from its files or from git.

Sources, in order: ``pyproject.toml`` (``[project] version``, then
``[tool.poetry] version``), ``package.json`` (``version``), and
``git describe --tags --always``. A leading ``v`` before a digit is dropped
(``v0.4.5`` -> ``0.4.5``) so that every source spells versions alike.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from pushgate.reporter.ci_context import GitReader
from pushgate.reporter.errors import ReportInputError

_VERSION_PREFIX = re.compile(r"^v(?=\d)")


def normalise_version(version: str) -> str:
    return _VERSION_PREFIX.sub("", version.strip())


def _pyproject_version(path: Path) -> str | None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError:
        return None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ReportInputError(f"{path}: not valid TOML ({exc}); fix it or pass --version") from exc
    for table in (data.get("project"), data.get("tool", {}).get("poetry")):
        if isinstance(table, dict) and isinstance(table.get("version"), str):
            return str(table["version"])
    # A dynamic version (setuptools-scm and friends) comes from git below.
    return None


def _package_json_version(path: Path) -> str | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ReportInputError(f"{path}: not valid JSON ({exc}); fix it or pass --version") from exc
    version = data.get("version") if isinstance(data, dict) else None
    return version if isinstance(version, str) and version else None


def detect_version(project_dir: Path, git: GitReader) -> str | None:
    """The project's version, or ``None`` if no source gives one."""
    for found in (
        _pyproject_version(project_dir / "pyproject.toml"),
        _package_json_version(project_dir / "package.json"),
        git("describe", "--tags", "--always"),
    ):
        if found and found.strip():
            return normalise_version(found)
    return None
