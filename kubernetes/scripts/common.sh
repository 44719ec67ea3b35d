# Shared by the cluster scripts: settings and tool checks.
# shellcheck shell=bash
set -euo pipefail
KUBETFX_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CLUSTER=${KUBETFX_CLUSTER:-kind}          # kind or minikube
PROFILE=${KUBETFX_PROFILE:-kubetfx}       # kind cluster name / minikube profile
IMAGE=${KUBETFX_IMAGE:-kubetfx:0.1.0}
KFP_VERSION=2.17.0
NAMESPACE=kubeflow
ENDPOINT=${KFP_ENDPOINT:-http://localhost:8080}

need() {
  local missing=()
  for tool in "$@"; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "$(basename "$0"): missing ${missing[*]}; install them and try again (see kubernetes/README.md)" >&2
    exit 1
  fi
}

cluster_tool() {
  case "$CLUSTER" in
    kind | minikube) echo "$CLUSTER" ;;
    *) echo "$(basename "$0"): KUBETFX_CLUSTER must be kind or minikube, not $CLUSTER" >&2; exit 1 ;;
  esac
}
