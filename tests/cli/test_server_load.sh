#!/usr/bin/env bash
# Load check: wrk (Debian) hammers GET /api/status/{id} and GET /api/images
# while a generation runs. Asserts only correctness under load (every answer
# 2xx, no socket errors, the generation still finishes with its image); the
# throughput and p99 latency are printed for the record, never asserted.
# LOAD_SECONDS (default 4) sets each wrk run's length.
set -u
cd "$(dirname "$0")/../.."
. tests/cli/lib.sh
. tests/cli/server_lib.sh
BIN=${I4_BIN:-build/ideogram4}
secs=${LOAD_SECONDS:-4}
tmp=$(mktemp -d)
trap 'stop_server; rm -rf "$tmp"' EXIT
check "wrk is installed" command -v wrk
IDEOGRAM4_SERVER_LOG_LEVEL=warning must_start "server starts" "$tmp/s" --demo
check "model loads" wait_loaded
CAP='{"high_level_description":"a busy street","compositional_deconstruction":{"background":"city","elements":[]}}'
for seed in 1 2 3; do
  req POST /api/generate "{\"caption\":$CAP,\"width\":128,\"height\":128,\"preset\":\"V4_TURBO_12\",\"seed\":$seed}" >/dev/null
  poll_done "$(task_id)" >/dev/null
done
# Each wrk run gets its own long generation (1024x1024 QUALITY_48 on the tiny
# model outlasts any LOAD_SECONDS used here); it must still be running when wrk
# ends, so the numbers are "during a generation", then it is cancelled.
start_long_generation() {
  expect "a long generation starts ($1)" POST /api/generate "{\"caption\":$CAP,\"width\":1024,\"height\":1024,\"preset\":\"V4_QUALITY_48\"}" 200 task_id
  t=$(task_id)
}
end_long_generation() {
  check "the generation was still running under load ($1)" bash -c "curl -s '$B/api/status/$t' | grep -q '\"state\":\"running\"'"
  curl -s -X POST "$B/api/tasks/$t/cancel" >/dev/null
  poll_done "$t" >/dev/null
}
run_wrk() { # name path
  wrk -t2 -c32 -d"${secs}s" --latency "$B$2" > "$tmp/$1.txt" 2>&1
  local rps p99 non2xx sockerr
  rps=$(awk '/^Requests\/sec/ {print $2}' "$tmp/$1.txt")
  p99=$(awk '$1=="99%" {print $2}' "$tmp/$1.txt")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$tmp/$1.txt")
  sockerr=$(grep -c 'Socket errors' "$tmp/$1.txt")
  echo "   load $2: ${rps:-?} requests/s, p99 ${p99:-?} (32 connections, 2 threads, ${secs}s, generation running)"
  check "load on $1: requests answered" test -n "$rps"
  check "load on $1: no non-2xx answers" test -z "$non2xx"
  check "load on $1: no socket errors" test "$sockerr" = 0
}
start_long_generation status
run_wrk status "/api/status/$t"
end_long_generation status
start_long_generation images
run_wrk images "/api/images"
end_long_generation images
expect "server healthy after the load" GET /api/health "" 200 '"ok":true'
summary
