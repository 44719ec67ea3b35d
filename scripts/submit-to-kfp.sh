#!/usr/bin/env bash
# Compiles the taxi pipeline, checks it with the local emulator, and runs it on
# a Kubeflow Pipelines 2.x cluster, following the run to its end.
#
# Run by hand against a cluster (it cannot run without one):
#   KFP_ENDPOINT=http://localhost:8080 scripts/submit-to-kfp.sh [--skip-emulate]
# Needs: kubectl pointed at the cluster, KFP 2.x installed in namespace
# "kubeflow", the dashboard port-forwarded to $KFP_ENDPOINT, and the image
# ${KUBETFX_IMAGE:-kubetfx:0.1.0} available to the cluster's nodes.
set -euo pipefail
cd "$(dirname "$0")/.."

endpoint=${KFP_ENDPOINT:-http://localhost:8080}
image=${KUBETFX_IMAGE:-kubetfx:0.1.0}
namespace=${KFP_NAMESPACE:-kubeflow}
kubetfx=.venv/bin/kubetfx

for tool in kubectl make; do
  command -v "$tool" >/dev/null || { echo "submit-to-kfp: $tool is not installed" >&2; exit 1; }
done
[ -x "$kubetfx" ] || make venv
kubectl get namespace "$namespace" >/dev/null \
  || { echo "submit-to-kfp: no namespace $namespace; install Kubeflow Pipelines first" >&2; exit 1; }

# The volume that holds pushed models (mounted at /serving by LatestPushedModel and Pusher).
kubectl -n "$namespace" apply -f - <<YAML
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: kubetfx-serving
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
YAML

"$kubetfx" compile --output build/pipeline.yaml --image "$image"
if [ "${1:-}" != "--skip-emulate" ]; then
  "$kubetfx" emulate build/pipeline.yaml --output-dir build/emulated --param train_steps=200
fi
"$kubetfx" submit build/pipeline.yaml --endpoint "$endpoint" --experiment kubetfx --wait
"$kubetfx" runs --endpoint "$endpoint" --limit 5
