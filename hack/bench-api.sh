#!/usr/bin/env bash
# bench-api.sh [benchapi flags]: measure a TinyForge server on this machine
# (readiness time, idle RSS, API Event creates/s of the whole server and of
# the API server alone, raw embedded-etcd puts/s)
# and print the figures next to their targets. `make bench` builds
# bin/tinyforge first; extra arguments go to hack/benchapi, for example
#   hack/bench-api.sh -creates 10000 -idle 10s -conns per-client
# A missed target is reported, not failed; the exit status is non-zero only
# when the benchmark cannot run.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -x bin/tinyforge ]]; then
  echo "bench-api: bin/tinyforge is missing; building it" >&2
  make build
fi
go build -o bin/benchapi ./hack/benchapi

echo "TinyForge API benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "  $(bin/tinyforge version)"
echo "  host: $(uname -sr), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
# benchapi removes its own temporary data dirs; this catches what a killed
# benchapi leaves behind (its servers die with it).
tmp=$(mktemp -d -t tinyforge-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
TMPDIR="$tmp" bin/benchapi -tinyforge bin/tinyforge "$@"
