# shellcheck shell=bash disable=SC2034  # variables are used by the sourcing scripts
# Shared helpers for infra/kafka/kafka.sh and infra/kafka/console-consumer.sh.
# Sourced, not executed. The sourcing script must have `set -euo pipefail`.

KAFKA_INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MG_REPO_DIR="$(cd "${KAFKA_INFRA_DIR}/../.." && pwd)"

MG_LOCAL_DIR="${MG_LOCAL_DIR:-${MG_REPO_DIR}/.local}"
mkdir -p "${MG_LOCAL_DIR}"
MG_LOCAL_DIR="$(cd "${MG_LOCAL_DIR}" && pwd)"   # absolute, whatever the caller's cwd

KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"

KAFKA_POM="${KAFKA_INFRA_DIR}/pom.xml"
KAFKA_HOME="${MG_LOCAL_DIR}/kafka"
# The jars may be shared with another state dir (a second broker beside the first).
KAFKA_LIBS="${KAFKA_LIBS:-${KAFKA_HOME}/libs}"
KAFKA_MARKER="${KAFKA_LIBS}/.mg-kafka-version"
KAFKA_DATA="${KAFKA_HOME}/data"
KAFKA_CONFIG="${KAFKA_HOME}/server.properties"
KAFKA_ADMIN_CONFIG="${KAFKA_HOME}/admin.properties"
KAFKA_LOG="${KAFKA_HOME}/kafka.log"
KAFKA_OUT="${KAFKA_HOME}/kafka.out"
KAFKA_PID_FILE="${KAFKA_HOME}/kafka.pid"
# The security mode the data dir was formatted for (SCRAM users exist only if formatted so).
KAFKA_SECURITY_MARKER="${KAFKA_DATA}/.mg-security"
if [[ -x "${MG_REPO_DIR}/.venv/bin/python" ]]; then
    KAFKA_PYTHON="${MG_REPO_DIR}/.venv/bin/python"
else
    KAFKA_PYTHON="$(command -v python3)"
fi

# infra/kafka/security.py (identities and security configuration), with the repository importable.
security_tool() {
    PYTHONPATH="${MG_REPO_DIR}${PYTHONPATH:+:${PYTHONPATH}}" "${KAFKA_PYTHON}" \
        "${KAFKA_INFRA_DIR}/security.py" "$@"
}

die() {
    echo "kafka: error: $*" >&2
    exit 1
}

info() {
    echo "kafka: $*"
}

