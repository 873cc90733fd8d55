#!/usr/bin/env bash
# CLI integration tests of `ideogram4 generate` on the tiny model.
set -u
cd "$(dirname "$0")/../.."
. tests/cli/lib.sh
BIN=${I4_BIN:-build/ideogram4}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$BIN" make-tiny-model "$tmp/m" --seed 1 >/dev/null
gen() { "$BIN" generate --model "$tmp/m" --preset V4_TURBO_12 --resolution 64 "$@" >/dev/null 2>"$tmp/log"; }

gen --prompt-file examples/poster.json --seed 3 --out "$tmp/a.png"
gen --prompt-file examples/poster.json --seed 3 --out "$tmp/b.png"
gen --prompt-file examples/poster.json --seed 4 --out "$tmp/c.png"
check "writes a PNG" bash -c "head -c 8 '$tmp/a.png' | od -An -tx1 | grep -q '89 50 4e 47'"
check "same seed gives the same image" cmp -s "$tmp/a.png" "$tmp/b.png"
check "another seed gives another image" bash -c "! cmp -s '$tmp/a.png' '$tmp/c.png'"
check "sidecar has preset, steps, seed, timings" bash -c \
  "grep -q '\"preset\": \"V4_TURBO_12\"' '$tmp/a.json' && grep -q '\"steps\": 12' '$tmp/a.json' && grep -q '\"seed\": 3' '$tmp/a.json' && grep -q '\"sampling\"' '$tmp/a.json'"
IDEOGRAM4_LOG_DIR="$tmp/logs" gen --prompt-file examples/poster.json --seed 3 --out "$tmp/logged.png"
check "writes a run log ideogram4-<timestamp>.log with the phases" bash -c \
  "grep -q 'ideogram4 generate' '$tmp'/logs/ideogram4-*.log && grep -q 'done -> $tmp/logged.png | load' '$tmp'/logs/ideogram4-*.log"
check "no temporary files left" bash -c "! ls '$tmp'/*.tmp 2>/dev/null | grep -q ."

gen --prompt "a red fox" --seed 3 --save-latents "$tmp/lat.safetensors" --out "$tmp/d.png"
check "--save-latents writes the latents" test -s "$tmp/lat.safetensors"
# Re-inject the saved latents as noise with 1 step of guidance 0 and mu/std: just proves the path loads.
check "--noise accepts a [1,tokens,128] tensor" bash -c \
  "python3 - '$tmp/lat.safetensors' '$tmp/noise.safetensors' <<'PY'
import sys, json, struct
d = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', d[:8])[0]; h = json.loads(d[8:8+n])
h['noise'] = h.pop('latents'); h.pop('__metadata__', None)
t = json.dumps(h).encode(); t += b' ' * (-len(t) % 8)
open(sys.argv[2], 'wb').write(struct.pack('<Q', len(t)) + t + d[8+n:])
PY
'$BIN' generate --model '$tmp/m' --preset V4_TURBO_12 --resolution 64 --prompt x --noise '$tmp/noise.safetensors' --out '$tmp/e.png' >/dev/null 2>&1"
gen --prompt "a red fox" --format webp --out "$tmp/f.png"
check "--format replaces the extension" test -s "$tmp/f.webp"
gen --prompt "a red fox" --format jpeg --quality 80 --out "$tmp/g"
check "--format jpeg writes .jpg" test -s "$tmp/g.jpg"
check "plain text prompt warns" bash -c "'$BIN' generate --model '$tmp/m' --preset V4_TURBO_12 --resolution 64 --prompt 'plain words' --out '$tmp/h.png' 2>&1 | grep -q 'Not JSON'"
gen --prompt-file examples/poster.json --seed 3 --lora tests/vectors/lora/peft.safetensors --lora-strength 0.6 --out "$tmp/l.png"
check "--lora changes the image and is recorded" bash -c "! cmp -s '$tmp/a.png' '$tmp/l.png' && grep -q 'peft.safetensors' '$tmp/l.json'"

