#!/usr/bin/env bash
# kcat (Debian's package) with the librdkafka that infra/setup.sh fetched: Debian 12's
# librdkafka 2.0.2 appends its nonce twice in SCRAM's final message, which Kafka 4 refuses
# ("invalid credentials"; fixed in librdkafka 2.6.1). Same arguments as kcat.
#   infra/kafka/kcat.sh -F dept-49.conf -b 127.0.0.1:9092 -C -t dept.49.events.v1 -e
set -euo pipefail
lib="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.local/kcat/lib"
if [[ ! -f "${lib}/librdkafka.so.1" ]]; then
    echo "kcat: ${lib}/librdkafka.so.1 is missing: run infra/setup.sh" >&2
    exit 2
fi
command -v kcat >/dev/null || { echo "kcat: not installed: run infra/setup.sh" >&2; exit 2; }
LD_LIBRARY_PATH="${lib}${LD_LIBRARY_PATH:+:${LD_LIBRARY_PATH}}" exec kcat "$@"
