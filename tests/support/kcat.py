"""kcat as a département's system runs it (docs/integration.md): its principal's librdkafka
properties in a file of their own, and Debian's kcat with the librdkafka that Kafka 4
accepts for SCRAM (``infra/kafka/kcat.sh``; ``infra/setup.sh`` fetches it)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from shared.settings import KafkaSettings

KCAT = Path(__file__).resolve().parents[2] / "infra" / "kafka" / "kcat.sh"


def kcat_config(kafka: KafkaSettings, principal: str, folder: Path) -> Path:
    """librdkafka properties of ``principal``, in a file of its own (not on a command line)."""
    settings = kafka.principal(principal)
    path = folder / f"{principal}.kcat.conf"
    path.touch(mode=0o600)
    path.write_text(
        "\n".join(
            [
                "security.protocol=SASL_SSL",
                "sasl.mechanisms=SCRAM-SHA-512",
                f"sasl.username={principal}",
                f"sasl.password={settings.password()}",
                f"ssl.ca.location={kafka.ssl_cafile}",
            ]
        )
        + "\n"
    )
    return path


async def kcat(kafka: KafkaSettings, config: Path, *args: str) -> tuple[int, bytes, str]:
    """kcat's exit code, output (bytes: records are bytes) and errors."""
    process = await asyncio.create_subprocess_exec(
        str(KCAT),
        "-F",
        str(config),
        "-b",
        kafka.bootstrap_servers,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out, err.decode()
