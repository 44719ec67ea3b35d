#!/usr/bin/env bash
# An MLflow tracking server for the pipeline's runs, on the local cluster
# (run after cluster-up.sh): applies kubernetes/mlflow and waits for it. Then
# compile with --track (this server is its default) and
# submit as usual; the runs appear in the MLflow UI.
source "$(dirname "$0")/common.sh"
need kubectl
TRACKING_URI=http://mlflow.kubeflow.svc.cluster.local:5000

kubectl apply -k "$KUBETFX_ROOT/kubernetes/mlflow"
echo "waiting for the MLflow tracking server (the first pull takes a minute or two)..."
kubectl -n "$NAMESPACE" rollout status deployment/mlflow --timeout=600s
echo "mlflow-up: the tracking server is running"
echo "mlflow-up: in the cluster, its tracking URI is $TRACKING_URI"
echo "mlflow-up:   kubetfx compile --track ...   (--track alone logs here)"
echo "mlflow-up: UI: kubectl -n $NAMESPACE port-forward svc/mlflow 5000:5000, then open http://localhost:5000"
