"""``pushgate serve``: the official Pushgateway's flags, then the server."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
from pathlib import Path

from pushgate.cli.logs import setup_logging
from pushgate.core.errors import ConfigError
from pushgate.server.settings import Settings
from pushgate.store.redis_url import is_redis_url, parse_redis_url, redact_url

EPILOG = """\
examples:
  pushgate serve
      listen on :9091, keep every push durably in the default data directory
  pushgate serve --web.listen-address=127.0.0.1:9091 --persistence.file=/var/lib/pushgate/pg.db
  pushgate serve --persistence.file=      (empty: memory only, like the official default)
  pushgate serve --web.enable-admin-api --web.enable-lifecycle --web.route-prefix=/pg
  pushgate serve --config.file=/etc/pushgate/pushgate.yml --web.enable-lifecycle
      expire, retain and limit pushes (docs/retention.md); reload with SIGHUP or
      curl -X POST http://localhost:9091/-/reload

Every flag of the official Pushgateway is accepted with the same name and
default, so a manifest that starts prometheus-pushgateway starts pushgate.
A push is answered only once it is committed to the store: nothing that was
acknowledged is lost on a crash (--persistence.interval is accepted but not
needed). Known differences from the official 1.5.1: docs/compatibility.md.
"""

_DURATION = re.compile(r"^(\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h|d|w|y))+$")


def default_data_dir() -> Path:
    """``$PUSHGATE_DATA_DIR``, else ``$XDG_DATA_HOME/pushgate``, else ``~/.local/share/pushgate``."""
    explicit = os.environ.get("PUSHGATE_DATA_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "pushgate"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "serve",
        help="run the gateway (drop-in for the Prometheus Pushgateway)",
        description="Run a Prometheus-Pushgateway-compatible gateway with a durable store.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bool_flag = argparse.BooleanOptionalAction
    p.add_argument(
        "--web.listen-address",
        dest="listen",
        action="append",
        metavar="ADDR",
        help="address to listen on, repeatable (default :9091)",
    )
    p.add_argument(
        "--web.systemd-socket",
        dest="systemd_socket",
        action=bool_flag,
        default=False,
        help="accepted for compatibility; not supported",
    )
    p.add_argument(
        "--web.config.file",
        dest="web_config_file",
        default="",
        metavar="FILE",
        help="TLS, basic auth (exporter-toolkit format) and pushgate's scoped tokens and"
        " OIDC; see docs/security.md",
    )
    p.add_argument(
        "--config.file",
        dest="config_file",
        default="",
        metavar="FILE",
        help="expiry, retention by count and limits (YAML; reloaded by SIGHUP and, with"
        " --web.enable-lifecycle, PUT/POST /-/reload); see docs/retention.md",
    )
    p.add_argument(
        "--web.telemetry-path",
        dest="telemetry_path",
        default="/metrics",
        metavar="PATH",
        help="path of the scrape endpoint (default /metrics)",
    )
    p.add_argument(
        "--web.external-url",
        dest="external_url",
        default="",
        metavar="URL",
        help="URL under which the gateway is reachable from outside",
    )
    p.add_argument(
        "--web.route-prefix",
        dest="route_prefix",
        default="",
        metavar="PREFIX",
        help="prefix of every route (default: the path of --web.external-url)",
    )
    p.add_argument(
        "--web.enable-lifecycle",
        dest="enable_lifecycle",
        action=bool_flag,
        default=False,
        help="enable PUT/POST /-/quit",
    )
    p.add_argument(
        "--web.enable-admin-api",
        dest="enable_admin_api",
        action=bool_flag,
        default=False,
        help="enable PUT /api/v1/admin/wipe",
    )
    p.add_argument(
        "--persistence.file",
        dest="persistence_file",
        default=None,
        metavar="FILE",
        help="the store file (default: pushgate.db in the data directory; empty: memory only)",
    )
    p.add_argument(
        "--persistence.interval",
        dest="persistence_interval",
        default="5m",
        metavar="DURATION",
        help="accepted for compatibility; every push is committed before it is"
        " answered, so there is nothing to schedule",
    )
    p.add_argument(
        "--persistence.durability",
        dest="durability",
        default="process",
        choices=("process", "os"),
        help="process: survive a crash of the gateway (default); os: also an OS"
        " crash or power loss (fsync on every commit)",
    )
    p.add_argument(
        "--store",
        dest="store_url",
        default=None,
        metavar="URL",
        help="share the store with other replicas through Redis instead of a file:"
        " redis://HOST:PORT/DB, redis+sentinel://HOST:PORT,.../MASTER/DB or"
        " redis+cluster://HOST:PORT,... (docs/redis.md)",
    )
    p.add_argument(
        "--push.disable-consistency-check",
        dest="disable_check",
        action=bool_flag,
        default=False,
        help="answer pushes with 202 like the official flag; pushgate's check is"
        " incremental and stays on (see docs/compatibility.md)",
    )
    p.add_argument(
        "--log.level",
        dest="log_level",
        default="info",
        choices=("debug", "info", "warn", "error"),
        help="log level",
    )
    p.add_argument(
        "--log.format",
        dest="log_format",
        default="logfmt",
        choices=("logfmt", "json"),
        help="log format",
    )
    p.set_defaults(func=run)


def _go_duration(text: str) -> str:
    if not _DURATION.match(text):
        raise ConfigError(
            f"--persistence.interval: {text!r} is not a duration; use Go's form, e.g. 5m or 30s"
        )
    return "5m0s" if text == "5m" else text


def _route_prefix(route_prefix: str, external_url: str) -> str:
    """The effective prefix, which 1.5.1 reports as the flag's value in /api/v1/status."""
    return Settings(route_prefix=route_prefix, external_url=external_url).effective_prefix


