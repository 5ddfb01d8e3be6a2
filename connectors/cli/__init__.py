"""The ``wirereport`` command line: one module per command (``cmd_*``) or group member (``backtest_*``, ``bench_*``,
``report_*``), all listed in ``connectors.cli.main.COMMANDS``."""
