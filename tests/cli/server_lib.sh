# server_lib.sh — start `ideogram4 serve` for a test on a free loopback port.
#   start_server DIR [serve flags...]   sets $pid, $port, $B (base URL); the
#   server gets its own output, database, log and LoRA folders under DIR
#   unless the caller's environment sets them. Its output goes to DIR/server.log.
#   stop_server [signal]                stops it (default TERM) and waits.
#   req METHOD PATH [BODY] [curl args...] -> prints "STATUS BODY"; the body is also in $tmp/body.
#   expect NAME METHOD PATH BODY WANT_STATUS WANT_SUBSTRING
#   poll_done TASK -> waits for state done, prints the last status body.
#   task_id -> the task_id of the last reply body.
start_server() {
  local dir=$1; shift
  case "$BIN" in /*) ;; *) BIN="$PWD/$BIN" ;; esac
  mkdir -p "$dir"
  : >"$dir/server.log"
  (cd "$dir" && IDEOGRAM4_OUTPUT_DIR=${IDEOGRAM4_OUTPUT_DIR:-$dir/out} \
    IDEOGRAM4_DB_PATH=${IDEOGRAM4_DB_PATH:-$dir/db/ideogram4.db} \
    IDEOGRAM4_LOG_DIR=$dir/logs \
    IDEOGRAM4_LORA_DIR=${IDEOGRAM4_LORA_DIR:-$dir/loras} \
    exec "$BIN" serve --port 0 "$@") >>"$dir/server.log" 2>&1 &
  pid=$!
  port=""
  for _ in $(seq 1 300); do
    port=$(sed -n 's/.*serving on http:\/\/[0-9.]*:\([0-9]*\)\/.*/\1/p' "$dir/server.log" | tail -n 1)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  B="http://127.0.0.1:$port"
  if [ -z "$port" ]; then
    echo "!! the server did not start; its log:"; tail -n 20 "$dir/server.log"
    return 1
  fi
}
# start_server or stop the whole test file with one failure (no point in
# running requests against nothing).
must_start() {
  local name=$1; shift
  if start_server "$@"; then echo "ok   $name"; passed=$((passed + 1));
  else echo "FAIL $name"; failed=$((failed + 1)); summary; exit 1; fi
}
stop_server() {
  kill "-${1:-TERM}" "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}
req() {
  local m=$1 p=$2 b=${3-}
  shift 3 2>/dev/null || shift $#
  local code
  code=$(curl -s --path-as-is -o "$tmp/body" -w '%{http_code}' -X "$m" "$B$p" ${b:+-H 'Content-Type: application/json' --data-binary "$b"} "$@")
  echo "$code $(tr -d '\0' < "$tmp/body")"
}
expect() {
  local got; got=$(req "$2" "$3" "$4")
  if [[ "$got" == "$5 "* && "$got" == *"$6"* ]]; then echo "ok   $1"; passed=$((passed + 1));
  else echo "FAIL $1 (got: ${got:0:300})"; failed=$((failed + 1)); fi
}
poll_done() {
  local body=""
  for _ in $(seq 1 900); do
    body=$(curl -s "$B/api/status/$1")
    [[ "$body" == *'"state":"done"'* ]] && { echo "$body"; return 0; }
    sleep 0.1
  done
  echo "$body"; return 1
}
task_id() { sed -n 's/.*"task_id":"\([0-9a-f]*\)".*/\1/p' "$tmp/body"; }
# jbody FILTER -> jq on the last reply body (raw output).
jbody() { jq -r "$1" "$tmp/body"; }
# wait_loaded: load the model and wait until the status says loaded.
wait_loaded() {
  curl -s -X POST "$B/api/model/load" >/dev/null
  for _ in $(seq 1 300); do
    curl -s "$B/api/model/status" | grep -q '"state":"loaded"' && return 0
    sleep 0.1
  done
  return 1
}
# poll_lora TASK -> waits for the LoRA operation to finish, prints its status.
poll_lora() {
  local body=""
  for _ in $(seq 1 600); do
    body=$(curl -s "$B/api/lora/operation/$1")
    [[ "$body" == *'"state":"done"'* ]] && { echo "$body"; return 0; }
    sleep 0.1
  done
  echo "$body"; return 1
}
