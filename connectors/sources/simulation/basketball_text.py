"""Play descriptions of simulated basketball games, phrased as stats.nba.com phrases them (and as the NBA importer
passes them on), with invented "J.Doe" names and running per-player tallies."""

from __future__ import annotations

import random
from collections import Counter

THREE_SHOTS = ("3PT Jump Shot", "3PT Jump Shot", "3PT Pullup Jump Shot", "3PT Step Back Jump Shot")
THREE_DISTANCES = (23, 29)
# (shot, shortest, longest distance in feet; None = no distance given, as for dunks and layups in the feed)
TWO_SHOTS = (
    ("Driving Layup Shot", None, None),
    ("Layup Shot", None, None),
    ("Dunk", None, None),
    ("Jump Shot", 10, 21),
    ("Pullup Jump Shot", 12, 19),
    ("Floating Jump Shot", 5, 10),
    ("Hook Shot", 3, 8),
)
TURNOVERS = ("Bad Pass", "Lost Ball", "Traveling", "Offensive Foul", "Out of Bounds Lost Ball")
STOLEN = frozenset({"Bad Pass", "Lost Ball"})


class Scorebook:
    """Running tallies per player and per team that the feed prints in brackets (points, assists, fouls...)."""

    def __init__(self) -> None:
        self.tally: Counter[tuple[str, str]] = Counter()

    def count(self, key: str, who: str, amount: int = 1) -> int:
        self.tally[(key, who)] += amount
        return self.tally[(key, who)]

    def shot(self, rng: random.Random, shooter: str, three: bool) -> str:
        if three:
            return f"{shooter} {rng.randint(*THREE_DISTANCES)}' {rng.choice(THREE_SHOTS)}"
        shot, shortest, longest = rng.choice(TWO_SHOTS)
        return f"{shooter} {shot}" if shortest is None else f"{shooter} {rng.randint(shortest, longest)}' {shot}"

    def made(self, shot: str, shooter: str, points: int, assister: str | None) -> str:
        text = f"{shot} ({self.count('PTS', shooter, points)} PTS)"
        return text + (f" ({assister} {self.count('AST', assister)} AST)" if assister else "")

    @staticmethod
    def missed(shot: str, blocker: str | None) -> str:
        return (f"{blocker} BLOCK " if blocker else "") + f"MISS {shot}"

    def block(self, blocker: str) -> str:
        return f"{blocker} BLOCK ({self.count('BLK', blocker)} BLK)"

    def rebound(self, player: str, offensive: bool) -> str:
        self.count("OREB" if offensive else "DREB", player)
        return f"{player} REBOUND (Off:{self.tally[('OREB', player)]} Def:{self.tally[('DREB', player)]})"

    def turnover(self, rng: random.Random, player: str, team: str, stealer: str | None) -> str:
        kind = rng.choice(sorted(STOLEN)) if stealer else rng.choice(TURNOVERS)
        text = f"{player} {kind} Turnover (P{self.count('TO', player)}.T{self.count('TO', team)})"
        return text + (f" {stealer} STEAL ({self.count('STL', stealer)} STL)" if stealer else "")

    def foul(self, player: str, team_period: str, shooting: bool) -> str:
        kind = "S.FOUL" if shooting else "P.FOUL"
        return f"{player} {kind} (P{self.count('PF', player)}.T{self.count('PF', team_period)})"

    def free_throw(self, shooter: str, number: int, of: int, made: bool) -> str:
        if made:
            return f"{shooter} Free Throw {number} of {of} ({self.count('PTS', shooter)} PTS)"
        return f"MISS {shooter} Free Throw {number} of {of}"

    def timeout(self, nickname: str, team: str) -> str:
        return f"{nickname.upper()} Timeout: Regular (Reg.{self.count('TIMEOUT', team)} Short 0)"
