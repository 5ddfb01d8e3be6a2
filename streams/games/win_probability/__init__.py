"""Win probability of the home team after a play: NFL logistic model, NBA/WNBA Brownian motion."""

from __future__ import annotations

from typing import Any

from streams.games.win_probability import basketball, nfl


def win_prob_home(play: dict[str, Any], strength: float = 0.0) -> float:
    """P(home team wins) given the state after ``play`` (a Play record; scores after the play).

    ``strength``: pre-game Elo difference home minus away in 100s of points (NFL model; 0 when unknown).
    """
    if play["league"] == "NFL":
        return nfl.win_prob_home(play, strength=strength)
    return basketball.win_prob_home(play)
