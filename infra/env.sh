# shellcheck shell=bash
# The addresses every script, service and test uses, derived from two ports.
# Sourced by infra/*.sh; export KAFKA_PORT / PG_PORT first to run a second stack beside the first.

MG_REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export MG_REPO_DIR
MG_LOCAL_DIR="${MG_LOCAL_DIR:-${MG_REPO_DIR}/.local}"
mkdir -p "${MG_LOCAL_DIR}"
MG_LOCAL_DIR="$(cd "${MG_LOCAL_DIR}" && pwd)"   # absolute: the clients' CA and credentials paths
export MG_LOCAL_DIR
export KAFKA_PORT="${KAFKA_PORT:-9092}"
export KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
export PG_PORT="${PG_PORT:-5433}"
export MG_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:${KAFKA_PORT}"
# SASL/SCRAM over TLS with ACLs (ADR 0019); MG_KAFKA_SECURITY=plaintext is the dev switch.
# Each client connects as its own principal, whose password infra/kafka/security.py wrote
# under MG_KAFKA_CREDENTIALS_DIR on the broker's first start.
export MG_KAFKA_SECURITY="${MG_KAFKA_SECURITY:-sasl_ssl}"
case "${MG_KAFKA_SECURITY}" in
    sasl_ssl)
        export MG_KAFKA_SECURITY_PROTOCOL=SASL_SSL
        export MG_KAFKA_SASL_MECHANISM=SCRAM-SHA-512
        export MG_KAFKA_SSL_CAFILE="${MG_LOCAL_DIR}/kafka/tls/ca.crt"
        export MG_KAFKA_CREDENTIALS_DIR="${MG_LOCAL_DIR}/kafka/credentials"
        ;;
    plaintext)
        export MG_KAFKA_SECURITY_PROTOCOL=PLAINTEXT
        unset MG_KAFKA_SSL_CAFILE MG_KAFKA_CREDENTIALS_DIR
        ;;
    *)
        echo "MG_KAFKA_SECURITY=${MG_KAFKA_SECURITY}: expected sasl_ssl or plaintext" >&2
        return 2
        ;;
esac
export MG_TEST_PG_ADMIN_DSN="postgresql://postgres@127.0.0.1:${PG_PORT}/postgres"
for service in requests matching billing notifications resources; do
    upper="$(echo "${service}" | tr '[:lower:]' '[:upper:]')"
    export "MG_${upper}_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:${PG_PORT}/${service}"
done
export PATH="${MG_REPO_DIR}/.venv/bin:${PATH}"
