"""The ``pushgate`` command: subcommands, and the one place errors become exit codes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pushgate import __version__
from pushgate.cli import report, serve, token
from pushgate.core.errors import PushgateError

EPILOG = """\
commands:
  pushgate serve     run the gateway (a drop-in Prometheus Pushgateway)
  pushgate report    push CI results (JUnit, coverage, SonarCloud) to a gateway
  pushgate flush     deliver pushes that `report --spool` kept while a gateway was down
  pushgate hash-token  make a bearer token (or bcrypt hash) for --web.config.file

Run `pushgate COMMAND --help` for the options and examples of each.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pushgate",
        description="A durable, fast, wire-compatible Prometheus Pushgateway, and its CI agent.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pushgate {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve.add_parser(subparsers)
    report.add_parser(subparsers)
    token.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        code: int = args.func(args)
    except PushgateError as e:
        print(f"pushgate {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code
