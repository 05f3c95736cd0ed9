#!/usr/bin/env bash
# The documents the XS2A API answers (pain.002 payment status reports,
# camt.052/camt.053 account reports and statements, MT940 statements),
# fetched from a demo-seeded server as a TPP would; the ISO 20022 ones
# validated against the message definitions generated from the official XSDs
# (validate.py; pyiso20022 and xsdata), the MT940 parsed by mt-940 and checked
# against the JSON report of the same query (check_mt940.py); in a venv of
# their own.
#   bash tests/iso20022/run.sh     (from any directory)
# FINTECHAPI_BIN=/path/to/fintechapi overrides the server binary (default:
# target/debug/fintechapi of this checkout). It is not built here.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
HERE="$(pwd)"
BIN="${FINTECHAPI_BIN:-$HERE/../../target/debug/fintechapi}"
VENV="${ISO20022_VENV:-/var/tmp/fintechapi-iso20022-venv}"

if [ ! -x "$VENV/bin/python" ] || ! cmp -s requirements.txt "$VENV/requirements.txt"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements.txt
  cp requirements.txt "$VENV/requirements.txt"
fi

DATA="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$BIN" serve --data-dir "$DATA" --listen "127.0.0.1:$PORT" --log-format json >"$DATA/server.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$DATA"' EXIT
CA="$DATA/tls/dev-ca.pem"
for _ in $(seq 1 120); do
  curl -sf --cacert "$CA" "https://localhost:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.5
done

APP="$("$BIN" admin app create --org "ISO 20022 TPP" --name "reports" \
  --redirect-uri https://tpp.example/cb --products ais,pis --json --data-dir "$DATA")"
field() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])" <<<"$APP"; }
mkdir "$DATA/documents"
python3 reports.py "$PORT" "$CA" "$(field client_id)" "$(field client_secret)" "$DATA/documents"
"$VENV/bin/python" validate.py "$DATA"/documents/*.xml
"$VENV/bin/python" check_mt940.py "$DATA/documents/mt940-statement.sta" "$DATA/documents/mt940-statement.json"
