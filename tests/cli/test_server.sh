#!/usr/bin/env bash
# Integration tests of `ideogram4 serve --demo`: the real server on a free
# loopback port, driven over HTTP with curl.
set -u
cd "$(dirname "$0")/../.."
. tests/cli/lib.sh
BIN=${I4_BIN:-build/ideogram4}
. tests/cli/server_lib.sh
tmp=$(mktemp -d)
trap 'stop_server; rm -rf "$tmp"' EXIT
unset IDEOGRAM4_MODEL_REPO IDEOGRAM4_MODEL_REVISION IDEOGRAM4_WARMUP_STEPS IDEOGRAM4_WARMUP_SIZE
must_start "server starts on a free loopback port" "$tmp/s" --demo

CAP='{"high_level_description":"a red fox","compositional_deconstruction":{"background":"snow","elements":[{"type":"obj","desc":"a fox"}]}}'

expect "health" GET /api/health "" 200 '"ok":true'
expect "config: size limits for clients" GET /api/config "" 200 '"min_size":128'
check "... with max_size, size_multiple, max_batch and the LoRA folder" bash -c "jq -e '.max_size == 2048 and .size_multiple == 16 and .max_batch == 8 and (.lora_dir | type == \"string\")' '$tmp/body' >/dev/null"
check "... and the weights repository (the default one, no revision)" bash -c "jq -e '.model_repo == \"ideogram-ai/ideogram-4-fp8\" and .model_revision == null' '$tmp/body' >/dev/null"
expect "bad: POST /api/config" POST /api/config "" 405 '"error"'
expect "lora status names its folder" GET /api/lora/status "" 200 '"dir":'
expect "model idle at start" GET /api/model/status "" 200 '"state":"idle"'
check "... with no step timing yet" bash -c "jq -e '.timing == null' '$tmp/body' >/dev/null"
expect "generate before load fails cleanly" POST /api/generate "{\"caption\":$CAP,\"width\":128,\"height\":128,\"preset\":\"V4_TURBO_12\"}" 200 task_id
t0=$(task_id)
check "... with 'Model not loaded.'" bash -c "curl -s '$B/api/status/$t0' | grep -q 'Model not loaded'"
expect "load" POST /api/model/load "" 200 '"ok":true'
for _ in $(seq 1 100); do curl -s "$B/api/model/status" | grep -q loaded && break; sleep 0.1; done
expect "model loaded" GET /api/model/status "" 200 '"state":"loaded"'
check "... still without step timing (the warm-up is not a measurement)" bash -c "jq -e '.timing == null' '$tmp/body' >/dev/null"
expect "generate" POST /api/generate "{\"caption\":$CAP,\"width\":128,\"height\":128,\"preset\":\"V4_TURBO_12\",\"format\":\"PNG\",\"seed\":7}" 200 task_id
t1=$(task_id)
final=$(poll_done "$t1")
check "task reaches done with progress 100 and an image" bash -c "grep -q '\"progress\":100' <<<'$final' && grep -q '/api/images/' <<<'$final'"
url=$(sed 's/.*"url":"\([^"]*\)".*/\1/' <<<"$final")
check "image file is served as PNG" bash -c "curl -s '$B$url' | head -c 4 | od -An -tx1 | grep -q '89 50 4e 47'"
check "image file exists in the output folder" bash -c "ls '$tmp/s/out'/*.png >/dev/null"
check "the step timing is now the generated image's (128x128)" bash -c "curl -s '$B/api/model/status' | jq -e '.timing.step_seconds > 0 and .timing.width == 128 and .timing.height == 128 and .timing.decode_seconds >= 0 and .timing.encode_seconds >= 0'"

