#!/usr/bin/env bash
# The one setup command (npm run setup): the Debian packages the service and its tests use,
# when missing, then the npm packages installed under Node 24 (Hardhat's native engine needs it).
#
#   chromium            browser tests and web captures (driven by playwright-core)
#   fonts-noto-cjk      Chinese text in captures, screenshots and the certificate PDF (OFL-1.1)
#   poppler-utils       pdftotext / pdftoppm / pdfdetach, used by the PDF tests
#   ffmpeg              encodes the optional screen recording of a capture
#   postgresql          the PostgreSQL tests start their own server (initdb in a temporary directory)
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || missing+=(fonts-noto-cjk)
command -v pdftotext >/dev/null || missing+=(poppler-utils)
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    as_root=()
  elif command -v sudo >/dev/null; then
    as_root=(sudo)
  else
    as_root=(false)
  fi
  if "${as_root[@]}" true 2>/dev/null; then
    "${as_root[@]}" apt-get update -qq
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  else
    echo "setup: install these Debian packages (as root): apt-get install ${missing[*]}" >&2
  fi
fi

npx -y -p node@24 npm ci
