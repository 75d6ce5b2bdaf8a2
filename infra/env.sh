# shellcheck shell=bash
# The addresses every script, service and test uses, derived from two ports.
# Sourced by infra/*.sh; export KAFKA_PORT / PG_PORT first to run a second stack beside the first.

MG_REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export MG_REPO_DIR
export MG_LOCAL_DIR="${MG_LOCAL_DIR:-${MG_REPO_DIR}/.local}"
export KAFKA_PORT="${KAFKA_PORT:-9092}"
export KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
export PG_PORT="${PG_PORT:-5433}"
export MG_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:${KAFKA_PORT}"
export MG_TEST_PG_ADMIN_DSN="postgresql://postgres@127.0.0.1:${PG_PORT}/postgres"
for service in requests matching billing notifications resources; do
    upper="$(echo "${service}" | tr '[:lower:]' '[:upper:]')"
    export "MG_${upper}_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:${PG_PORT}/${service}"
done
export PATH="${MG_REPO_DIR}/.venv/bin:${PATH}"
