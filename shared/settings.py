"""Settings of every service, read from the environment (prefix ``MG_``).

One service reads the shared Kafka and JWT settings plus its own block, whose
prefix carries the service name (``MG_REQUESTS_DATABASE_URL``, ...), so that
several services can run side by side from one environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.contracts.topics import SERVED_DEPARTEMENTS
from shared.contracts.vocabulary import DEPARTEMENT_CODE


class KafkaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MG_KAFKA_", extra="ignore")

    bootstrap_servers: str = "127.0.0.1:9092"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    # Set only where one process is one principal (a Kubernetes pod); otherwise each client
    # connects as the principal its code names (the service's name, ``admin`` for the tools).
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    # Where ``<principal>.password`` files are read when no password is given (infra/ writes
    # them on the broker's first start; a mounted Secret in Kubernetes).
    credentials_dir: str | None = None
    ssl_cafile: str | None = None
    # Dead-letter after this many attempts of a message that fails for a reason of its own.
    max_attempts: int = Field(default=3, ge=1, le=20)
    # Pause before a message is redelivered after an infrastructure failure (database down...).
    redelivery_backoff_seconds: float = Field(default=1.0, ge=0)
    # Members of each consumer group per process; each handles its partitions in order.
    subscriber_workers: int = Field(default=1, ge=1, le=12)
    # How often processed records' offsets go to Kafka (ADR 0010).
    offset_commit_interval_seconds: float = Field(default=0.1, gt=0, le=10)

    def principal(self, name: str) -> KafkaSettings:
        """These settings for a client of principal ``name``, unless the environment names one
        (ADR 0019)."""
        if self.sasl_username is not None:
            return self
        return self.model_copy(update={"sasl_username": name})

    def password(self) -> str:
        """The SASL password: given, or read from ``credentials_dir/<username>.password``."""
        if self.sasl_password is not None:
            return self.sasl_password.get_secret_value()
        if not self.sasl_username or not self.credentials_dir:
            raise ValueError(
                "SASL needs a principal and MG_KAFKA_SASL_PASSWORD or MG_KAFKA_CREDENTIALS_DIR"
            )
        path = Path(self.credentials_dir) / f"{self.sasl_username}.password"
        return path.read_text(encoding="utf-8").strip()

    def environment(self) -> dict[str, str]:
        """The ``MG_KAFKA_*`` variables that connect a child process to the same broker; the
        principal is left to the child."""
        env = {
            "MG_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "MG_KAFKA_SECURITY_PROTOCOL": self.security_protocol,
            "MG_KAFKA_SASL_MECHANISM": self.sasl_mechanism,
        }
        if self.ssl_cafile:
            env["MG_KAFKA_SSL_CAFILE"] = self.ssl_cafile
        if self.credentials_dir:
            env["MG_KAFKA_CREDENTIALS_DIR"] = self.credentials_dir
        return env


class IntegrationSettings(BaseSettings):
    """The départements whose systems are connected (``MG_INTEGRATION_DEPARTEMENTS``,
    comma-separated codes): each has its ``dept.<code>.events.v1`` and
    ``dept.<code>.commands.v1`` topics (ADR 0020)."""

    model_config = SettingsConfigDict(env_prefix="MG_INTEGRATION_", extra="ignore")

    departements: str = ",".join(SERVED_DEPARTEMENTS)

    @field_validator("departements")
    @classmethod
    def _codes(cls, value: str) -> str:
        codes = [code.strip() for code in value.split(",") if code.strip()]
        wrong = [code for code in codes if not DEPARTEMENT_CODE.fullmatch(code)]
        if wrong:
            raise ValueError(f"not département codes: {', '.join(wrong)}")
        return ",".join(codes)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(code for code in self.departements.split(",") if code)


class DeploymentSettings(BaseSettings):
    """``MG_ENV``: ``production`` refuses to start on unsafe settings (ADR 0021)."""

    model_config = SettingsConfigDict(env_prefix="MG_", extra="ignore")

    env: Literal["local", "test", "production"] = "local"

    @property
    def production(self) -> bool:
        return self.env == "production"


class AuthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MG_JWT_", extra="ignore")

    # Shared-secret (HS256) tokens, minted by ``mg-token``: local use and tests only.
    local_tokens: bool = True
    # The local default lets the stack run out of the box; production refuses it.
    secret: SecretStr = SecretStr("matiere-grise-local-development-secret-change-me")
    algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    issuer: str = "matiere-grise"
    audience: str = "matiere-grise"
    # Clock skew tolerated on exp/nbf/iat, for local and OIDC tokens alike; bounded.
    leeway_seconds: int = Field(default=30, ge=0, le=300)


class OidcSettings(BaseSettings):
    """The identity provider whose RS256/ES256 tokens the services accept (ADR 0021)."""

    model_config = SettingsConfigDict(env_prefix="MG_OIDC_", extra="ignore")

    # Unset: no OIDC; its discovery document is ``<issuer>/.well-known/openid-configuration``.
    issuer: str | None = None
    audience: str = "matiere-grise"
    algorithms: list[Literal["RS256", "ES256"]] = ["RS256", "ES256"]
    # Keys are refetched at most this often when a token names an unknown ``kid``.
    jwks_refetch_min_seconds: float = Field(default=30.0, ge=0)
    # And at least this often anyway, so that a removed key stops being accepted.
    jwks_cache_seconds: float = Field(default=600.0, gt=0)
    http_timeout_seconds: float = Field(default=5.0, gt=0)
    # The claims that carry our role, département and scope (ADR 0006).
    role_claim: str = "role"
    departement_claim: str = "departement"
    scope_claim: str = "scope"


class HttpSettings(BaseSettings):
    """What every service's HTTP server lets in (``MG_HTTP_*``, ADR 0021)."""

    model_config = SettingsConfigDict(env_prefix="MG_HTTP_", extra="ignore")

    # /docs, /redoc and /openapi.json; unset: on, except in production.
    docs: bool | None = None
    # Set: /metrics answers only ``Authorization: Bearer <token>``. Production requires it.
    metrics_token: SecretStr | None = None
    # JSON bodies; raw uploads (application/octet-stream) have their own, larger bound.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_upload_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    # Requests per principal: a token bucket of ``rate_limit_burst`` refilled at this rate.
    rate_limit_per_second: float = Field(default=20.0, gt=0)
    rate_limit_burst: int = Field(default=200, ge=1)


