#!/usr/bin/env bash
# Starts or stops the local infrastructure: PostgreSQL (embedded), Kafka (KRaft), topics.
#   infra/stack.sh up | down | status
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "${MG_REPO_DIR}"

case "${1:-}" in
    up)
        .venv/bin/python infra/postgres/postgres.py start
        .venv/bin/python infra/postgres/postgres.py createdb requests matching billing notifications
        infra/kafka/kafka.sh start
        .venv/bin/mg-topics create
        ;;
    down)
        infra/kafka/kafka.sh stop
        .venv/bin/python infra/postgres/postgres.py stop
        ;;
    status)
        infra/kafka/kafka.sh status || true
        .venv/bin/python infra/postgres/postgres.py status || true
        ;;
    *)
        echo "usage: infra/stack.sh up|down|status" >&2
        exit 2
        ;;
esac