fails_with() { local want=$1; shift; local out; out=$("$@" 2>&1) && return 1; grep -qF -- "$want" <<<"$out" || { echo "  got: $out" >&2; return 1; }; }
check "size not a multiple of 16" fails_with "multiples of 16" "$BIN" generate --model "$tmp/m" --prompt x --width 100 --height 64 --out "$tmp/x.png"
check "width without height" fails_with "set together" "$BIN" generate --model "$tmp/m" --prompt x --width 64 --out "$tmp/x.png"
check "unknown preset" fails_with "unknown preset" "$BIN" generate --model "$tmp/m" --prompt x --preset FAST --out "$tmp/x.png"
check "missing --out" fails_with "--out is required" "$BIN" generate --model "$tmp/m" --prompt x
check "quality out of range" fails_with "--quality" "$BIN" generate --model "$tmp/m" --prompt x --quality 0 --out "$tmp/x.jpg"
check "bad noise shape" fails_with "noise" "$BIN" generate --model "$tmp/m" --prompt x --resolution 32 --noise "$tmp/noise.safetensors" --out "$tmp/x.png"
check "unknown LoRA key is named" fails_with "key 'latents'" "$BIN" generate --model "$tmp/m" --prompt x --resolution 32 --lora "$tmp/lat.safetensors" --out "$tmp/x.png"
check "missing model explains how to download" fails_with "hf download" env HF_HOME="$tmp/none" "$BIN" generate --prompt x --out "$tmp/x.png"
check "no image written on failure" bash -c "! ls '$tmp'/x.* 2>/dev/null | grep -q ."
check "invalid JSON caption is refused" fails_with "not valid JSON" "$BIN" generate --model "$tmp/m" --prompt '{"high_level_description": ' --out "$tmp/x.png"
check "unwritable output path" fails_with "cannot create" "$BIN" generate --model "$tmp/m" --prompt x --resolution 32 --preset V4_TURBO_12 --out /proc/nope/x.png
head -c 100 tests/vectors/lora/peft.safetensors > "$tmp/corrupt.safetensors"
check "corrupt LoRA" fails_with "corrupt.safetensors" "$BIN" generate --model "$tmp/m" --prompt x --resolution 32 --lora "$tmp/corrupt.safetensors" --out "$tmp/x.png"
python3 -c "print('word ' * 3000)" > "$tmp/long.txt"
check "over-long prompt states count and limit" fails_with "the limit is 2048" "$BIN" generate --model "$tmp/m" --prompt-file "$tmp/long.txt" --resolution 32 --out "$tmp/x.png"
check "no image written on failure (2)" bash -c "! ls '$tmp'/x.* 2>/dev/null | grep -q ."
sigint_cancels() {
  "$BIN" generate --model "$tmp/m" --prompt x --resolution 512 --preset V4_QUALITY_48 --out "$tmp/int.png" >/dev/null 2>"$tmp/int.log" &
  local pid=$!
  for _ in $(seq 1 100); do grep -q "step 1/" "$tmp/int.log" && break; sleep 0.1; done
  kill -INT "$pid"; wait "$pid"; local rc=$?
  [ "$rc" -eq 130 ] && grep -q cancelled "$tmp/int.log" && [ ! -e "$tmp/int.png" ]
}
check "Ctrl-C cancels between steps and writes nothing" sigint_cancels
for f in examples/caption.json examples/poster.json examples/illustration.json examples/hanok_ko.json; do
  check "example $f passes verify" "$BIN" verify "$f"
done
# --preview FILE: a PNG of one pixel per 16x16 patch, replaced after each step; none without the flag.
gen --prompt "a red fox" --seed 3 --width 80 --height 48 --steps 3 --out "$tmp/pv.png" --preview "$tmp/live.png"
check "--preview writes a PNG of the token grid (5x3 for 80x48)" bash -c \
  "head -c 24 '$tmp/live.png' | od -An -tx1 | tr -d ' \n' | grep -q '^89504e470d0a1a0a0000000d49484452000000050000000[3]'"
check "--preview says the fit's R^2 and leaves no temporary file" bash -c \
  "grep -q 'held-out R^2' '$tmp/log' && ! ls '$tmp'/live.png.tmp 2>/dev/null | grep -q ."
gen --prompt "a red fox" --seed 3 --width 80 --height 48 --steps 3 --out "$tmp/pv2.png"
check "the image is the same with and without --preview" cmp -s "$tmp/pv.png" "$tmp/pv2.png"
check "no preview file unless asked" bash -c "! grep -q 'held-out' '$tmp/log'"
gen --prompt-file examples/caption.json --format webp --quality 90 --out "$tmp/q.png"
check "caption.json to webp quality 90" test -s "$tmp/q.webp"
summary
