#!/usr/bin/env bash
# The main job: sets everything up, starts PostgreSQL, Kafka and the services as separate
# processes, plays the realistic scenario, prints the summary and the addresses, and keeps
# the stack up until Ctrl-C.
#   infra/demo.sh          set up, start, play, keep running
#   infra/demo.sh stop     stop the services, Kafka and PostgreSQL
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "${MG_REPO_DIR}"

if [ "${1:-}" = "stop" ]; then
    .venv/bin/mg down || true
    infra/stack.sh down
    exit 0
fi

infra/setup.sh
infra/stack.sh up
exec .venv/bin/mg up "$@"
