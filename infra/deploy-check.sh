#!/usr/bin/env bash
# Checks the deployment files, with no cluster and no Docker engine:
#   1. yamllint (infra/k8s/.yamllint) over infra/compose.yaml and infra/k8s/;
#   2. the Compose file: `docker compose config -q` where Docker Compose is installed,
#      else its JSON Schema (the compose-spec schema that check-jsonschema ships);
#   3. the Kubernetes manifests: infra/k8s/validate.py (kubernetes-validate, strict; KEDA's
#      objects against infra/k8s/schemas/; references; `kubectl kustomize` where kubectl is).
# The Python tools come from the venv's dev extra (yamllint, kubernetes-validate,
# check-jsonschema). Exits 1 at the first failing step.
#   infra/deploy-check.sh
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo}"
export PATH="${repo}/.venv/bin:${PATH}"
python="${repo}/.venv/bin/python"
[ -x "${python}" ] || python="$(command -v python3)"

missing=""
for tool in yamllint check-jsonschema; do
    command -v "${tool}" >/dev/null 2>&1 || missing="${missing} ${tool}"
done
"${python}" -c "import kubernetes_validate" 2>/dev/null || missing="${missing} kubernetes-validate"
if [ -n "${missing}" ]; then
    echo "infra/deploy-check.sh: missing:${missing} (pip install -e '.[dev]')" >&2
    exit 1
fi

echo "==> yamllint"
yamllint --strict -c infra/k8s/.yamllint infra/compose.yaml infra/k8s
echo "yamllint: ok"

echo "==> compose"
if docker compose version >/dev/null 2>&1; then
    docker compose -f infra/compose.yaml config -q
    echo "docker compose config: ok"
else
    echo "docker compose not available: checking infra/compose.yaml against the compose-spec schema"
    check-jsonschema --builtin-schema vendor.compose-spec infra/compose.yaml
fi

echo "==> kubernetes"
"${python}" infra/k8s/validate.py

echo "deploy-check: all good"
