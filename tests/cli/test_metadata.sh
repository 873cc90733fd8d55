#!/usr/bin/env bash
# Parameters inside images (PNG iTXt/tEXt, WebP and JPEG XMP) read back by
# `ideogram4 info` and by Pillow, an independent reader; `generate --count`
# batches; output names; where the CLI's run log goes.
set -u
cd "$(dirname "$0")/../.."
. tests/cli/lib.sh
. tests/cli/venv_lib.sh
BIN=${I4_BIN:-build/ideogram4}
case "$BIN" in /*) ;; *) BIN="$PWD/$BIN" ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$BIN" make-tiny-model "$tmp/m" --seed 1 >/dev/null
# jqf FILE FILTER / infoq IMAGE FILTER: jq -e on a file / on `info IMAGE`.
jqf() { [ -s "$1" ] && jq -e "$2" "$1" >/dev/null; }
infoq() { "$BIN" info "$1" >"$tmp/info.json" && jqf "$tmp/info.json" "$2"; }
pilq() { "$PY" "$tmp/read.py" "$1" "$2" >"$tmp/pil.json" && jqf "$tmp/pil.json" "$3"; }
gen() { "$BIN" generate --model "$tmp/m" --preset V4_TURBO_12 --resolution 64 "$@" >"$tmp/stdout" 2>"$tmp/log"; }
if ! need_venv; then echo "FAIL the Python test environment (.venv-test)"; echo "0 passed, 1 failed"; exit 1; fi

gen --prompt-file examples/poster.json --seed 3 --lora tests/vectors/lora/peft.safetensors --lora-strength 0.5 --out "$tmp/p.png"
gen --prompt 'a "quoted" <fox> & ünïcødé' --seed 4 --format webp --out "$tmp/w.webp"
gen --prompt-file examples/hanok_ko.json --seed 5 --quality 90 --out "$tmp/j.jpeg"
check "--out x.jpeg keeps the name asked for" test -s "$tmp/j.jpeg"
check "... and holds JPEG data" bash -c "head -c 3 '$tmp/j.jpeg' | od -An -tx1 | grep -q 'ff d8 ff'"
gen --prompt x --seed 1 --out "$tmp/UP.PNG"
check "--out X.PNG keeps its upper-case extension" test -s "$tmp/UP.PNG"

check "info prints the JSON of a PNG" infoq "$tmp/p.png" '.seed == 3 and .preset == "V4_TURBO_12" and .steps == 12 and .resolution == [64,64] and .loras[0].name == "peft.safetensors" and .loras[0].strength == 0.5 and (.engine | startswith("ideogram4.c"))'
check "info: the caption round-trips exactly" bash -c "[ \"\$('$BIN' info '$tmp/p.png' | jq -r .caption)\" = \"\$(cat examples/poster.json)\" ]"
check "info: WebP caption with quotes, <, & and non-ASCII survives XML escaping" infoq "$tmp/w.webp" '.caption == "a \"quoted\" <fox> & ünïcødé"'
check "info: JPEG seed and guidance schedule" infoq "$tmp/j.jpeg" '.seed == 5 and .guidance.schedule == "V4_TURBO_12"'
check "info --parameters prints the AUTOMATIC1111 text" bash -c "'$BIN' info --parameters '$tmp/p.png' | tail -n 1 | grep -q '^Steps: 12, Sampler: Euler, Schedule type: V4_TURBO_12, CFG scale: 7, Seed: 3, Size: 64x64, Model: Ideogram 4, Lora: \"peft.safetensors: 0.5\", Version: ideogram4.c'"
check "sidecar = the image's JSON plus run facts" jqf "$tmp/p.json" '.seed == 3 and (.caption | length > 0) and .timings_seconds.sampling > 0 and (.cmd | length > 0)'
printf '\x89PNG\r\n\x1a\nnot really' > "$tmp/bad.png"
check "info on a broken file fails with a message" bash -c "! '$BIN' info '$tmp/bad.png' >/dev/null 2>'$tmp/e' && grep -q 'not a readable PNG' '$tmp/e'"
check "info on a file without metadata says so" bash -c "'$PY' -c 'from PIL import Image; Image.new(\"RGB\",(8,8)).save(\"$tmp/plain.png\")' && ! '$BIN' info '$tmp/plain.png' 2>'$tmp/e' && grep -q 'no ideogram4 metadata' '$tmp/e'"

# Pillow, reading the files on its own.
cat > "$tmp/read.py" <<'PY'
import json, sys, xml.etree.ElementTree as ET
from PIL import Image
NS = "{https://github.com/ideogram4c/ns/1.0/}"
def from_xmp(xmp):
    if isinstance(xmp, bytes): xmp = xmp.decode("utf-8")
    root = ET.fromstring(xmp[xmp.index("<x:xmpmeta"):xmp.index("</x:xmpmeta>") + len("</x:xmpmeta>")])
    return json.loads(root.find(".//" + NS + "json").text), root.find(".//" + NS + "parameters").text
kind, path = sys.argv[1], sys.argv[2]
im = Image.open(path)
if kind == "png":
    meta, params = json.loads(im.text["ideogram4"]), im.text["parameters"]
else:
    xmp = im.info.get("xmp")
    if xmp is None and kind == "jpeg":  # older Pillow: the raw APP1 segments
        xmp = next(d[29:] for m, d in im.applist if m == "APP1" and d.startswith(b"http://ns.adobe.com/xap/1.0/\0"))
    meta, params = from_xmp(xmp)
print(json.dumps({"format": im.format, "size": im.size, "seed": meta["seed"], "caption": meta["caption"],
                  "params_last": params.splitlines()[-1]}))
PY
check "Pillow: PNG iTXt ideogram4 + tEXt parameters" pilq png "$tmp/p.png" '.format == "PNG" and .seed == 3 and (.params_last | test("Seed: 3, Size: 64x64"))'
check "Pillow: WebP XMP chunk (escaped caption parsed by an XML parser)" pilq webp "$tmp/w.webp" '.format == "WEBP" and .seed == 4 and .caption == "a \"quoted\" <fox> & ünïcødé"'
check "Pillow: JPEG APP1 XMP" pilq jpeg "$tmp/j.jpeg" '.format == "JPEG" and .seed == 5 and .size == [64,64]'
check "Pillow: the PNG tEXt chunk is the plain-ASCII form A1111 writes" bash -c "'$PY' -c \"
import sys
d = open('$tmp/p.png','rb').read()
sys.exit(0 if b'tEXtparameters\\x00' in d and b'iTXtideogram4\\x00' in d and d.index(b'iTXtideogram4') < d.index(b'IDAT') else 1)\""

# Batches.
gen --prompt-file examples/poster.json --seed 10 --count 3 --out "$tmp/b.png"
check "--count 3 writes b-1 b-2 b-3 with sidecars" bash -c "for i in 1 2 3; do test -s '$tmp/b-'\$i.png && test -s '$tmp/b-'\$i.json || exit 1; done; ! test -e '$tmp/b.png'"
check "... prints each path" bash -c "[ \$(wc -l < '$tmp/stdout') = 3 ]"
check "... encodes the caption once" bash -c "[ \$(grep -c 'encoding the prompt' '$tmp/log') = 1 ]"
seeds_ok() { for i in 1 2 3; do infoq "$tmp/b-$i.png" ".seed == $((9 + i)) and .batch.index == $i and .batch.count == 3" || return 1; done; }
check "... seeds seed, seed+1, seed+2 with the batch position" seeds_ok
gen --prompt-file examples/poster.json --seed 11 --out "$tmp/single11.png"
check "... image 2 has the pixels of a single run with seed+1" "$PY" -c "
from PIL import Image
a, b = Image.open('$tmp/b-2.png'), Image.open('$tmp/single11.png')
raise SystemExit(0 if a.tobytes() == b.tobytes() else 1)"
check "... and the images differ" bash -c "! cmp -s '$tmp/b-1.png' '$tmp/b-2.png'"
check "--count with --noise is refused" bash -c "! '$BIN' generate --model '$tmp/m' --prompt x --count 2 --noise x --out '$tmp/n.png' 2>'$tmp/e' && grep -q 'need --count 1' '$tmp/e'"
check "--count out of range" bash -c "'$BIN' generate --model '$tmp/m' --prompt x --count 65 --out '$tmp/n.png' 2>&1 | grep -q -- '--count needs an integer in \[1, 64\]'"

# Run logs: never ./logs of the working folder.
mkdir -p "$tmp/cwd" "$tmp/state"
(cd "$tmp/cwd" && env -u IDEOGRAM4_LOG_DIR XDG_STATE_HOME="$tmp/state" "$BIN" generate --model "$tmp/m" --preset V4_TURBO_12 --resolution 32 --prompt x --out o.png >/dev/null 2>&1)
check "no logs/ folder in the working folder" test ! -e "$tmp/cwd/logs"
check "the run log goes to \$XDG_STATE_HOME/ideogram4/logs" bash -c "grep -q 'done -> o.png' '$tmp'/state/ideogram4/logs/ideogram4-*.log"
(cd "$tmp/cwd" && env IDEOGRAM4_LOG_DIR=none "$BIN" generate --model "$tmp/m" --preset V4_TURBO_12 --resolution 32 --prompt x --out o2.png >/dev/null 2>&1)
check "IDEOGRAM4_LOG_DIR=none writes no log" bash -c "test ! -e '$tmp/cwd/none' && test -s '$tmp/cwd/o2.png'"
summary
