"""What ``MG_ENV=production`` refuses at start (ADR 0021).

A service that would run in production with a setting made for a laptop (a placeholder
secret, shared-secret tokens, plaintext Kafka, open metrics or documentation) does not
start: it prints every reason on stderr and exits non-zero, so the deployment fails at
once rather than serving traffic unsafely. Each service may add reasons of its own
(:attr:`shared.runtime.ServiceRuntime.production_checks`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable

from shared.settings import AuthSettings, HttpSettings, KafkaSettings, OidcSettings

PLACEHOLDERS = ("change-me", "changeme", "change_me", "example", "secret", "password")
MIN_SECRET_BYTES = 32
UNSAFE_EXIT_CODE = 78  # EX_CONFIG (sysexits.h)

ProductionCheck = Callable[[], Iterable[str]]


def secret_problems(name: str, value: str) -> list[str]:
    lowered = value.lower()
    if any(p in lowered for p in PLACEHOLDERS):
        return [f"{name} is a placeholder ({value[:12]!r}…): set a random value of its own."]
    if len(value.encode()) < MIN_SECRET_BYTES:
        return [f"{name} is shorter than {MIN_SECRET_BYTES} bytes."]
    return []


def unsafe_settings(
    auth: AuthSettings, oidc: OidcSettings, kafka: KafkaSettings, http: HttpSettings
) -> list[str]:
    """Every reason these settings are not fit for production; empty when they are."""
    problems: list[str] = []
    # A secret given in production is checked even if unused: it is about to be copied.
    if auth.local_tokens or "secret" in auth.model_fields_set:
        problems += secret_problems("MG_JWT_SECRET", auth.secret.get_secret_value())
    if auth.local_tokens:
        problems.append(
            f"MG_JWT_LOCAL_TOKENS: shared-secret tokens ({auth.algorithm}) are for local use "
            "only; set MG_JWT_LOCAL_TOKENS=false and use an OIDC provider (MG_OIDC_ISSUER)."
        )
    if not oidc.issuer:
        problems.append("MG_OIDC_ISSUER is not set: no token could be verified.")
    elif not oidc.issuer.startswith("https://"):
        problems.append("MG_OIDC_ISSUER must be an https:// URL.")
    if kafka.security_protocol in ("PLAINTEXT", "SASL_PLAINTEXT"):
        problems.append(
            f"MG_KAFKA_SECURITY_PROTOCOL={kafka.security_protocol}: Kafka traffic would be "
            "unencrypted; use SASL_SSL."
        )
    if kafka.security_protocol.startswith("SASL") and kafka.sasl_password is not None:
        problems += secret_problems(
            "MG_KAFKA_SASL_PASSWORD", kafka.sasl_password.get_secret_value()
        )
    if http.metrics_token is None:
        problems.append("MG_HTTP_METRICS_TOKEN is not set: /metrics would be open to anyone.")
    else:
        problems += secret_problems("MG_HTTP_METRICS_TOKEN", http.metrics_token.get_secret_value())
    if http.docs:
        problems.append("MG_HTTP_DOCS=true: /docs and /openapi.json stay off in production.")
    return problems


def refuse_unsafe_start(service: str, problems: list[str]) -> None:
    """Exit with every reason on stderr when ``problems`` is not empty."""
    if not problems:
        return
    lines = [f"{service}: refusing to start with MG_ENV=production:"]
    lines += [f"  - {p}" for p in problems]
    sys.stderr.write("\n".join(lines) + "\n")
    sys.stderr.flush()
    raise SystemExit(UNSAFE_EXIT_CODE)
