#!/usr/bin/env bash
# `generate` and `serve` end to end on the Vulkan backend (lavapipe, the CPU
# Vulkan driver, where there is no GPU), against the CPU backend:
#   - generate --backend vulkan on the tiny model writes the image the CPU
#     writes, within the e2e golden test's bound (>= 99 % of the RGB bytes
#     identical, none off by more than 2; tests/unit/test_e2e.c);
#   - the run names the vulkan backend (stderr and sidecar): a silent CPU
#     fallback fails; the sidecar records a plausible peak device memory;
#   - --device, the memory check at load, and their error messages;
#   - --offload under a capped device: the same image, the peak under the cap;
#   - serve --demo --backend vulkan answers a generation, and
#     /api/model/status names the vulkan backend and its device.
# Without a Vulkan driver every check fails, unless I4_TEST_NO_VULKAN=1.
set -u
cd "$(dirname "$0")/../.."
. tests/cli/lib.sh
. tests/cli/server_lib.sh
BIN=${I4_BIN:-build/ideogram4}
tmp=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && stop_server; rm -rf "$tmp"' EXIT

need_vulkan

"$BIN" make-tiny-model "$tmp/m" --seed 1 >/dev/null
CAP='{"high_level_description": "A red bicycle under a lamp post.", "style_description": {"medium": "photograph"}}'
gen() { # NAME BACKEND [flags...] -> $tmp/NAME.png, .json, .err
  local name=$1 be=$2; shift 2
  "$BIN" generate --model "$tmp/m" --preset V4_TURBO_12 --resolution 48 --seed 5 --prompt "$CAP" \
    --backend "$be" --out "$tmp/$name.png" "$@" >/dev/null 2>"$tmp/$name.err"
}

check "generate --backend cpu" gen cpu cpu
check "generate --backend vulkan" gen vk vulkan
check "the vulkan run names the vulkan backend on stderr" grep -q 'loaded .*(f32, vulkan (' "$tmp/vk.err"
check "... and in the sidecar's device" grep -q '"device": "vulkan (' "$tmp/vk.json"
check "the cpu run names the cpu backend" grep -q '"device": "cpu (' "$tmp/cpu.json"
check "vulkan image = cpu image within the e2e bound (>= 99 % bytes equal, max diff 2)" \
  python3 tests/cli/png_compare.py "$tmp/vk.png" "$tmp/cpu.png" 0.99 2
check "peak device memory printed" grep -q '^peak device memory [0-9.]* MB (' "$tmp/vk.err"
# The tiny model's weights are ~1 MB and its workspaces a few MB: the peak is
# more than nothing and far less than 256 MB.
check "peak device memory in the sidecar is > 0 and plausible for the tiny model (< 256 MB)" \
  bash -c "jq -e '.peak_device_memory_mb > 0.1 and .peak_device_memory_mb < 256' '$tmp/vk.json' >/dev/null"
check "--device 0 runs on device 0 (vulkan)" gen dev0 auto --device 0
check "... and names vulkan" grep -q '"device": "vulkan (' "$tmp/dev0.json"
check "IDEOGRAM4_DEVICE=0 selects it too" bash -c "IDEOGRAM4_DEVICE=0 '$BIN' generate --model '$tmp/m' --preset V4_TURBO_12 --resolution 32 --steps 1 --prompt x --out '$tmp/env.png' 2>&1 | grep -q 'vulkan ('"

fails_with() { local want=$1; shift; local out; out=$("$@" 2>&1) && return 1; grep -qF -- "$want" <<<"$out" || { echo "  got: $out" >&2; return 1; }; }
bad() { "$BIN" generate --model "$tmp/m" --prompt x --resolution 32 --out "$tmp/x.png" "$@"; }
check "--device 99: no such device" fails_with "no Vulkan device 99" bad --backend vulkan --device 99
check "--device x: not an index" fails_with "needs a device index" bad --device x
check "--device with --backend cpu is refused" fails_with "cpu backend has none" bad --backend cpu --device 0
# A device of 4 MiB (the tiny model's weights are ~13 MB): the memory check at
# load names what does not fit, the capacity, the device and what helps.
check "weights that do not fit: a clear message at load" fails_with "does not fit on the device: transformer weights" \
  env IDEOGRAM4_VULKAN_MEMORY_MIB=4 "$BIN" generate --model "$tmp/m" --prompt x --resolution 32 --backend vulkan --out "$tmp/x.png"
