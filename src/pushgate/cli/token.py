"""``pushgate hash-token``: make a bearer token and the web config entry that admits it.

The gateway stores only the SHA-256 of a token (a token is 256 random bits,
so a fast hash is as safe as a slow one and costs nothing per request); the
token itself is printed once, here, for the client's secret store.
``--bcrypt`` instead hashes a password for ``basic_auth_users``.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import secrets
import sys
from typing import TextIO

import bcrypt
import yaml

from pushgate.core.errors import ConfigError
from pushgate.server.grants import check_scoping, parse_actions, parse_match

#: Tokens made here start with this, so that a leaked one is recognisable
#: (secret scanners can be taught the prefix).
TOKEN_PREFIX = "pgt_"

EPILOG = """\
examples:
  pushgate hash-token --name beast-ci --actions push,delete --match 'job="beast-mailbox-core"'
      a new token for one project's CI, and its entry for pushgate_authorization.tokens
  pushgate hash-token --name grafana --actions read
      a token for Prometheus/Grafana to scrape with (read_requires_auth: true)
  printf %s "$EXISTING_TOKEN" | pushgate hash-token --stdin --name legacy
      the entry for a token you already have
  pushgate hash-token --bcrypt --name alice
      a bcrypt hash for basic_auth_users (the password is asked for, not echoed)

The token is printed on stdout once; only its hash goes into the web config
file. Give the token to the client as PUSHGATE_TOKEN (pushgate report) or as
Prometheus' `authorization: {credentials_file: ...}`. See docs/security.md.
"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "hash-token",
        help="make a bearer token (or bcrypt password hash) for --web.config.file",
        description="Print a new random bearer token and the web config entry that admits"
        " it (only its SHA-256 is stored).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--name", default="ci", help="name of the token in the audit log (default ci)")
    p.add_argument(
        "--actions",
        default="push",
        metavar="LIST",
        help="comma-separated: push, delete, read, admin (default push)",
    )
    p.add_argument(
        "--match",
        action="append",
        default=[],
        metavar="MATCHER",
        help='limit push/delete to groups matching, repeatable: job="foo", branch=~"feature/.*"',
    )
    p.add_argument(
        "--stdin",
        action="store_true",
        help="hash the token read from standard input instead of making one",
    )
    p.add_argument(
        "--bcrypt",
        action="store_true",
        help="hash a password for basic_auth_users instead (read from stdin or asked for)",
    )
    p.add_argument(
        "--cost", type=int, default=10, help="bcrypt cost with --bcrypt (4-31, default 10)"
    )
    p.set_defaults(func=run)


def hash_token(token: str) -> str:
    """The value of ``sha256:`` in the web config for ``token``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def run(args: argparse.Namespace, stdin: TextIO | None = None, out: TextIO | None = None) -> int:
    source = stdin if stdin is not None else sys.stdin
    sink = out if out is not None else sys.stdout
    if args.bcrypt:
        return _bcrypt(args, source, sink)
    actions = parse_actions(args.actions, "--actions")
    selector = parse_match(args.match or None, "--match")
    check_scoping(actions, selector, "--actions/--match")
    if args.stdin:
        token = source.read().strip()
        if not token:
            raise ConfigError("--stdin: no token on standard input")
    else:
        token = new_token()
    entry: dict[str, object] = {
        "name": args.name,
        "sha256": hash_token(token),
        "actions": sorted(actions),
    }
    if selector.matchers:
        entry["match"] = [str(m) for m in selector.matchers]
    if not args.stdin:
        print(
            "# the token (shown only now; give it to the client, e.g. as PUSHGATE_TOKEN):",
            file=sink,
        )
        print(token, file=sink)
        print(file=sink)
    print("# add under pushgate_authorization.tokens in the --web.config.file:", file=sink)
    sink.write(yaml.safe_dump([entry], sort_keys=False, allow_unicode=True, width=1000))
    return 0


def _bcrypt(args: argparse.Namespace, source: TextIO, sink: TextIO) -> int:
    if not 4 <= args.cost <= 31:
        raise ConfigError(f"--cost {args.cost}: bcrypt's cost is between 4 and 31")
    if source.isatty():
        password = getpass.getpass(f"password for {args.name}: ")
    else:
        password = source.readline().rstrip("\r\n")
    encoded = password.encode("utf-8")
    if not encoded:
        raise ConfigError("--bcrypt: empty password")
    if len(encoded) > 72:
        raise ConfigError("--bcrypt: bcrypt uses at most 72 bytes of a password; use a shorter one")
    hashed = bcrypt.hashpw(encoded, bcrypt.gensalt(args.cost)).decode("ascii")
    print("# add under basic_auth_users in the --web.config.file:", file=sink)
    sink.write(yaml.safe_dump({args.name: hashed}, sort_keys=False))
    return 0
