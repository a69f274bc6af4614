#!/usr/bin/env bash
# bench-flow.sh [benchflow flags]: measure TinyForge's data plane and
# triggers on this machine (apply → Ready next to docker run, blue-green
# switch, proxy requests/s next to direct, deploys/s, webhook ingress
# latency and throughput, registry push → serving, fan-out to 100
# workloads, a compose stack next to docker compose up --wait, a static
# site from commit to serving) and print the figures next to their targets. It needs the
# Docker daemon and docker-registry (hack/test-env.sh installs both).
# `make bench` builds bin/tinyforge first; extra arguments go to
# hack/benchflow, for example
#   hack/bench-flow.sh -apply-runs 9 -fan-out 200 -load-duration 10s
#   hack/bench-flow.sh -figures 8,9       # only the compose and static figures
# A missed target is reported, not failed; the exit status is non-zero
# only when a figure cannot be measured.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -x bin/tinyforge ]]; then
  echo "bench-flow: bin/tinyforge is missing; building it" >&2
  make build
fi
# The binary's name is how a later run tells whether this one still runs.
go build -o bin/benchflow ./hack/benchflow

echo "TinyForge data-plane and trigger benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "  $(bin/tinyforge version)"
echo "  host: $(uname -sr), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  docker: $(docker version --format 'server {{.Server.Version}}, API {{.Server.APIVersion}}' 2>/dev/null || echo unknown)"
echo
# benchflow removes its containers, images and temporary directory itself,
# and those a killed run left behind the next time it runs.
exec bin/benchflow -tinyforge bin/tinyforge "$@"
