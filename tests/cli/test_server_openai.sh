#!/usr/bin/env bash
# Batches on /api/generate (n), the queue's positions, and the OpenAI-
# compatible API (/v1/images/generations, /v1/models) driven by the official
# `openai` Python client from .venv-test, with the images it returns read by
# Pillow. The server runs the tiny demo model behind an API token.
set -u
cd "$(dirname "$0")/../.."
. tests/cli/lib.sh
. tests/cli/venv_lib.sh
BIN=${I4_BIN:-build/ideogram4}
. tests/cli/server_lib.sh
tmp=$(mktemp -d)
trap 'stop_server; rm -rf "$tmp"' EXIT
if ! need_venv; then echo "FAIL the Python test environment (.venv-test)"; echo "0 passed, 1 failed"; exit 1; fi
TOKEN=test-token-0123456789
export IDEOGRAM4_API_TOKEN=$TOKEN IDEOGRAM4_DEFAULT_PRESET=V4_TURBO_12
must_start "server starts with a token" "$tmp/s" --demo
AUTH=(-H "Authorization: Bearer $TOKEN")
areq() { req "$1" "$2" "${3-}" "${AUTH[@]}"; }
aexpect() { local got; got=$(areq "$2" "$3" "$4")
  if [[ "$got" == "$5 "* && "$got" == *"$6"* ]]; then echo "ok   $1"; passed=$((passed + 1));
  else echo "FAIL $1 (got: ${got:0:300})"; failed=$((failed + 1)); fi; }
curl -s -X POST "${AUTH[@]}" "$B/api/model/load" >/dev/null
for _ in $(seq 1 300); do curl -s "${AUTH[@]}" "$B/api/model/status" | grep -q '"state":"loaded"' && break; sleep 0.1; done
jqb() { jq -e "$@" >/dev/null; }
CAP='{"high_level_description":"a red fox","compositional_deconstruction":{"background":"snow","elements":[]}}'

# ---- batches on /api/generate
aexpect "n=3 is accepted" POST /api/generate "{\"caption\":$CAP,\"width\":128,\"height\":128,\"seed\":40,\"n\":3,\"format\":\"png\"}" 200 '"n":3'
tb=$(task_id)
aexpect "a second job waits behind it" POST /api/generate "{\"caption\":$CAP,\"width\":128,\"height\":128,\"seed\":1}" 200 '"queue_position":1'
tq=$(task_id)
aexpect "GET /api/queue lists jobs with their position" GET /api/queue "" 200 "\"id\":\"$tq\""
check "... the queued one at position 1, with n and size" jqb --arg id "$tq" '.jobs[] | select(.id == $id) | .position == 1 and .n == 1 and .width == 128 and .status == "queued"' "$tmp/body"
for _ in $(seq 1 600); do curl -s "${AUTH[@]}" "$B/api/status/$tb" > "$tmp/st.json"; jq -e '(.images | length) >= 1 or .state == "done"' "$tmp/st.json" >/dev/null && break; sleep 0.05; done
check "status shows the images made so far" jqb '(.images | length) >= 1 and .n == 3' "$tmp/st.json"
for _ in $(seq 1 900); do curl -s "${AUTH[@]}" "$B/api/status/$tb" > "$tmp/st.json"; grep -q '"state":"done"' "$tmp/st.json" && break; sleep 0.1; done
check "the batch ends done with 3 images, seeds 40..42" jqb '.status == "done" and ([.images[].seed] == [40,41,42]) and .image.id == .images[0].id and .progress == 100' "$tmp/st.json"
check "... 3 distinct history rows" bash -c "jq -e '[.images[].id] | unique | length == 3' '$tmp/st.json' >/dev/null"
id2=$(jq -r '.images[1].id' "$tmp/st.json")
aexpect "history row of image 2 has its own seed" GET "/api/images/$id2" "" 200 '"seed":41'
curl -s "${AUTH[@]}" -o "$tmp/b2.png" "$B/api/images/$id2/file"
check "the server's PNG carries its parameters (ideogram4 info)" bash -c "'$BIN' info '$tmp/b2.png' | jq -e '.seed == 41 and .batch.index == 2 and .batch.count == 3 and (.caption | fromjson | .high_level_description == \"a red fox\")' >/dev/null"
check "... and Pillow reads the parameters chunk" "$PY" -c "
from PIL import Image
t = Image.open('$tmp/b2.png').text
raise SystemExit(0 if 'Seed: 41, Size: 128x128' in t['parameters'] and '\"seed\":41' in t['ideogram4'] else 1)"
aexpect "bad: n=0" POST /api/generate "{\"caption\":$CAP,\"n\":0}" 422 'n: must be an integer from 1 to 8'
aexpect "bad: n=9" POST /api/generate "{\"caption\":$CAP,\"n\":9}" 422 'from 1 to 8'
aexpect "bad: n a string" POST /api/generate "{\"caption\":$CAP,\"n\":\"2\"}" 422 '"n: must be'
for _ in $(seq 1 600); do curl -s "${AUTH[@]}" "$B/api/status/$tq" | grep -q '"state":"done"' && break; sleep 0.1; done

