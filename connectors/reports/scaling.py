"""Matplotlib plots of a scaling backtest: workload vs capacity, agents per day, the policy comparison."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

from streams.scaling.backtest import POLICIES, WEEK_SECONDS, BacktestResult
from streams.scaling.policy import PolicyConfig


def _reference_agents(samples: list[dict], config: PolicyConfig) -> tuple[list[int], list[int]]:
    """Agents of the reactive and seasonal-naive references per sample (single-league traces)."""
    cap = config.capacity_per_agent * config.target_utilization
    lo, hi = config.min_agents, config.max_agents
    by_minute: dict[int, float] = {}
    reactive, seasonal = [], []
    last = None
    for s in samples:
        r = lo if last is None else min(max(math.ceil(last / cap - 1e-9), lo), hi)
        week = by_minute.get(round((s["t"] - WEEK_SECONDS) / 60))
        reactive.append(r)
        seasonal.append(r if week is None else max(r, min(max(math.ceil(week / cap - 1e-9), lo), hi)))
        by_minute[round(s["t"] / 60)] = s["workload"]
        last = s["workload"]
    return reactive, seasonal


def render_scaling_report(
    samples: list[dict], result: BacktestResult, config: PolicyConfig, out: Path, days: float = 7.0
) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    league = samples[0]["league"]
    mine = [(s, row) for s, row in zip(samples, result.rows, strict=True) if s["league"] == league]
    series = [s for s, _ in mine]
    reactive, seasonal = _reference_agents(series, config)
    cap = config.capacity_per_agent
    files = []

    # detail: the last `days` days
    end = series[-1]["t"]
    start_index = next(i for i, s in enumerate(series) if s["t"] >= end - days * 86400)
    window = range(start_index, len(series))
    times = [datetime.fromtimestamp(series[i]["t"], UTC) for i in window]
    fig, ax = plt.subplots(figsize=(14, 5))
    ax.plot(times, [series[i]["workload"] for i in window], color="black", lw=1, label="workload")
    ax.step(times, [mine[i][1]["agents"] * cap for i in window], where="post", label="predictive capacity")
    ax.step(times, [reactive[i] * cap for i in window], where="post", alpha=0.6, label="reactive capacity")
    ax.step(times, [seasonal[i] * cap for i in window], where="post", alpha=0.6, label="seasonal-naive capacity")
    forecasts = [(t, mine[i][1]["forecast"]) for t, i in zip(times, window, strict=True) if mine[i][1]["forecast"]]
    ax.plot([t for t, _ in forecasts], [f for _, f in forecasts], ls=":", color="grey", label="forecast")
    ax.set_title(f"{league}: workload and capacity, last {days:g} days")
    ax.set_ylabel("work units / s")
    ax.legend(loc="upper left")
    fig.autofmt_xdate()
    path = out / "capacity_detail.png"
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    files.append(path)

    # comparison bars
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.5))
    metrics = [
        ("under_provisioned", "under-provisioned time"),
        ("above_target", "time above target"),
        ("slack", "mean slack"),
        ("actions_per_day", "scaling actions / day"),
    ]
    for ax, (key, title) in zip(axes, metrics, strict=True):
        values = [result.scores[p][key] for p in POLICIES]
        ax.bar(POLICIES, values, color=["tab:blue", "tab:orange", "tab:green"])
        ax.set_title(title)
        ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    path = out / "policy_comparison.png"
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    files.append(path)
    return files
