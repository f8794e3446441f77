#!/usr/bin/env bash
# Installs Chromium from Debian's packages for the dashboard's browser test (playwright-core
# drives it through `executablePath`). The test skips with a printed reason when it is absent.
set -euo pipefail
for candidate in chromium chromium-browser; do
  if command -v "$candidate" >/dev/null 2>&1; then echo "chromium present: $(command -v "$candidate")"; exit 0; fi
done
if [ "$(id -u)" != 0 ]; then echo "install-chromium: need root to apt-get install chromium" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium
echo "chromium installed: $(command -v chromium)"
