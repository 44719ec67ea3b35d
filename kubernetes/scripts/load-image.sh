#!/usr/bin/env bash
# Builds the kubetfx image and loads it into the cluster's nodes (no registry needed).
source "$(dirname "$0")/common.sh"
need docker make "$(cluster_tool)"
make -C "$KUBETFX_ROOT" image IMAGE="$IMAGE"
if [ "$CLUSTER" = kind ]; then
  kind load docker-image "$IMAGE" --name "$PROFILE"
else
  minikube -p "$PROFILE" image load "$IMAGE"
fi
echo "load-image: $IMAGE is on the cluster's nodes"