# A long generation to test 409 and cancel.
expect "long generate starts" POST /api/generate "{\"caption\":$CAP,\"width\":512,\"height\":512,\"preset\":\"V4_QUALITY_48\"}" 200 task_id
t2=$(task_id)
expect "second concurrent generate waits in the queue (on by default)" POST /api/generate "{\"caption\":$CAP}" 200 '"queue_position":1'
expect "... and can be cancelled while queued" POST "/api/tasks/$(task_id)/cancel" "" 200 '"ok":true'
for _ in $(seq 1 100); do curl -s "$B/api/status/$t2" | grep -q '"progress":[1-9]' && break; sleep 0.1; done
check "progress is reported while running" bash -c "curl -s '$B/api/status/$t2' | grep -q '\"state\":\"running\"'"
expect "cancel" POST "/api/tasks/$t2/cancel" "" 200 '"ok":true'
final=$(poll_done "$t2")
check "cancelled task ends without an image" bash -c "grep -q 'Cancelled' <<<'$final' && grep -q '\"image\":null' <<<'$final'"
expect "generation slot is free again" POST /api/generate "{\"caption\":$CAP,\"width\":128,\"height\":128,\"preset\":\"V4_TURBO_12\"}" 200 task_id
poll_done "$(task_id)" >/dev/null

expect "verify valid caption" POST /api/verify "{\"caption\":$CAP}" 200 '"valid":true'
expect "verify reports issues" POST /api/verify '{"caption":{"x":1}}' 200 "unknown keys ['x']"
expect "unknown task" GET /api/status/0123456789abcdef0123456789abcdef "" 200 'Task not found.'
expect "cancel unknown task" POST /api/tasks/nope/cancel "" 404 'not found'