check "... naming the capacity, the device and --backend cpu" bash -c \
  "IDEOGRAM4_VULKAN_MEMORY_MIB=4 '$BIN' generate --model '$tmp/m' --prompt x --resolution 32 --backend vulkan --out '$tmp/x.png' 2>&1 | grep -q 'text encoder weights .* > 4.0 MiB on .*; use --backend cpu'"
check "no image written on failure" bash -c "! ls '$tmp'/x.* 2>/dev/null | grep -q ."

# --offload: a cap at what the device needs with --offload (the 4 MiB
# message says how much), under what it needs without: the load check names
# --offload; with it, every transformer layer streams from host memory and
# the image is the one of the run that held them all, byte for byte.
need=$(IDEOGRAM4_VULKAN_MEMORY_MIB=4 "$BIN" generate --model "$tmp/m" --prompt x --resolution 32 --backend vulkan \
  --out "$tmp/x.png" 2>&1 | sed -n 's/.*with --offload the device needs \([0-9.]*\) MiB.*/\1/p')
check "the 4 MiB message says what --offload needs" test -n "$need"
check "without --offload at that cap: 'use --offload'" fails_with "use --offload (transformer layers streamed from host memory" \
  env IDEOGRAM4_VULKAN_MEMORY_MIB="$need" "$BIN" generate --model "$tmp/m" --prompt x --resolution 32 --backend vulkan --out "$tmp/x.png"
check "generate --offload at that cap" env IDEOGRAM4_VULKAN_MEMORY_MIB="$need" bash -c "$(declare -f gen); BIN='$BIN' tmp='$tmp' CAP='$CAP' gen off vulkan --offload"
check "... streams all 4 transformer layers" grep -q '^offload: 4 of 4 transformer layers streamed' "$tmp/off.err"
check "... and writes the image of the run without offload, byte for byte" cmp "$tmp/off.png" "$tmp/vk.png"
check "... with a device-memory peak under the cap" bash -c "jq -e '.peak_device_memory_mb <= $need * 1.048576' '$tmp/off.json' >/dev/null"
check "IDEOGRAM4_OFFLOAD=1 does the same" bash -c "IDEOGRAM4_OFFLOAD=1 IDEOGRAM4_VULKAN_MEMORY_MIB=$need '$BIN' generate --model '$tmp/m' --preset V4_TURBO_12 --resolution 48 --seed 5 --prompt '$CAP' --backend vulkan --out '$tmp/off2.png' >/dev/null 2>'$tmp/off2.err' && grep -q '^offload: 4 of 4' '$tmp/off2.err' && cmp '$tmp/off2.png' '$tmp/vk.png'"

# serve --demo on vulkan
must_start "serve --demo --backend vulkan starts" "$tmp/srv" --demo --backend vulkan
check "the model loads" wait_loaded
expect "/api/model/status names the vulkan backend and device" GET /api/model/status "" 200 '"backend":"vulkan ('
expect "generate on vulkan" POST /api/generate "{\"caption\":$CAP,\"width\":128,\"height\":128,\"preset\":\"V4_TURBO_12\",\"steps\":2,\"seed\":7}" 200 task_id
t=$(task_id)
check "the generation finishes" bash -c "$(declare -f poll_done); B='$B'; poll_done '$t' >/dev/null"
check "the server log names the vulkan backend" grep -q 'vulkan (' "$tmp/srv/server.log"
stop_server
pid=""
summary
