#!/usr/bin/env bash
# test-env.sh: make this machine able to run TinyForge's tests. It installs
# what is missing (Debian's docker.io, docker-registry, git) and starts a
# Docker daemon when none answers. Safe to run again: it does nothing when
# everything is there.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "test-env: not root and no sudo; install docker.io, docker-registry and git yourself" >&2
  fi
fi

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v git >/dev/null || need+=(git)
command -v iptables >/dev/null || need+=(iptables)
if [ ${#need[@]} -gt 0 ]; then
  echo "test-env: installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Prefer Debian's docker client: it matches the daemon it came with.
DOCKER=docker
[ -x /usr/bin/docker ] && DOCKER=/usr/bin/docker

if ! $DOCKER info >/dev/null 2>&1; then
  echo "test-env: starting dockerd (log: /tmp/tinyforge-dockerd.log)"
  # A daemon killed with its process group leaves its pid file behind.
  if [ -f /var/run/docker.pid ] && ! pgrep -x dockerd >/dev/null; then $SUDO rm -f /var/run/docker.pid; fi
  # setsid: the daemon must outlive the shell (and process group) that
  # started it, or a test runner's cleanup takes it down mid-run.
  $SUDO setsid sh -c 'nohup dockerd >>/tmp/tinyforge-dockerd.log 2>&1 &' </dev/null
  for _ in $(seq 1 60); do
    $DOCKER info >/dev/null 2>&1 && break
    sleep 0.5
  done
  if ! $DOCKER info >/dev/null 2>&1; then
    echo "test-env: dockerd did not come up; last lines of its log:" >&2
    tail -n 20 /tmp/tinyforge-dockerd.log >&2 || true
    exit 1
  fi
fi
echo "test-env: docker $($DOCKER version --format '{{.Server.Version}}' 2>/dev/null), registry $(command -v docker-registry), $(git --version)"
