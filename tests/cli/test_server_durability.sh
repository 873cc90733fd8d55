#!/usr/bin/env bash
# Durability: the server is killed with SIGKILL during generations and
# restarted on the same database and output folder. Every committed prompt
# and image must still be there with its file, and no file may be left
# without its row (orphans and interrupted writes are deleted at start).
set -u
cd "$(dirname "$0")/../.."
. tests/cli/lib.sh
. tests/cli/server_lib.sh
BIN=${I4_BIN:-build/ideogram4}
tmp=$(mktemp -d)
trap 'stop_server KILL; rm -rf "$tmp"' EXIT
S="$tmp/s"
CAP='{"high_level_description":"a lighthouse","compositional_deconstruction":{"background":"sea","elements":[]}}'
SMALL="{\"caption\":$CAP,\"width\":128,\"height\":128,\"preset\":\"V4_TURBO_12\",\"format\":\"png\""

# Rows and files agree: every row's file exists, every generated file has a row.
consistent() {
  curl -s "$B/api/images?limit=500" > "$tmp/rows.json" || return 1
  jq -r '.[].file_path' "$tmp/rows.json" | sort > "$tmp/row_files"
  (cd "$S/out" && ls | grep -E '^[0-9a-f]{32}\.(png|webp|jpeg|jpg)(\.tmp)?$' | sort) > "$tmp/disk_files"
  if ! diff -q "$tmp/row_files" "$tmp/disk_files" >/dev/null; then
    echo "   rows vs files:"; diff "$tmp/row_files" "$tmp/disk_files" | head -5; return 1
  fi
}

must_start "server starts" "$S" --demo
check "model loads" wait_loaded
expect "prompt saved" POST /api/prompts '{"hld":"a lighthouse","form_json":"{\"n\":1}"}' 200 '"id":'
P=$(jbody .id)
for seed in 1 2; do
  req POST /api/generate "$SMALL,\"seed\":$seed,\"prompt_id\":$P}" >/dev/null
  poll_done "$(task_id)" >/dev/null
done
curl -s "$B/api/images" > "$tmp/committed.json"
check "two images committed" test "$(jq length "$tmp/committed.json")" = 2
expect "long generation starts" POST /api/generate "{\"caption\":$CAP,\"width\":512,\"height\":512,\"preset\":\"V4_QUALITY_48\",\"prompt_id\":$P}" 200 task_id
long=$(task_id)
for _ in $(seq 1 300); do curl -s "$B/api/status/$long" | grep -q '"phase":"sampling"' && break; sleep 0.1; done
check "it is sampling when killed" bash -c "curl -s '$B/api/status/$long' | grep -q '\"phase\":\"sampling\"'"
stop_server KILL
# What a kill between the image write and the row commit leaves behind:
# a renamed file without a row, and a half-written temporary file.
echo fake > "$S/out/0123456789abcdef0123456789abcdef.png"
echo half > "$S/out/fedcba9876543210fedcba9876543210.webp.tmp"
echo keep > "$S/out/notes.txt"

must_start "server restarts after SIGKILL" "$S" --demo
expect "the prompt is still there" GET "/api/prompts/$P" "" 200 '"image_count":2'
curl -s "$B/api/images" > "$tmp/after.json"
check "both committed images are still listed" bash -c "[ \"\$(jq -c '[.[].id]' '$tmp/after.json')\" = \"\$(jq -c '[.[].id]' '$tmp/committed.json')\" ]"
for id in $(jq -r '.[].id' "$tmp/committed.json"); do
  check "image $id still served from its file" bash -c "curl -s '$B/api/images/$id/file' | head -c 4 | od -An -tx1 | grep -q '89 50 4e 47'"
done
check "orphan file deleted at start" test ! -e "$S/out/0123456789abcdef0123456789abcdef.png"
check "interrupted temporary file deleted at start" test ! -e "$S/out/fedcba9876543210fedcba9876543210.webp.tmp"
check "unrelated files left alone" test -e "$S/out/notes.txt"
check "rows and files agree" consistent
expect "the killed task is gone" GET "/api/status/$long" "" 200 'Task not found.'

# Kill at random moments of short generations (encode, sample, decode, write,
# commit), restart, and check the invariant each time.
for round in 1 2 3 4 5; do
  check "round $round: model loads" wait_loaded
  req POST /api/generate "$SMALL,\"seed\":$((round + 10))}" >/dev/null
  sleep "0.$((RANDOM % 10))"
  stop_server KILL
  start_server "$S" --demo >/dev/null || { echo "FAIL round $round: restart"; failed=$((failed + 1)); break; }
  check "round $round: rows and files agree after SIGKILL" consistent
done
check "committed images survived every round" bash -c "for id in \$(jq -r '.[].id' '$tmp/committed.json'); do curl -s '$B/api/images/'\$id | grep -q '\"id\":'\$id || exit 1; done"
summary
