#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft, combined broker+controller) on 127.0.0.1.
#
# Usage: infra/kafka/kafka.sh fetch|start|stop|status|kill9|reset|topics ARGS...|run CLASS ARGS...
#
#   fetch   copy the Kafka jars (pinned in infra/kafka/pom.xml) into $MG_LOCAL_DIR/kafka/libs
#   start   fetch if needed, render server.properties, format storage once, start the broker
#           in the background and wait until it serves metadata (90 s timeout)
#   stop    SIGTERM, wait up to 30 s for a clean shutdown, then SIGKILL
#   status  print running/stopped; exit 0 if running, 3 if stopped
#   kill9   SIGKILL the broker (failure drills); the next start recovers
#   reset   stop and delete the data dir (next start formats a fresh cluster)
#   topics  run Kafka's TopicCommand against the local broker, e.g. `topics --list`
#   run     run any Kafka tool class from the same jars, e.g.
#           `run org.apache.kafka.tools.ConsoleProducer --bootstrap-server 127.0.0.1:9092 --topic t`
#
# Environment: MG_LOCAL_DIR (default <repo>/.local), KAFKA_PORT (9092),
# KAFKA_CONTROLLER_PORT (9093), KAFKA_LIBS ($MG_LOCAL_DIR/kafka/libs: the jars, which a
# second broker may share with the first), KAFKA_HEAP_OPTS (-Xms512m -Xmx1g),
# KAFKA_START_TIMEOUT (90, seconds), KAFKA_STOP_TIMEOUT (30, seconds).
set -euo pipefail

# shellcheck source=infra/kafka/common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms512m -Xmx1g}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

# Serialise start/stop/reset between concurrent callers.
take_lock() {
    mkdir -p "${KAFKA_HOME}"
    exec 9>"${KAFKA_HOME}/.kafka.sh.lock"
    flock -w 180 9 || die "another kafka.sh is still running (lock ${KAFKA_HOME}/.kafka.sh.lock)"
}

# Prints the broker pid if our broker is alive, else nothing. Guards against pid reuse
# by checking that the process really is kafka.Kafka with our server.properties.
running_pid() {
    [[ -f "${KAFKA_PID_FILE}" ]] || return 0
    local pid
    pid="$(tr -dc '0-9' <"${KAFKA_PID_FILE}")"
    [[ -n "${pid}" ]] || return 0
    pid_alive "${pid}" || return 0
    local cmdline
    cmdline="$(tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null || ps -o args= -p "${pid}" 2>/dev/null || true)"
    if [[ "${cmdline}" == *kafka.Kafka* && "${cmdline}" == *"${KAFKA_CONFIG}"* ]]; then
        echo "${pid}"
    fi
}

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

line_count() {
    if [[ -f "$1" ]]; then wc -l <"$1"; else echo 0; fi
}

# Tail of kafka.out and kafka.log, limited to what this start attempt wrote.
OUT_LINES_BEFORE=0
LOG_LINES_BEFORE=0
show_logs() {
    local f skip
    for f in "${KAFKA_OUT}" "${KAFKA_LOG}"; do
        skip="${OUT_LINES_BEFORE}"
        [[ "${f}" == "${KAFKA_LOG}" ]] && skip="${LOG_LINES_BEFORE}"
        if [[ -s "${f}" ]] && (($(line_count "${f}") > skip)); then
            echo "----- ${f} (last 40 lines of this start) -----" >&2
            tail -n "+$((skip + 1))" "${f}" | tail -n 40 >&2
        fi
    done
}

render_config() {
    local template="${KAFKA_INFRA_DIR}/server.properties.template"
    [[ -f "${template}" ]] || die "missing template ${template}"
    local esc_data
    esc_data="$(printf '%s' "${KAFKA_DATA}" | sed 's/[&|\\]/\\&/g')"
    sed -e "s|@KAFKA_PORT@|${KAFKA_PORT}|g" \
        -e "s|@KAFKA_CONTROLLER_PORT@|${KAFKA_CONTROLLER_PORT}|g" \
        -e "s|@KAFKA_DATA_DIR@|${esc_data}|g" \
        "${template}" >"${KAFKA_CONFIG}.tmp"
    # The CA, certificates and passwords are made once, under MG_LOCAL_DIR (never committed).
    security_tool ensure "${KAFKA_HOME}" || die "could not make the broker's identities"
    security_tool server-config "${KAFKA_HOME}" "${KAFKA_PORT}" "${KAFKA_CONTROLLER_PORT}" \
        >>"${KAFKA_CONFIG}.tmp" || die "could not render the broker's security settings"
    chmod 600 "${KAFKA_CONFIG}.tmp"
    mv "${KAFKA_CONFIG}.tmp" "${KAFKA_CONFIG}"
    # The readiness probe's and the `topics` helper's client settings (the admin principal,
    # short timeouts).
    (umask 077 && security_tool tools-config "${KAFKA_HOME}" >"${KAFKA_ADMIN_CONFIG}") \
        || die "could not render ${KAFKA_ADMIN_CONFIG}"
}

