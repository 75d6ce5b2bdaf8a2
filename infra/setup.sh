#!/usr/bin/env bash
# Installs everything the project needs on a machine that has never seen it:
# Java and Maven if missing (Debian), the virtual environment with pinned packages,
# Apache Kafka's jars. Safe to run again.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "${MG_REPO_DIR}"

step() { printf '\n==> %s\n' "$*"; }

missing=()
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
# Prometheus and promtool check the alert rules and scrape the services in the tests.
command -v promtool >/dev/null || missing+=(prometheus)
command -v node >/dev/null || missing+=(nodejs npm)
# WeasyPrint prints the conventions to PDF with Pango (and its fonts).
dpkg -s libpango-1.0-0 >/dev/null 2>&1 || missing+=(libpango-1.0-0 libpangoft2-1.0-0)
dpkg -s fonts-dejavu-core >/dev/null 2>&1 || missing+=(fonts-dejavu-core)
if [ "${#missing[@]}" -gt 0 ]; then
    step "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    step "creating the virtual environment (.venv) with $(${PYTHON} --version)"
    "${PYTHON}" -m venv .venv
fi
step "installing Python packages (pinned by constraints.txt)"
.venv/bin/python -m pip install -q --upgrade pip==26.3
.venv/bin/python -m pip install -q -c constraints.txt -e '.[dev,local]'

step "fetching Apache Kafka"
infra/kafka/kafka.sh fetch
step "setup done"
