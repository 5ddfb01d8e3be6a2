"""Reproducible fit of the NFL win-probability model (pure: plays in, model dict out)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from streams.win_probability import fitting, nfl

L2 = 1e-5
BASELINE_FEATURES = ("intercept", "margin_g", "hours_left")  # a logistic model on margin and time alone


def train(train_plays: Sequence[dict[str, Any]], validation_plays: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Fit on ``train_plays``, score on ``validation_plays``; returns the model file's content."""
    train_outcomes = fitting.game_outcomes(train_plays)
    x, y = fitting.design_matrix(train_plays, train_outcomes, nfl.play_features)
    weights = fitting.fit_logistic(x, y, L2)
    model: dict[str, Any] = {
        "league": "NFL",
        "kind": "logistic",
        "features": list(nfl.FEATURE_NAMES),
        "weights": [round(float(w), 8) for w in weights],
        "time_offset_hours": nfl.TIME_OFFSET,
        "l2": L2,
        "train": {"plays": int(len(y)), "games": len(train_outcomes)},
    }
    if validation_plays:
        model["validation"] = evaluate(tuple(model["weights"]), validation_plays)
        cols = [nfl.FEATURE_NAMES.index(n) for n in BASELINE_FEATURES]
        base_w = fitting.fit_logistic(x[:, cols], y, L2)
        vx, vy = fitting.design_matrix(validation_plays, fitting.game_outcomes(validation_plays), nfl.play_features)
        base_p = 1.0 / (1.0 + np.exp(-(vx[:, cols] @ base_w)))
        model["validation"]["baseline_margin_time_brier"] = round(fitting.brier(base_p, vy), 5)
    return model


def evaluate(weights: tuple[float, ...], plays: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Brier score and calibration deciles of the model on ``plays`` (labels from each game's final score)."""
    outcomes = fitting.game_outcomes(plays)
    labelled = [p for p in plays if p["game_id"] in outcomes]
    predictions = [nfl.win_prob_home(p, weights) for p in labelled]
    labels = [outcomes[p["game_id"]] for p in labelled]
    return {
        "plays": len(labelled),
        "games": len(outcomes),
        "brier": round(fitting.brier(predictions, labels), 5),
        "calibration": fitting.calibration(predictions, labels),
    }
