#!/usr/bin/env bash
# Installs the optional peers that benchmarks and comparison tests drive (Debian packages).
# Tests that need a peer skip with a printed reason when it is absent; this script makes it present.
set -euo pipefail
want=()
command -v nats-server >/dev/null 2>&1 || want+=(nats-server)
command -v redis-server >/dev/null 2>&1 || want+=(redis-server)
if [ ${#want[@]} -eq 0 ]; then echo "peers present: $(nats-server --version 2>&1 | head -1)"; exit 0; fi
if [ "$(id -u)" != 0 ]; then echo "install-peers: need root to apt-get install ${want[*]}" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${want[@]}"
# The Debian package starts a system redis; benchmarks start their own on a private port.
if command -v systemctl >/dev/null 2>&1; then systemctl stop redis-server >/dev/null 2>&1 || true; fi
echo "peers installed: ${want[*]}"
