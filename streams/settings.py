"""The one settings object: every knob is a ``WIREREPORT_*`` environment variable (or a line in ``.env``).

Secrets are ``SecretStr`` so they never print; they come only from the environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, FilePath, SecretStr, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Wire Report configuration (read from ``WIREREPORT_*`` env vars and ``.env``)."""

    model_config = SettingsConfigDict(env_prefix="WIREREPORT_", env_file=".env", extra="ignore")

    # Kafka: which broker (a real cluster or the embedded one) and how new topics are laid out
    kafka_bootstrap: str | None = Field(
        default=None, description="host:port of a real Kafka cluster; unset means the embedded broker."
    )
    broker_port: int = Field(default=19092, description="Port of the embedded broker.")
    broker_session_timeout: float = Field(
        default=4.0, description="Consumer-group session timeout (s); short for the embedded broker."
    )
    topic_partitions: int = Field(default=4, description="Default partitions of the topics we create.")
    replication_factor: int = 1

    # Stream worker (Faust): its app id, where tables keep local state, how records are batched
    app_id: str = "wirereport"
    data_dir: Path = Path("var")
    worker_web_port: int = 6066
    worker_batch_size: int = 1000
    worker_batch_seconds: float = 0.05

    # API server: where it listens, who may call it (JWTs, hashed API keys), CORS
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    jwt_secret: SecretStr | None = None
    jwt_issuer: str = "wirereport"
    jwt_audience: str = "wirereport-api"
    api_keys: SecretStr | None = Field(
        default=None, description="Comma-separated 'name:sha256hex:scope1+scope2' entries (hashed keys)."
    )
    cors_origins: str = ""

    # Tweet accounts: the daily budget, the time zone its day follows, the X credentials
    tweets_per_day: int = 17
    tweet_timezone: str = "America/New_York"
    x_bearer_token: SecretStr | None = None
    x_api_key: SecretStr | None = None
    x_api_secret: SecretStr | None = None
    x_access_token: SecretStr | None = None
    x_access_token_secret: SecretStr | None = None

    # Alert delivery to people (Slack)
    slack_webhook_url: SecretStr | None = None

    # Logging
    log_level: str = "INFO"

    # Server health rules: warning/critical thresholds in percent, how long a breach must hold before it fires,
    # how far and how long below the threshold clears it, and the heartbeat that declares a silent server down
    health_cpu_warning: float = 70.0
    health_cpu_critical: float = 90.0
    health_memory_warning: float = Field(
        default=80.0,
        description="HighMemory warning (%). The source of truth for 'memory tight': the scaling policy makes no "
        "scale-up at or above it too (unless WIREREPORT_SCALING_MAX_MEMORY_PERCENT is set).",
    )
    health_memory_critical: float = 95.0
    health_disk_warning: float = 85.0
    health_disk_critical: float = 95.0
    health_warning_for_seconds: float = Field(default=120.0, description="How long a warning must hold to fire.")
    health_critical_for_seconds: float = Field(default=60.0, description="How long a critical must hold to fire.")
    health_resolve_margin: float = Field(default=5.0, description="Points below the threshold that count as clear.")
    health_resolve_for_seconds: float = 60.0
    health_heartbeat_intervals: float = Field(default=3.0, description="Missed intervals before ServerDown.")
    health_default_interval_seconds: float = 30.0
    # Alert routing: which alerts are grouped into one notification, when groups are sent and repeated,
    # and retries of the webhook delivery
    alert_group_by: str = Field(default="league,alertname", description="Comma-separated labels to group by.")
    alert_group_wait_seconds: float = 30.0
    alert_group_interval_seconds: float = 300.0
    alert_repeat_interval_seconds: float = 14400.0
    alert_send_resolved: bool = True
    alert_webhook_timeout_seconds: float = 10.0
    alert_retry_initial_seconds: float = 1.0
    alert_retry_max_seconds: float = 300.0
    # Circuit breakers around outside services (the defaults every breaker starts from)
    breaker_failure_rate_threshold: float = 50.0
    breaker_slow_call_rate_threshold: float = 100.0
    breaker_slow_call_duration_seconds: float = 60.0
    breaker_sliding_window_type: str = Field(default="COUNT_BASED", description="COUNT_BASED or TIME_BASED.")
    breaker_sliding_window_size: int = 100
    breaker_minimum_number_of_calls: int = 100
    breaker_wait_duration_in_open_state_seconds: float = 60.0
    breaker_permitted_calls_in_half_open_state: int = 10
    # Self-healing: how often the supervisor may restart a server's process before a human is called
    remediation_max_restarts_per_hour: int = 3
    remediation_process_name: str = Field(default="league-server", description="Process the supervisor restarts.")

    # Query and control API limits: per-credential rate limits, page and body sizes, read-model freshness, SSE
    api_rate_per_second: float = Field(default=50.0, description="Sustained requests/s allowed per credential.")
    api_rate_burst: int = Field(default=200, description="Burst size of each credential's token bucket.")
    api_max_page_size: int = Field(default=200, description="Largest page a list endpoint returns.")
    api_max_body_bytes: int = Field(default=65536, description="Largest request body accepted (413 above).")
    api_history_size: int = Field(default=5000, description="Recent commands/alerts kept per read-model log view.")
    api_ready_max_lag: int = Field(default=10000, description="Read-model lag (messages) above which /ready is 503.")
    api_docs_enabled: bool = Field(default=True, description="Serve OpenAPI docs at /docs and /openapi.json.")
    api_sse_max_clients: int = Field(default=500, description="Concurrent SSE streams allowed (503 above).")
    api_command_timeout: float = Field(default=5.0, description="Seconds to wait for Kafka to ack an admin command.")

    # Safe deployments: when they may start, how a canary is judged, when a blocked request expires, and
    # how the deployment agent on each server applies a version
    deploy_windows: str = Field(
        default="Mon-Sun 09:00-17:00 America/New_York",
        description="When deployments may start: 'DAYS HH:MM-HH:MM TZ' entries separated by ';' (empty = always).",
    )
    deploy_canary_alpha: float = Field(default=0.05, description="Significance level of the canary's rank tests.")
    deploy_canary_min_samples: int = Field(default=10, description="Samples needed before and after the canary.")
    deploy_canary_bake_seconds: float = Field(default=300.0, description="Canary runs at least this long.")
    deploy_canary_timeout_seconds: float = Field(default=1800.0, description="Roll back if still inconclusive.")
    deploy_canary_baseline_seconds: float = Field(default=3600.0, description="Baseline samples look this far back.")
    deploy_min_error_rate_increase: float = Field(default=0.01, description="Smallest error-rate rise that counts.")
    deploy_min_latency_increase: float = Field(default=0.10, description="Smallest relative latency rise that counts.")
    deploy_request_ttl_seconds: float = Field(default=86400.0, description="A blocked request expires after this.")
    deploy_restart_cmd: str | None = Field(default=None, description="Deployment agent: command run after checkout.")
    deploy_command_timeout_seconds: float = Field(default=300.0, description="Deployment agent: git/restart timeout.")
    deploy_agent_backlog_seconds: float = Field(
        default=900.0, description="A new deployment agent skips decisions older than this (no replay of history)."
    )
    deploy_live_game_max_age_seconds: float = Field(
        default=21600.0, description="A 'live' game not updated for this long no longer blocks deployments."
    )

    # Predictive scaling: agent capacity, per-league and total bounds, resource guards, emergency cuts,
    # cooldowns, and the load forecasting models
    scaling_capacity_per_agent: float = Field(default=1.0, description="Work units/s one agent handles at 100%.")
    scaling_target_utilization: float = Field(default=0.7, description="Planned utilization of the agents.")
    scaling_min_agents: int = Field(default=1, description="Fewest agents per league.")
    scaling_max_agents: int = Field(default=150, description="Most agents per league (profiles may lower it).")
    scaling_max_total_agents: int = Field(default=150, description="Most agents over all leagues.")
    scaling_max_cpu_percent: float = Field(default=80.0, description="No scale-up at or above this CPU.")
    scaling_max_memory_percent: float | None = Field(
        default=None,
        description="No scale-up at or above this memory (%). Unset: health_memory_warning, so the policy and the "
        "HighMemory warning agree; set it only to make them differ on purpose.",
    )
    scaling_emergency_cpu_percent: float = Field(default=90.0, description="Emergency scale-down above this CPU.")
    scaling_emergency_memory_percent: float = Field(default=85.0, description="Emergency scale-down above this.")
    scaling_emergency_cut: float = Field(default=0.3, description="Fraction of agents an emergency removes.")
    scaling_up_cooldown_seconds: float = Field(default=60.0, description="Least time between scalings before an up.")
    scaling_down_cooldown_seconds: float = Field(default=300.0, description="Least time before a down; its window.")
    scaling_prescale_seconds: float = Field(default=1800.0, description="Pre-scale this long before a game.")
    scaling_headroom_quantile: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="Forecast-error quantile used as headroom; unset: each league profile's scaling_sensitivity.",
    )
    scaling_forecast_only: bool = Field(default=False, description="Record decisions; the scaler does not act.")
    scaling_profiles: str | None = Field(default=None, description="JSON replacing league profile fields.")
    scaling_models: str = Field(
        default="profile_daily,profile_weekly,hw_daily,hw_weekly", description="Forecasting models per league."
    )
    scaling_refit_seconds: float = Field(default=86400.0, description="Statsmodels refit period (0 = never).")
    # Metrics agent on each league server (``wirereport agent``)
    metrics_interval_seconds: float = Field(default=30.0, description="wirereport agent: seconds between samples.")
    metrics_buffer_max: int = Field(default=100000, description="wirereport agent: samples kept on disk offline.")
    metrics_worker_match: str = Field(
        default=r"\bagent-worker\b.*--league[= ]{league}\b",
        description="wirereport agent: regex of a league worker's command line ({league} filled in; '' = no count).",
    )
    # Scaler executors: where agents are started and stopped (local processes or Kubernetes Deployments)
    scaler_executor: str = Field(default="local", description="Scaler executor: local or kubernetes.")
    scaler_worker_cmd: str | None = Field(
        default=None, description="Local executor: command of one worker (default: wirereport agent-worker)."
    )
    k8s_api_url: str | None = Field(default=None, description="Kubernetes API URL (in-cluster default if unset).")
    k8s_token: SecretStr | None = Field(default=None, description="Kubernetes bearer token (else in-cluster).")
    k8s_namespace: str = Field(default="default", description="Namespace of the scaled Deployments.")
    k8s_deployment: str = Field(default="wirereport-{league}", description="Deployment name ({league} lowercase).")
    k8s_ca_file: str | None = Field(default=None, description="CA bundle for the API (in-cluster default).")

    # Tweet publisher: the X API it posts to, and retries of a post that failed
    x_api_base_url: str = Field(default="https://api.x.com", description="X API base URL (tests point it locally).")
    x_api_timeout: float = Field(default=10.0, description="Seconds before an X API request times out.")
    publisher_retry_base_seconds: float = Field(default=1.0, description="First retry delay; doubles each time.")
    publisher_retry_max_seconds: float = Field(default=300.0, description="Longest delay between retries.")
    publisher_max_attempts: int = Field(default=8, description="Attempts before a tweet is marked failed.")

    # The X API circuit breaker (the publisher stops posting while X fails)
    x_breaker_sliding_window_size: int = Field(default=10, description="X API breaker: calls in its window.")
    x_breaker_minimum_number_of_calls: int = Field(default=5, description="X API breaker: calls before it may open.")
    x_breaker_wait_seconds: float = Field(default=60.0, description="X API breaker: seconds OPEN before probing.")
    # League-server supervisor: how it sheds load, and the league its scale-up requests are for
    supervisor_shed_load_signal: str = Field(default="SIGUSR1", description="Signal sent to the child on shed_load.")
    supervisor_shed_load_cmd: str | None = Field(default=None, description="Command run on shed_load (not a signal).")
    supervisor_league: str | None = Field(default=None, description="League of the supervised server (scale-ups).")
    # Self-healing scale-ups: the extra load a remediation request makes the scaling policy plan for
    remediation_scale_up_multiplier: float = Field(default=1.5, description="Load multiplier of a scale-up request.")
    remediation_scale_up_duration_seconds: int = Field(default=900, description="How long a scale-up request lasts.")

    # Scaler: retries of a scaling that failed, and re-applying each league's desired count to what runs
    scaler_retry_initial_seconds: float = Field(default=1.0, gt=0, description="Scaler: first retry delay; doubles.")
    scaler_retry_max_seconds: float = Field(default=60.0, gt=0, description="Scaler: longest delay between retries.")
    scaler_reconcile_seconds: float = Field(
        default=60.0, gt=0, description="Scaler: seconds between re-applying each league's last desired count."
    )

    # X accounts
    x_accounts_file: Path | None = Field(
        default=None, description="JSON file of each X account's OAuth 1.0a user-context credentials."
    )

    # API hardening: token lifetime, failed-credential lockout, stream caps, server timeouts
    max_token_ttl_seconds: int = Field(default=30 * 86400, ge=60, description="Longest lifetime of a minted token.")
    api_auth_free_failures: int = Field(default=5, ge=1, description="Failed credentials before a lockout starts.")
    api_auth_lockout_seconds: float = Field(default=1.0, gt=0, description="First lockout; doubles per failure.")
    api_auth_lockout_max_seconds: float = Field(default=900.0, gt=0, description="Longest lockout after failures.")
    api_sse_max_per_credential: int = Field(default=5, ge=1, description="Open SSE streams per credential (429).")
    api_timeout_keep_alive: float = Field(default=5.0, gt=0, description="Seconds an idle connection is kept.")
    api_request_timeout: float = Field(default=10.0, gt=0, description="Seconds to receive a request's head and body.")
    api_max_concurrency: int = Field(default=1000, ge=1, description="Connections and requests at once (503 above).")

    # Live play-by-play feeds
    feed_interval_seconds: float = Field(default=10.0, gt=0, description="Feed poller: seconds between polls.")
    feed_timeout_seconds: float = Field(default=10.0, gt=0, description="Feed poller: seconds before a request fails.")
    feed_stale_after_seconds: float = Field(
        default=1800.0, gt=0, description="Feed poller: a live game whose document has not changed this long is stale."
    )
    feed_follow_hours: float = Field(
        default=12.0, ge=0, description="Feed poller: games that started longer ago are skipped unless named."
    )
    feed_backoff_initial_seconds: float = Field(default=1.0, gt=0, description="Feed poller: first retry delay.")
    feed_backoff_max_seconds: float = Field(default=120.0, gt=0, description="Feed poller: longest retry delay.")
    feed_breaker_sliding_window_size: int = Field(default=10, ge=1, description="Feed breaker: calls in its window.")
    feed_breaker_minimum_number_of_calls: int = Field(default=5, ge=1, description="Feed breaker: calls before open.")
    feed_breaker_wait_seconds: float = Field(default=30.0, gt=0, description="Feed breaker: seconds OPEN.")

    # Observability
    metrics_port: int = Field(
        default=0, ge=0, le=65535, description="Port of a process's /metrics, /health and /ready (0 = off)."
    )
    metrics_host: str = Field(default="127.0.0.1", description="Interface the metrics port binds (0.0.0.0 in pods).")
    log_format: Literal["text", "json"] = Field(default="text", description="Log lines as text or one JSON object.")
    tracing: Literal["off", "console", "otlp"] = Field(default="off", description="Where OpenTelemetry spans go.")
    otlp_endpoint: str | None = Field(
        default=None, description="OTLP/HTTP traces URL (default: the exporter's, http://localhost:4318/v1/traces)."
    )
    app_metrics_url: str | None = Field(
        default=None, description="wirereport agent: the league server's Prometheus metrics URL (canary signals)."
    )
    app_metrics_requests: str = Field(
        default="http_requests_total", description="wirereport agent: the league server's request counter."
    )
    app_metrics_error_label: str = Field(default="status", description="Label of the request counter read as errors.")
    app_metrics_error_pattern: str = Field(default="5..", description="Regex of that label's values that are errors.")
    app_metrics_latency: str = Field(
        default="http_request_duration_seconds", description="wirereport agent: the request latency histogram."
    )
    app_metrics_build_info: str = Field(
        default="_build_info", description="wirereport agent: suffix of the gauge whose 'version' label is read."
    )
    app_metrics_timeout_seconds: float = Field(default=2.0, gt=0, description="wirereport agent: scrape timeout.")

    # One policy: the scaling policy owns each league's agent count; emergency cuts are paced in sample time
    scaling_emergency_cooldown_seconds: float = Field(
        default=120.0,
        ge=0,
        description="Least sample time between two emergency cuts of a league (never two on one interval).",
    )

    @property
    def bootstrap(self) -> str:
        """The bootstrap servers every client uses: the real cluster if set, else the embedded broker."""
        return self.kafka_bootstrap or f"127.0.0.1:{self.broker_port}"

    @property
    def uses_embedded_broker(self) -> bool:
        return self.kafka_bootstrap is None

    # Kafka security: how every client (worker, edge clients, admin, API) authenticates to and encrypts with the
    # cluster; streams/runtime/kafka_security.py maps these to each client library's configuration
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        default=None, description="SASL mechanism (required with a SASL_* protocol)."
    )
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_ca_file: FilePath | None = Field(
        default=None, description="PEM CA bundle that signed the brokers' certificates (system CAs if unset)."
    )
    kafka_ssl_cert_file: FilePath | None = Field(default=None, description="PEM client certificate (mutual TLS).")
    kafka_ssl_key_file: FilePath | None = Field(default=None, description="PEM private key of the client certificate.")
    kafka_ssl_key_password: SecretStr | None = None
    kafka_ssl_check_hostname: bool = Field(
        default=True, description="Check that the broker's certificate names the host connected to."
    )

    @model_validator(mode="after")
    def _check_kafka_security(self) -> Settings:
        """Refuse a security setup that would fail at the first connection, naming the variable to fix."""
        protocol = self.kafka_security_protocol
        sasl = ("kafka_sasl_mechanism", "kafka_sasl_username", "kafka_sasl_password")
        tls = ("kafka_ssl_ca_file", "kafka_ssl_cert_file", "kafka_ssl_key_file", "kafka_ssl_key_password")
        uses_sasl, uses_tls = protocol.startswith("SASL_"), protocol.endswith("SSL")
        problems = [
            (f, f"required when WIREREPORT_KAFKA_SECURITY_PROTOCOL is {protocol}", None)
            for f in sasl
            if uses_sasl and getattr(self, f) is None
        ]
        unused = (() if uses_sasl else sasl) + (() if uses_tls else tls)
        problems += [
            (f, f"set, but WIREREPORT_KAFKA_SECURITY_PROTOCOL is {protocol}, which does not use it", "<set>")
            for f in unused
            if getattr(self, f) is not None
        ]
        if uses_tls and (self.kafka_ssl_cert_file is None) != (self.kafka_ssl_key_file is None):
            missing = "kafka_ssl_key_file" if self.kafka_ssl_key_file is None else "kafka_ssl_cert_file"
            problems.append((missing, "a client certificate needs both the _CERT_FILE and the _KEY_FILE", None))
        if problems:
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    InitErrorDetails(type=PydanticCustomError("kafka_security", message), loc=(field,), input=given)
                    for field, message, given in problems
                ],
            )
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process (tests call ``get_settings.cache_clear()`` after changing env)."""
    return Settings()
