#!/usr/bin/env bash
# A new model version's gradual rollout on the local cluster, checked at each
# step; run after serving-up.sh. The rendered manifests are first validated by
# the API server against the installed CRDs (the Gateway API's HTTPRoute
# schema among them), without changing anything.
#   kubernetes/scripts/canary.sh NEW_VERSION DATA_DIR [--config kubetfx.yaml]
# DATA_DIR: a folder of CSV files (the label is not needed) to send to both tracks.
source "$(dirname "$0")/common.sh"
need kubectl kubetfx
NEW=${1:?usage: canary.sh NEW_VERSION DATA_DIR [--config FILE]}
DATA=${2:?usage: canary.sh NEW_VERSION DATA_DIR [--config FILE]}
shift 2
MANIFESTS="$KUBETFX_ROOT/kubernetes/serving"

kubetfx rollout start "$NEW" --percent 10 --dry-run --manifests "$MANIFESTS" |
  kubectl apply --dry-run=server -f - >/dev/null
echo "canary: the manifests validate against the cluster's schemas"

kubetfx rollout start "$NEW" --percent 10 --manifests "$MANIFESTS"
kubetfx rollout check --data "$DATA" --manifests "$MANIFESTS" "$@"
kubetfx rollout set --percent 50 --manifests "$MANIFESTS"
kubetfx rollout check --data "$DATA" --manifests "$MANIFESTS" "$@"
kubetfx rollout promote --manifests "$MANIFESTS"
kubetfx rollout status
echo "canary: $NEW is the stable version; kubetfx rollout start VERSION to roll out the next"
