#!/usr/bin/env bash
# Live previews in GET /api/status/{task} (docs/APP.md "Live previews"): while
# a generation samples, `preview` is a PNG data URL of the latest step's
# latents (one pixel per 16x16 patch) and `preview_step` its step; null once
# finished, and never with "preview": false.
set -u
cd "$(dirname "$0")/../.."
. tests/cli/lib.sh
BIN=${I4_BIN:-build/ideogram4}
. tests/cli/server_lib.sh
tmp=$(mktemp -d)
trap 'stop_server; rm -rf "$tmp"' EXIT
must_start "server starts" "$tmp/s" --demo
CAP='{"high_level_description":"a red fox"}'
check "model loads" wait_loaded

expect "a long generation starts (512x512, 48 steps)" POST /api/generate "{\"caption\":$CAP,\"width\":512,\"height\":512,\"preset\":\"V4_QUALITY_48\"}" 200 task_id
t=$(task_id)
got=""
for _ in $(seq 1 600); do
  curl -s "$B/api/status/$t" >"$tmp/st.json"
  jq -e '.preview != null and .state == "running"' "$tmp/st.json" >/dev/null 2>&1 && { got=1; break; }
  sleep 0.05
done
check "status has a preview data URL while sampling" test -n "$got"
check "... a PNG data URL with preview_step >= 1" \
  bash -c "jq -e '(.preview | startswith(\"data:image/png;base64,\")) and .preview_step >= 1 and .preview_step <= .total_steps' '$tmp/st.json' >/dev/null"
jq -r '.preview' "$tmp/st.json" | sed 's/^data:image\/png;base64,//' | base64 -d >"$tmp/p.png" 2>/dev/null
check "... which decodes to a 32x32 PNG (one pixel per token of 512x512)" bash -c \
  "head -c 24 '$tmp/p.png' | od -An -tx1 | tr -d ' \\n' | grep -q '^89504e470d0a1a0a0000000d494844520000002000000020'"
s1=$(jq '.preview_step' "$tmp/st.json")
for _ in $(seq 1 200); do
  s2=$(curl -s "$B/api/status/$t" | jq '.preview_step // 0')
  [ "$s2" -gt "$s1" ] && break
  sleep 0.05
done
check "... updated as the steps go on" test "$s2" -gt "$s1"
expect "cancel" POST "/api/tasks/$t/cancel" "" 200 '"ok":true'
final=$(poll_done "$t")
check "a finished task has no preview" bash -c "jq -e '.preview == null and .preview_step == null' <<<'$final' >/dev/null"

expect "previews can be turned off per request" POST /api/generate "{\"caption\":$CAP,\"width\":256,\"height\":256,\"preset\":\"V4_QUALITY_48\",\"preview\":false}" 200 task_id
t=$(task_id)
for _ in $(seq 1 200); do curl -s "$B/api/status/$t" | jq -e '.step >= 2' >/dev/null 2>&1 && break; sleep 0.05; done
check "... then the status has none while sampling" bash -c "curl -s '$B/api/status/$t' | jq -e '.preview == null and .step >= 2' >/dev/null"
curl -s -X POST "$B/api/tasks/$t/cancel" >/dev/null
poll_done "$t" >/dev/null
expect "bad: preview not a boolean" POST /api/generate "{\"caption\":$CAP,\"preview\":1}" 422 'preview'
check "the server logged the preview fit" grep -rq "live-preview map fitted" "$tmp/s"
summary
