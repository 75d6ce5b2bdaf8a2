#!/usr/bin/env bash
# The main job: sets everything up, starts PostgreSQL, Kafka, the services as separate
# processes and a local mailbox, plays the realistic scenario, prints the summary and the
# addresses, and keeps the stack up until Ctrl-C, which stops it all.
#   infra/demo.sh [mg up options]   set up, start, play, keep running (--demandes 300, --seed)
#   infra/demo.sh stop              stop what it started: services, mailbox, Kafka, PostgreSQL
# The portal (services/portal) starts with the services, on :8005 (MG_PORTAL_HTTP_PORT); its
# address is printed with the others. KAFKA_PORT / PG_PORT (infra/env.sh) and
# MG_<SERVICE>_HTTP_PORT, MG_NOTIFICATIONS_SMTP_PORT
# move it to other ports; MG_DEMO_SETUP=0 skips infra/setup.sh on a machine already set up.
# The same --seed gives the same summary figures, latencies aside (stack/scenario).
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
# The scenario waits for each one it leaves unanswered, so the deadline is short.
export MG_MATCHING_RESPONSE_SECONDS="${MG_MATCHING_RESPONSE_SECONDS:-6}"
export MG_MATCHING_EXPIRY_SCAN_SECONDS="${MG_MATCHING_EXPIRY_SCAN_SECONDS:-1}"

if [ "${MG_DEMO_SETUP:-1}" != "0" ]; then
    infra/setup.sh
fi
.venv/bin/mg down >/dev/null 2>&1 || true
infra/stack.sh reset
rm -rf "${MG_LOCAL_DIR}/mail"
infra/stack.sh up

status=0
.venv/bin/mg up "$@" || status=$?
if [ "${status}" -eq 130 ]; then
    # Interrupted (Ctrl-C): mg stopped the services; Kafka and PostgreSQL follow.
    infra/stack.sh down
    exit 0
fi
if [ "${status}" -ne 0 ]; then
    echo "La démonstration a échoué (code ${status}) ; la pile reste en place pour comprendre :" >&2
    echo "journaux dans ${MG_LOCAL_DIR}/services, puis infra/demo.sh stop." >&2
fi
exit "${status}"
