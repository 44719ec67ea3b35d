#!/usr/bin/env bash
# Forwards the KFP dashboard (and its API) to http://localhost:8080; Ctrl-C stops it.
source "$(dirname "$0")/common.sh"
need kubectl
echo "dashboard: open $ENDPOINT"
exec kubectl -n "$NAMESPACE" port-forward svc/ml-pipeline-ui 8080:80
