"""pushgate: a durable, fast, wire-compatible Prometheus Pushgateway."""

__version__ = "0.1.0"
