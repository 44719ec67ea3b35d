#!/usr/bin/env bash
# Online serving on the local cluster: installs Envoy Gateway (with the
# Gateway API's resources; pinned), then serves model VERSION from the
# serving volume with `kubetfx rollout start VERSION` and waits for it.
#   kubernetes/scripts/serving-up.sh VERSION
# Then: kubectl -n kubeflow port-forward service/kubetfx-serving-stable 8501
#       curl localhost:8501/v1/models/kubetfx
source "$(dirname "$0")/common.sh"
need kubectl kubetfx
ENVOY_GATEWAY_VERSION=v1.2.4
VERSION=${1:?usage: serving-up.sh VERSION (a folder number in the serving volume)}

kubectl apply --server-side -f \
  "https://github.com/envoyproxy/gateway/releases/download/$ENVOY_GATEWAY_VERSION/install.yaml"
kubectl -n envoy-gateway-system wait --for=condition=available --timeout=300s deployment/envoy-gateway
kubectl apply -f - <<YAML
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: eg
spec:
  controllerName: gateway.envoyproxy.io/gatewayclass-controller
YAML

kubetfx rollout start "$VERSION" --percent 0 --manifests "$KUBETFX_ROOT/kubernetes/serving"
kubectl -n "$NAMESPACE" rollout status deployment/kubetfx-serving-stable --timeout=600s
kubectl -n "$NAMESPACE" rollout status deployment/kubetfx-serving-canary --timeout=600s
kubetfx rollout status
echo "serving-up: model $VERSION is served; shift traffic with kubetfx rollout start/set/promote/rollback"
