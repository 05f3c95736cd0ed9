#!/usr/bin/env bash
# Browser end-to-end tests: the Developer Portal, the openid-client interop
# test of the OAuth server with the PSU in Chromium, the example TPP app
# (crates/tpp-example) against the demo bank, the Decoupled approach's
# pending approvals refreshed live in online banking, and the public site at two
# widths with a demo request reaching the admin console, and axe-core's
# WCAG 2.1 AA check of every kind of page, and the docs' journey pages with
# their code whole. Installs Debian's
# Chromium if missing and the npm packages from the lockfile, then runs them.
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
node portal.test.mjs
node interop.test.mjs
node approvals.test.mjs
node tpp-example.test.mjs
node site.test.mjs
node docs.test.mjs
node a11y.test.mjs
