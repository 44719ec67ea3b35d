#!/usr/bin/env bash
# Copies a local folder of CSV files into the cluster's object store, where a
# package compiled with `--data minio://mlpipeline/datasets/NAME/` reads it:
#
#   kubernetes/scripts/upload-data.sh DIR NAME [--replace]
#
# It speaks S3 to KFP's own store (SeaweedFS in KFP 2.17, MinIO before) through
# a port-forward, with the keys of KFP's mlpipeline-minio-artifact Secret; they
# stay in this shell. On a run, the KFP launcher stages the folder into the
# tasks with its own credentials. A NAME that already holds objects is left
# alone unless --replace is given; then it becomes exactly DIR's CSV files
# (what is no longer in DIR is deleted), which is new data to the next run.
source "$(dirname "$0")/common.sh"
need kubectl curl base64

usage() { echo "usage: $(basename "$0") DIR NAME [--replace]" >&2; exit 2; }
[ $# -ge 2 ] && [ $# -le 3 ] || usage
dir=$1 name=$2 replace=${3:-}
[ -z "$replace" ] || [ "$replace" = --replace ] || usage
[ -d "$dir" ] || { echo "upload-data: $dir is not a folder; give the folder of CSV files" >&2; exit 2; }
[[ "$name" =~ ^[a-z0-9][a-z0-9._-]*$ ]] \
  || { echo "upload-data: NAME must be lower-case letters, digits, . _ or - (got $name)" >&2; exit 2; }
shopt -s nullglob
files=("$dir"/*.csv)
[ ${#files[@]} -gt 0 ] || { echo "upload-data: no .csv files directly in $dir" >&2; exit 2; }

bucket=mlpipeline
prefix=datasets/$name/
port=${KUBETFX_STORE_PORT:-9900}
service=seaweedfs
kubectl -n "$NAMESPACE" get svc "$service" >/dev/null 2>&1 || service=minio-service
secret() {
  kubectl -n "$NAMESPACE" get secret mlpipeline-minio-artifact -o "jsonpath={.data.$1}" | base64 -d
}
keys="$(secret accesskey):$(secret secretkey)"

kubectl -n "$NAMESPACE" port-forward "svc/$service" "$port:9000" >/dev/null &
forward=$!
trap 'kill "$forward" 2>/dev/null || true' EXIT
for _ in $(seq 1 30); do
  curl -s -o /dev/null "http://localhost:$port/" && break
  sleep 1
done
s3() { curl --fail --silent --show-error --aws-sigv4 "aws:amz:us-east-1:s3" --user "$keys" "$@"; }
url=http://localhost:$port/$bucket

existing=$(s3 "$url?list-type=2&prefix=$prefix" | grep -o '<Key>[^<]*</Key>' | sed 's/<[^>]*>//g' || true)
if [ -n "$existing" ] && [ -z "$replace" ]; then
  echo "upload-data: minio://$bucket/$prefix already holds $(wc -l <<<"$existing") objects; pass --replace to make it $dir" >&2
  exit 2
fi
declare -A uploaded=()
for file in "${files[@]}"; do
  s3 -T "$file" "$url/$prefix$(basename "$file")"
  uploaded["$prefix$(basename "$file")"]=1
done
while read -r key; do
  [ -z "$key" ] || [ -n "${uploaded[$key]:-}" ] || s3 -X DELETE "$url/$key"
done <<<"$existing"
echo "upload-data: ${#files[@]} files in minio://$bucket/$prefix"
echo "upload-data: read them with: kubetfx compile --data minio://$bucket/$prefix ..."
