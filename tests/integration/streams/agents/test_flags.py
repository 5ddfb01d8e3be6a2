"""Feature flags on the real worker and broker: ``tweets.actions`` off for an account reaches the games agent
(feature-flags -> games-flags -> its table) without a restart, and its plays are decided without a tweet."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.admin_records import feature_flag
from connectors.kafka.edge import EdgeProducer, consume_raw, consume_records
from connectors.testing import WirereportProcess, running_broker, wait_until
from tests.integration.streams.agents.test_games import GAME_ID, real_game, states_of


def test_tweets_switched_off_for_an_account_at_run_time(tmp_path):
    plays = real_game()
    with running_broker() as bootstrap:
        env = {"WIREREPORT_APP_ID": "it-flags", "WIREREPORT_DATA_DIR": str(tmp_path)}
        with WirereportProcess(["worker"], bootstrap=bootstrap, env=env) as worker:
            worker.wait_for_output("worker ready", timeout=60)
            with EdgeProducer(bootstrap) as producer:
                producer.send(
                    "feature-flags",
                    feature_flag("tweets.actions", "off", "NFL", "ops", "account under review", datetime.now(UTC)),
                )
            # the flag is in the games' table (its changelog) before the plays come
            wait_until(
                lambda: list(consume_raw(bootstrap, "it-flags-tweet_flags-changelog", timeout=1)),
                timeout=30,
                message="the flag never reached the games agent's table",
            )
            with EdgeProducer(bootstrap) as producer:
                for record in plays:
                    producer.send("plays", record)
            wait_until(
                lambda: any(s["status"] == "final" for s in states_of(bootstrap, GAME_ID)),
                timeout=60,
                message="the game never reached its final state",
            )
            budgets = [r for _, r in consume_records(bootstrap, "tweet-budgets", timeout=1.5) if r["account"] == "NFL"]
        tweets = [r for _, r in consume_records(bootstrap, "tweet-commands", timeout=1.5)]
    assert tweets == []
    assert budgets and budgets[-1]["used"] > 0  # decided as when on: the budget counted the decisions