# ---- the OpenAI API behind the same checks
expect "/v1/models needs the token (401, OpenAI error shape)" GET /v1/models "" 401 '"type":"authentication_error"'
check "... with code invalid_api_key" jqb '.error.code == "invalid_api_key" and (.error.message | length > 0) and has("error")' "$tmp/body"
aexpect "/v1/models lists ideogram-4" GET /v1/models "" 200 '"id":"ideogram-4"'
check "cross-origin POST to /v1 is refused" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $TOKEN' -H 'Origin: http://evil.example' -H 'Content-Type: application/json' --data '{\"prompt\":\"x\"}' $B/v1/images/generations)\" = 403 ]"
check "a text/plain POST to /v1 is refused (415)" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $TOKEN' -H 'Content-Type: text/plain' --data 'x' $B/v1/images/generations)\" = 415 ]"
aexpect "bad: no prompt" POST /v1/images/generations '{"n":1}' 400 '"param":"prompt"'
aexpect "bad: n=9" POST /v1/images/generations '{"prompt":"x","n":9}' 400 '"param":"n"'
aexpect "bad: size not WxH" POST /v1/images/generations '{"prompt":"x","size":"big"}' 400 '"code":"invalid_size"'
aexpect "bad: size over the limit" POST /v1/images/generations '{"prompt":"x","size":"4096x4096"}' 400 'between 128 and 2048'
aexpect "bad: size not a multiple of 16" POST /v1/images/generations '{"prompt":"x","size":"1000x1000"}' 400 'multiples of 16'
aexpect "bad: response_format" POST /v1/images/generations '{"prompt":"x","response_format":"gif"}' 400 '"param":"response_format"'
aexpect "bad: quality" POST /v1/images/generations '{"prompt":"x","quality":"ultra"}' 400 '"param":"quality"'
aexpect "bad: unknown field" POST /v1/images/generations '{"prompt":"x","colour":"red"}' 400 'Unrecognized request argument supplied: colour'
aexpect "bad: unknown model" POST /v1/images/generations '{"prompt":"x","model":"sdxl"}' 400 '"code":"model_not_found"'
aexpect "bad: lora not applied" POST /v1/images/generations '{"prompt":"x","lora":"style.safetensors"}' 400 '"code":"lora_not_applied"'
aexpect "bad: broken JSON caption" POST /v1/images/generations '{"prompt":"{\"high_level_description\": "}' 400 'not valid JSON'
aexpect "bad: body not JSON" POST /v1/images/generations '{"prompt":' 400 '"type":"invalid_request_error"'
aexpect "bad: GET on the POST route" GET /v1/images/generations "" 405 '"error":{'
aexpect "bad: unknown /v1 path" GET /v1/nothing "" 404 '"code":"unknown_url"'

cat > "$tmp/client.py" <<'PY'
import base64, io, json, sys, urllib.request
import openai
from PIL import Image
base, token, binary, tmp = sys.argv[1:5]
client = openai.OpenAI(base_url=base + "/v1", api_key=token, max_retries=0, timeout=600)
out = {}
out["models"] = [m.id for m in client.models.list()]
r = client.images.generate(model="ideogram-4", prompt="a lighthouse at dusk", size="128x128", n=2,
                           response_format="b64_json", extra_body={"seed": 7, "preset": "V4_TURBO_12"})
imgs = []
for i, d in enumerate(r.data):
    raw = base64.b64decode(d.b64_json)
    im = Image.open(io.BytesIO(raw))
    meta = json.loads(im.text["ideogram4"])
    imgs.append({"format": im.format, "size": list(im.size), "seed": meta["seed"],
                 "hld": json.loads(meta["caption"])["high_level_description"], "revised": d.revised_prompt})
out["b64"] = imgs
caption = json.dumps({"high_level_description": "a blue door", "compositional_deconstruction": {"background": "wall", "elements": []}})
r = client.images.generate(prompt=caption, size="160x128", quality="low", response_format="url",
                           extra_body={"seed": 3, "output_format": "webp", "steps": 2})
req = urllib.request.Request(r.data[0].url, headers={"Authorization": "Bearer " + token})
raw = urllib.request.urlopen(req).read()
im = Image.open(io.BytesIO(raw))
xmp = im.info.get("xmp", b"")
out["url"] = {"url": r.data[0].url, "format": im.format, "size": list(im.size),
              "xmp_has_seed": b"&quot;seed&quot;:3" in (xmp if isinstance(xmp, bytes) else xmp.encode())}
try:
    client.images.generate(prompt="x", n=9)
    out["n9"] = "accepted"
except openai.BadRequestError as e:
    out["n9"] = {"status": e.status_code, "param": e.body.get("param") if isinstance(e.body, dict) else None}
try:
    openai.OpenAI(base_url=base + "/v1", api_key="wrong", max_retries=0).models.list()
    out["bad_token"] = "accepted"
except openai.AuthenticationError as e:
    out["bad_token"] = e.status_code
print(json.dumps(out))
PY
"$PY" "$tmp/client.py" "$B" "$TOKEN" "$BIN" "$tmp" >"$tmp/client.json" 2>"$tmp/client.err"
check "openai client runs" bash -c "[ -s '$tmp/client.json' ] || { cat '$tmp/client.err' >&2; false; }"
check "client: models.list() has ideogram-4" jqb '.models == ["ideogram-4"]' "$tmp/client.json"
check "client: n=2 b64_json PNGs of 128x128, seeds 7 and 8, plain text wrapped into a caption" jqb '(.b64 | length) == 2 and ([.b64[].seed] == [7,8]) and all(.b64[]; .format == "PNG" and .size == [128,128] and .hld == "a lighthouse at dusk" and (.revised | fromjson | .high_level_description == "a lighthouse at dusk"))' "$tmp/client.json"
check "client: JSON caption, response_format url, webp with XMP" jqb '.url.format == "WEBP" and .url.size == [160,128] and .url.xmp_has_seed and (.url.url | startswith("http://127.0.0.1:"))' "$tmp/client.json"
check "client: n=9 raises BadRequestError on param n" jqb '.n9.status == 400 and .n9.param == "n"' "$tmp/client.json"
check "client: a wrong key raises AuthenticationError" jqb '.bad_token == 401' "$tmp/client.json"
aexpect "OpenAI images are in the history like any other" GET "/api/images?limit=50" "" 200 '"a lighthouse at dusk"'
summary
