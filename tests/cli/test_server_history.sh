#!/usr/bin/env bash
# Integration tests of the server's history (SQLite prompts, images, form),
# LoRA routes, persistence across restarts, .env, CORS, the API token, the
# web UI fallback, queue mode and log files. Real server, tiny model, curl.
set -u
cd "$(dirname "$0")/../.."
. tests/cli/lib.sh
. tests/cli/server_lib.sh
BIN=${I4_BIN:-build/ideogram4}
tmp=$(mktemp -d)
trap 'stop_server; rm -rf "$tmp"' EXIT
S="$tmp/s"
mkdir -p "$S/loras" "$tmp/ui/assets"
cp tests/vectors/lora/peft.safetensors "$S/loras/style.safetensors"
head -c 100 tests/vectors/lora/peft.safetensors > "$S/loras/broken.safetensors"
echo 'not a lora' > "$S/loras/readme.txt"
echo '<!doctype html><title>test ui</title>' > "$tmp/ui/index.html"
echo 'console.log(1)' > "$tmp/ui/assets/app.js"
printf '# test settings\nIDEOGRAM4_DEFAULT_FORMAT=png\nexport IDEOGRAM4_DEFAULT_PRESET="V4_TURBO_12"\n' > "$S/.env"

export IDEOGRAM4_WEBUI_DIR="$tmp/ui"
must_start "server starts (demo model, .env in its folder)" "$S" --demo
check "model loads" wait_loaded
CAP='{"high_level_description":"a red fox","compositional_deconstruction":{"background":"snow","elements":[{"type":"obj","desc":"a fox"}]}}'
gen() { # extra-json -> task id; waits for done, leaves the status body in $tmp/status
  req POST /api/generate "{\"caption\":$CAP,\"width\":128,\"height\":128$1}" >/dev/null
  local t; t=$(task_id)
  poll_done "$t" > "$tmp/status"
  echo "$t"
}
img_field() { jq -r ".image.$1" "$tmp/status"; }

# --- prompts and images
expect "save a prompt" POST /api/prompts '{"hld":"a red fox","form_json":"{\"hld\":\"a red fox\",\"extra\":[1,2]}"}' 200 '"id":'
P1=$(jbody .id)
gen ",\"prompt_id\":$P1,\"seed\":7" >/dev/null
I1=$(img_field id); F1=$(img_field file_path)
check ".env default format (png) and preset (TURBO_12) applied" bash -c "[[ '$F1' == *.png ]] && grep -q '\"preset\":\"V4_TURBO_12\"' '$tmp/status'"
check "image file written in the output folder" test -s "$S/out/$F1"
cp "$S/out/$F1" "$tmp/seed7_before_lora.png"
gen ",\"prompt_id\":$P1,\"seed\":8" >/dev/null
I2=$(img_field id); F2=$(img_field file_path)
gen ",\"seed\":9,\"format\":\"webp\"" >/dev/null
I3=$(img_field id); F3=$(img_field file_path)
expect "list images, newest first" GET /api/images "" 200 "\"id\":$I3"
check "... order is I3, I2, I1" bash -c "[ \"\$(jq -c '[.[].id]' '$tmp/body')\" = '[$I3,$I2,$I1]' ]"
check "... rows carry size, seed, preset, format, steps, timing" bash -c "jq -e '.[0] | .width==128 and .seed==9 and .preset==\"V4_TURBO_12\" and .format==\"webp\" and .steps==12 and .generation_seconds>0' '$tmp/body' >/dev/null"
expect "images of one prompt" GET "/api/images?prompt_id=$P1" "" 200 "\"prompt_id\":$P1"
check "... exactly its two images" bash -c "[ \"\$(jq -c '[.[].id]' '$tmp/body')\" = '[$I2,$I1]' ]"
expect "images with limit" GET "/api/images?limit=1" "" 200 "\"id\":$I3"
check "... one row" bash -c "[ \"\$(jq length '$tmp/body')\" = 1 ]"
expect "list prompts" GET /api/prompts "" 200 "\"id\":$P1"
check "... with image count and thumbnail" bash -c "jq -e '.[0].image_count==2 and (.[0].thumb_url|test(\"/api/images/$I2/file\"))' '$tmp/body' >/dev/null"
expect "search prompts (hit)" GET "/api/prompts?search=RED%20fox" "" 200 "\"id\":$P1"
expect "search prompts (miss)" GET "/api/prompts?search=zebra" "" 200 '[]'
expect "get one prompt" GET "/api/prompts/$P1" "" 200 '"form_json":"{\"hld\":\"a red fox\",\"extra\":[1,2]}"'
expect "image file by id" GET "/api/images/$I3/file" "" 200 'RIFF'
check "... served as image/webp" bash -c "curl -sI '$B/api/images/$I3/file' | grep -qi 'content-type: image/webp'"
expect "/outputs/<name> serves by bare name" GET "/outputs/$F1" "" 200 'PNG'
expect "delete one image" DELETE "/api/images/$I3" "" 200 '"ok":true'
check "... its file is gone" test ! -e "$S/out/$F3"
expect "... its row is gone" GET "/api/images/$I3" "" 404 'not found'
expect "... deleting it again is 404" DELETE "/api/images/$I3" "" 404 '"ok":false'

