"""``wirereport agent``: samples a league server and produces SystemMetrics."""