def settings_from_args(args: argparse.Namespace) -> Settings:
    listen = tuple(args.listen or [":9091"])
    for address in listen:
        _, sep, port = address.rpartition(":")
        if not sep or not port.isdigit():
            raise ConfigError(
                f"--web.listen-address: {address!r} is not HOST:PORT; e.g. :9091 or 127.0.0.1:9091"
            )
    store_url: str | None = args.store_url
    if store_url is not None:
        if not is_redis_url(store_url):
            raise ConfigError(
                f"--store: {redact_url(store_url)!r} is not a Redis URL; use"
                " redis://HOST:PORT/DB (docs/redis.md), or --persistence.file for a local store"
            )
        if args.persistence_file:
            raise ConfigError(
                "--store and --persistence.file both name a store; give only one"
                " (replicas that share Redis keep no file)"
            )
        parse_redis_url(store_url)  # report a malformed URL before anything starts
    if store_url is not None or args.persistence_file == "":
        persistence: str | None = None
    elif args.persistence_file is None:
        persistence = str(default_data_dir() / "pushgate.db")
    else:
        persistence = args.persistence_file
    if not args.telemetry_path.startswith("/"):
        raise ConfigError(f"--web.telemetry-path: {args.telemetry_path!r} must start with '/'")
    interval = _go_duration(args.persistence_interval)
    flags = {
        "log.format": args.log_format,
        "log.level": args.log_level,
        "persistence.durability": args.durability,
        "persistence.file": persistence or "",
        "persistence.interval": interval,
        "push.disable-consistency-check": str(args.disable_check).lower(),
        "web.config.file": args.web_config_file,
        "web.enable-admin-api": str(args.enable_admin_api).lower(),
        "web.enable-lifecycle": str(args.enable_lifecycle).lower(),
        "web.external-url": args.external_url,
        "web.listen-address": listen[0] if len(listen) == 1 else ",".join(listen),
        "web.route-prefix": _route_prefix(args.route_prefix, args.external_url),
        "web.systemd-socket": str(args.systemd_socket).lower(),
        "web.telemetry-path": args.telemetry_path,
    }
    if store_url is not None:
        flags["store"] = redact_url(store_url)  # credentials never leave the process
    if args.config_file:
        flags["config.file"] = args.config_file
    return Settings(
        listen_addresses=listen,
        telemetry_path=args.telemetry_path,
        external_url=args.external_url,
        route_prefix=args.route_prefix,
        enable_lifecycle=args.enable_lifecycle,
        enable_admin_api=args.enable_admin_api,
        web_config_file=args.web_config_file,
        config_file=args.config_file,
        persistence_file=persistence,
        store_url=store_url,
        persistence_interval=interval,
        disable_consistency_check=args.disable_check,
        durability=args.durability,
        log_level=args.log_level,
        log_format=args.log_format,
        flags=flags,
    )


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    setup_logging(settings.log_level, settings.log_format)
    if args.systemd_socket:
        raise ConfigError(
            "--web.systemd-socket is not supported by pushgate; use --web.listen-address"
        )
    from pushgate.server.app import serve

    try:
        import uvloop
    except ImportError:
        return asyncio.run(serve(settings))
    return uvloop.run(serve(settings))
