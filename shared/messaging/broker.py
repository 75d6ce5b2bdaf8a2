"""The one place where Kafka clients get their settings.

FastStream's defaults are weaker than our rules (``acks=1``, no idempotence,
auto-commit); every producer and consumer of the product is built here.
"""

from __future__ import annotations

import logging
import ssl
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.middlewares import AckPolicy
from faststream.security import BaseSecurity, SASLScram256, SASLScram512
from prometheus_client import REGISTRY, CollectorRegistry

from shared.settings import KafkaSettings


def _security(kafka: KafkaSettings) -> BaseSecurity | None:
    use_ssl = kafka.security_protocol in ("SSL", "SASL_SSL")
    context = ssl.create_default_context(cafile=kafka.ssl_cafile) if use_ssl else None
    if kafka.security_protocol.startswith("SASL"):
        scram = SASLScram256 if kafka.sasl_mechanism == "SCRAM-SHA-256" else SASLScram512
        return scram(
            kafka.sasl_username or "",
            kafka.password(),
            ssl_context=context,
            use_ssl=use_ssl,
        )
    if use_ssl:
        return BaseSecurity(ssl_context=context, use_ssl=True)
    return None


def client_options(kafka: KafkaSettings) -> dict[str, Any]:
    """Connection options of a plain aiokafka client (admin, replay, the harness's taps), same
    security as the broker's; name its principal first (``kafka.principal(...)``)."""
    options: dict[str, Any] = {
        "bootstrap_servers": kafka.bootstrap_servers,
        "security_protocol": kafka.security_protocol,
    }
    if kafka.security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = ssl.create_default_context(cafile=kafka.ssl_cafile)
    if kafka.security_protocol.startswith("SASL"):
        options |= {
            "sasl_mechanism": kafka.sasl_mechanism,
            "sasl_plain_username": kafka.sasl_username,
            "sasl_plain_password": kafka.password(),
        }
    return options


def make_broker(
    kafka: KafkaSettings,
    *,
    client_id: str,
    registry: CollectorRegistry = REGISTRY,
    **extra: Any,
) -> KafkaBroker:
    """A broker whose producer waits for every in-sync replica and never duplicates on retry."""
    return KafkaBroker(
        kafka.bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        # No lingering: the relay already hands the producer whole batches, and at low load
        # 2 ms of linger was paid on every hop (send p50 0.6 ms → 2.7 ms, docs/benchmarks.md).
        linger_ms=0,
        request_timeout_ms=30_000,
        security=_security(kafka),
        # mg-topics creates the topics; a service's principal may not (ADR 0019).
        allow_auto_create_topics=False,
        middlewares=(KafkaPrometheusMiddleware(registry=registry, app_name=client_id),),
        graceful_timeout=30.0,
        # Through the standard library, so that structlog renders FastStream's lines as JSON.
        logger=logging.getLogger("mg.faststream"),
        # One "Received"/"Processed" line per record drowns the logs: kept for debugging.
        log_level=logging.DEBUG,
        # Our one handler takes the whole message (see ``consumer.subscribe``): without
        # dependency injection FastStream saves a model resolution per record, the largest
        # item of its per-record cost in the profile.
        apply_types=False,
        **extra,
    )


def consumer_options(group_id: str, offset_reset: str = "earliest") -> dict[str, Any]:
    """Subscriber options: explicit group, offsets committed by us after the database commit.

    ``MANUAL``: FastStream neither auto-commits nor commits per record; the
    subscriber marks each record processed after its transaction, and
    :class:`shared.messaging.offsets.OffsetCommits` commits in the background.
    A message that must be delivered again is rewound (seek) by the subscriber;
    poison messages never get there because the idempotent consumer
    dead-letters them and returns normally.
    """
    return {
        "group_id": group_id,
        "auto_offset_reset": offset_reset,
        "ack_policy": AckPolicy.MANUAL,
        "max_poll_interval_ms": 300_000,
        # A killed instance's partitions move to the others after this long.
        "session_timeout_ms": 10_000,
        "heartbeat_interval_ms": 3_000,
    }
