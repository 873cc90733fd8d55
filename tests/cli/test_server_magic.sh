#!/usr/bin/env bash
# POST /api/magic-prompt and GET /api/magic-prompt/status against a fake
# OpenAI-compatible server (tests/cli/fake_llm.mjs) on loopback.
set -u
cd "$(dirname "$0")/../.."
. tests/cli/lib.sh
. tests/cli/server_lib.sh
BIN=${I4_BIN:-build/ideogram4}
tmp=$(mktemp -d)
node tests/cli/fake_llm.mjs "$tmp/llm-requests.log" >"$tmp/llm.out" 2>&1 &
llm=$!
trap 'stop_server; kill $llm 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 1 100); do grep -q '^port ' "$tmp/llm.out" && break; sleep 0.1; done
llm_port=$(sed -n 's/^port //p' "$tmp/llm.out")
check "fake LLM server starts" test -n "$llm_port"

export IDEOGRAM4_MAGIC_PROMPT_BASE_URL="http://127.0.0.1:$llm_port/v1"
export IDEOGRAM4_MAGIC_PROMPT_MODEL=fake-model
export IDEOGRAM4_MAGIC_PROMPT_API_KEY=secret-key-123
export IDEOGRAM4_MAGIC_PROMPT_TIMEOUT=2
must_start "server starts" "$tmp/s"
# A real 1x1 PNG as a data URL.
PNG="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="

expect "status: configured and reachable" GET /api/magic-prompt/status "" 200 '"configured":true'
check "... without echoing the key" bash -c "! grep -q secret-key-123 '$tmp/body' && jq -e '.auth_configured==true and .model==\"fake-model\"' '$tmp/body' >/dev/null"
expect "magic prompt returns a caption" POST /api/magic-prompt '{"prompt":"a lighthouse at dusk","width":1024,"height":576}' 200 '"high_level_description":"A lighthouse on a cliff at dusk"'
check "... with the model name, bboxes dropped" bash -c "jq -e '.model==\"fake-model\" and (.caption.compositional_deconstruction.elements[0]|has(\"bbox\")|not)' '$tmp/body' >/dev/null"
check "... the request carried the key, the model and the aspect ratio" bash -c "tail -n 1 '$tmp/llm-requests.log' | jq -e '.model==\"fake-model\" and (tostring|test(\"16:9\"))' >/dev/null"
expect "magic prompt with a reference image" POST /api/magic-prompt "{\"prompt\":\"like this\",\"images_b64\":[\"$PNG\"]}" 200 '"caption"'
check "... the image went to the LLM as an image_url part" bash -c "tail -n 1 '$tmp/llm-requests.log' | grep -q 'data:image/png;base64,iVBOR'"
expect "image only (no text) is accepted" POST /api/magic-prompt "{\"images_b64\":[\"$PNG\"]}" 200 '"caption"'
expect "LLM HTTP error is a 502 with the reason" POST /api/magic-prompt '{"prompt":"MODE:http500"}' 502 '"kind":"http_error"'
expect "reply without JSON is a 502" POST /api/magic-prompt '{"prompt":"MODE:garbage"}' 502 '"kind":"bad_reply"'
expect "caption the verifier rejects is a 502 with warnings" POST /api/magic-prompt '{"prompt":"MODE:invalid"}' 502 '"warnings"'
expect "slow LLM times out (504)" POST /api/magic-prompt '{"prompt":"MODE:slow"}' 504 '"kind":"timeout"'
expect "bad: neither text nor image" POST /api/magic-prompt '{"prompt":""}' 422 '"error"'
expect "bad: prompt a number" POST /api/magic-prompt '{"prompt":5}' 422 'prompt'
expect "bad: images not a list" POST /api/magic-prompt '{"prompt":"x","images_b64":"abc"}' 422 'images_b64'
expect "bad: image not base64" POST /api/magic-prompt '{"prompt":"x","images_b64":["data:image/png;base64,@@@@"]}' 422 'base64'
expect "bad: too many images" POST /api/magic-prompt "{\"prompt\":\"x\",\"images_b64\":[\"$PNG\",\"$PNG\",\"$PNG\",\"$PNG\",\"$PNG\"]}" 422 '"error"'
expect "bad: width out of range" POST /api/magic-prompt '{"prompt":"x","width":5}' 422 'width'
expect "bad: GET on magic prompt" GET /api/magic-prompt "" 405 '"error"'
{ printf '{"prompt":"x","images_b64":["'; head -c 17000000 /dev/zero | tr '\0' 'A'; printf '"]}'; } > "$tmp/huge.json"
expect "bad: body over 16 MB is 417 (curl sends Expect: 100-continue)" POST /api/magic-prompt "@$tmp/huge.json" 417 'too large'
expect "health afterwards" GET /api/health "" 200 '"ok":true'
stop_server

# An LLM that is not there.
export IDEOGRAM4_MAGIC_PROMPT_BASE_URL="http://127.0.0.1:9/v1"
must_start "server with an unreachable LLM" "$tmp/s2"
expect "status: not configured, with the reason" GET /api/magic-prompt/status "" 200 '"configured":false'
check "... llm_error says why" bash -c "jq -e '.llm_reachable==false and (.llm_error|length)>0' '$tmp/body' >/dev/null"
expect "magic prompt: unreachable is a 502" POST /api/magic-prompt '{"prompt":"a cat"}' 502 '"kind":"unreachable"'
stop_server
export IDEOGRAM4_MAGIC_PROMPT_TIMEOUT=abc
must_start "server with a malformed magic-prompt setting still serves" "$tmp/s3"
expect "magic prompt: 503 naming the variable" POST /api/magic-prompt '{"prompt":"a cat"}' 503 'IDEOGRAM4_MAGIC_PROMPT_TIMEOUT'
summary
