"""The project version from pyproject.toml, package.json or git describe."""

from __future__ import annotations

from pathlib import Path

import pytest

from pushgate.reporter.errors import ReportInputError
from pushgate.reporter.project import detect_version
from tests.unit.reporter.fakes import fake_git

GIT = fake_git({"describe --tags --always": "v1.2.3-4-gabcdef0"})


def test_pyproject_first(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0.4.5"\n')
    (tmp_path / "package.json").write_text('{"version": "9.9.9"}')
    assert detect_version(tmp_path, GIT) == "0.4.5"


def test_poetry(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.poetry]\nversion = "2.0.0"\n')
    assert detect_version(tmp_path, GIT) == "2.0.0"


def test_dynamic_version_falls_through_to_package_json(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\ndynamic = ["version"]\n')
    (tmp_path / "package.json").write_text('{"name": "x", "version": "3.1.0"}')
    assert detect_version(tmp_path, GIT) == "3.1.0"


def test_git_describe_without_the_v(tmp_path: Path) -> None:
    assert detect_version(tmp_path, GIT) == "1.2.3-4-gabcdef0"
    assert detect_version(tmp_path, fake_git()) is None


def test_broken_pyproject_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\n")
    with pytest.raises(ReportInputError, match=r"pyproject\.toml: not valid TOML.*pass --version"):
        detect_version(tmp_path, GIT)
