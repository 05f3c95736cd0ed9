#!/usr/bin/env bash
# Browser end-to-end test of the Developer Portal: installs Debian's Chromium
# if missing, installs playwright-core from the lockfile, runs the test.
#   bash tests/browser/run.sh          (from any directory)
# FINTECHAPI_BIN=/path/to/fintechapi overrides the server binary
# (default: target/debug/fintechapi of this checkout). It is not built here.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if [ ! -x /usr/bin/chromium ]; then
  echo "run.sh: installing Debian's chromium" >&2
  as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo)
  "${as_root[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq chromium >/dev/null
fi

npm ci --no-audit --no-fund --loglevel=error
exec node portal.test.mjs
