"""One simulated basketball game, possession by possession, as Play records (the NBA importer's contract).

A possession is a run of *chances* (see basketball_leagues): each chance takes game clock, then ends in a
turnover, a shooting-foul trip or a field goal attempt; a missed shot may be rebounded by the offense (a new,
shorter chance) or by the defense (the possession ends). End-game behaviour on top of the league averages:

- the last ``late_game_seconds`` of the 4th quarter or an overtime: the trailing offense hurries, the leading one
  runs the clock down towards the shot clock;
- a possession starting with less on the game clock than on the shot clock holds for the last shot (shoots with
  0.5-3 s left), unless the offense trails by more than a three in the last minutes (then it hurries);
- a team down by 3 with the last shot takes a three (85%), down by 2 a two (75%);
- in the last ``intentional_foul_window`` seconds, a defense down by 3-10 fouls at once (two free throws), and
  one down by 1-2 does once the offense could run out the clock;
- leads drift back towards the expected margin (``catch_up``): leaders ease off, trailers press;
- timeouts stop the clock: called by a team in the last minute after the opponent scored when trailing, after an
  opponent's run of 8+, now and then at any dead ball, and the media timeouts; each adds dead-ball time only;
- overtime follows only a tie at the end of the 4th quarter or an overtime, repeated until the game is decided.

``occurred_at`` is the tip-off plus the game clock that ran plus dead-ball time (free throws, fouls, timeouts,
breaks), in whole seconds and strictly increasing, as the importer gives the real game.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.sources.simulation.basketball_leagues import (
    AND_ONE_RATE,
    FREE_THROW_ORB_RATE,
    SECOND_CHANCE_SECONDS,
    THREE_SHOT_TRIP_SHARE,
    LeagueParameters,
    possession_model,
    rosters,
)
from connectors.sources.simulation.basketball_text import Scorebook

USAGE = (0.22, 0.18, 0.16, 0.14, 0.11, 0.07, 0.05, 0.04, 0.03)  # who shoots, turns it over, fouls (starters first)
REBOUNDING = (0.10, 0.11, 0.14, 0.20, 0.19, 0.08, 0.07, 0.06, 0.05)
ASSISTED = {2: 0.55, 3: 0.85}
BLOCKED_TWO_SHARE = 0.09
STEAL_SHARE = 0.55
BUZZER_MAKE_FACTOR = 0.6  # a shot forced by the expiring clock goes in less often
DEAD_SECONDS = {  # wall-clock seconds the game clock stands still: (shortest, longest)
    "made": (2, 7),  # the clock runs on the inbound, but substitutions and walk-ups add wall time
    "foul": (10, 25),
    "free_throw": (12, 25),
    "turnover": (3, 12),
    "timeout": (90, 150),  # a televised game's timeouts run longer than the 75 s of the rule
    "media_timeout": (130, 170),
}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class BasketballGame:
    """Plays one game; ``records`` holds its Play records once ``play()`` returns."""

    def __init__(
        self,
        params: LeagueParameters,
        game_id: str,
        home: str,
        away: str,
        tip_off: datetime,
        rng: random.Random,
        home_rating: float = 0.0,
        away_rating: float = 0.0,
    ):
        self.params = params
        self.model = possession_model(params)
        self.game_id = game_id
        self.home, self.away = home, away
        self.rng = rng
        self.tip_off = tip_off
        self.roster = {team: rosters(params.league)[team] for team in (home, away)}
        # Net ratings (points per 100 possessions) and home court shift each offense's make probability.
        edge = (home_rating - away_rating) / 100 + params.home_advantage / self.model.possessions_per_game
        shift = edge / 2 / self.model.points_per_made_fg_pct
        self.make_shift = {home: shift, away: -shift}
        self.expected_home_margin = edge * self.model.possessions_per_game  # over regulation, in points
        self.score = {home: 0, away: 0}
        self.timeouts_left = {home: params.timeouts_per_team, away: params.timeouts_per_team}
        self.book = Scorebook()
        self.records: list[dict[str, Any]] = []
        self.period = 0
        self.clock = 0.0
        self.wall = 0.0  # seconds since tip-off
        self.last_stamp: datetime | None = None
        self.run_team: str | None = None
        self.run_points = 0
        self.media_marks_left: list[int] = []

    # -- the records ----------------------------------------------------------------------------------------

    def _emit(self, description: str, event_type: str | None = None, dead: str | None = None) -> None:
        if dead:
            self.wall += self.rng.uniform(*DEAD_SECONDS[dead])
        stamp = (self.tip_off + timedelta(seconds=int(self.wall))).replace(microsecond=0)
        if self.last_stamp is not None and stamp <= self.last_stamp:
            stamp = self.last_stamp + timedelta(seconds=1)
        self.last_stamp = stamp
        last = self.records[-1] if self.records else None
        scored = last is not None and (last["home_score"], last["away_score"]) != (
            self.score[self.home],
            self.score[self.away],
        )
        sequence = len(self.records) + 1
        self.records.append(
            {
                "league": self.params.league,
                "game_id": self.game_id,
                "play_id": str(sequence),
                "sequence": sequence,
                "occurred_at": _iso(stamp),
                "period": self.period,
                "clock_seconds": int(self.clock),
                "home_team": self.home,
                "away_team": self.away,
                "home_score": self.score[self.home],
                "away_score": self.score[self.away],
                "description": description,
                "event_type": "score" if scored else (event_type or "play"),
                "possession": None,
                "down": None,
                "yards_to_go": None,
                "yardline_100": None,
            }
        )

    # -- helpers --------------------------------------------------------------------------------------------

    def _other(self, team: str) -> str:
        return self.away if team == self.home else self.home

    def _player(self, team: str, weights: tuple[float, ...] = USAGE, besides: str | None = None) -> str:
        while True:
            name = self.rng.choices(self.roster[team], weights)[0]
            if name != besides:
                return name

    def _advance(self, seconds: float) -> None:
        seconds = min(max(seconds, 0.0), self.clock)
        self.clock -= seconds
        self.wall += seconds

    def _late(self) -> bool:
        return self.period >= self.params.periods and self.clock <= self.params.late_game_seconds

    def _margin(self, team: str) -> int:
        return self.score[team] - self.score[self._other(team)]

    def _expected_margin(self, team: str) -> float:
        """The margin ``team`` would have by now if the game went to form (ratings and home court)."""
        played = (self.period - 1) * self.params.period_seconds + self.params.period_seconds - self.clock
        expected = self.expected_home_margin * min(1.0, played / self.params.regulation_seconds)
        return expected if team == self.home else -expected

    def _add_points(self, team: str, points: int) -> None:
        self.score[team] += points
        if self.run_team == team:
            self.run_points += points
        else:
            self.run_team, self.run_points = team, points

    # -- the game -------------------------------------------------------------------------------------------

    def play(self) -> list[dict[str, Any]]:
        params = self.params
        first_offense = None
        while True:
            self.period += 1
            overtime = self.period > params.periods
            if overtime:
                for team in self.timeouts_left:
                    self.timeouts_left[team] += params.overtime_timeouts
            self.clock = float(params.overtime_seconds if overtime else params.period_seconds)
            self.media_marks_left = [] if overtime else list(params.media_timeout_marks)
            self._emit("Start of period", "period_start", None)
            if self.period == 1 or overtime:
                offense = self._jump_ball()
                first_offense = first_offense or offense
            else:  # the opening tip's loser starts the 2nd and 3rd quarters, its winner the 4th
                offense = first_offense if self.period == params.periods else self._other(first_offense)
            while self.clock > 0:
                offense = self._possession(offense)
            tied = self.score[self.home] == self.score[self.away]
            if self.period >= params.periods and not tied:
                self._emit("End of period", "game_end", None)
                return self.records
            self._emit("End of period", "period_end", None)
            half = self.period == params.periods // 2
            self.wall += params.halftime_seconds if half else params.quarter_break_seconds

    def _jump_ball(self) -> str:
        winner = self.rng.choice((self.home, self.away))
        jumpers = {team: self.roster[team][3] for team in (self.home, self.away)}  # the centres
        tipped_to = self._player(winner, besides=jumpers[winner])
        self._emit(f"Jump Ball {jumpers[self.home]} vs. {jumpers[self.away]}: Tip to {tipped_to}", None, "made")
        return winner

    def _chance_seconds(self, offense: str, shot_clock: float, second_chance: bool) -> float:
        """Game clock the chance takes before its turnover, foul or shot."""
        margin = self._margin(offense)
        trailing_late = self._late() and margin < 0
        if self.clock <= shot_clock and not (trailing_late and margin < -3):
            return max(0.3, self.clock - self.rng.uniform(0.5, 3.0))  # hold for the last shot
        if trailing_late:
            mean = 4.0 if margin < -3 and self.clock <= 35 else 7.0
        elif self._late() and margin > 0:
            mean = shot_clock - 4.0  # run the clock
        else:
            mean = SECOND_CHANCE_SECONDS if second_chance else self.model.first_chance_seconds
        return self._bounded(mean, 1.0, shot_clock - 0.5)

    def _bounded(self, mean: float, low: float, high: float) -> float:
        """A beta draw on [low, high] with the given mean (right-skewed like real possession lengths)."""
        mean = min(max(mean, low + 0.5), high - 0.5)
        a = 2.5
        b = a * (high - mean) / (mean - low)
        return low + (high - low) * self.rng.betavariate(a, b)

    def _possession(self, offense: str) -> str:
        """Play one possession; return the team that has the ball next."""
        defense = self._other(offense)
        shot_clock = self.params.shot_clock
        second_chance = False
        while self.clock > 0:
            if self._fouls_on_purpose(self._margin(offense)):
                return self._intentional_foul(offense)
            seconds = self._chance_seconds(offense, shot_clock, second_chance)
            buzzer = seconds >= self.clock
            self._advance(min(seconds, self.clock - 0.1) if buzzer and self.clock > 0.3 else seconds)
            if self.clock <= 0:
                return defense
            outcome = self._chance_outcome(offense, buzzer)
            if outcome == "turnover":
                self._turnover(offense)
                return self._dead_ball(defense)
            if outcome == "foul_trip":
                three = self.rng.random() < THREE_SHOT_TRIP_SHARE
                shooter = self._player(offense)
                self._emit(self.book.foul(self._player(defense), f"{defense}/{self.period}", True), None, "foul")
                if self._free_throws(offense, shooter, 3 if three else 2):
                    return self._dead_ball(defense)
                kept = self._rebound(offense, after_free_throw=True)
            else:
                result = self._field_goal(offense, buzzer)
                if result == "made":
                    return self._dead_ball(defense)
                if self.clock <= 0:
                    return defense
                kept = result == "kept" or (result == "missed" and self._rebound(offense))
            if not kept:
                return defense
            shot_clock = self.params.offensive_rebound_shot_clock
            second_chance = True
        return defense

    def _fouls_on_purpose(self, offense_lead: int) -> bool:
        """The trailing defense fouls: down 3-10 in the last minute, or down 1-2 once the offense can run out the
        clock (less game clock than shot clock)."""
        if not self._late():
            return False
        if 3 <= offense_lead <= 10:
            return self.clock <= self.params.intentional_foul_window
        return 1 <= offense_lead <= 2 and self.clock <= self.params.shot_clock

    def _chance_outcome(self, offense: str, buzzer: bool) -> str:
        if buzzer:
            return "field_goal"
        draw = self.rng.random()
        if draw < self.model.turnover:
            return "turnover"
        if draw < self.model.turnover + self.model.foul_trip:
            return "foul_trip"
        return "field_goal"

    def _field_goal(self, offense: str, buzzer: bool) -> str:
        """A shot: "made" (and any and-one taken), "missed", or after a missed and-one free throw "kept" or "lost"."""
        margin = self._margin(offense)
        last_shot = self._late() and self.clock <= self.params.shot_clock
        three_share = {-3: 0.85, -2: 0.25}.get(margin, self.model.three_share) if last_shot else self.model.three_share
        three = self.rng.random() < three_share
        shooter = self._player(offense)
        shot = self.book.shot(self.rng, shooter, three)
        chance = (self.model.three_pct if three else self.model.two_pct) + self.make_shift[offense]
        chance -= self.params.catch_up * max(-20.0, min(20.0, margin - self._expected_margin(offense)))
        if buzzer:
            chance *= BUZZER_MAKE_FACTOR
        if self.rng.random() >= chance:
            blocker = None
            if not three and self.rng.random() < BLOCKED_TWO_SHARE:
                blocker = self.book.block(self._player(self._other(offense), USAGE[::-1]))
            self._emit(self.book.missed(shot, blocker))
            return "missed"
        points = 3 if three else 2
        self._add_points(offense, points)
        assister = self._player(offense, besides=shooter) if self.rng.random() < ASSISTED[points] else None
        self._emit(self.book.made(shot, shooter, points, assister), None, "made")
        if self.clock > 0 and self.rng.random() < AND_ONE_RATE:
            defense = self._other(offense)
            self._emit(self.book.foul(self._player(defense), f"{defense}/{self.period}", True), None, "foul")
            if not self._free_throws(offense, shooter, 1):
                return "kept" if self._rebound(offense, after_free_throw=True) else "lost"
        return "made"

    def _free_throws(self, team: str, shooter: str, count: int) -> bool:
        """Shoot ``count`` free throws; True if the last one went in."""
        made = False
        for number in range(1, count + 1):
            made = self.rng.random() < self.model.ft_pct
            if made:
                self._add_points(team, 1)
            self._emit(self.book.free_throw(shooter, number, count, made), None, "free_throw")
        return made

    def _rebound(self, offense: str, after_free_throw: bool = False) -> bool:
        """Who gets the missed shot; True if the offense keeps the ball."""
        self._advance(self.rng.uniform(0.3, 1.2))
        rate = FREE_THROW_ORB_RATE if after_free_throw else self.model.orb_after_miss
        team = offense if self.rng.random() < rate else self._other(offense)
        self._emit(self.book.rebound(self._player(team, REBOUNDING), team == offense))
        return team == offense

    def _turnover(self, offense: str) -> None:
        defense = self._other(offense)
        stealer = self._player(defense) if self.rng.random() < STEAL_SHARE else None
        self._emit(self.book.turnover(self.rng, self._player(offense), offense, stealer), None, "turnover")

    def _intentional_foul(self, offense: str) -> str:
        """The trailing defense fouls at once; the offense shoots two."""
        defense = self._other(offense)
        self._advance(self.rng.uniform(1.0, 4.0))
        if self.clock <= 0:
            return defense
        self._emit(self.book.foul(self._player(defense), f"{defense}/{self.period}", False), None, "foul")
        if self._free_throws(offense, self._player(offense), 2):
            return self._dead_ball(defense)
        if self._rebound(offense, after_free_throw=True):
            return offense
        return defense

    def _dead_ball(self, next_offense: str) -> str:
        """After a score, turnover or foul: a timeout may be called before ``next_offense`` inbounds."""
        caller = None
        scored_on = self.run_team != next_offense
        if self.media_marks_left and self.clock <= self.media_marks_left[0]:
            while self.media_marks_left and self.clock <= self.media_marks_left[0]:
                self.media_marks_left.pop(0)
            self._timeout(next_offense, "media_timeout")
            return next_offense
        late_and_behind = self._late() and self.clock <= 60 and self._margin(next_offense) < 0
        if scored_on and (late_and_behind or self.run_points >= 8):  # advance the ball, or stop the run
            caller = next_offense if self.rng.random() < 0.6 else None
        elif self.rng.random() < 0.02:
            caller = self.rng.choice((self.home, self.away))
        if caller and self.timeouts_left[caller] > 0:
            self._timeout(caller, "timeout")
            if scored_on and caller == next_offense:
                self.run_points = 0  # the run is what the timeout answered
        return next_offense

    def _timeout(self, team: str, kind: str) -> None:
        self.timeouts_left[team] = max(0, self.timeouts_left[team] - 1)
        self._emit(self.book.timeout(self.params.nickname(team), team), "timeout", kind)
