#!/usr/bin/env bash
# Validates the AsyncAPI documents in docs/asyncapi/ with the official parser
# (@asyncapi/parser, pinned in package-lock.json). Installs it first when needed.
#   infra/asyncapi/validate.sh [FILE...]
# Exits 1 when a document has an error-severity diagnostic, 127 without Node.js or npm.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

for tool in node npm; do
    if ! command -v "${tool}" >/dev/null 2>&1; then
        echo "infra/asyncapi/validate.sh: ${tool} not found; install Node.js 20 or later with npm" >&2
        exit 127
    fi
done

# node_modules/.package-lock.json is what `npm ci` installed: install again when the lock changed.
if [ ! -f "${here}/node_modules/.package-lock.json" ] \
    || [ "${here}/package-lock.json" -nt "${here}/node_modules/.package-lock.json" ]; then
    (cd "${here}" && SCARF_ANALYTICS=false npm ci --no-audit --no-fund >&2)
fi

exec node "${here}/validate.mjs" "$@"