# Bad inputs: every one a 4xx with a JSON error, never a 500.
expect "bad: malformed JSON" POST /api/generate '{"caption": ' 422 '"error"'
expect "bad: body not an object" POST /api/generate '[1,2]' 422 '"error"'
expect "bad: empty body" POST /api/generate '' 422 '"error"'
expect "bad: caption a string" POST /api/generate '{"caption":"hi"}' 422 'caption'
expect "bad: caption missing" POST /api/generate '{"width":512}' 422 'caption'
expect "bad: width too small" POST /api/generate "{\"caption\":$CAP,\"width\":64,\"height\":128}" 422 'between 128 and 2048'
expect "bad: width huge" POST /api/generate "{\"caption\":$CAP,\"width\":99999999999,\"height\":128}" 422 'between 128 and 2048'
expect "bad: negative height" POST /api/generate "{\"caption\":$CAP,\"height\":-512}" 422 'between 128 and 2048'
expect "bad: not a multiple of 16" POST /api/generate "{\"caption\":$CAP,\"width\":1000}" 422 'multiple of 16'
expect "bad: width a string" POST /api/generate "{\"caption\":$CAP,\"width\":\"512\"}" 422 'integer'
expect "bad: width a float" POST /api/generate "{\"caption\":$CAP,\"width\":512.5}" 422 'integer'
expect "bad: unknown preset" POST /api/generate "{\"caption\":$CAP,\"preset\":\"FAST\"}" 422 'preset must be one of'
expect "bad: preset a number" POST /api/generate "{\"caption\":$CAP,\"preset\":3}" 422 'preset'
expect "bad: unknown format" POST /api/generate "{\"caption\":$CAP,\"format\":\"gif\"}" 422 'format'
expect "bad: negative seed" POST /api/generate "{\"caption\":$CAP,\"seed\":-1}" 422 'seed'
expect "bad: seed a string" POST /api/generate "{\"caption\":$CAP,\"seed\":\"abc\"}" 422 'seed'
expect "bad: prompt_id a string" POST /api/generate "{\"caption\":$CAP,\"prompt_id\":\"x\"}" 422 'prompt_id'
expect "bad: verify without caption" POST /api/verify '{}' 422 'caption'
expect "bad: verify caption a list" POST /api/verify '{"caption":[1]}' 422 'caption'
expect "bad: verify malformed" POST /api/verify '{{{' 422 '"error"'
head -c 1100000 /dev/zero | tr '\0' 'a' > "$tmp/big.txt"
expect "bad: oversized body with Expect: 100-continue is 417 (curl asks for big bodies)" POST /api/verify "@$tmp/big.txt" 417 'too large'
check "bad: oversized body without Expect is 413 before it is read" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Expect:' -H 'Content-Type: application/json' --data-binary @$tmp/big.txt $B/api/verify)\" = 413 ]"
expect "bad: GET on a POST route" GET /api/generate "" 405 '"error"'
expect "bad: POST on a GET route" POST /api/health "" 405 '"error"'
expect "bad: DELETE health" DELETE /api/health "" 405 '"error"'
expect "bad: unknown API path" GET /api/nothing "" 404 '"error"'
expect "bad: image id not a number" GET /api/images/abc/file "" 404 'not found'
expect "bad: unknown image id" GET /api/images/999999/file "" 404 'not found'
expect "bad: traversal in image id" GET "/api/images/..%2F..%2Fetc%2Fpasswd/file" "" 404 'not found'
expect "bad: traversal path" GET "/api/images/../../etc/passwd" "" 404 'not found'
expect "bad: huge image id" GET /api/images/99999999999999999999999/file "" 404 'not found'
expect "bad: dot segments in a task path" GET "/api/status/../../x" "" 404 'not found'
{ printf '{"caption":{"high_level_description":"'; head -c 300000 /dev/zero | tr '\0' 'b'; printf '"}}'; } > "$tmp/cap.json"
expect "bad: caption over 256 KB" POST /api/generate "@$tmp/cap.json" 422 '256 KB'
expect "bad: format a list" POST /api/generate "{\"caption\":$CAP,\"format\":[\"png\"]}" 422 'format'
expect "bad: prompt_id a float" POST /api/generate "{\"caption\":$CAP,\"prompt_id\":1.5}" 422 'prompt_id'
expect "bad: prompt_id negative" POST /api/generate "{\"caption\":$CAP,\"prompt_id\":-5}" 422 'prompt_id'
expect "bad: integer beyond 64 bits" POST /api/generate "{\"caption\":$CAP,\"seed\":123456789012345678901234567890}" 422 '"error"'
printf '{"caption":{"high_level_description":"\xff\xfe"}}' > "$tmp/latin1.json"
expect "bad: invalid UTF-8" POST /api/generate "@$tmp/latin1.json" 422 '"error"'
{ head -c 100000 /dev/zero | tr '\0' '['; } > "$tmp/deep.json"
expect "bad: nesting 100000 deep" POST /api/verify "@$tmp/deep.json" 422 '"error"'
expect "bad: duplicate keys" POST /api/generate "{\"caption\":$CAP,\"width\":128,\"width\":256}" 422 '"error"'
expect "bad: prompt without form_json" POST /api/prompts '{"hld":"x"}' 422 'form_json'
expect "bad: form_json not JSON" POST /api/prompts '{"form_json":"{oops"}' 422 'not valid JSON'
expect "bad: form_json a number" POST /api/prompts '{"form_json":5}' 422 'form_json'
expect "bad: hld a number" POST /api/prompts '{"hld":5,"form_json":"{}"}' 422 'hld'
{ printf '{"form_json":"{}","hld":"'; head -c 12001 /dev/zero | tr '\0' 'h'; printf '"}'; } > "$tmp/hld.json"
expect "bad: hld over 12000 characters" POST /api/prompts "@$tmp/hld.json" 422 '12000'
expect "bad: form without form_json" POST /api/form '{}' 422 'form_json'
expect "bad: form_json truncated" POST /api/form '{"form_json":"{\"a\":"}' 422 'not valid JSON'
expect "bad: images prompt_id not a number" GET "/api/images?prompt_id=abc" "" 422 'prompt_id'
expect "bad: images negative limit" GET "/api/images?limit=-1" "" 422 'limit'
expect "bad: images huge limit" GET "/api/images?limit=99999999999" "" 422 'limit'
expect "bad: prompts offset a word" GET "/api/prompts?offset=x" "" 422 'offset'
expect "bad: delete image id a word" DELETE /api/images/abc "" 404 'not found'
expect "bad: delete image id negative" DELETE /api/images/-1 "" 404 'not found'
expect "bad: prompt id zero" GET /api/prompts/0 "" 404 'not found'
expect "bad: prompt id in exponent form" GET /api/prompts/1e3 "" 404 'not found'
expect "bad: traversal in prompt id" GET "/api/prompts/..%2F1" "" 404 'not found'
expect "bad: LoRA name with traversal" POST /api/lora/apply '{"name":"../../etc/passwd"}' 422 'without a path'
expect "bad: LoRA name with a slash" POST /api/lora/apply '{"name":"sub/x.safetensors"}' 422 'without a path'
expect "bad: LoRA name a number" POST /api/lora/apply '{"name":7}' 422 'name'
expect "bad: LoRA strength a string" POST /api/lora/apply '{"name":"a.safetensors","strength":"x"}' 422 'strength'
expect "bad: LoRA strength huge" POST /api/lora/apply '{"name":"a.safetensors","strength":1e9}' 422 'strength'
expect "bad: LoRA stack not a list" POST /api/lora/apply '{"loras":"a.safetensors"}' 422 'loras'
expect "bad: LoRA stack item a string" POST /api/lora/apply '{"loras":["a.safetensors"]}' 422 'loras'
expect "bad: LoRA operation traversal" GET "/api/lora/operation/../../x" "" 404 'not found'
expect "bad: PUT on LoRA apply" PUT /api/lora/apply '{}' 405 '"error"'
expect "bad: PUT on images" PUT /api/images "" 405 '"error"'
expect "bad: PATCH a prompt" PATCH /api/prompts/1 "" 405 '"error"'
expect "bad: unknown task action" POST /api/tasks/abc/delete "" 404 'not found'
expect "bad: form with a 1.1 MB body" POST /api/form "@$tmp/big.txt" 417 'too large'
expect "health after bad inputs" GET /api/health "" 200 '"ok":true'
expect "unload" POST /api/model/unload "" 200 '"ok":true'
expect "idle after unload" GET /api/model/status "" 200 '"state":"idle"'
check "... status shows the RSS before and after the unload" bash -c "jq -e '.rss_before_unload_mb > 0 and .rss_after_unload_mb > 0 and .rss_after_unload_mb <= .rss_before_unload_mb' '$tmp/body' >/dev/null"
check "server still alive" kill -0 "$pid"
stop_server

