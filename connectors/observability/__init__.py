"""Observability of every Wire Report process: metrics + probes server, metric families, JSON logs, tracing.

Import the submodules directly (``connectors.observability.metrics_server`` ...): this package imports nothing
on its own, so a process that does not serve metrics or trace pays nothing.
"""
