#!/usr/bin/env bash
# Deletes the local cluster and everything in it, pushed models included.
source "$(dirname "$0")/common.sh"
need "$(cluster_tool)"
if [ "$CLUSTER" = kind ]; then
  kind delete cluster --name "$PROFILE"
else
  minikube delete -p "$PROFILE"
fi