# A model that cannot load ends in state "error" with the reason.
mkdir -p "$tmp/empty-model"
IDEOGRAM4_MODEL_REPO=acme/other-weights IDEOGRAM4_MODEL_REVISION=v2 must_start "server with a missing model" "$tmp/bad" --model "$tmp/empty-model"
expect "config names IDEOGRAM4_MODEL_REPO and its revision" GET /api/config "" 200 '"model_repo":"acme/other-weights"'
check "... revision v2" bash -c "jq -e '.model_revision == \"v2\"' '$tmp/body' >/dev/null"
expect "load starts" POST /api/model/load "" 200 '"ok":true'
for _ in $(seq 1 100); do curl -s "$B/api/model/status" | grep -q '"state":"error"' && break; sleep 0.1; done
expect "failed load is state error with the reason" GET /api/model/status "" 200 'empty-model'
check "... and says error" bash -c "jq -e '.state==\"error\" and (.msg|length)>10' '$tmp/body' >/dev/null"
expect "generate then fails with 'Model not loaded.'" POST /api/generate "{\"caption\":$CAP,\"width\":128,\"height\":128}" 200 task_id
check "... reported in the task" bash -c "curl -s '$B/api/status/$(task_id)' | grep -q 'Model not loaded' || { sleep 1; curl -s '$B/api/status/$(task_id)' | grep -q 'Model not loaded'; }"
summary
