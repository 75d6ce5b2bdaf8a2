#!/usr/bin/env bash
# The main job: sets everything up, starts PostgreSQL, Kafka and the services as separate
# processes, plays the realistic scenario, prints the summary and the addresses, and keeps
# the stack up until Ctrl-C.
#   infra/demo.sh          set up, start, play, keep running
#   infra/demo.sh stop     stop the services, Kafka and PostgreSQL
set -euo pipefail
# The demo has a state of its own, started afresh on every run, so that its figures
# speak of its scenario alone; infra/stack.sh up keeps the development state in .local.
export MG_LOCAL_DIR="${MG_LOCAL_DIR:-$(cd "$(dirname "$0")/.." && pwd)/.local/demo}"
source "$(dirname "$0")/env.sh"
cd "${MG_REPO_DIR}"

if [ "${1:-}" = "stop" ]; then
    .venv/bin/mg down || true
    infra/stack.sh down
    exit 0
fi

# The demo lets some proposals expire: a response deadline of seconds, not working days.
export MG_MATCHING_RESPONSE_SECONDS="${MG_MATCHING_RESPONSE_SECONDS:-20}"
export MG_MATCHING_EXPIRY_SCAN_SECONDS="${MG_MATCHING_EXPIRY_SCAN_SECONDS:-2}"

infra/setup.sh
.venv/bin/mg down >/dev/null 2>&1 || true
infra/stack.sh reset
infra/stack.sh up
exec .venv/bin/mg up "$@"
