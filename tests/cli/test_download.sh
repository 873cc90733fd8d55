#!/usr/bin/env bash
# `ideogram4 download`, POST /api/model/download and the LoRA preset routes
# against a fake Hugging Face Hub on loopback (tests/cli/fake_hub.mjs) serving
# the tiny model and small LoRA files.
set -u
cd "$(dirname "$0")/../.."
. tests/cli/lib.sh
. tests/cli/server_lib.sh
BIN=${I4_BIN:-build/ideogram4}
case "$BIN" in /*) ;; *) BIN="$PWD/$BIN" ;; esac
tmp=$(mktemp -d)
mnt=""
cleanup() {
  stop_server
  kill "$hub" 2>/dev/null
  [ -n "$mnt" ] && umount "$mnt" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

# The repositories the fake serves.
R=$tmp/repos
"$BIN" make-tiny-model "$R/ideogram-ai/ideogram-4-fp8" >/dev/null 2>&1
mkdir -p "$R/gated" "$R/RazzzHF/Realism_Engine_Ideogram_4" "$R/tsolful/zjourney-Ideogram-4-Fantasy-Realism-Refiner"
cp -r "$R/ideogram-ai/ideogram-4-fp8" "$R/gated/model"
cp tests/vectors/lora/peft.safetensors "$R/RazzzHF/Realism_Engine_Ideogram_4/Realism_Engine_Ideogram4_V1.safetensors"
# V2: a safetensors file that is no LoRA (the format check must refuse it)
cp "$R/ideogram-ai/ideogram-4-fp8/vae/diffusion_pytorch_model.safetensors" "$R/RazzzHF/Realism_Engine_Ideogram_4/Realism_Engine_Ideogram_V2.safetensors"
cp tests/vectors/lora/lokr.safetensors "$R/tsolful/zjourney-Ideogram-4-Fantasy-Realism-Refiner/zjourneyv1.safetensors"
cp tests/vectors/lora/kohya.safetensors "$R/tsolful/zjourney-Ideogram-4-Fantasy-Realism-Refiner/zjourneyv2.safetensors"

LOG=$tmp/hub.log
: >"$LOG"
: >"$tmp/hub.out"
node tests/cli/fake_hub.mjs "$R" "$LOG" >"$tmp/hub.out" 2>&1 &
hub=$!
for _ in $(seq 1 100); do grep -q '^port ' "$tmp/hub.out" && break; sleep 0.1; done
hub_port=$(sed -n 's/^port //p' "$tmp/hub.out")
check "fake hub starts" test -n "$hub_port"
H="http://127.0.0.1:$hub_port"

unset HF_TOKEN HF_TOKEN_PATH HUGGING_FACE_HUB_TOKEN IDEOGRAM4_MODEL_REPO IDEOGRAM4_MODEL_REVISION
export HF_ENDPOINT=$H HF_HOME=$tmp/hfhome
mkdir -p "$HF_HOME"
dl() { # CACHE args... -> stdout in $tmp/dl.out, stderr in $tmp/dl.err, returns the exit status
  local cache=$1; shift
  HF_HUB_CACHE=$cache "$BIN" download "$@" >"$tmp/dl.out" 2>"$tmp/dl.err"
}
jqt() { jq -e "$@" >/dev/null; }
err_has() { grep -qF -- "$1" "$tmp/dl.err" || { echo "   stderr: $(head -c 600 "$tmp/dl.err")"; return 1; }; }
SRC=$R/ideogram-ai/ideogram-4-fp8
REPO_DIR=models--ideogram-ai--ideogram-4-fp8
VAE_SHA=$(sha256sum "$SRC/vae/diffusion_pytorch_model.safetensors" | cut -d' ' -f1)
VAE_SIZE=$(stat -c %s "$SRC/vae/diffusion_pytorch_model.safetensors")

# ---- a full download
C1=$tmp/c1
check "download succeeds" dl "$C1"
snap=$(cat "$tmp/dl.out")
check "... prints the snapshot folder" bash -c "[[ '$snap' =~ ^$C1/$REPO_DIR/snapshots/[0-9a-f]{40}\$ ]]"
check "... refs/main holds the commit" bash -c "[ \"\$(cat '$C1/$REPO_DIR/refs/main')\" = '$(basename "$snap")' ]"
check "... files are relative links into blobs/" bash -c "[ \"\$(readlink '$snap/vae/diffusion_pytorch_model.safetensors')\" = '../../../blobs/$VAE_SHA' ] && [[ \"\$(readlink '$snap/model_index.json')\" =~ ^\.\./\.\./blobs/[0-9a-f]{40}\$ ]]"
check "... every file has the served bytes" diff -r "$SRC" "$snap"
check "... no partial file is left" bash -c "! ls '$C1/$REPO_DIR/blobs' | grep -q incomplete"
check "... no token was sent (none configured)" bash -c "! grep -v 'auth=-' '$LOG' | grep -q ."
check "... the CDN redirect was followed (LFS files)" grep -q "GET /cdn/$VAE_SHA" "$LOG"
check "generate --repo finds the downloaded snapshot" env HF_HUB_CACHE="$C1" "$BIN" generate --repo ideogram-ai/ideogram-4-fp8 \
  --prompt-file examples/poster.json --resolution 32 --steps 2 --out "$tmp/g.png" >/dev/null 2>&1
n_before=$(grep -c 'GET /cdn/\|GET /ideogram-ai/ideogram-4-fp8/resolve' "$LOG")
check "a second download succeeds" dl "$C1"
check "... and fetches no file again" bash -c "[ \$(grep -c 'GET /cdn/\|GET /ideogram-ai/ideogram-4-fp8/resolve' '$LOG') = $n_before ]"
check "--include fetches only the matching files" bash -c "HF_HUB_CACHE='$tmp/c-inc' '$BIN' download --include '*.json' --include 'tokenizer/*' >/dev/null 2>&1 && s=\$(ls -d '$tmp/c-inc/$REPO_DIR/snapshots/'*) && [ -L \"\$s/transformer/config.json\" ] && [ -L \"\$s/tokenizer/tokenizer.json\" ] && ! [ -e \"\$s/vae/diffusion_pytorch_model.safetensors\" ]"

# ---- resume
curl -s -X POST "$H/_ctl/cut" >/dev/null
: >"$LOG"
check "a transfer cut midway is resumed in the same run" dl "$tmp/c2"
check "... with a Range request" grep -qE 'GET /cdn/[0-9a-f]{64} .*range=bytes=[1-9][0-9]*-' "$LOG"
check "... and the bytes are right" diff -r "$SRC" "$(cat "$tmp/dl.out")"
# an interrupted earlier run: half the VAE left as blobs/<sha>.incomplete
B=$C1/$REPO_DIR/blobs
rm "$B/$VAE_SHA"
head -c $((VAE_SIZE / 2)) "$SRC/vae/diffusion_pytorch_model.safetensors" >"$B/$VAE_SHA.incomplete"
: >"$LOG"
check "a download left incomplete by an earlier run resumes" dl "$C1"
check "... from where it stopped" grep -q "GET /cdn/$VAE_SHA .*range=bytes=$((VAE_SIZE / 2))-" "$LOG"
check "... and completes the blob" bash -c "[ \"\$(sha256sum '$B/$VAE_SHA' | cut -d' ' -f1)\" = '$VAE_SHA' ] && ! [ -e '$B/$VAE_SHA.incomplete' ]"

# ---- checksum mismatch
curl -s -X POST "$H/_ctl/corrupt" >/dev/null
check "a corrupted file fails the download" bash -c "! HF_HUB_CACHE='$tmp/c3' '$BIN' download >'$tmp/dl.out' 2>'$tmp/dl.err'"
check "... naming the checksum mismatch" err_has "checksum mismatch"
check "... and keeps no blob of it" bash -c "! ls '$tmp/c3/$REPO_DIR/blobs' | grep -qE '^[0-9a-f]{64}'"
curl -s -X POST "$H/_ctl/reset" >/dev/null

# ---- gated, tokens, not found
check "gated repository without a token fails" bash -c "! HF_HUB_CACHE='$tmp/c4' '$BIN' download --repo gated/model >'$tmp/dl.out' 2>'$tmp/dl.err'"
check "... saying where to accept the licence and how to log in" bash -c "grep -qF 'This repository is gated: accept the licence at $H/gated/model' '$tmp/dl.err' && grep -qF 'HF_TOKEN' '$tmp/dl.err' && grep -qF 'hf auth login' '$tmp/dl.err' && grep -qF 'no token was found' '$tmp/dl.err'"
check "gated repository with a refused token fails" bash -c "! HF_TOKEN=hf_wrong HF_HUB_CACHE='$tmp/c4' '$BIN' download --repo gated/model >/dev/null 2>'$tmp/dl.err'"
check "... saying the token was refused (HTTP 403)" bash -c "grep -qF 'HTTP 403' '$tmp/dl.err' && grep -qF 'a token was sent (from HF_TOKEN)' '$tmp/dl.err'"
printf 'hf_good_token\n' >"$HF_HOME/token"
: >"$LOG"
check "the token file of HF_HOME is used" dl "$tmp/c4" --repo gated/model
check "... sent as a Bearer token to the Hub" grep -q 'GET /api/models/gated/model/revision/main.*auth=Bearer hf_good_token' "$LOG"
check "... but not to the CDN the Hub redirects to" bash -c "grep -q 'GET /cdn/' '$LOG' && ! grep 'GET /cdn/' '$LOG' | grep -v 'auth=-' | grep -q ."
: >"$LOG"
check "HF_TOKEN wins over the token file" bash -c "! HF_TOKEN=hf_env_token HF_HUB_CACHE='$tmp/c5' '$BIN' download --repo gated/model >/dev/null 2>&1 && grep -q 'auth=Bearer hf_env_token' '$LOG'"
rm "$HF_HOME/token"
check "a repository that does not exist: not found" bash -c "! HF_HUB_CACHE='$tmp/c6' '$BIN' download --repo nobody/nothing >/dev/null 2>'$tmp/dl.err' && grep -qF 'repository nobody/nothing or revision' '$tmp/dl.err' && grep -qF 'HTTP 404' '$tmp/dl.err'"
check "a revision that does not exist: not found" bash -c "! HF_HUB_CACHE='$tmp/c6' '$BIN' download --revision nosuch >/dev/null 2>'$tmp/dl.err' && grep -qF \"revision 'nosuch' not found\" '$tmp/dl.err'"
check "an unreachable endpoint fails with the reason" bash -c "! HF_ENDPOINT=http://127.0.0.1:9 HF_HUB_CACHE='$tmp/c6' '$BIN' download >/dev/null 2>'$tmp/dl.err' && grep -qi 'connect' '$tmp/dl.err'"
check "an unsafe file name in the listing is refused" bash -c "! HF_HUB_CACHE='$tmp/c7' '$BIN' download --repo evil/model >/dev/null 2>'$tmp/dl.err' && grep -qF 'unsafe file name' '$tmp/dl.err' && ! [ -e '$tmp/escape.txt' ] && ! [ -e '$tmp/c7/escape.txt' ]"
check "--repo with '..' is a usage error" bash -c "! '$BIN' download --repo ../x >/dev/null 2>'$tmp/dl.err' && grep -qF 'ORG/NAME' '$tmp/dl.err'"
check "--revision with a slash is refused" bash -c "! '$BIN' download --revision a/b >/dev/null 2>'$tmp/dl.err' && grep -qF -- '--revision' '$tmp/dl.err'"

# ---- full disk: a 4 MiB tmpfs (needs root and mount permission; skipped otherwise)
mkdir -p "$tmp/small"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=4m tmpfs "$tmp/small" 2>/dev/null; then
  mnt=$tmp/small
  check "a disk too small: the download stops before the file that does not fit" bash -c "! HF_HUB_CACHE='$mnt/cache' '$BIN' download >/dev/null 2>'$tmp/dl.err'"
  check "... saying so plainly" bash -c "grep -qF 'not enough disk space for' '$tmp/dl.err' && grep -qF 'HF_HUB_CACHE' '$tmp/dl.err'"
  umount "$mnt" && mnt=""
else
  echo "skip full-disk checks: cannot mount a tmpfs here (not root, or no mount permission)"
fi

# ---- the server: POST /api/model/download, then load what it fetched
export HF_HUB_CACHE=$tmp/c-srv
export IDEOGRAM4_WARMUP_STEPS=0
must_start "server starts without a model" "$tmp/s"
expect "model status before: no download" GET /api/model/status "" 200 '"download":null'
expect "POST /api/model/download starts a download" POST /api/model/download "" 200 '"ok":true'
tid=$(task_id)
poll_dl() { # URL -> waits for state done, prints the body
  local body=""
  for _ in $(seq 1 600); do
    body=$(curl -s "$B$1")
    [[ "$body" == *'"state":"done"'* ]] && { echo "$body"; return 0; }
    sleep 0.1
  done
  echo "$body"; return 1
}
poll_dl "/api/model/download/$tid" >"$tmp/body"
check "... finishes with the snapshot folder" jqt '.status == "done" and .progress == 100 and (.snapshot | test("/snapshots/[0-9a-f]{40}$")) and .files_done == .files_total and .bytes_done == .bytes_total' "$tmp/body"
expect "model status shows the finished download" GET /api/model/status "" 200 '"status":"done"'
check "the downloaded model loads" wait_loaded
expect "an unknown download task is a 404" GET /api/model/download/0123abcd "" 404 'Task not found'
expect "GET on the download route is a 405" GET /api/model/download "" 405 '"error"'

# ---- LoRA presets
expect "GET /api/lora/presets lists the built-in presets" GET /api/lora/presets "" 200 '"realism-v1"'
check "... seven, each file with repo, revision and local name, none installed" jqt '(.presets | length) == 7 and ([.presets[] | select(.installed)] | length) == 0 and (.presets[0].loras[0] | .name == "Realism_Engine_V1.safetensors" and .filename == "Realism_Engine_Ideogram4_V1.safetensors" and .repo == "RazzzHF/Realism_Engine_Ideogram_4" and .revision != null and .strength == 0.6) and (.presets[] | select(.id == "zjourney-stack") | .loras | length) == 2' "$tmp/body"
expect "POST /api/lora/download without a preset id" POST /api/lora/download '{}' 200 'Missing LoRA preset id.'
expect "POST /api/lora/download with an unknown preset" POST /api/lora/download '{"preset_id":"nope"}' 404 'Unknown LoRA preset'
expect "POST /api/lora/download realism-v1" POST /api/lora/download '{"preset_id":"realism-v1"}' 200 '"task_id"'
poll_dl "/api/lora/download/$(task_id)" >"$tmp/body"
check "... completes, the file downloaded under its local name" jqt '.msg == "Download complete." and .error == null and .files == [{"name":"Realism_Engine_V1.safetensors","status":"downloaded"}]' "$tmp/body"
check "... with the served bytes" cmp "$tmp/s/loras/Realism_Engine_V1.safetensors" tests/vectors/lora/peft.safetensors
expect "presets: realism-v1 installed, with its format" GET /api/lora/presets "" 200 '"installed":true'
check "... format and size known" jqt '.presets[0].installed == true and .presets[0].loras[0].format != null and .presets[0].loras[0].size_mb != null' "$tmp/body"
# Pinned on first download: "main" resolved to the repository's commit (the
# fake Hub's is sha1("ORG/NAME")), the file fetched at that commit, the pin
# recorded in the LoRA folder and reported for every preset of that repo.
REALISM_COMMIT=$(printf '%s' RazzzHF/Realism_Engine_Ideogram_4 | sha1sum | cut -d' ' -f1)
check "... fetched at the commit main pointed at" grep -q "/RazzzHF/Realism_Engine_Ideogram_4/resolve/$REALISM_COMMIT/Realism_Engine_Ideogram4_V1.safetensors" "$LOG"
check "... the pin recorded in the LoRA folder" jqt --arg c "$REALISM_COMMIT" '.["RazzzHF/Realism_Engine_Ideogram_4@main"] == $c' "$tmp/s/loras/.ideogram4-lora-pins.json"
check "... presets of that repository report the pinned commit, the others main" jqt --arg c "$REALISM_COMMIT" '([.presets[] | select(.id | startswith("realism")) | .loras[0] | .revision == $c and .pinned] | all) and ([.presets[] | select(.id | startswith("zjourney")) | .loras[] | .revision == "main" and (.pinned | not)] | all)' "$tmp/body"
expect "LoRA status lists the downloaded file" GET /api/lora/status "" 200 '"Realism_Engine_V1.safetensors"'
expect "the same preset again" POST /api/lora/download '{"preset_id":"realism-v1"}' 200 '"task_id"'
poll_dl "/api/lora/download/$(task_id)" >"$tmp/body"
check "... reports it already installed" jqt '.files == [{"name":"Realism_Engine_V1.safetensors","status":"already_installed"}]' "$tmp/body"
expect "a preset whose file is no LoRA" POST /api/lora/download '{"preset_id":"realism-v2"}' 200 '"task_id"'
poll_dl "/api/lora/download/$(task_id)" >"$tmp/body"
check "... fails the format check" jqt '.state == "done" and (.error | test("not a usable LoRA")) and (.msg | startswith("Error: "))' "$tmp/body"
check "... without leaking the folder's path" bash -c "! grep -qF '$tmp' '$tmp/body'"
check "... and nothing of it is left in the LoRA folder" bash -c "[ \"\$(ls -A '$tmp/s/loras' | grep -vx '.ideogram4-lora-pins.json')\" = 'Realism_Engine_V1.safetensors' ]"
check "... it was fetched at the pinned commit, not at main" bash -c "grep -q '/RazzzHF/Realism_Engine_Ideogram_4/resolve/$REALISM_COMMIT/Realism_Engine_Ideogram_V2.safetensors' '$LOG' && ! grep -q '/RazzzHF/Realism_Engine_Ideogram_4/resolve/main/' '$LOG'"
expect "the zjourney stack preset" POST /api/lora/download '{"preset_id":"zjourney-stack"}' 200 '"task_id"'
poll_dl "/api/lora/download/$(task_id)" >"$tmp/body"
check "... downloads both files" jqt '.msg == "Download complete." and ([.files[].status] == ["downloaded","downloaded"])' "$tmp/body"
# A damaged pins file (not JSON; a symlink out of the folder) counts as no pins.
cp "$tmp/s/loras/.ideogram4-lora-pins.json" "$tmp/pins.bak"
printf '[1, 2' >"$tmp/s/loras/.ideogram4-lora-pins.json"
expect "presets with a damaged pins file" GET /api/lora/presets "" 200 '"realism-v1"'
check "... report no pin" jqt '[.presets[].loras[] | .revision == "main" and (.pinned | not)] | all' "$tmp/body"
ln -sf "$tmp/pins.bak" "$tmp/s/loras/.ideogram4-lora-pins.json"
expect "presets with the pins file a symlink" GET /api/lora/presets "" 200 '"realism-v1"'
check "... ignore it" jqt '[.presets[].loras[] | .pinned | not] | all' "$tmp/body"
rm -f "$tmp/s/loras/.ideogram4-lora-pins.json"
expect "a downloaded preset LoRA applies" POST /api/lora/apply '{"name":"Realism_Engine_V1.safetensors","strength":0.6}' 200 '"task_id"'
poll_lora "$(task_id)" >"$tmp/body"
check "... and the merge succeeds" jqt '.result.ok == true' "$tmp/body"

# ---- a slow download: generation goes on meanwhile; cancel; stop while downloading
rm -f "$HF_HUB_CACHE/$REPO_DIR/blobs/$VAE_SHA"   # the loaded VAE stays mapped
curl -s -X POST "$H/_ctl/slow" >/dev/null
expect "a second model download starts" POST /api/model/download "" 200 '"Download started."'
tid=$(task_id)
CAP='{"high_level_description":"a red square"}'
expect "a generation while the download runs" POST /api/generate "{\"caption\":$CAP,\"width\":128,\"height\":128,\"preset\":\"V4_TURBO_12\"}" 200 task_id
poll_done "$(task_id)" >"$tmp/body"
check "... finishes while the download still runs (not queued behind it)" bash -c "jq -e '.status == \"done\"' '$tmp/body' >/dev/null && curl -s '$B/api/model/download/$tid' | jq -e '.state == \"running\" and .bytes_done < .bytes_total' >/dev/null"
expect "a second POST joins the running download" POST /api/model/download "" 200 "\"task_id\":\"$tid\""
expect "cancel the download" POST "/api/model/download/$tid/cancel" "" 200 '"ok":true'
poll_dl "/api/model/download/$tid" >"$tmp/body"
check "... it ends cancelled" jqt '.status == "cancelled" and (.msg | startswith("Cancelled"))' "$tmp/body"
check "... keeping the partial file to resume" bash -c "ls '$HF_HUB_CACHE/$REPO_DIR/blobs/' | grep -q '\.incomplete$'"
expect "cancel a finished download: 409" POST "/api/model/download/$tid/cancel" "" 409 'already finished'
expect "another download starts" POST /api/model/download "" 200 '"Download started."'
t0=$(date +%s.%N)
stop_server
check "stopping the server during a download is prompt" bash -c "awk 'BEGIN{exit !($(date +%s.%N) - $t0 < 5)}'"
curl -s -X POST "$H/_ctl/reset" >/dev/null
must_start "the server starts again" "$tmp/s"
expect "an unknown LoRA download task" GET /api/lora/download/0123abcd "" 200 'Task not found.'
expect "health afterwards" GET /api/health "" 200 '"ok":true'
stop_server
summary
