"""Domain checks of a SystemMetrics sample (pure): what Avro cannot say about its numbers."""

from __future__ import annotations

import math
from typing import Any

from streams.exceptions import InvalidRecord

_PERCENTS = ("cpu_percent", "memory_percent", "disk_percent")
_NON_NEGATIVE = ("workload", "net_bytes_sent_per_s", "net_bytes_recv_per_s")
_OPTIONAL_NON_NEGATIVE = ("error_rate", "latency_ms")


def validate_metrics(sample: dict[str, Any]) -> None:
    """Raise ``InvalidRecord`` naming every bad number: NaN or infinite values, percentages outside 0-100,
    negative rates, counts or intervals (a NaN workload would poison the league's forecasts)."""
    problems = []
    for field in _PERCENTS:
        value = sample[field]
        if not (math.isfinite(value) and 0.0 <= value <= 100.0):
            problems.append(f"{field} {value} is not a percentage")
    for field in _NON_NEGATIVE:
        value = sample[field]
        if not (math.isfinite(value) and value >= 0.0):
            problems.append(f"{field} {value} is not a finite non-negative number")
    for field in _OPTIONAL_NON_NEGATIVE:
        value = sample.get(field)
        if value is not None and not (math.isfinite(value) and value >= 0.0):
            problems.append(f"{field} {value} is not a finite non-negative number")
    if sample["active_agents"] < 0:
        problems.append(f"active_agents {sample['active_agents']} is negative")
    interval = sample["interval_seconds"]
    if not (math.isfinite(interval) and interval > 0.0):
        problems.append(f"interval_seconds {interval} is not positive")
    if problems:
        raise InvalidRecord("invalid system metrics: " + "; ".join(problems))
