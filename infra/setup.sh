#!/usr/bin/env bash
# Installs everything the project needs on a machine that has never seen it:
# Java and Maven if missing (Debian), the virtual environment with pinned packages,
# Apache Kafka's jars. Safe to run again.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "${MG_REPO_DIR}"

step() { printf '\n==> %s\n' "$*"; }

missing=()
# A JDK, not only a JRE: the Factur-X validator (../shared/validators/facturx) compiles its runner.
command -v javac >/dev/null || missing+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || missing+=(maven)
# Prometheus and promtool check the alert rules and scrape the services in the tests.
command -v promtool >/dev/null || missing+=(prometheus)
command -v node >/dev/null || missing+=(nodejs npm)
# kcat reads a département's integration topic as a partner would (docs/integration.md).
command -v kcat >/dev/null || missing+=(kcat)
# The portal's browser tests drive Debian's Chromium with Playwright (no browser download).
command -v chromium >/dev/null || missing+=(chromium)
# WeasyPrint prints the conventions and renders the invoices' PDF/A (Factur-X) with Pango and
# its fonts; HarfBuzz's subsetter makes the embedded fonts, and so the files, the same bytes on
# every run.
for package in libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core; do
    dpkg -s "${package}" >/dev/null 2>&1 || missing+=("${package}")
done
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

step "installing the portal's npm packages (DSFR, axe-core; pinned by package-lock.json)"
# --ignore-scripts: the DSFR's preinstall script wants a project made by its own generator.
(cd services/portal && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)

step "fetching Apache Kafka"
infra/kafka/kafka.sh fetch
# Debian 12's librdkafka (2.0.2) fails SCRAM against Kafka 4 (fixed in 2.6.1): kcat runs
# with the librdkafka of confluent-kafka's wheel (statically linked), through infra/kafka/kcat.sh.
KCAT_LIBRDKAFKA_WHEEL="confluent-kafka==2.16.1"
kcat_lib="${MG_REPO_DIR}/.local/kcat/lib"
if [ "$(cat "${kcat_lib}/.version" 2>/dev/null)" != "${KCAT_LIBRDKAFKA_WHEEL}" ]; then
    step "fetching librdkafka for kcat (${KCAT_LIBRDKAFKA_WHEEL})"
    wheels="$(mktemp -d)"
    .venv/bin/python -m pip download -q --no-deps --only-binary=:all: -d "${wheels}" "${KCAT_LIBRDKAFKA_WHEEL}"
    mkdir -p "${kcat_lib}"
    .venv/bin/python - "${wheels}" "${kcat_lib}" <<'PY'
import pathlib, sys, zipfile
wheels, target = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
[wheel] = wheels.glob("*.whl")
with zipfile.ZipFile(wheel) as archive:
    [member] = [n for n in archive.namelist() if "/librdkafka" in n and n.endswith(".so.1")]
    (target / "librdkafka.so.1").write_bytes(archive.read(member))
PY
    echo "${KCAT_LIBRDKAFKA_WHEEL}" >"${kcat_lib}/.version"
    rm -rf "${wheels}"
fi
# The independent Factur-X validator the tests run (Mustang, from Maven Central), when the
# validators are laid beside the repository as in CI; its script fetches it on first use.
validators="${MG_REPO_DIR}/../shared/validators/facturx"
if [ -f "${validators}/validate.sh" ]; then
    step "fetching the Factur-X validator (Mustang)"
    version=$(sed -n 's/^ver=//p' "${validators}/validate.sh")
    mvn -q dependency:get -Dartifact="org.mustangproject:validator:${version}:jar:shaded" >/dev/null
fi
step "setup done"
