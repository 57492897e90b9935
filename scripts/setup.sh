#!/usr/bin/env bash
# The one setup command (npm run setup): Debian's Chromium for the browser tests when it is
# missing, then the npm packages installed under Node 24 (Hardhat's native engine needs it).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei
  elif command -v sudo >/dev/null; then
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei
  else
    echo "setup: install Debian's chromium package for the browser tests (apt-get install chromium)" >&2
  fi
fi

npx -y -p node@24 npm ci
