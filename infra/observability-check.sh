#!/usr/bin/env bash
# Static checks of the Prometheus configuration and alert rules, with promtool:
#   infra/observability-check.sh
# - promtool check config: infra/prometheus/prometheus.yml (and the rule files it loads)
# - promtool check rules:  infra/prometheus/rules/*.yml
# - promtool test rules:   infra/prometheus/tests/*.test.yml (unit tests of every alert)
# promtool comes with Debian's `prometheus` package (infra/setup.sh installs it).
# Exits non-zero when a check fails or promtool is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PROMTOOL="${PROMTOOL:-promtool}"
if ! command -v "${PROMTOOL}" >/dev/null 2>&1; then
    echo "observability-check: promtool not found (${PROMTOOL})." >&2
    echo "  Install Debian's package: apt-get install -y --no-install-recommends prometheus" >&2
    echo "  (or run infra/setup.sh), or give its path in PROMTOOL=/path/to/promtool" >&2
    exit 127
fi

shopt -s nullglob
rules=(infra/prometheus/rules/*.yml)
tests=(infra/prometheus/tests/*.test.yml)
if [ "${#rules[@]}" -eq 0 ] || [ "${#tests[@]}" -eq 0 ]; then
    echo "observability-check: no rule file or no rule test under infra/prometheus/" >&2
    exit 1
fi

step() { printf '\n==> %s\n' "$*"; }
"${PROMTOOL}" --version | head -n 1

step "promtool check config infra/prometheus/prometheus.yml"
"${PROMTOOL}" check config infra/prometheus/prometheus.yml

step "promtool check rules ${rules[*]}"
"${PROMTOOL}" check rules "${rules[@]}"

step "promtool test rules ${tests[*]}"
"${PROMTOOL}" test rules "${tests[@]}"

printf '\nobservability-check: OK\n'