check_port_var() {
    local name="$1" value="$2"
    if ! [[ "${value}" =~ ^[0-9]{1,5}$ ]] || ((10#${value} < 1 || 10#${value} > 65535)); then
        die "${name}='${value}' is not a valid TCP port"
    fi
}

check_port_var KAFKA_PORT "${KAFKA_PORT}"
check_port_var KAFKA_CONTROLLER_PORT "${KAFKA_CONTROLLER_PORT}"
KAFKA_PORT=$((10#${KAFKA_PORT}))
KAFKA_CONTROLLER_PORT=$((10#${KAFKA_CONTROLLER_PORT}))
[[ "${KAFKA_PORT}" != "${KAFKA_CONTROLLER_PORT}" ]] \
    || die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ (both are ${KAFKA_PORT})"
KAFKA_BOOTSTRAP="127.0.0.1:${KAFKA_PORT}"

# True if the process exists and is not a zombie. (A SIGKILLed process whose parent is
# gone stays a zombie until PID 1 reaps it, and `kill -0` still succeeds on a zombie.)
pid_alive() {
    kill -0 "$1" 2>/dev/null || return 1
    local state
    state="$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$1/stat" 2>/dev/null || true)"
    [[ "${state}" != "Z" ]]
}

# The Kafka and log4j versions pinned in pom.xml (single source of truth).
pom_property() {
    sed -n "s:.*<$1>\(.*\)</$1>.*:\1:p" "${KAFKA_POM}" | head -n 1
}

KAFKA_VERSION="$(pom_property kafka.version)"
[[ -n "${KAFKA_VERSION}" ]] || die "cannot read <kafka.version> from ${KAFKA_POM}"

# Marker content: the Kafka version, plus a hash of the pom so that editing the
# dependency list (not only the version) triggers a re-fetch.
expected_marker() {
    printf 'kafka.version=%s\npom.sha256=%s\n' "${KAFKA_VERSION}" \
        "$(sha256sum "${KAFKA_POM}" | cut -d' ' -f1)"
}

libs_present() {
    [[ -f "${KAFKA_MARKER}" ]] && [[ "$(cat "${KAFKA_MARKER}")" == "$(expected_marker)" ]]
}

find_java() {
    local java_bin
    if [[ -n "${JAVA_HOME:-}" && -x "${JAVA_HOME}/bin/java" ]]; then
        java_bin="${JAVA_HOME}/bin/java"
    elif command -v java >/dev/null 2>&1; then
        java_bin="$(command -v java)"
    else
        die "java not found (need Java 17+ on PATH or JAVA_HOME)"
    fi
    local spec
    spec="$("${java_bin}" -XshowSettings:properties -version 2>&1 \
        | sed -n 's/^ *java\.specification\.version = //p' | head -n 1)"
    if [[ "${spec}" =~ ^[0-9]+$ ]] && ((spec < 17)); then
        die "Kafka ${KAFKA_VERSION} needs Java 17+, but ${java_bin} is Java ${spec}"
    fi
    JAVA="${java_bin}"
}

fetch_libs() {
    if libs_present; then
        info "jars for Kafka ${KAFKA_VERSION} already in ${KAFKA_LIBS}"
        return 0
    fi
    command -v mvn >/dev/null 2>&1 || die "mvn (Maven) not found: needed once to fetch the Kafka jars"
    mkdir -p "${KAFKA_HOME}"
    local tmp="${KAFKA_HOME}/libs.tmp.$$"
    rm -rf "${tmp}"
    info "fetching Kafka ${KAFKA_VERSION} jars with Maven into ${KAFKA_LIBS} ..."
    if ! mvn -B -Dstyle.color=never -f "${KAFKA_POM}" dependency:copy-dependencies \
        -DoutputDirectory="${tmp}" -DincludeScope=runtime >"${KAFKA_HOME}/fetch.log" 2>&1; then
        rm -rf "${tmp}"
        tail -n 40 "${KAFKA_HOME}/fetch.log" >&2
        die "Maven could not resolve the Kafka jars (full output in ${KAFKA_HOME}/fetch.log; needs Maven Central or a filled ~/.m2)"
    fi
    ls "${tmp}"/kafka_2.13-*.jar >/dev/null 2>&1 || { rm -rf "${tmp}"; die "Maven ran but no kafka_2.13 jar was copied"; }
    expected_marker >"${tmp}/.mg-kafka-version"
    rm -rf "${KAFKA_LIBS}"
    mkdir -p "$(dirname "${KAFKA_LIBS}")"
    mv "${tmp}" "${KAFKA_LIBS}"
    info "fetched $(find "${KAFKA_LIBS}" -maxdepth 1 -name '*.jar' | wc -l) jars"
}

ensure_libs() {
    libs_present || fetch_libs
}

# The java command line for Kafka command-line tools (WARN+ logging to stderr).
# Sets the TOOL_JAVA array; needs find_java first.
tool_java() {
    TOOL_JAVA=("${JAVA}" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true
        -Dlog4j2.configurationFile="${KAFKA_INFRA_DIR}/tools-log4j2.properties"
        -cp "${KAFKA_LIBS}/*")
}

# Run a Kafka tool class from the fetched jars: run_tool MAIN_CLASS [ARGS...]
run_tool() {
    tool_java
    "${TOOL_JAVA[@]}" "$@"
}
