"""End to end: plays produced to ``plays`` -> ``wirereport worker`` -> ``game-state`` -> ``wirereport api``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from connectors.kafka.edge import EdgeProducer
from connectors.testing import WirereportProcess, wait_until
from tests.integration.api.test_server import bearer, start_api


def plays(game_id: str, n: int) -> list[dict]:
    start = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)
    out = []
    for i in range(1, n + 1):
        out.append(
            {
                "league": "NFL",
                "game_id": game_id,
                "play_id": f"{game_id}-{i}",
                "sequence": i,
                "occurred_at": start + timedelta(seconds=40 * i),
                "period": 1,
                "clock_seconds": 900 - 40 * i,
                "home_team": "KC",
                "away_team": "BUF",
                "home_score": 7 if i >= 3 else 0,
                "away_score": 3 if i >= 5 else 0,
                "description": f"play {i}",
                "event_type": "score" if i in (3, 5) else "play",
                "possession": "KC",
                "down": 1,
                "yards_to_go": 10,
                "yardline_100": 60,
            }
        )
    return out


def test_plays_reach_the_api_through_the_worker(broker):
    env = {"WIREREPORT_APP_ID": f"wr-api-e2e-{uuid.uuid4().hex[:6]}", "WIREREPORT_LOG_LEVEL": "WARNING"}
    game_id = f"e2e-{uuid.uuid4().hex[:8]}"
    with WirereportProcess(["worker"], bootstrap=broker, env=env) as worker:
        worker.wait_for_output("worker ready", timeout=60)
        proc, client = start_api(broker)
        try:
            with EdgeProducer(broker) as producer:
                for play in plays(game_id, 6):
                    producer.send("plays", play)

            def final_state():
                r = client.get(f"/v1/games/{game_id}", headers=bearer())
                return r.status_code == 200 and r.json()["game"]["plays_seen"] == 6 and r.json()["game"]

            state = wait_until(final_state, 30, message=f"game never reached the API:\n{worker.output[-2000:]}")
            assert (state["home_score"], state["away_score"]) == (7, 3)
            assert state["league"] == "NFL" and state["last_play_id"] == f"{game_id}-6"
            assert state["win_prob_home"] is None or 0.0 <= state["win_prob_home"] <= 1.0
        finally:
            client.close()
            proc.stop()
