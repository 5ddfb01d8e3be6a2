"""Domain checks of the health inputs (pure): what Avro cannot say about a SystemMetrics sample or a Silence.

Bounds beyond which a value is a bug of its sender: timestamps within 2000..2100 (a year-1 sample would sort
before every other and never age out), ids and labels up to 128 characters, at most 100,000 agents on a server,
a sample interval of at most a day (a server silent for longer is down, not sampled), an error rate being a
fraction (0-1).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from streams.exceptions import InvalidRecord

EARLIEST_INSTANT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_INSTANT = datetime(2100, 1, 1, tzinfo=UTC)
MAX_ID_CHARS = 128
MAX_ACTIVE_AGENTS = 100_000
MAX_INTERVAL_SECONDS = 86_400.0
MAX_MATCHERS = 32
MAX_COMMENT_CHARS = 2000

_PERCENTS = ("cpu_percent", "memory_percent", "disk_percent")
_NON_NEGATIVE = ("workload", "net_bytes_sent_per_s", "net_bytes_recv_per_s")
_OPTIONAL_NON_NEGATIVE = ("latency_ms",)
_OPTIONAL_TEXT = ("version", "host")


def validate_metrics(sample: dict[str, Any]) -> None:
    """Raise ``InvalidRecord`` naming every bad value: NaN or infinite numbers, percentages outside 0-100,
    negative rates, counts or intervals (a NaN workload would poison the league's forecasts), and the bounds
    of the module doc."""
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
    error_rate = sample.get("error_rate")
    if error_rate is not None and not (math.isfinite(error_rate) and 0.0 <= error_rate <= 1.0):
        problems.append(f"error_rate {error_rate} is not a fraction (0-1)")
    if not 0 <= sample["active_agents"] <= MAX_ACTIVE_AGENTS:
        problems.append(f"active_agents {sample['active_agents']} is not 0-{MAX_ACTIVE_AGENTS}")
    interval = sample["interval_seconds"]
    if not (math.isfinite(interval) and 0.0 < interval <= MAX_INTERVAL_SECONDS):
        problems.append(f"interval_seconds {interval} is not positive and at most {MAX_INTERVAL_SECONDS:.0f}")
    if "server_id" in sample:
        check_text(sample, "server_id", problems)
    for field in _OPTIONAL_TEXT:
        if sample.get(field) is not None:
            check_text(sample, field, problems, may_be_empty=True)
    if "observed_at" in sample:
        check_instant(sample, "observed_at", problems)
    if problems:
        raise InvalidRecord("invalid system metrics: " + "; ".join(problems))


def validate_silence(silence: dict[str, Any]) -> None:
    """Raise ``InvalidRecord`` naming every bad value of a Silence: an empty id, no matcher (it would mute every
    alert), too many or too long matchers, timestamps out of the window or ending before they start."""
    problems = []
    check_text(silence, "silence_id", problems)
    matchers = silence["matchers"]
    if not matchers:
        problems.append("matchers is empty (a silence must say what it mutes)")
    elif len(matchers) > MAX_MATCHERS:
        problems.append(f"{len(matchers)} matchers is over {MAX_MATCHERS}")
    elif any(not name or len(name) > MAX_ID_CHARS or len(value) > MAX_ID_CHARS for name, value in matchers.items()):
        problems.append(f"a matcher's name is empty, or a name or value is over {MAX_ID_CHARS} characters")
    check_text(silence, "created_by", problems, may_be_empty=True)
    if len(silence["comment"]) > MAX_COMMENT_CHARS:
        problems.append(f"comment of {len(silence['comment'])} characters is over {MAX_COMMENT_CHARS}")
    starts = check_instant(silence, "starts_at", problems)
    ends = check_instant(silence, "ends_at", problems)
    if starts is not None and ends is not None and ends < starts:
        problems.append(f"ends_at {silence['ends_at']} is before starts_at {silence['starts_at']}")
    if problems:
        raise InvalidRecord("invalid silence: " + "; ".join(problems))


def check_instant(record: dict[str, Any], field: str, problems: list[str]) -> datetime | None:
    """``record[field]`` as an aware datetime if it is a timestamp within the window, else a problem noted."""
    value = record[field]
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
        instant = instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)
    except (TypeError, ValueError, AttributeError) as exc:
        problems.append(f"{field} {value!r} is not a timestamp: {exc}")
        return None
    if not EARLIEST_INSTANT <= instant < LATEST_INSTANT:
        problems.append(f"{field} {value} is not within {EARLIEST_INSTANT:%Y-%m-%d}..{LATEST_INSTANT:%Y-%m-%d}")
        return None
    return instant


def check_text(record: dict[str, Any], field: str, problems: list[str], *, may_be_empty: bool = False) -> None:
    value = record[field]
    if not value and not may_be_empty:
        problems.append(f"{field} is empty")
    elif len(value) > MAX_ID_CHARS:
        problems.append(f"{field} of {len(value)} characters is over {MAX_ID_CHARS}")
