"""TLS for the listeners, from ``tls_server_config``, reloaded without a restart.

:func:`build_ssl_context` maps the exporter-toolkit fields to Python's
``ssl``: the certificate and key, ``client_auth_type`` (``NoClientCert``,
``VerifyClientCertIfGiven``, ``RequireAndVerifyClientCert``) with the
client CA, ``min_version``/``max_version``, Go-named ``cipher_suites``
(TLS 1.2 and lower; TLS 1.3 suites are not configurable, as in Go) and
``curve_preferences``.

:class:`TlsReloader` gives the listeners one context whose SNI callback,
called at every handshake, checks the web config (a ``stat`` of its files)
and, when anything changed, switches the handshake to a context built from
the new files. The certificate, key and client CA of a new connection are
therefore always the current ones, as with the toolkit's
``GetConfigForClient``. OpenSSL copies the verify mode and the protocol
versions when a connection starts, so a change of ``client_auth_type`` or
of the versions is applied to the listener's context for the connections
after the one that noticed it; connections that are already open keep what
they negotiated (as in Go).
"""

from __future__ import annotations

import logging
import ssl

from pushgate.core.errors import ConfigError
from pushgate.server.webconfig import (
    GO_CIPHER_SUITES,
    GO_CURVES,
    TlsServerConfig,
    TlsVersion,
    WebConfigSource,
)

log = logging.getLogger("pushgate.server")

_VERSIONS: dict[TlsVersion, ssl.TLSVersion] = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}

_VERIFY = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}


def build_ssl_context(tls: TlsServerConfig) -> ssl.SSLContext:
    """A server context for ``tls``; raises :class:`ConfigError` on unusable files."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.load_cert_chain(tls.cert_file, tls.key_file)
    except (OSError, ssl.SSLError) as e:
        raise ConfigError(
            f"tls_server_config: cannot load cert_file {tls.cert_file} with key_file"
            f" {tls.key_file}: {e}"
        ) from None
    _apply_settings(ctx, tls)
    if tls.client_ca_file is not None:
        try:
            ctx.load_verify_locations(cafile=tls.client_ca_file)
        except (OSError, ssl.SSLError) as e:
            raise ConfigError(
                f"tls_server_config: cannot load client_ca_file {tls.client_ca_file}: {e}"
            ) from None
    suites = [GO_CIPHER_SUITES[s] for s in tls.cipher_suites if s in GO_CIPHER_SUITES]
    if suites:
        try:
            ctx.set_ciphers(":".join(suites))
        except ssl.SSLError as e:
            raise ConfigError(
                f"tls_server_config.cipher_suites: none is available in this OpenSSL: {e}"
            ) from None
    if tls.prefer_server_cipher_suites:
        ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    if len(tls.curve_preferences) == 1:
        ctx.set_ecdh_curve(GO_CURVES[tls.curve_preferences[0]])
    elif tls.curve_preferences:
        # Python's ssl sets one curve or OpenSSL's default list, which
        # already holds every curve Go knows; a preference order is not
        # expressible, so the default list is kept.
        log.debug("curve_preferences: several curves given, OpenSSL's default list is used")
    return ctx


def _apply_settings(ctx: ssl.SSLContext, tls: TlsServerConfig) -> None:
    """What OpenSSL copies into a connection when it starts (see module docstring)."""
    ctx.minimum_version = _VERSIONS[tls.min_version]
    ctx.maximum_version = _VERSIONS[tls.max_version]
    ctx.verify_mode = _VERIFY[tls.client_auth_type]


class TlsReloader:
    """The listeners' context, following changes of the web config (module docstring)."""

    def __init__(self, source: WebConfigSource, tls: TlsServerConfig) -> None:
        self._source = source
        self.context = build_ssl_context(tls)
        self._generation = source.generation
        self._current = self.context
        self.context.sni_callback = self._on_hello

    def _on_hello(
        self, conn: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, ctx: ssl.SSLContext
    ) -> int | None:
        try:
            config = self._source.current()
        except ConfigError:
            return ssl.ALERT_DESCRIPTION_INTERNAL_ERROR
        if self._source.generation != self._generation:
            self._generation = self._source.generation
            if config.tls is None:
                log.error("tls_server_config was removed: restart pushgate to serve plain HTTP")
            else:
                try:
                    fresh = build_ssl_context(config.tls)
                except ConfigError as e:
                    log.error("TLS not reloaded, keeping the previous certificates: %s", e)
                else:
                    _apply_settings(self.context, config.tls)
                    self._current = fresh
                    log.info("TLS certificates reloaded")
        if self._current is not self.context:
            conn.context = self._current
        return None
