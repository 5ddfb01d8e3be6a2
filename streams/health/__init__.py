"""Server health: threshold and heartbeat rules, remediation, alert grouping, system-metrics checks; the health backtest."""
