#!/usr/bin/env bash
# The web UI's development setup against the request checks of the server:
# `npm --prefix webui run dev` (Vite on its own port) forwards /api to
# `ideogram4 serve`, keeping the browser's Host and Origin. Requests are sent
# as the browser sends them from the dev page (Origin and Host of the Vite
# server, JSON bodies): reads and writes must pass the Host, Origin and
# Content-Type checks, while a foreign Origin through the same proxy is still
# refused. Needs webui/node_modules (scripts/setup.sh).
set -u
cd "$(dirname "$0")/../.."
. tests/cli/lib.sh
. tests/cli/server_lib.sh
BIN=${I4_BIN:-build/ideogram4}
tmp=$(mktemp -d)
vite=
trap 'stop_server; [ -n "$vite" ] && kill $vite 2>/dev/null; rm -rf "$tmp"' EXIT
if [ ! -x webui/node_modules/.bin/vite ]; then
  echo "FAIL webui/node_modules missing: run scripts/setup.sh"; echo "0 passed, 1 failed"; exit 1
fi
must_start "server starts" "$tmp/s" --demo
vport=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
(cd webui && IDEOGRAM4_API_URL="$B" exec node_modules/.bin/vite --port "$vport" --strictPort) >"$tmp/vite.log" 2>&1 &
vite=$!
V="http://127.0.0.1:$vport"
for _ in $(seq 1 150); do curl -s -o /dev/null "$V/" && break; sleep 0.2; done
check "vite dev server answers" bash -c "curl -s '$V/' | grep -qi '<div id=\"root\"'"
dev() { curl -s -o "$tmp/body" -w '%{http_code}' -H "Origin: $V" "$@"; }
check "GET /api/health through the proxy" bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -H 'Origin: $V' '$V/api/health') = 200 ]"
check "POST /api/form (JSON) through the proxy from the dev page" bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -H 'Origin: $V' -H 'Content-Type: application/json' -XPOST '$V/api/form' -d '{\"form_json\":\"{\\\"k\\\":1}\"}') = 200 ]"
check "... the form was saved" bash -c "curl -s '$B/api/form' | grep -q 'k'"
check "POST /api/model/load (no body) through the proxy" bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -H 'Origin: $V' -XPOST '$V/api/model/load') = 200 ]"
check "a foreign Origin through the proxy is still 403" bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -H 'Origin: http://evil.example' -H 'Content-Type: application/json' -XPOST '$V/api/form' -d '{\"form_json\":\"{}\"}') = 403 ]"
summary
