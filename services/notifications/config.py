"""Settings of the notifications service (``MG_NOTIFICATIONS_*``): the mail server, the
webhook dispatch, reminders and digests."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.notifications.domain.delivery import RetryPolicy
from shared.production import secret_problems
from shared.secret_box import SecretBox

LOCAL_SECRETS_KEY = "AiIQm5tjmR2popBgEJrlfTV7hClTSU89L7YmbKre2AA="


class NotificationSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MG_NOTIFICATIONS_", extra="ignore")

    # --- email -----------------------------------------------------------------------
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    # "starttls" upgrades a plain connection (port 587); "tls" is implicit TLS (port 465).
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    smtp_concurrency: int = Field(default=4, ge=1, le=100)
    sender: str = "Matière Grise <notifications@matiere-grise.local>"
    # The right-hand side of every Message-ID: <notification id@domain>.
    message_id_domain: str = "matiere-grise.local"
    # The address of this service's API as recipients reach it: unsubscribe links.
    public_url: str = "http://127.0.0.1:8004"
    # Signs the unsubscribe links (HMAC-SHA256); production refuses the placeholder.
    link_secret: SecretStr = SecretStr("matiere-grise-local-unsubscribe-links-change-me")
    # Used for a département whose team has not set its address over HTTP.
    team_address_template: str = "equipe-{departement}@departement.example.fr"

    # --- webhooks --------------------------------------------------------------------
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    # Concurrent requests to one subscription's endpoint, per instance.
    webhook_concurrency: int = Field(default=4, ge=1, le=100)
    # Local demonstrations only: production endpoints must be HTTPS.
    allow_plain_http_webhooks: bool = False
    # Fernet keys (base64) sealing the webhooks' signing secrets at rest: the first seals,
    # all open (rotation: put a new key first). The local key is refused in production.
    secrets_keys: list[SecretStr] = Field(
        default_factory=lambda: [SecretStr(LOCAL_SECRETS_KEY)], min_length=1, max_length=10
    )
    # Networks (CIDR) a webhook may target although the guard refuses them, e.g.
    # ["127.0.0.0/8"] for the demo's and the tests' receivers. Production refuses it.
    webhook_allowed_networks: list[str] = Field(default_factory=list, max_length=20)

    # --- Les Communs (ANCT): our projects published to their API (ADR 0015) ---------------
    # Unset: the projects are kept, ready to go, and nothing is sent.
    les_communs_url: str | None = None
    # One API key for the whole service, given by Les Communs.
    les_communs_api_key: SecretStr | None = None
    les_communs_timeout_seconds: float = Field(default=10.0, gt=0)
    les_communs_concurrency: int = Field(default=4, ge=1, le=100)
    les_communs_poll_seconds: float = Field(default=1.0, gt=0)
    # Never given up while Les Communs is away: the delay grows to this ceiling.
    les_communs_backoff_base_seconds: float = Field(default=30.0, gt=0)
    les_communs_backoff_max_seconds: float = Field(default=900.0, gt=0)

    # --- retries and dispatch ----------------------------------------------------------
    max_attempts: int = Field(default=8, ge=1, le=50)
    backoff_base_seconds: float = Field(default=30.0, gt=0)
    backoff_max_seconds: float = Field(default=3600.0, gt=0)
    backoff_jitter: float = Field(default=0.5, ge=0, le=1)
    dispatch_poll_seconds: float = Field(default=1.0, gt=0)
    dispatch_batch: int = Field(default=100, ge=1, le=1000)
    # A claimed delivery whose instance died is tried again after this long; longer than
    # any send may take, or a slow send would be claimed twice.
    lease_seconds: float = Field(default=300.0, gt=0)

    # --- reminders, follow-ups, digests ------------------------------------------------
    reminder_hours_before: float = Field(default=24.0, gt=0)
    follow_up_days: float = Field(default=42.0, gt=0)
    # A message for a demande this service never heard of is dropped after this long.
    awaiting_recipient_hours: float = Field(default=72.0, gt=0)
    schedule_scan_seconds: float = Field(default=60.0, gt=0)
    # Digests go out once a day from this hour (Paris time).
    digest_hour: int = Field(default=8, ge=0, le=23)
    digest_scan_seconds: float = Field(default=300.0, gt=0)

    @model_validator(mode="after")
    def _lease_outlasts_a_send(self) -> NotificationSettings:
        longest = max(
            self.smtp_timeout_seconds,
            self.webhook_timeout_seconds,
            self.les_communs_timeout_seconds,
        )
        if self.lease_seconds <= 2 * longest:
            raise ValueError(
                "lease_seconds must exceed twice the longest send timeout, or a slow send "
                "could be claimed and sent a second time"
            )
        return self

    def production_problems(self) -> list[str]:
        """What ``MG_ENV=production`` refuses in these settings (ADR 0021)."""
        problems = secret_problems(
            "MG_NOTIFICATIONS_LINK_SECRET", self.link_secret.get_secret_value()
        )
        if any(k.get_secret_value() == LOCAL_SECRETS_KEY for k in self.secrets_keys):
            problems.append(
                "MG_NOTIFICATIONS_SECRETS_KEYS holds the local key: webhook secrets would be "
                "sealed with a key anyone can read in the repository."
            )
        if self.webhook_allowed_networks:
            problems.append(
                "MG_NOTIFICATIONS_WEBHOOK_ALLOWED_NETWORKS: webhooks to private or loopback "
                "networks are for local use only."
            )
        if self.allow_plain_http_webhooks:
            problems.append("MG_NOTIFICATIONS_ALLOW_PLAIN_HTTP_WEBHOOKS: webhooks are HTTPS only.")
        return problems

    def secret_box(self) -> SecretBox:
        return SecretBox([k.get_secret_value() for k in self.secrets_keys])

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.max_attempts,
            base_seconds=self.backoff_base_seconds,
            max_seconds=self.backoff_max_seconds,
            jitter=self.backoff_jitter,
        )

    def team_address(self, departement: str) -> str:
        return self.team_address_template.format(departement=departement.lower())

    @property
    def reminder_lead(self) -> timedelta:
        return timedelta(hours=self.reminder_hours_before)

    @property
    def follow_up_period(self) -> timedelta:
        return timedelta(days=self.follow_up_days)

    @property
    def awaiting_limit(self) -> timedelta:
        return timedelta(hours=self.awaiting_recipient_hours)
