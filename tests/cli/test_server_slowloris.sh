#!/usr/bin/env bash
# Regression test for defect D3: slowloris before authentication. With
# libmicrohttpd on select (about 1020 fds), a thread per connection and a
# 120 s inactivity timeout that each trickled byte resets, about 1013 slow
# connections stop GET /api/health answering.
#
# With `ulimit -n 4096` (for this script and the server it starts; as root the
# hard limit is raised if need be; below 4096 and not raisable: skipped, counted
# as a failure), it starts `serve --demo` on loopback and runs two scenarios
# with tests/cli/slow_clients.mjs, each holding 1,100 slow connections from
# loopback for about 20 s:
#   slow headers  a partial request (line, Host, the start of a header), then
#                 one more header byte every 2 s, never finished;
#   slow body     the complete headers of a POST with Content-Length: 1000000,
#                 then one body byte every 2 s.
# While they are held, GET /api/health must answer 200 in under 1 s (curl
# --max-time 1, time_total) at each of 5 probes; after the slow clients stop,
# the server must answer health again and its open fd count must come back
# near the baseline (+5). Every check's name has "D3" in it.
# SLOW_CLIENTS (default 1100) sets the number of slow connections;
# SLOW_CLIENTS_FROM=127.0.0.2 makes them come from another loopback address
# than the health probes (127.0.0.1), e.g. to try per-address limits.
#
# Expected to FAIL against a server on select with no connection limits or
# deadlines (health gets no answer: the connection is closed unanswered once
# the slow ones hold every slot); passes once the server uses epoll, limits
# connections and enforces header/body deadlines. Bounded: under 2 minutes (a
# watchdog ends it at 110 s); every child is ended on exit, Ctrl-C too.
set -u
cd "$(dirname "$0")/../.."
. tests/cli/lib.sh
. tests/cli/server_lib.sh
BIN=${I4_BIN:-build/ideogram4}
COUNT=${SLOW_CLIENTS:-1100}
HOLD=20 # seconds the slow connections are held in each scenario
tmp=$(mktemp -d)
slow=""
watchdog=""
pid=""
cleanup() {
  [ -n "$watchdog" ] && kill "$watchdog" 2>/dev/null && wait "$watchdog" 2>/dev/null
  [ -n "$slow" ] && kill "$slow" 2>/dev/null && wait "$slow" 2>/dev/null
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  fi
  [ -n "$pid" ] && wait "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "FAIL D3: interrupted"; failed=$((failed + 1)); summary; exit 130' INT
trap 'echo "FAIL D3: terminated"; failed=$((failed + 1)); summary; exit 143' TERM
trap 'echo "FAIL D3: the test ran over its 110 s limit"; failed=$((failed + 1)); summary; exit 1' USR1
# The watchdog: USR1 to this shell after 110 s.
( sleep 110 & s=$!; trap 'kill $s 2>/dev/null; exit 0' TERM; wait $s; kill -USR1 $$ 2>/dev/null ) &
watchdog=$!

# --- the fd limit: 4096 for this shell, so for node and the server too.
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -ge 4096 ]; then ulimit -Sn 4096
else ulimit -n 4096 2>/dev/null; fi
soft=$(ulimit -Sn)
if [ "$soft" != 4096 ]; then
  echo "SKIP: this test needs 'ulimit -n 4096' (hard limit here: $hard; run it as root or raise the hard limit)"
  check "D3 setup: ulimit -n 4096" false
  summary
  exit 1
fi
check "D3 setup: ulimit -n 4096 (hard limit was $hard)" true
check "D3 setup: node is installed" bash -c 'command -v node >/dev/null'
must_start "D3 setup: server starts (serve --demo)" "$tmp/s" --demo
fds() { ls "/proc/$pid/fd" 2>/dev/null | wc -l; }

# probe NAME: one GET /api/health; passes on 200 within 1 s. Prints what it got.
probe() {
  local out code t rc=0
  out=$(curl -s -o /dev/null --max-time 1 -w '%{http_code} %{time_total}' "$B/api/health") || rc=$?
  code=${out% *} t=${out#* }
  echo "   health: HTTP $code in ${t}s (curl exit $rc), server fds $(fds), slow clients: $(slow_status)"
  [ "$code" = 200 ] && awk -v t="$t" 'BEGIN { exit !(t < 1.0) }'
}
slow_status() { grep -E '^(status|ramped|final) ' "$tmp/slow.out" 2>/dev/null | tail -n 1 | cut -d' ' -f2-; }
# healthy_again: health 200 within 1 s, trying for up to 10 s.
healthy_again() {
  for _ in $(seq 1 20); do
    [ "$(curl -s -o /dev/null --max-time 1 -w '%{http_code}' "$B/api/health")" = 200 ] && return 0
    sleep 0.5
  done
  return 1
}
# fds_back BASE: the server's fd count <= BASE + 5, waiting for up to 10 s.
fds_back() {
  local n
  for _ in $(seq 1 20); do
    n=$(fds)
    [ "$n" -le $(($1 + 5)) ] && { echo "   server fds: $n (baseline $1)"; return 0; }
    sleep 0.5
  done
  echo "   server fds: $n (baseline $1)"
  return 1
}

check "D3 setup: health answers before the slow clients" healthy_again
base=$(fds)
echo "   baseline: server fds $base"

scenario() { # NAME MODE
  local name=$1 mode=$2 i
  node tests/cli/slow_clients.mjs "$port" "$COUNT" "$mode" $((HOLD + 30)) 2000 ${SLOW_CLIENTS_FROM:-} >"$tmp/slow.out" 2>&1 &
  slow=$!
  for _ in $(seq 1 100); do grep -q '^ramped ' "$tmp/slow.out" && break; sleep 0.1; done
  echo "   $name: $(grep '^ramped ' "$tmp/slow.out" || echo "not all connected after 10 s: $(slow_status)")"
  check "D3 $name: $COUNT slow connections opened (the attack is in place)" \
    bash -c "grep -q '^ramped connected=$COUNT ' '$tmp/slow.out'"
  for i in 1 2 3 4 5; do
    sleep $((HOLD / 5))
    check "D3 $name: /api/health 200 in < 1 s while $COUNT slow clients are held (probe $i)" probe
  done
  kill -TERM "$slow" 2>/dev/null
  wait "$slow" 2>/dev/null
  slow=""
  echo "   $name: slow clients stopped: $(slow_status)"
  check "D3 $name: server healthy after the slow clients stop" healthy_again
  check "D3 $name: server fds back near the baseline" fds_back "$base"
}
scenario "slow headers" headers
scenario "slow body" body
check "D3: server still running" kill -0 "$pid"
summary
