"""Settings of the API (env prefix DRONEFLEET_API_). Secrets have no default."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    """One API process's configuration."""

    model_config = SettingsConfigDict(env_prefix="DRONEFLEET_API_")

    kafka_bootstrap: str = "localhost:29092"
    topic_prefix: str = ""
    database_url: str = "postgresql://dronefleet@127.0.0.1:25432/dronefleet"
    token_secret: SecretStr = Field(min_length=32)
    """Signs tracking tokens. Required: generate one with `openssl rand -hex 32`."""
    business_keys: dict[str, SecretStr] = Field(default_factory=dict)
    """business id -> API key (issue 6 replaces this with registration)."""
    token_ttl_s: int = 6 * 3600
    public_url: str = "http://127.0.0.1:8000"
    allowed_origins: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:8000", "http://localhost:8000"]
    )
    ws_queue_size: int = 1
    latest_cache_size: int = 100_000
    host: str = "127.0.0.1"
    port: int = 8000
