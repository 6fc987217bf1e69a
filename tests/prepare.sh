#!/usr/bin/env bash
# Prepare a machine for ponton's tests (as root): Debian packages, a running dockerd, the local base image,
# and a virtualenv in .venv with ponton installed. Fast when run again: each step is skipped when done.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(docker.io nginx libnginx-mod-stream openssh-server git debootstrap hey wrk python3-venv curl pebble chromium)
missing=()
for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    echo "-----> Installing ${missing[*]}"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
    # One network per app: the default pools hold ~30 networks, too few for a test run's apps.
    if [ ! -f /etc/docker/daemon.json ]; then
        mkdir -p /etc/docker
        echo '{"default-address-pools": [{"base": "10.201.0.0/16", "size": 24}]}' >/etc/docker/daemon.json
    fi
    echo "-----> Starting dockerd"
    nohup dockerd >/var/log/dockerd.log 2>&1 &
    for _ in $(seq 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
    docker info >/dev/null 2>&1 || { tail -20 /var/log/dockerd.log >&2; echo "dockerd did not start" >&2; exit 1; }
fi

builder/base-image.sh ponton/base:trixie

if [ ! -x .venv/bin/pytest ] || [ setup.cfg -nt .venv/bin/pytest ]; then
    echo "-----> Installing ponton in .venv"
    python3 -m venv .venv
    .venv/bin/pip install -q -e '.[test]'
    touch .venv/bin/pytest
fi
echo "-----> Machine ready"
