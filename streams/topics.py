"""Every topic, declared once: name, key field, value schemas, partitions and cleanup policy.

This module is pure data; ``streams/app.py`` turns it into Faust topics and ``connectors/kafka/admin.py``
creates the topics on the cluster. A domain that needs a new topic adds one line to ``_TOPICS``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from streams.exceptions import StreamsError


@dataclass(frozen=True)
class TopicSpec:
    """A topic's contract."""

    name: str
    key_field: str
    value_schemas: tuple[str, ...]
    partitions: int = 4
    compacted: bool = False
    partition_by: str | None = None  # a field whose value picks the partition (keeps a league's plays in order)
    description: str = ""

    @property
    def schema(self) -> str:
        """The main value schema (the first one)."""
        return self.value_schemas[0]

    def key_of(self, record: dict) -> str:
        return str(record[self.key_field])

    def partition_of(self, record: dict) -> int | None:
        """The partition a record must go to, or None to let the client hash the key."""
        if self.partition_by is None:
            return None
        return zlib.crc32(str(record[self.partition_by]).encode()) % self.partitions


_TOPICS = (
    # inputs
    TopicSpec(
        "plays",
        "game_id",
        ("Play",),
        partition_by="league",
        description="Play-by-play from league-server feeds; a league's plays share one partition.",
    ),
    TopicSpec(
        "league-events",
        "league",
        ("ScheduledGame", "LeagueEvent"),
        partition_by="league",
        description="Schedules and league events (breaking news ...); co-partitioned with plays by league.",
    ),
    TopicSpec("system-metrics", "server_id", ("SystemMetrics",), description="Samples from league servers."),
    TopicSpec("deployment-events", "server_id", ("DeploymentEvent",), description="Deployment requests and reports."),
    TopicSpec("scaling-overrides", "league", ("ScalingOverride",), description="Manual scaling overrides."),
    # state
    TopicSpec("game-state", "game_id", ("GameState",), compacted=True, description="Current state of each game."),
    # commands and events out
    TopicSpec("tweet-commands", "account", ("TweetCommand",), description="Tweets to publish."),
    TopicSpec("scaling-commands", "league", ("ScalingCommand",), description="Scaling decisions."),
    TopicSpec("alerts", "fingerprint", ("Alert",), description="Alert transitions."),
    TopicSpec("remediation-commands", "server_id", ("RemediationCommand",), description="Self-healing actions."),
    TopicSpec("deployment-decisions", "server_id", ("DeploymentDecision",), description="Deployment decisions."),
    TopicSpec("dead-letters", "source_topic", ("DeadLetter",), description="Undecodable or invalid messages."),
    # compacted state topics of each domain, for the API's read model
    TopicSpec("tweet-budgets", "account", ("TweetBudget",), compacted=True, description="Budget per account and day."),
    TopicSpec("load-forecasts", "league", ("LoadForecast",), compacted=True, description="Forecast per league."),
    TopicSpec("scaling-state", "league", ("ScalingState",), compacted=True, description="Agents and policy state."),
    TopicSpec("server-health", "server_id", ("ServerHealth",), compacted=True, description="Health per server."),
    TopicSpec("breaker-state", "breaker", ("BreakerState",), compacted=True, description="Circuit breakers."),
    TopicSpec("silences", "silence_id", ("Silence",), compacted=True, description="Alert silences with expiry."),
    TopicSpec("tweet-receipts", "command_id", ("TweetReceipt",), compacted=True, description="Publisher outcomes."),
    TopicSpec("token-revocations", "jti", ("TokenRevocation",), compacted=True, description="Revoked API tokens."),
    TopicSpec(
        "audit-log", "audit_id", ("AuditEntry",), compacted=True, description="Operator actions: who, what, why."
    ),
    TopicSpec(
        "feature-flags",
        "flag_id",
        ("FeatureFlag",),
        partitions=1,
        compacted=True,
        description="Run-time switches of the agents (scaling.actions, tweets.actions), per league or global.",
    ),
    TopicSpec(
        "publisher-controls",
        "control_id",
        ("PublisherControl",),
        compacted=True,
        # keyed by control id so compaction never drops a control not yet applied; one account's controls share a
        # partition so the publisher applies them in the order they were given (pause before resume)
        partition_by="account",
        description="Operator controls of the tweet publisher: retry, cancel, pause and resume an account.",
    ),
    TopicSpec(
        "deployment-state",
        "deployment_id",
        ("DeploymentState",),
        compacted=True,
        description="Deployments and their phase.",
    ),
    # internal: the deployment manager's inputs funnelled into one partition (it needs one global view)
    TopicSpec(
        "deployment-manager-feed",
        "league",
        ("DeploymentEvent", "GameState", "SystemMetrics"),
        partitions=1,
        description="Deployment events, game live/final changes and canary metrics for the deployment manager.",
    ),
    # internal: the scaling agent's inputs re-keyed by league (metrics, schedule, events, overrides in one order)
    TopicSpec(
        "scaling-feed",
        "league",
        ("SystemMetrics", "ScheduledGame", "LeagueEvent", "ScalingOverride", "FeatureFlag"),
        partition_by="league",
        # one partition: one worker decides for every league, so the 150-agent total is counted over all of them
        partitions=1,
        description="Metrics, games, league events, overrides and flags of all leagues, in one partition, for scaling.",
    ),
    # internal: tweets.actions flags re-keyed by league, co-partitioned with plays (a league's flag is on the
    # worker that decides its plays)
    TopicSpec(
        "games-flags",
        "flag_id",
        ("FeatureFlag",),
        partition_by="league",
        description="tweets.actions flags forwarded to the partition of their league's plays.",
    ),
)

TOPICS: dict[str, TopicSpec] = {t.name: t for t in _TOPICS}


def topic(name: str) -> TopicSpec:
    try:
        return TOPICS[name]
    except KeyError:
        known = ", ".join(sorted(TOPICS))
        raise StreamsError(f"unknown topic {name!r}; known topics: {known}") from None