# --- form state
expect "form empty at first" GET /api/form "" 200 '"form_json":null'
expect "save form" POST /api/form '{"form_json":"{\"tab\":\"json\",\"w\":512}"}' 200 '"ok":true'
expect "load form" GET /api/form "" 200 '"form_json":"{\"tab\":\"json\",\"w\":512}"'
expect "save form again (upsert)" POST /api/form '{"form_json":"{\"tab\":\"form\"}"}' 200 '"ok":true'
expect "load form again" GET /api/form "" 200 '"form_json":"{\"tab\":\"form\"}"'

# --- LoRA
expect "LoRA status lists the folder" GET /api/lora/status "" 200 '"name":"style.safetensors"'
check "... unreadable file listed as invalid, other files ignored" bash -c "jq -e '(.invalid|length)==1 and .invalid[0].name==\"broken.safetensors\" and (.available|length)==1 and .applied==null' '$tmp/body' >/dev/null"
expect "apply LoRA" POST /api/lora/apply '{"name":"style.safetensors","strength":0.8}' 200 '"task_id"'
op=$(poll_lora "$(task_id)")
check "... operation ends ok with phase done" bash -c "jq -e '.phase==\"done\" and .progress==100 and .result.ok==true' <<<'$op' >/dev/null"
expect "... status shows it applied" GET /api/lora/status "" 200 '"applied":"style.safetensors"'
check "... with its strength" bash -c "jq -e '.strength==0.8 and .applied_loras[0].format==\"peft\"' '$tmp/body' >/dev/null"
gen ",\"prompt_id\":$P1,\"seed\":7" >/dev/null
IL=$(img_field id); FL=$(img_field file_path)
check "image under LoRA differs from the same seed without" bash -c "! cmp -s '$tmp/seed7_before_lora.png' '$S/out/$FL'"
expect "... and records the LoRA" GET "/api/images/$IL" "" 200 '"lora_name":"style.safetensors"'
expect "remove LoRA" POST /api/lora/remove "" 200 '"task_id"'
op=$(poll_lora "$(task_id)")
check "... ends ok" bash -c "jq -e '.result.ok==true and .result.msg==\"LoRA removed, original weights restored.\"' <<<'$op' >/dev/null"
gen ",\"prompt_id\":$P1,\"seed\":7" >/dev/null
FR=$(img_field file_path)
check "after removal the same seed gives the original bytes" cmp -s "$tmp/seed7_before_lora.png" "$S/out/$FR"
expect "removing again: 'No LoRA applied.'" POST /api/lora/remove "" 200 '"task_id"'
op=$(poll_lora "$(task_id)")
check "... reported in the operation" bash -c "jq -e '.result.ok==false and .error==\"No LoRA applied.\"' <<<'$op' >/dev/null"
expect "apply a stack" POST /api/lora/apply '{"loras":[{"name":"style.safetensors","strength":0.3},{"name":"style.safetensors","strength":0.2}]}' 200 '"task_id"'
op=$(poll_lora "$(task_id)")
check "... label joins the names" bash -c "jq -e '.result.ok==true and (.result.applied_loras|length)==2' <<<'$op' >/dev/null && curl -s '$B/api/lora/status' | grep -q 'style.safetensors + style.safetensors'"
expect "apply without a name" POST /api/lora/apply '{}' 200 'Missing LoRA name.'
expect "apply an unknown LoRA" POST /api/lora/apply '{"name":"nope.safetensors"}' 404 'LoRA not found'
expect "apply the invalid file" POST /api/lora/apply '{"name":"broken.safetensors"}' 404 'LoRA not found'
expect "unknown LoRA operation" GET /api/lora/operation/abc "" 200 'Task not found.'

# --- prompt deletion takes its images and files
expect "delete the prompt" DELETE "/api/prompts/$P1" "" 200 '"images_deleted":4'
check "... its image files are gone" bash -c "! ls '$S/out'/*.png '$S/out'/*.webp 2>/dev/null | grep -q ."
expect "... its images are gone" GET "/api/images?prompt_id=$P1" "" 200 '[]'
expect "... the prompt is gone" GET "/api/prompts/$P1" "" 404 'not found'
expect "... deleting again is 404" DELETE "/api/prompts/$P1" "" 404 'not found'

