#!/usr/bin/env bash
# Starts or stops the local infrastructure: PostgreSQL (embedded), Kafka (KRaft), topics.
#   infra/stack.sh up | down | status | reset (stop and delete all data)
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "${MG_REPO_DIR}"

case "${1:-}" in
    up)
        .venv/bin/python infra/postgres/postgres.py start
        .venv/bin/python infra/postgres/postgres.py createdb requests matching billing notifications resources
        infra/kafka/kafka.sh start
        .venv/bin/mg-topics create
        ;;
    down)
        infra/kafka/kafka.sh stop
        .venv/bin/python infra/postgres/postgres.py stop
        ;;
    reset)
        infra/kafka/kafka.sh reset
        .venv/bin/python infra/postgres/postgres.py reset
        ;;
    status)
        infra/kafka/kafka.sh status || true
        .venv/bin/python infra/postgres/postgres.py status || true
        ;;
    *)
        echo "usage: infra/stack.sh up|down|status|reset" >&2
        exit 2
        ;;
esac