format_storage() {
    local security
    security="$(security_tool mode "${KAFKA_HOME}")"
    if [[ -f "${KAFKA_DATA}/meta.properties" ]]; then
        local formatted
        formatted="$(cat "${KAFKA_SECURITY_MARKER}" 2>/dev/null || echo plaintext)"
        [[ "${formatted}" == "${security}" ]] \
            || die "${KAFKA_DATA} was formatted for ${formatted}, not ${security} (MG_KAFKA_SECURITY): run '$0 reset' (deletes the local broker's data)"
        return 0
    fi
    mkdir -p "${KAFKA_DATA}"
    local cluster_id
    cluster_id="$(run_tool kafka.tools.StorageTool random-uuid)"
    # The SCRAM users are written into the cluster's first metadata (one per principal).
    local scram=()
    mapfile -t scram < <(security_tool scram-args "${KAFKA_HOME}")
    info "formatting storage in ${KAFKA_DATA} (cluster id ${cluster_id}, ${security})"
    if ! run_tool kafka.tools.StorageTool format --config "${KAFKA_CONFIG}" \
        --cluster-id "${cluster_id}" --ignore-formatted "${scram[@]}" >"${KAFKA_HOME}/format.out" 2>&1; then
        cat "${KAFKA_HOME}/format.out" >&2
        rm -rf "${KAFKA_DATA}"
        die "formatting Kafka storage failed"
    fi
    echo "${security}" >"${KAFKA_SECURITY_MARKER}"
}

cmd_start() {
    take_lock
    local pid
    pid="$(running_pid)"
    if [[ -n "${pid}" ]]; then
        # Its clients would not get in (or would get in unauthenticated): say so now.
        local running=plaintext
        grep -q '^listeners=SASL_SSL' "${KAFKA_CONFIG}" 2>/dev/null && running=sasl_ssl
        [[ "${running}" == "$(security_tool mode "${KAFKA_HOME}")" ]] \
            || die "the running broker (pid ${pid}) is ${running}, not MG_KAFKA_SECURITY=$(security_tool mode "${KAFKA_HOME}"): '$0 stop' then '$0 reset'"
        info "already running (pid ${pid}, bootstrap ${KAFKA_BOOTSTRAP})"
        return 0
    fi
    rm -f "${KAFKA_PID_FILE}"   # stale, e.g. after kill9 or a reboot

    local port
    for port in "${KAFKA_PORT}" "${KAFKA_CONTROLLER_PORT}"; do
        if port_open "${port}"; then
            die "port 127.0.0.1:${port} is already in use by another process (set KAFKA_PORT / KAFKA_CONTROLLER_PORT, or stop it)"
        fi
    done

    find_java
    ensure_libs
    render_config
    format_storage

    local t0=${SECONDS}
    OUT_LINES_BEFORE="$(line_count "${KAFKA_OUT}")"
    LOG_LINES_BEFORE="$(line_count "${KAFKA_LOG}")"
    # New session (setsid) so the broker survives the calling shell; the wrapper writes
    # its own pid and then execs java, so the pid file holds the JVM's pid.
    # fd 9 (our lock) is closed for the broker so that it does not hold the lock forever.
    # shellcheck disable=SC2016,SC2086
    setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "${KAFKA_PID_FILE}" \
        "${JAVA}" ${KAFKA_HEAP_OPTS} \
        -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
        -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="${KAFKA_INFRA_DIR}/log4j2.properties" \
        -Dkafka.log.file="${KAFKA_LOG}" -Dkafka.logs.dir="${KAFKA_HOME}" \
        -cp "${KAFKA_LIBS}/*" kafka.Kafka "${KAFKA_CONFIG}" \
        </dev/null >>"${KAFKA_OUT}" 2>&1 9>&- &

    info "starting broker (Kafka ${KAFKA_VERSION}, bootstrap ${KAFKA_BOOTSTRAP}, controller 127.0.0.1:${KAFKA_CONTROLLER_PORT}) ..."
    local deadline=$((SECONDS + KAFKA_START_TIMEOUT))
    while [[ ! -s "${KAFKA_PID_FILE}" ]] && ((SECONDS < deadline)); do sleep 0.1; done
    pid="$(tr -dc '0-9' <"${KAFKA_PID_FILE}" 2>/dev/null || true)"
    [[ -n "${pid}" ]] || { show_logs; die "broker process did not start"; }

    # 1) the listener accepts connections, 2) the broker answers a metadata request.
    tool_java
    local ready=0
    while ((SECONDS < deadline)); do
        if ! pid_alive "${pid}"; then
            rm -f "${KAFKA_PID_FILE}"
            show_logs
            die "broker (pid ${pid}) exited during startup"
        fi
        if port_open "${KAFKA_PORT}" \
            && timeout 30 "${TOOL_JAVA[@]}" org.apache.kafka.tools.TopicCommand \
                --bootstrap-server "${KAFKA_BOOTSTRAP}" --command-config "${KAFKA_ADMIN_CONFIG}" --list \
                >"${KAFKA_HOME}/probe.out" 2>&1; then
            ready=1
            break
        fi
        sleep 0.5
    done
    if ((ready == 0)); then
        show_logs
        [[ -s "${KAFKA_HOME}/probe.out" ]] && { echo "----- last readiness probe output -----" >&2; tail -n 20 "${KAFKA_HOME}/probe.out" >&2; }
        die "broker (pid ${pid}) not ready after ${KAFKA_START_TIMEOUT}s; it is left running, see logs above (stop it with: $0 stop)"
    fi
    info "running (pid ${pid}, bootstrap ${KAFKA_BOOTSTRAP}), ready in $((SECONDS - t0))s; log ${KAFKA_LOG}"
}

