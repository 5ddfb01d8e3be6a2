"""The one settings object: every knob is a ``WIREREPORT_*`` environment variable (or a line in ``.env``).

Secrets are ``SecretStr`` so they never print; they come only from the environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Wire Report configuration (read from ``WIREREPORT_*`` env vars and ``.env``)."""

    model_config = SettingsConfigDict(env_prefix="WIREREPORT_", env_file=".env", extra="ignore")

    # Kafka
    kafka_bootstrap: str | None = Field(
        default=None, description="host:port of a real Kafka cluster; unset means the embedded broker."
    )
    broker_port: int = Field(default=19092, description="Port of the embedded broker.")
    broker_session_timeout: float = Field(
        default=4.0, description="Consumer-group session timeout (s); short for the embedded broker."
    )
    topic_partitions: int = Field(default=4, description="Default partitions of the topics we create.")
    replication_factor: int = 1

    # Faust worker
    app_id: str = "wirereport"
    data_dir: Path = Path("var")
    worker_web_port: int = 6066
    worker_batch_size: int = 1000
    worker_batch_seconds: float = 0.05

    # API
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    jwt_secret: SecretStr | None = None
    jwt_issuer: str = "wirereport"
    jwt_audience: str = "wirereport-api"
    api_keys: SecretStr | None = Field(
        default=None, description="Comma-separated 'name:sha256hex:scope1+scope2' entries (hashed keys)."
    )
    cors_origins: str = ""

    # Tweets
    tweets_per_day: int = 17
    tweet_timezone: str = "America/New_York"
    x_bearer_token: SecretStr | None = None
    x_api_key: SecretStr | None = None
    x_api_secret: SecretStr | None = None
    x_access_token: SecretStr | None = None
    x_access_token_secret: SecretStr | None = None

    # Alerts
    slack_webhook_url: SecretStr | None = None

    # Logging
    log_level: str = "INFO"

    @property
    def bootstrap(self) -> str:
        """The bootstrap servers every client uses: the real cluster if set, else the embedded broker."""
        return self.kafka_bootstrap or f"127.0.0.1:{self.broker_port}"

    @property
    def uses_embedded_broker(self) -> bool:
        return self.kafka_bootstrap is None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process (tests call ``get_settings.cache_clear()`` after changing env)."""
    return Settings()
