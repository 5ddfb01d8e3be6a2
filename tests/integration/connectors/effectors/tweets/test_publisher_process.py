"""``wirereport publisher`` as a real process: SIGKILL and restart post nothing twice."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from connectors.kafka.edge import EdgeProducer, consume_records
from connectors.testing import WirereportProcess, wait_until
from streams.games.play_decisions import command_id


def _commands(account: str, plays: range) -> list[dict]:
    at = datetime(2018, 9, 9, 20, 0, tzinfo=UTC)
    return [
        {
            "command_id": command_id(account, "2018090908", str(p)),
            "account": account,
            "league": "NFL",
            "game_id": "2018090908",
            "play_id": str(p),
            "text": f"Chiefs 38, Chargers 28 (play {p})",
            "style": "final",
            "urgency": "low",
            "significance": 15.0,
            "win_prob_home": 0.0,
            "occurred_at": at + timedelta(minutes=p),
        }
        for p in plays
    ]


def _produce(bootstrap: str, commands: list[dict]) -> None:
    with EdgeProducer(bootstrap) as producer:
        for c in commands:
            producer.send("tweet-commands", c)


def test_publisher_process_survives_sigkill_without_reposting(broker, tmp_path):
    account = f"TEST-{uuid.uuid4().hex[:8]}"
    first = _commands(account, range(4))
    _produce(broker, first + first)
    log = tmp_path / "tweets-dryrun.jsonl"

    def posted() -> list[dict]:
        if not log.exists():
            return []
        return [r for r in map(json.loads, log.read_text().splitlines()) if r["account"] == account]

    env = {"WIREREPORT_DATA_DIR": str(tmp_path)}
    proc = WirereportProcess(["publisher"], bootstrap=broker, env=env).start()
    proc.wait_for_output("tweet publisher ready", timeout=60)
    wait_until(lambda: len(posted()) >= 4, timeout=60, message="the publisher posted nothing")
    proc.kill()

    _produce(broker, first + _commands(account, range(4, 5)))  # redelivered, plus one new
    with WirereportProcess(["publisher"], bootstrap=broker, env=env) as proc:
        proc.wait_for_output("tweet publisher ready", timeout=60)
        wait_until(lambda: len(posted()) >= 5, timeout=60, message="the new command was not posted")
        assert proc.stop() == 0
        assert "tweet publisher stopped" in proc.output
    ids = [r["command_id"] for r in posted()]
    assert len(ids) == len(set(ids)) == 5
    # every outcome has its receipt on tweet-receipts (at least once: a SIGKILL may repeat one, never lose one)
    receipts = {
        r["command_id"]: r for _, r in consume_records(broker, "tweet-receipts", timeout=1.5) if r["account"] == account
    }
    assert set(receipts) == set(ids) and {r["status"] for r in receipts.values()} == {"dry_run"}