class ServiceSettings(BaseSettings):
    """The block of one service. Build it with :func:`service_settings`."""

    model_config = SettingsConfigDict(extra="ignore")

    name: str
    # Empty means the local embedded PostgreSQL, one database per service.
    database_url: str = ""
    http_host: str = "127.0.0.1"
    # 0 means the service's default local port.
    http_port: int = Field(default=0, ge=0, le=65535)
    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "json"
    outbox_batch_size: int = Field(default=500, ge=1, le=10_000)
    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    instance_id: str | None = None
    # Empty means the service name: every instance of a service shares one consumer group.
    consumer_group: str = ""
    # Where a new consumer group starts: "earliest" so that a new service misses nothing.
    consumer_offset_reset: Literal["earliest", "latest"] = "earliest"

    @model_validator(mode="after")
    def _local_defaults(self) -> ServiceSettings:
        if not self.database_url:
            self.database_url = f"postgresql+asyncpg://postgres@127.0.0.1:5433/{self.name}"
        if not self.consumer_group:
            self.consumer_group = self.name
        if not self.http_port:
            self.http_port = DEFAULT_HTTP_PORTS.get(self.name, 8000)
        return self


DEFAULT_HTTP_PORTS = {
    "requests": 8001,
    "matching": 8002,
    "billing": 8003,
    "notifications": 8004,
    "resources": 8006,
}


def service_settings(name: str) -> ServiceSettings:
    """Settings of service ``name`` from ``MG_<NAME>_*`` variables, with local defaults."""
    return ServiceSettings(_env_prefix=f"MG_{name.upper()}_", name=name)
