#!/usr/bin/env bash
# Creates a local cluster (kind by default, KUBETFX_CLUSTER=minikube for
# minikube) and installs Kubeflow Pipelines 2.17 with kubetfx's resources.
source "$(dirname "$0")/common.sh"
need kubectl docker "$(cluster_tool)"

if [ "$CLUSTER" = kind ]; then
  kind get clusters | grep -qx "$PROFILE" \
    || kind create cluster --name "$PROFILE" --config "$KUBETFX_ROOT/kubernetes/kind/cluster.yaml"
  kubectl config use-context "kind-$PROFILE"
else
  # The minikube profile: 4 CPUs and 8 GB fit KFP and one TFX task at a time.
  minikube start -p "$PROFILE" --cpus 4 --memory 8g --kubernetes-version v1.32.2
  kubectl config use-context "$PROFILE"
fi

kubectl apply -k "github.com/kubeflow/pipelines/manifests/kustomize/cluster-scoped-resources?ref=$KFP_VERSION"
kubectl wait --for condition=established --timeout=120s crd/applications.app.k8s.io
kubectl apply -k "$KUBETFX_ROOT/kubernetes/kfp"
echo "waiting for Kubeflow Pipelines to start (several minutes on first pull)..."
kubectl -n "$NAMESPACE" wait --for=condition=available --timeout=900s deployment --all
echo "cluster-up: Kubeflow Pipelines $KFP_VERSION is running; next: load-image.sh, dashboard.sh"
