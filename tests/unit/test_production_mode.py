"""``MG_ENV=production`` refuses unsafe settings at start (ADR 0021): the real service
process exits non-zero, every reason on stderr, before it connects to anything."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from services.notifications.config import NotificationSettings
from shared.production import UNSAFE_EXIT_CODE, unsafe_settings
from shared.settings import AuthSettings, HttpSettings, KafkaSettings, OidcSettings
from stack.harness.process import service_module

SAFE_ENV = {
    "MG_ENV": "production",
    "MG_JWT_LOCAL_TOKENS": "false",
    "MG_OIDC_ISSUER": "https://idp.departement.example.fr/realms/mg",
    "MG_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "MG_KAFKA_SASL_USERNAME": "notifications",
    "MG_KAFKA_SASL_PASSWORD": "Vb7nQ2wE9rT4yU1iO6pA3sD8fG5hJ0kL2zX4cV",
    "MG_HTTP_METRICS_TOKEN": "q3V9mX2sLr8KpT4wYz6NcB1dFh7JgE5uAo0iRs",
    "MG_NOTIFICATIONS_LINK_SECRET": "Zr4Tq8Wm2Xn6Yp0Lk3Jh7Gf1Ds5Az9Bv4Cx8Ne",
}
RANDOM_SECRET = "3kP9vQ2xW7mZ4tR8yL1nB6cF0hJ5gD2sA9eU4iO7"


def run_service(service: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MG_")}
    return subprocess.run(
        [sys.executable, "-m", service_module(service)],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("service", ["requests", "matching", "billing", "notifications"])
def test_a_placeholder_jwt_secret_stops_the_service_with_the_reason(service: str) -> None:
    done = run_service(service, {"MG_ENV": "production", "MG_JWT_SECRET": "change-me"})

    assert done.returncode == UNSAFE_EXIT_CODE != 0
    assert "refusing to start with MG_ENV=production" in done.stderr
    assert "MG_JWT_SECRET is a placeholder" in done.stderr
    assert "MG_JWT_LOCAL_TOKENS" in done.stderr
    assert "MG_KAFKA_SECURITY_PROTOCOL=PLAINTEXT" in done.stderr
    assert "MG_HTTP_METRICS_TOKEN is not set" in done.stderr


def test_private_webhook_targets_stop_the_notifications_service() -> None:
    env = {
        **SAFE_ENV,
        "MG_NOTIFICATIONS_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.0/8"]',
        "MG_HTTP_DOCS": "true",
    }
    done = run_service("notifications", env)

    assert done.returncode == UNSAFE_EXIT_CODE
    assert "MG_NOTIFICATIONS_WEBHOOK_ALLOWED_NETWORKS" in done.stderr
    assert "MG_HTTP_DOCS=true" in done.stderr
    assert "MG_JWT" not in done.stderr


def production(**changes: object) -> list[str]:
    settings: dict[str, object] = {
        "auth": AuthSettings(local_tokens=False),
        "oidc": OidcSettings(issuer="https://idp.example.org/realms/mg"),
        "kafka": KafkaSettings(security_protocol="SASL_SSL"),
        "http": HttpSettings(metrics_token=SecretStr(RANDOM_SECRET)),
    }
    settings.update(changes)
    return unsafe_settings(**settings)  # type: ignore[arg-type]


def test_safe_production_settings_pass() -> None:
    assert production() == []


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"auth": AuthSettings(local_tokens=False, secret=SecretStr("change-me"))}, "placeholder"),
        ({"auth": AuthSettings(local_tokens=False, secret=SecretStr("x" * 31))}, "shorter than 32"),
        ({"auth": AuthSettings(secret=SecretStr(RANDOM_SECRET))}, "for local use only"),
        ({"oidc": OidcSettings()}, "MG_OIDC_ISSUER is not set"),
        ({"oidc": OidcSettings(issuer="http://idp.example.org")}, "https://"),
        ({"kafka": KafkaSettings(security_protocol="PLAINTEXT")}, "PLAINTEXT"),
        ({"kafka": KafkaSettings(security_protocol="SASL_PLAINTEXT")}, "SASL_PLAINTEXT"),
        (
            {"kafka": KafkaSettings(security_protocol="SASL_SSL", sasl_password="change-me")},
            "MG_KAFKA_SASL_PASSWORD is a placeholder",
        ),
        ({"http": HttpSettings()}, "/metrics would be open"),
        ({"http": HttpSettings(metrics_token="short")}, "MG_HTTP_METRICS_TOKEN is shorter"),
        (
            {"http": HttpSettings(metrics_token=SecretStr(RANDOM_SECRET), docs=True)},
            "MG_HTTP_DOCS",
        ),
    ],
)
def test_each_unsafe_setting_is_refused_with_its_reason(
    changes: dict[str, object], reason: str
) -> None:
    problems = production(**changes)

    assert len(problems) == 1, problems
    assert reason in problems[0]


def test_notification_settings_refuse_private_webhooks_plain_http_and_a_weak_link_secret() -> None:
    strong = SecretStr(RANDOM_SECRET)
    own_key = [SecretStr(Fernet.generate_key().decode())]
    safe = NotificationSettings(link_secret=strong, secrets_keys=own_key)
    assert safe.production_problems() == []
    unsafe = NotificationSettings(
        webhook_allowed_networks=["10.0.0.0/8"], allow_plain_http_webhooks=True
    )
    assert len(unsafe.production_problems()) == 4
    assert "MG_NOTIFICATIONS_SECRETS_KEYS holds the local key" in unsafe.production_problems()[1]
    assert "MG_NOTIFICATIONS_LINK_SECRET is a placeholder" in unsafe.production_problems()[0]
