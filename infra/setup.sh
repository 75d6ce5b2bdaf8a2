#!/usr/bin/env bash
# Installs everything the project needs on a machine that has never seen it:
# Java and Maven if missing (Debian), the virtual environment with pinned packages,
# Apache Kafka's jars. Safe to run again.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "${MG_REPO_DIR}"

step() { printf '\n==> %s\n' "$*"; }

if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
    step "installing Java 17 and Maven (Debian packages)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless maven >/dev/null
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
