#!/usr/bin/env bash
# Kafka's own console consumer against the local broker (127.0.0.1:$KAFKA_PORT),
# printing headers, key and value of each record.
#
# Usage: infra/kafka/console-consumer.sh TOPIC [extra ConsoleConsumer args...]
#   e.g. infra/kafka/console-consumer.sh billing.events --from-beginning --max-messages 5 --timeout-ms 10000
#
# Uses the jars fetched by `infra/kafka/kafka.sh fetch` (fetched on first use).
set -euo pipefail

# shellcheck source=infra/kafka/common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

if [[ $# -lt 1 || "$1" == -* ]]; then
    echo "usage: $0 TOPIC [extra ConsoleConsumer args, e.g. --from-beginning --max-messages N --timeout-ms N --group G]" >&2
    exit 2
fi
topic="$1"
shift

find_java
ensure_libs >/dev/null
exec_args=(org.apache.kafka.tools.consumer.ConsoleConsumer
    --bootstrap-server "${KAFKA_BOOTSTRAP}"
    # The admin principal's settings, which kafka.sh writes on every start (ADR 0019).
    --consumer.config "${KAFKA_ADMIN_CONFIG}"
    --topic "${topic}"
    --property print.headers=true
    --property print.key=true
    --property print.value=true
    "$@")
tool_java
exec "${TOOL_JAVA[@]}" "${exec_args[@]}"
