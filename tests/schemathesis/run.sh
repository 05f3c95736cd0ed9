#!/usr/bin/env bash
# Property-based test of the XS2A API against the Berlin Group OpenAPI file
# with schemathesis: positive and negative requests for every operation of
# the spec, then stateful sequences along the links schemathesis infers from
# the spec, with a real client-credentials token (ais, pis, piis); zero server
# errors and zero response-schema violations allowed.
#   bash tests/schemathesis/run.sh     (from any directory)
# FINTECHAPI_BIN=/path/to/fintechapi overrides the server binary (default:
# target/debug/fintechapi of this checkout). It is not built here.
#
# Documented exception: the spec's own header examples (e.g. `Signature` with
# a trailing newline) are not valid HTTP header values, so schemathesis cannot
# send them; the `examples` phase is skipped and only generated data is used.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
HERE="$(pwd)"
BIN="${FINTECHAPI_BIN:-$HERE/../../target/debug/fintechapi}"
SPEC="$HERE/../../specs/psd2-api_v1.3.12-2022-07-06.yaml"
VENV="${SCHEMATHESIS_VENV:-/var/tmp/fintechapi-schemathesis-venv}"

if [ ! -x "$VENV/bin/st" ] || ! "$VENV/bin/pip" freeze 2>/dev/null | grep -qxF "$(cat requirements.txt)"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements.txt
fi

DATA="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$BIN" serve --data-dir "$DATA" --listen "127.0.0.1:$PORT" --log-format json >"$DATA/server.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$DATA"' EXIT
BASE="https://localhost:$PORT"
CA="$DATA/tls/dev-ca.pem"
for _ in $(seq 1 120); do
  curl -sf --cacert "$CA" "$BASE/healthz" >/dev/null 2>&1 && break
  sleep 0.5
done

APP="$("$BIN" admin app create --org "Schemathesis TPP" --name "fuzzer" \
  --redirect-uri https://fuzzer.example/cb --products ais,pis,piis --json --data-dir "$DATA")"
CLIENT_ID="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])' <<<"$APP")"
CLIENT_SECRET="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])' <<<"$APP")"
TOKEN="$(curl -sf --cacert "$CA" -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials "$BASE/oauth2/token" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"

# The token lives 5 minutes; the run stays well inside that and the plan's rate.
"$VENV/bin/st" run "$SPEC" \
  --url "$BASE" \
  --tls-verify "$CA" \
  -H "Authorization: Bearer $TOKEN" \
  -H "PSU-IP-Address: 192.0.2.1" \
  --phases "${SCHEMATHESIS_PHASES:-fuzzing,stateful}" \
  --mode all \
  --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-10}" \
  --max-time "${SCHEMATHESIS_SECONDS:-120}" \
  --rate-limit 20/s \
  --seed "${SCHEMATHESIS_SEED:-20261125}" \
  --warnings off
