"""Plots of the plays evaluation (matplotlib, written as PNG files)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def render(report: dict[str, Any], out: Path, example: dict[str, Any] | None = None) -> list[Path]:
    """Calibration, decisive moments caught vs the baseline, tweets per day; and a game's WP chart."""
    files = [_calibration(report, out / "calibration.png"), _caught(report, out / "decisive_caught.png")]
    if all("close_game_coverage" in row for row in report["budgets"].values()):
        files.append(_coverage(report, out / "coverage.png"))
    if example:
        files.append(_game_chart(example, out / "example_game.png"))
    return files


def _calibration(report: dict[str, Any], path: Path) -> Path:
    rows = [r for r in report["calibration"] if r["plays"]]
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect")
    ax.plot([r["predicted"] for r in rows], [r["observed"] for r in rows], marker="o", label="model")
    ax.set_xlabel("predicted home win probability")
    ax.set_ylabel("observed home win rate")
    ax.set_title(f"Win probability calibration (Brier {report['brier']:.3f})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _caught(report: dict[str, Any], path: Path) -> Path:
    budgets = list(report["budgets"])
    ours = [100 * (report["budgets"][b]["ours"]["decisive_caught_share"] or 0) for b in budgets]
    base = [100 * (report["budgets"][b]["baseline_caught_share"] or 0) for b in budgets]
    fig, ax = plt.subplots(figsize=(6, 4))
    x = range(len(budgets))
    ax.bar([i - 0.2 for i in x], ours, width=0.4, label="Wire Report budget")
    ax.bar([i + 0.2 for i in x], base, width=0.4, label="every 4th-quarter score, first come first served")
    for i, (a, b) in enumerate(zip(ours, base, strict=True)):
        ax.text(i - 0.2, a + 1, f"{a:.0f}%", ha="center")
        ax.text(i + 0.2, b + 1, f"{b:.0f}%", ha="center")
    ax.set_xticks(list(x), [f"{b} tweets/day" for b in budgets])
    ax.set_ylim(0, 110)
    ax.set_ylabel("decisive moments tweeted (%)")
    ax.set_title(f"{report['decisive_moments']} decisive moments")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _coverage(report: dict[str, Any], path: Path) -> Path:
    """Per budget: the share of close games with a tweet and the share of the budget used on busy days."""
    budgets = list(report["budgets"])
    rows = [report["budgets"][b] for b in budgets]
    close = [100 * (r["close_game_coverage"]["share"] or 0) for r in rows]
    busy = [100 * (r["busy_day_budget_use"]["used_share"] or 0) for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    x = range(len(budgets))
    ax.bar([i - 0.2 for i in x], close, width=0.4, label="close games with at least one tweet")
    ax.bar([i + 0.2 for i in x], busy, width=0.4, label="budget used on days with 8+ games")
    for i, (a, b) in enumerate(zip(close, busy, strict=True)):
        ax.text(i - 0.2, a + 1, f"{a:.0f}%", ha="center")
        ax.text(i + 0.2, b + 1, f"{b:.0f}%", ha="center")
    ax.set_xticks(list(x), [f"{b} tweets/day" for b in budgets])
    ax.set_ylim(0, 110)
    ax.set_ylabel("%")
    ax.set_title("Coverage")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _game_chart(example: dict[str, Any], path: Path) -> Path:
    plays: Sequence[dict[str, Any]] = example["plays"]
    decisions: Sequence[dict[str, Any]] = example["decisions"]
    x = list(range(len(plays)))
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot(x, [d["win_prob_home"] for d in decisions], linewidth=1.2)
    for i, d in enumerate(decisions):
        if d["tweet"]:
            ax.scatter([i], [d["win_prob_home"]], color="red", zorder=3)
            ax.annotate(d["style"], (i, d["win_prob_home"]), textcoords="offset points", xytext=(4, 6), fontsize=7)
    for i in example.get("decisive", []):
        ax.axvline(i, color="green", linestyle=":", linewidth=1)
    first = plays[0]
    ax.set_ylim(0, 1)
    ax.set_xlabel("play")
    ax.set_ylabel(f"P({first['home_team']} win)")
    ax.set_title(f"{first['away_team']} at {first['home_team']}: tweets (red) and decisive moments (green)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
