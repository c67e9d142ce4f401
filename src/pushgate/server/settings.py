"""All settings of ``pushgate serve`` in one object (built by the CLI)."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from pushgate.store.sqlite import Durability


@dataclass(frozen=True)
class Settings:
    """Flags of the official Pushgateway (same names and defaults) plus ours.

    ``persistence_file`` is ``None`` for the memory store (the official
    meaning of ``--persistence.file=``). ``flags`` holds every flag as the
    string that ``/api/v1/status`` reports.
    """

    listen_addresses: tuple[str, ...] = (":9091",)
    telemetry_path: str = "/metrics"
    external_url: str = ""
    route_prefix: str = ""
    enable_lifecycle: bool = False
    enable_admin_api: bool = False
    web_config_file: str = ""
    #: ``--config.file``: expiry, retention and limits (docs/retention.md); "" for none.
    config_file: str = ""
    persistence_file: str | None = None
    #: ``--store``: a Redis URL for the shared store (then ``persistence_file`` is unused).
    store_url: str | None = None
    persistence_interval: str = "5m0s"
    disable_consistency_check: bool = False
    durability: Durability = "process"
    log_level: str = "info"
    log_format: str = "logfmt"
    max_body_bytes: int = 256 * 1024 * 1024
    flags: dict[str, str] = field(default_factory=dict)

    @property
    def effective_prefix(self) -> str:
        """The route prefix: ``--web.route-prefix`` or the external URL's path (spec 8.1)."""
        prefix = self.route_prefix
        if not prefix and self.external_url:
            prefix = urlsplit(self.external_url).path
        prefix = "/" + prefix.strip("/")
        return "" if prefix == "/" else prefix

    @property
    def ui_path_prefix(self) -> str:
        """Prefix of links in the web UI: the external URL's path, else relative."""
        if self.external_url:
            path = urlsplit(self.external_url).path.rstrip("/")
            return path
        return "."