# --- CORS and the web UI
check "CORS: allowed origin echoed" bash -c "curl -s -D - -o /dev/null -H 'Origin: http://localhost:5173' '$B/api/health' | grep -qi 'access-control-allow-origin: http://localhost:5173'"
check "CORS: other origin gets no allow header" bash -c "! curl -s -D - -o /dev/null -H 'Origin: http://evil.example' '$B/api/health' | grep -qi 'access-control-allow-origin'"
check "CORS: preflight answered 204 with methods" bash -c "curl -s -D - -o /dev/null -X OPTIONS -H 'Origin: http://127.0.0.1:5173' -H 'Access-Control-Request-Method: POST' '$B/api/generate' | grep -qi 'access-control-allow-methods: GET, POST, DELETE'"
expect "web UI index at /" GET / "" 200 'test ui'
expect "client route falls back to index.html" GET /history/42 "" 200 'test ui'
expect "asset served" GET /assets/app.js "" 200 'console.log'
check "... as JavaScript" bash -c "curl -sI '$B/assets/app.js' | grep -qi 'content-type: text/javascript'"
expect "missing asset is 404" GET /assets/missing.js "" 404 'not found'
expect "dot segments never reach the file system" GET "/assets/../../../etc/passwd" "" 404 'not found'
check "log file records requests and model lifecycle" bash -c "grep -q 'GET /api/health -> 200' '$S'/logs/server-*.log && grep -q 'model loaded' '$S'/logs/server-*.log"
check "warm-up runs after load and after LoRA changes" bash -c "[ \$(grep -c 'warm-up 64x64, 2 steps: done' '$S'/logs/server-*.log) -ge 4 ]"

# --- persistence across a restart
stop_server
must_start "server restarts on the same folders" "$S" --demo
expect "form survives the restart" GET /api/form "" 200 '"form_json":"{\"tab\":\"form\"}"'
expect "image I2 is gone for good" GET "/api/images/$I2" "" 404 'not found'
expect "a prompt saved after restart gets a new id" POST /api/prompts '{"form_json":"{}"}' 200 '"id":'
P2=$(jbody .id)
check "... larger than the deleted one" test "$P2" -gt "$P1"
stop_server

# --- API token and bind rules
check "non-loopback bind without a token is refused" bash -c "IDEOGRAM4_LOG_DIR=none '$BIN' serve --host 0.0.0.0 --port 0 --output '$tmp/x' --db '$tmp/x/db' 2>&1 | grep -q IDEOGRAM4_API_TOKEN"
export IDEOGRAM4_API_TOKEN=test-token-0123456789abcdef
must_start "server with an API token" "$tmp/tok" --demo
expect "token: health stays open" GET /api/health "" 200 '"ok":true'
expect "token: API without it is 401" GET /api/model/status "" 401 'API token'
expect "token: wrong token is 401" GET /api/model/status "" 401 'API token' -H 'Authorization: Bearer nope'
got=$(req GET /api/model/status "" -H "Authorization: Bearer $IDEOGRAM4_API_TOKEN")
check "token: bearer token accepted" bash -c "[[ '$got' == 200* ]]"
check "token: the UI link sets an HttpOnly cookie that works" bash -c "curl -s -D - -o /dev/null '$B/?token=$IDEOGRAM4_API_TOKEN' | grep -qi 'set-cookie: ideogram4_token=.*HttpOnly' && curl -s -b 'ideogram4_token=$IDEOGRAM4_API_TOKEN' '$B/api/form' | grep -q form_json"
stop_server
unset IDEOGRAM4_API_TOKEN

# --- queue mode
must_start "server in queue mode (2 waiting jobs)" "$tmp/q" --demo --queue 2
check "model loads" wait_loaded
LONG="{\"caption\":$CAP,\"width\":512,\"height\":512,\"preset\":\"V4_QUALITY_48\"}"
expect "job 1 accepted" POST /api/generate "$LONG" 200 '"queue_position":0'
q1=$(task_id)
expect "job 2 queued" POST /api/generate "$LONG" 200 '"queue_position":1'
q2=$(task_id)
expect "job 3 queued" POST /api/generate "$LONG" 200 '"queue_position":2'
q3=$(task_id)
expect "job 4: queue full is 409" POST /api/generate "$LONG" 409 'queue is full'
expect "queued job reports its state" GET "/api/status/$q3" "" 200 '"status":"queued"'
expect "queue lists running and waiting jobs" GET /api/queue "" 200 "\"queued\":[\"$q2\",\"$q3\"]"
expect "cancel a queued job" POST "/api/tasks/$q2/cancel" "" 200 '"ok":true'
expect "... it is cancelled at once" GET "/api/status/$q2" "" 200 '"status":"cancelled"'
expect "cancel the running job" POST "/api/tasks/$q1/cancel" "" 200 '"ok":true'
check "... job 1 ends cancelled" bash -c "poll_done() { for _ in \$(seq 1 600); do b=\$(curl -s '$B/api/status/$q1'); [[ \$b == *cancelled* ]] && return 0; sleep 0.1; done; return 1; }; poll_done"
for _ in $(seq 1 100); do curl -s "$B/api/status/$q3" | grep -q '"status":"running"' && break; sleep 0.1; done
expect "... and job 3 starts" GET "/api/status/$q3" "" 200 '"status":"running"'
expect "cancel job 3" POST "/api/tasks/$q3/cancel" "" 200 '"ok":true'
final=$(poll_done "$q3")
expect "cancelling a finished job is 409" POST "/api/tasks/$q3/cancel" "" 409 'already finished'
summary