cmd_stop() {
    take_lock
    local pid
    pid="$(running_pid)"
    if [[ -z "${pid}" ]]; then
        rm -f "${KAFKA_PID_FILE}"
        info "not running"
        return 0
    fi
    info "stopping broker (pid ${pid}) ..."
    kill -TERM "${pid}" 2>/dev/null || true
    local deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
    while pid_alive "${pid}" && ((SECONDS < deadline)); do sleep 0.2; done
    if pid_alive "${pid}"; then
        echo "kafka: warning: broker did not stop within ${KAFKA_STOP_TIMEOUT}s, sending SIGKILL" >&2
        kill -KILL "${pid}" 2>/dev/null || true
        while pid_alive "${pid}"; do sleep 0.1; done
    fi
    rm -f "${KAFKA_PID_FILE}"
    info "stopped"
}

cmd_status() {
    local pid
    pid="$(running_pid)"
    if [[ -n "${pid}" ]]; then
        echo "kafka: running (pid ${pid}, bootstrap ${KAFKA_BOOTSTRAP})"
        return 0
    fi
    echo "kafka: stopped"
    return 3
}

cmd_kill9() {
    take_lock
    local pid
    pid="$(running_pid)"
    if [[ -z "${pid}" ]]; then
        info "not running"
        return 0
    fi
    kill -KILL "${pid}"
    while pid_alive "${pid}"; do sleep 0.1; done
    # The pid file is deliberately left behind, as after a real crash.
    info "killed broker (pid ${pid}) with SIGKILL"
}

cmd_reset() {
    cmd_stop
    rm -rf "${KAFKA_DATA}" "${KAFKA_HOME}/format.out"
    info "deleted data dir ${KAFKA_DATA}"
}

main() {
    local cmd="${1:-}"
    [[ $# -gt 0 ]] && shift
    case "${cmd}" in
        fetch) take_lock; fetch_libs ;;
        start) cmd_start ;;
        stop) cmd_stop ;;
        status) cmd_status ;;
        kill9) cmd_kill9 ;;
        reset) cmd_reset ;;
        topics)
            find_java; ensure_libs >/dev/null
            [[ -f "${KAFKA_ADMIN_CONFIG}" ]] || render_config
            run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "${KAFKA_BOOTSTRAP}" \
                --command-config "${KAFKA_ADMIN_CONFIG}" "$@"
            ;;
        run)
            [[ $# -ge 1 ]] || die "usage: $0 run MAIN_CLASS [ARGS...]"
            find_java; ensure_libs >/dev/null
            run_tool "$@"
            ;;
        -h | --help | help) usage ;;
        "") usage >&2; exit 2 ;;
        *) echo "kafka: error: unknown command '${cmd}'" >&2; usage >&2; exit 2 ;;
    esac
}

main "$@"
