#!/usr/bin/env bash
# The test command of the README: sets up, starts PostgreSQL and Kafka, runs the
# linters and every test (unit, contract, component, integration, e2e), stops
# what it started, and fails when anything fails.
#   infra/test.sh [pytest arguments]
set -euo pipefail
# A broker and a database of their own, so that tests never share topics with the demo stack.
export KAFKA_PORT="${KAFKA_PORT:-19092}"
export PG_PORT="${PG_PORT:-15433}"
export MG_LOCAL_DIR="${MG_LOCAL_DIR:-$(cd "$(dirname "$0")/.." && pwd)/.local/test}"
source "$(dirname "$0")/env.sh"
cd "${MG_REPO_DIR}"

infra/setup.sh

started=""
cleanup() {
    if [ -n "${started}" ]; then
        infra/stack.sh down || true
    fi
}
trap cleanup EXIT

if ! infra/kafka/kafka.sh status >/dev/null 2>&1 || ! .venv/bin/python infra/postgres/postgres.py status >/dev/null 2>&1; then
    started=yes
fi
infra/stack.sh up

printf '\n==> static checks: ruff, mypy --strict, import contracts, dead code, bandit, event schemas\n'
.venv/bin/ruff check shared services tests stack infra
.venv/bin/ruff format --check shared services tests stack infra
.venv/bin/mypy shared services stack infra
# The arrows of the architecture ([tool.importlinter] in pyproject.toml, ADR 0011).
.venv/bin/lint-imports --no-logo
# Dead code: nothing at 80 % confidence or more ([tool.vulture] in pyproject.toml).
.venv/bin/vulture
# Security lint: any high-severity finding fails the step.
.venv/bin/bandit -q -r shared services stack infra tests --severity-level high
.venv/bin/mg-contracts check
.venv/bin/mg-asyncapi check
infra/asyncapi/validate.sh
infra/deploy-check.sh
infra/observability-check.sh

printf '\n==> tests\n'
.venv/bin/python -m pytest "$@"
