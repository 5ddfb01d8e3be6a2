"""Fitting and scoring win-probability models (pure numerics: numpy and scipy, no I/O)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from scipy.optimize import minimize


def game_outcomes(plays: Iterable[dict[str, Any]]) -> dict[str, float]:
    """Home result of each game in ``plays`` from its last play: 1 win, 0 loss, 0.5 tie."""
    last: dict[str, dict[str, Any]] = {}
    for play in plays:
        prev = last.get(play["game_id"])
        if prev is None or play["sequence"] >= prev["sequence"]:
            last[play["game_id"]] = play
    return {
        gid: 1.0 if p["home_score"] > p["away_score"] else 0.0 if p["home_score"] < p["away_score"] else 0.5
        for gid, p in last.items()
    }


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-5) -> np.ndarray:
    """Weights of a logistic regression (cross-entropy, soft labels allowed, L2 on all but the intercept)."""
    penalty_mask = np.ones(x.shape[1])
    penalty_mask[0] = 0.0

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ w
        p = 1.0 / (1.0 + np.exp(-z))
        eps = 1e-12
        value = -np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps)) + l2 * np.sum(penalty_mask * w * w)
        grad = x.T @ (p - y) / len(y) + 2 * l2 * penalty_mask * w
        return value, grad

    result = minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": 5000})
    return result.x


def brier(predictions: Sequence[float], outcomes: Sequence[float]) -> float:
    p, y = np.asarray(predictions, float), np.asarray(outcomes, float)
    return float(np.mean((p - y) ** 2)) if len(p) else float("nan")


def calibration(predictions: Sequence[float], outcomes: Sequence[float], bins: int = 10) -> list[dict[str, float]]:
    """Per decile of predicted probability: count, mean prediction, observed home win rate."""
    p, y = np.asarray(predictions, float), np.asarray(outcomes, float)
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
    rows = []
    for b in range(bins):
        sel = index == b
        n = int(sel.sum())
        rows.append(
            {
                "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                "plays": n,
                "predicted": round(float(p[sel].mean()), 4) if n else None,
                "observed": round(float(y[sel].mean()), 4) if n else None,
            }
        )
    return rows


def design_matrix(
    plays: Sequence[dict[str, Any]], outcomes: dict[str, float], feature_fn: Callable[[dict[str, Any]], list[float]]
) -> tuple[np.ndarray, np.ndarray]:
    """Features and outcome labels of plays whose game outcome is known."""
    rows = [p for p in plays if p["game_id"] in outcomes]
    x = np.array([feature_fn(p) for p in rows], dtype=float)
    y = np.array([outcomes[p["game_id"]] for p in rows], dtype=float)
    return x, y
