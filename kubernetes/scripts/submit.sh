#!/usr/bin/env bash
# Compiles a project's pipeline (KUBETFX_CONFIG, default: the bundled taxi
# project) for the loaded image, submits it and follows the run. KUBETFX_DATA
# names the data in the object store (minio://mlpipeline/datasets/NAME/, put
# there by upload-data.sh); the bundled taxi sample ships in the image.
# KUBETFX_COMPILE_ARGS adds options to `kubetfx compile`, e.g. "--beam-runner
# flink --parallelism 2" (kubernetes/flink). Extra arguments go to `kubetfx
# submit`, e.g. --param train_steps=200.
source "$(dirname "$0")/common.sh"
need kubectl make
make -C "$KUBETFX_ROOT" venv
kubetfx=$KUBETFX_ROOT/.venv/bin/kubetfx
kubectl -n "$NAMESPACE" get pvc kubetfx-serving >/dev/null \
  || { echo "submit: no kubetfx-serving volume claim; run cluster-up.sh first" >&2; exit 1; }
mkdir -p "$KUBETFX_ROOT/build"
config=()
[ -n "${KUBETFX_CONFIG:-}" ] && config=(--config "$KUBETFX_CONFIG")
[ -n "${KUBETFX_DATA:-}" ] && config+=(--data "$KUBETFX_DATA")
read -r -a compile_args <<< "${KUBETFX_COMPILE_ARGS:-}"
config+=("${compile_args[@]}")
"$kubetfx" compile "${config[@]}" --output "$KUBETFX_ROOT/build/pipeline.yaml" --image "$IMAGE"
"$kubetfx" submit "$KUBETFX_ROOT/build/pipeline.yaml" --endpoint "$ENDPOINT" --wait "$@"
"$kubetfx" runs --endpoint "$ENDPOINT" --limit 5
