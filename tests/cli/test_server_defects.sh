#!/usr/bin/env bash
# Regression tests for the defects an attack on `ideogram4 serve` found
# (issue 10), one block per defect, named by its D-number. Each check failed
# before its fix. The memory-safety ones run against the ASan/UBSan build
# when it exists (build-asan/ideogram4, made by `make asan`), so a
# use-after-free kills the server and the checks see it; the memory-growth
# ones (D4) against the optimised build, whose RSS means something.
# D3: deadlines here; 1,100 slow connections in test_server_slowloris.sh.
set -u
cd "$(dirname "$0")/../.."
. tests/cli/lib.sh
. tests/cli/server_lib.sh
OPT_BIN=${I4_BIN:-build/ideogram4}
case "$OPT_BIN" in /*) ;; *) OPT_BIN="$PWD/$OPT_BIN" ;; esac
ASAN_BIN=${I4_ASAN_BIN:-$PWD/build-asan/ideogram4}
[ -x "$ASAN_BIN" ] || ASAN_BIN=$OPT_BIN
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
tmp=$(mktemp -d)
llm=
trap 'stop_server; [ -n "$llm" ] && kill $llm 2>/dev/null; rm -rf "$tmp"' EXIT
echo "(memory-safety checks run on $ASAN_BIN)"

CAP='{"high_level_description":"a red fox","compositional_deconstruction":{"background":"snow","elements":[{"type":"obj","desc":"a fox"}]}}'
alive() { kill -0 "$pid" 2>/dev/null && curl -s --max-time 5 "$B/api/health" | grep -q '"ok":true'; }
code() { curl -s --path-as-is -o "$tmp/body" -w '%{http_code}' "$@"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }

# ------------------------------------------------------------------ D1
BIN=$ASAN_BIN
must_start "D1 server (queue 1000, ASan build)" "$tmp/d1" --demo --load --queue 1000
for _ in $(seq 1 300); do curl -s "$B/api/model/status" | grep -q '"state":"loaded"' && break; sleep 0.1; done
expect "D1 a long job keeps the worker busy" POST /api/generate "{\"caption\":$CAP,\"width\":512,\"height\":512,\"preset\":\"V4_QUALITY_48\"}" 200 task_id
long=$(task_id)
ids=()
for i in $(seq 1 300); do
  req POST /api/generate "{\"caption\":$CAP,\"width\":128,\"height\":128,\"preset\":\"V4_TURBO_12\"}" >/dev/null
  ids+=("$(task_id)")
done
check "D1 300 small jobs queued behind it (more than the old 256-slot table)" test "${#ids[@]}" -eq 300 -a -n "${ids[299]}"
expect "D1 cancel the first queued job" POST "/api/tasks/${ids[0]}/cancel" "" 200 '"ok":true'
expect "D1 it is cancelled at once" GET "/api/status/${ids[0]}" "" 200 '"status":"cancelled"'
check "D1 ... and gone from the queue" bash -c "curl -s '$B/api/queue' | jq -e '.queued | index(\"${ids[0]}\") == null' >/dev/null"
expect "D1 one more job after the cancel" POST /api/generate "{\"caption\":$CAP,\"width\":128,\"height\":128,\"preset\":\"V4_TURBO_12\"}" 200 task_id
expect "D1 GET /api/queue still answers" GET /api/queue "" 200 '"queued"'
for id in "${ids[@]:1:20}"; do curl -s -XPOST "$B/api/tasks/$id/cancel" >/dev/null; done
expect "D1 cancel the running job" POST "/api/tasks/$long/cancel" "" 200 '"ok":true'
check "D1 the worker goes on with the queue (a small job finishes)" bash -c "for _ in \$(seq 1 600); do curl -s '$B/api/status/${ids[21]}' | grep -q '\"status\":\"done\"' && exit 0; sleep 0.1; done; exit 1"
check "D1 server alive (no use-after-free)" alive
stop_server

echo "(D1 done after ${SECONDS}s)"
# ------------------------------------------------------------------ D2, D10, D5, D9, D12, D6, D8, D11
mkdir -p "$tmp/m/loras" "$tmp/m/out"
must_start "server for D2-D12 (ASan build)" "$tmp/m" --demo --load
for _ in $(seq 1 300); do curl -s "$B/api/model/status" | grep -q '"state":"loaded"' && break; sleep 0.1; done

# D2: a description whose 512-byte cut would land inside "é".
HLD="$(printf 'a%.0s' $(seq 1 510))é and more"
expect "D2 generate with a long multibyte description" POST /api/generate "{\"caption\":{\"high_level_description\":\"$HLD\"},\"width\":128,\"height\":128,\"preset\":\"V4_TURBO_12\"}" 200 task_id
final=$(poll_done "$(task_id)")
check "D2 ... it finishes" grep -q '"status":"done"' <<<"$final"
expect "D2 GET /api/images answers 200" GET /api/images "" 200 '"hld"'
check "D2 ... with the whole description, é included" bash -c "jq -e '.[0].hld == \"$HLD\"' '$tmp/body' >/dev/null"
img=$(jq -r '.[0].id' "$tmp/body")
expect "D2 GET /api/images/{id}" GET "/api/images/$img" "" 200 '"hld"'
check "D2 GET /api/images/{id}/file" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$B/api/images/$img/file')\" = 200 ]"

# D10: delete the prompt while its image is generating.
expect "D10 save a prompt" POST /api/prompts '{"form_json":"{}","hld":"p"}' 200 '"id"'
prompt=$(jbody .id)
expect "D10 a generation for it" POST /api/generate "{\"caption\":$CAP,\"width\":256,\"height\":256,\"preset\":\"V4_DEFAULT_20\",\"prompt_id\":$prompt}" 200 task_id
gen=$(task_id)
for _ in $(seq 1 300); do curl -s "$B/api/status/$gen" | grep -q '"phase":"sampling"' && break; sleep 0.05; done
expect "D10 delete the prompt mid-generation" DELETE "/api/prompts/$prompt" "" 200 '"ok":true'
final=$(poll_done "$gen")
check "D10 the image is kept without the deleted prompt" bash -c "jq -e '.status==\"done\" and .image.prompt_id==null and .prompt_id==null' <<<'$final' >/dev/null"
check "D10 no image row points at the deleted prompt" bash -c "curl -s '$B/api/images?prompt_id=$prompt' | jq -e 'length==0' >/dev/null"

# D5: CSRF and DNS rebinding.
check "D5 a foreign Origin cannot overwrite the form (403)" bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -H 'Origin: http://evil.example' -H 'Content-Type: application/json' -XPOST '$B/api/form' -d '{\"form_json\":\"{\\\\\"pwned\\\\\":1}\"}') = 403 ]"
check "D5 text/plain bodies are refused (415)" bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: text/plain' -XPOST '$B/api/form' -d '{\"form_json\":\"{}\"}') = 415 ]"
check "D5 a form-encoded POST without Origin is refused too (415)" bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -XPOST '$B/api/model/unload' -d 'x=1') = 415 ]"
check "D5 ... the form was not overwritten" bash -c "! curl -s '$B/api/form' | grep -q pwned"
check "D5 a foreign Origin cannot unload the model (403)" bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -H 'Origin: http://evil.example' -XPOST '$B/api/model/unload') = 403 ]"
check "D5 a rebinding Host is refused (421)" bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: attacker.example:8000' '$B/api/images') = 421 ]"
check "D5 localhost, 127.0.0.1 and [::1] with any port are fine" bash -c "for h in localhost:1 127.0.0.1:$port '[::1]:8000' localhost; do [ \$(curl -s -o /dev/null -w '%{http_code}' -H \"Host: \$h\" '$B/api/health') = 200 ] || exit 1; done"
check "D5 the server's own page may POST (same Origin)" bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -H 'Origin: http://127.0.0.1:$port' -H 'Content-Type: application/json' -XPOST '$B/api/form' -d '{\"form_json\":\"{}\"}') = 200 ]"
check "D5 the dev server's origin (CORS list) may POST" bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -H 'Origin: http://localhost:5173' -H 'Content-Type: application/json; charset=utf-8' -XPOST '$B/api/form' -d '{\"form_json\":\"{}\"}') = 200 ]"
check "D5 a foreign Origin may still GET (CORS keeps the reply from it)" bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -H 'Origin: http://evil.example' '$B/api/health') = 200 ]"

# D9: %00 in the path.
expect "D9 save a prompt to aim at" POST /api/prompts '{"form_json":"{}","hld":"keep me"}' 200 '"id"'
keep=$(jbody .id)
check "D9 DELETE /api/prompts/N%00/anything is 400" bash -c "[ \$(curl -s --path-as-is -o /dev/null -w '%{http_code}' -XDELETE '$B/api/prompts/$keep%00/anything') = 400 ]"
expect "D9 ... and the prompt is still there" GET "/api/prompts/$keep" "" 200 'keep me'
check "D9 POST /api/generate%00x is 400 and starts nothing" bash -c "[ \$(curl -s --path-as-is -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -XPOST '$B/api/generate%00x' -d '{\"caption\":$CAP}') = 400 ]"
f=$(ls "$tmp/m/out" | head -n 1)
check "D9 /outputs/<file>%00/../../etc/passwd is 400" bash -c "[ \$(curl -s --path-as-is -o /dev/null -w '%{http_code}' '$B/outputs/$f%00/../../etc/passwd') = 400 ]"
check "D9 a %00 in the query is 400 too" bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' '$B/api/prompts?search=a%00b') = 400 ]"

# D12: CR LF in the URL cannot forge log lines.
curl -s --path-as-is -o /dev/null "$B/api/x%0d%0a2026-01-01T00:00:00.000Z%20INFO%20%20http%20FORGED"
sleep 0.2
check "D12 no forged line in the log" bash -c "! grep -h '^2026-01-01T00:00:00.000Z' '$tmp/m/logs'/*.log"
check "D12 the request is logged on one line, escaped" bash -c "grep -h 'FORGED' '$tmp/m/logs'/*.log | grep -q '\\\\r\\\\n' || grep -h 'FORGED' '$tmp/m/logs'/*.log | grep -q '\\\\x7f\\|400'"

# D6: a LoRA file name that is not UTF-8.
cp tests/vectors/lora/peft.safetensors "$tmp/m/loras/good.safetensors"
cp tests/vectors/lora/peft.safetensors "$tmp/m/loras/$(printf 'bad\xff\xfe').safetensors"
expect "D6 GET /api/lora/status answers with a non-UTF-8 file name present" GET /api/lora/status "" 200 '"good.safetensors"'
check "D6 ... the bad name is listed as invalid, escaped" bash -c "jq -r '.invalid[].name' '$tmp/body' | grep -qxF 'bad\\xff\\xfe.safetensors'"
check "D6 server alive" alive

# D8: multibyte text cut in error messages.
LONG_NAME="$(printf 'a%.0s' $(seq 1 670))$(printf 'é%.0s' $(seq 1 40)).safetensors"
check "D8 a long multibyte LoRA name is a 404, not a 500" bash -c "[ \$(curl -s -o '$tmp/d8' -w '%{http_code}' -H 'Content-Type: application/json' -XPOST '$B/api/lora/apply' -d '{\"name\":\"$LONG_NAME\"}') = 404 ] && jq -e .error '$tmp/d8' >/dev/null"
check "D8 a multibyte MIME cut at 64 bytes is a 422 (magic prompt)" bash -c "code=\$(IDEOGRAM4_X=1 curl -s -o '$tmp/d8m' -w '%{http_code}' -H 'Content-Type: application/json' -XPOST '$B/api/magic-prompt' -d '{\"prompt\":\"x\",\"images_b64\":[\"data:$(printf 'a%.0s' $(seq 1 63))é;base64,iVBORw0KGgo=\"]}'); [ \"\$code\" = 422 ] || [ \"\$code\" = 503 ]"

# D11: symlinks out of the output and LoRA folders.
echo 'root:x:0:0:secret' > "$tmp/secret.txt"
ln -s "$tmp/secret.txt" "$tmp/m/out/0123456789abcdef0123456789abcdef.png"
check "D11 an output symlink is not served" bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' '$B/outputs/0123456789abcdef0123456789abcdef.png') = 404 ]"
ln -s "$tmp/secret.txt" "$tmp/m/loras/leak.safetensors"
expect "D11 LoRA status with a symlink out of the folder" GET /api/lora/status "" 200 '"leak.safetensors"'
# (the status names the configured LoRA folder in "dir" on purpose — the web
# UI shows it; nothing else may carry a path or the symlink target's content)
check "D11 ... listed as invalid without contents or absolute paths" bash -c "jq -e '.invalid[] | select(.name==\"leak.safetensors\") | .error | test(\"leads out\")' '$tmp/body' >/dev/null && ! jq -c 'del(.dir)' '$tmp/body' | grep -q 'root:x\|$tmp'"
expect "D11 applying it is refused" POST /api/lora/apply '{"name":"leak.safetensors"}' 404 'not found'
check "D11 ... without contents or paths" bash -c "! grep -q 'root:x\|$tmp' '$tmp/body'"
head -c 100 tests/vectors/lora/peft.safetensors > "$tmp/m/loras/broken.safetensors"
expect "D11 a broken LoRA's error names it by bare name" GET /api/lora/status "" 200 '"broken.safetensors"'
check "D11 ... no absolute path in any error" bash -c "! jq -r '.invalid[].error' '$tmp/body' | grep -q '/'"
check "server alive after D2-D12 (ASan)" alive
stop_server

echo "(D2-D12 done after ${SECONDS}s)"
# ------------------------------------------------------------------ D3 deadlines
# (1,100 slow connections: test_server_slowloris.sh.) A byte every 0.3 s no
# longer keeps a connection: headers and body each have a deadline.
BIN=$OPT_BIN
IDEOGRAM4_HEADER_TIMEOUT=2 IDEOGRAM4_BODY_TIMEOUT=3 must_start "D3 server with 2 s header / 3 s body deadlines" "$tmp/d3" --demo
trickle() { # MODE -> seconds until the server closed the connection (or "open")
  node -e '
    const net = require("net");
    const [port, mode] = process.argv.slice(1);
    const t0 = Date.now();
    const c = net.connect(+port, "127.0.0.1", () => {
      c.write(mode === "body" ? "POST /api/verify HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{" : "GET /api/health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ");
      const iv = setInterval(() => c.write("a"), 300);
      const done = (what) => { clearInterval(iv); console.log(what); process.exit(0); };
      c.on("close", () => done(((Date.now() - t0) / 1000).toFixed(1)));
      c.on("error", () => {});
      setTimeout(() => done("open"), 10000);
    });' "$port" "$1"
}
h=$(trickle headers)
check "D3 trickled headers are cut at the header deadline (closed after ${h}s)" bash -c "[ '$h' != open ] && awk 'BEGIN{exit !($h >= 1.5 && $h < 5)}'"
b=$(trickle body)
check "D3 a trickled body is cut at the body deadline (closed after ${b}s)" bash -c "[ '$b' != open ] && awk 'BEGIN{exit !($b >= 2.5 && $b < 6)}'"
check "D3 server alive" alive
stop_server

# ------------------------------------------------------------------ D4 (optimised build: RSS)
BIN=$OPT_BIN
node tests/cli/fake_llm.mjs "$tmp/llm-requests.jsonl" >"$tmp/llm.out" 2>&1 &
llm=$!
for _ in $(seq 1 100); do grep -q '^port ' "$tmp/llm.out" && break; sleep 0.1; done
export IDEOGRAM4_MAGIC_PROMPT_BASE_URL="http://127.0.0.1:$(sed -n 's/^port //p' "$tmp/llm.out")/v1"
export IDEOGRAM4_MAGIC_PROMPT_TIMEOUT=60
export IDEOGRAM4_API_TOKEN=d4-token-0123456789abcdef
must_start "D4 server on a token bind (0.0.0.0)" "$tmp/d4" --demo --host 0.0.0.0
head -c $((16 * 1024 * 1024 - 100)) /dev/zero | tr '\0' 'a' > "$tmp/16m.txt"
base=$(rss_kb)
codes=$(for i in $(seq 1 40); do curl -s -o /dev/null -w '%{http_code}\n' --max-time 20 -H 'Content-Type: application/json' --data-binary @"$tmp/16m.txt" "$B/api/magic-prompt" & done; wait)
check "D4 40 unauthenticated 16 MB bodies (Expect: 100-continue) are all 401" bash -c "[ \$(grep -c '^401$' <<<'$codes') -eq 40 ]"
# Without Expect the client pushes the body anyway: the server answers 401 on
# the headers and closes; curl may see the reply or the reset. Either way
# nothing is buffered.
codes=$(for i in $(seq 1 40); do curl -s -o /dev/null -w '%{http_code}\n' --max-time 20 -H 'Expect:' -H 'Content-Type: application/json' --data-binary @"$tmp/16m.txt" "$B/api/magic-prompt" & done; wait)
after=$(rss_kb)
check "D4 ... and 40 more pushed without Expect: 401 or reset, never 2xx/5xx" bash -c "! grep -qv '^401$\|^000$' <<<'$codes'"
check "D4 ... RSS grew less than 16 MB ($base -> $after kB)" test $((after - base)) -lt 16384
stop_server
unset IDEOGRAM4_API_TOKEN
must_start "D4 server for concurrent magic prompts (LLM that never answers)" "$tmp/d4b" --demo
IMG=$(head -c $((5 * 1024 * 1024)) /dev/zero | base64 -w0) # two 5 MB images: 13 MB of JSON
printf '{"prompt":"MODE:hang","images_b64":["data:image/png;base64,%s","data:image/png;base64,%s"]}' "$IMG" "$IMG" > "$tmp/15m.json"
base=$(rss_kb)
(
  for i in $(seq 1 12); do curl -s -o /dev/null -w '%{http_code}\n' --max-time 8 -H 'Expect:' -H 'Content-Type: application/json' --data-binary @"$tmp/15m.json" "$B/api/magic-prompt" >>"$tmp/d4codes" & done
  wait
) &
clients=$!
sleep 4
peak=$(rss_kb)
wait "$clients"
# At most 2 reach the LLM (its request log); the others are refused with 429
# on their headers — a client still pushing its body may see the connection
# reset (000) instead of the reply — and none gets a 2xx or 5xx.
check "D4 12 parallel 13 MB magic prompts: at most 2 admitted, the rest 429" bash -c "[ \$(cat '$tmp/llm-requests.jsonl' 2>/dev/null | wc -l) -le 2 ] && [ \$(grep -c '^429$' '$tmp/d4codes') -ge 1 ] && ! grep -qv '^429$\|^000$' '$tmp/d4codes'"
# Each admitted call holds its body and the copies made to validate and send
# the images (about 65 MB for 13 MB of JSON); before the cap 12 such calls held 1 GB.
check "D4 ... RSS stayed bounded while they hung ($base -> $peak kB, < 256 MB)" test $((peak - base)) -lt 262144
check "D4 server alive" alive
stop_server
summary
