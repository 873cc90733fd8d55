#!/usr/bin/env bash
# The Vulkan backend on devices without shaderFloat64 (Intel Arc, Apple
# through MoltenVK): every shader has a NAME_nof64 build without double
# (norm sums as f32 pairs, the device's f32 sqrt, division and fma), picked
# when the device lacks f64 — here forced on lavapipe with
# IDEOGRAM4_VULKAN_NO_F64=1:
#   - the nof64 SPIR-V declares no Float64 capability (a device without f64
#     would refuse the pipeline), and the binary embeds them;
#   - a generate on them names "no f64" and writes the CPU's image within the
#     e2e test's bound;
#   - the golden tests of the three networks, the sampler and the e2e latents
#     pass on them (f32 and bf16 tolerances; not bit for bit any more).
# Without a Vulkan driver every check fails, unless I4_TEST_NO_VULKAN=1.
set -u
cd "$(dirname "$0")/../.."
. tests/cli/lib.sh
BIN=${I4_BIN:-build/ideogram4}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

need_vulkan

DIS=.venv-glslang/bin/spirv-dis
n=$(ls build/spv/*_nof64.spv 2>/dev/null | wc -l)
check "every shader has a no-f64 build ($n)" bash -c "[ $n -gt 0 ] && [ $n -eq \$(ls src/backend/vulkan/shaders/*.comp | wc -l) ]"
check "... none declares the Float64 capability" bash -c "for f in build/spv/*_nof64.spv; do '$DIS' \"\$f\" | grep -q 'Capability Float64' && { echo \"   \$f uses f64\"; exit 1; }; done; exit 0"
check "... while the norm shader's normal build does (the check can fail)" bash -c "'$DIS' build/spv/norm.spv | grep -q 'Capability Float64'"
check "... embedded in the binary" grep -q -a 'norm_nof64' "$BIN"

"$BIN" make-tiny-model "$tmp/m" --seed 1 >/dev/null
CAP='{"high_level_description": "A red bicycle under a lamp post.", "style_description": {"medium": "photograph"}}'
gen() { # NAME BACKEND [env...]
  local name=$1 be=$2; shift 2
  env "$@" "$BIN" generate --model "$tmp/m" --preset V4_TURBO_12 --resolution 48 --seed 5 --prompt "$CAP" \
    --backend "$be" --out "$tmp/$name.png" >/dev/null 2>"$tmp/$name.err"
}
check "generate --backend cpu" gen cpu cpu
check "generate --backend vulkan without f64" gen nof64 vulkan IDEOGRAM4_VULKAN_NO_F64=1
check "... names it" grep -q 'no f64' "$tmp/nof64.err"
check "... the CPU's image within the e2e bound (>= 99 % bytes equal, max diff 2)" \
  python3 tests/cli/png_compare.py "$tmp/nof64.png" "$tmp/cpu.png" 0.99 2

RUNNER=$(dirname "$BIN")/test_runner
for t in dit_golden qwen3_vectors vae_decode sampler_golden e2e_generate; do
  check "golden tests '$t' on vulkan without f64" bash -c \
    "IDEOGRAM4_BACKEND=vulkan IDEOGRAM4_VULKAN_NO_F64=1 '$RUNNER' $t >'$tmp/$t.txt' 2>&1 && grep -qE '^[1-9][0-9]* passed, 0 failed' '$tmp/$t.txt'"
  grep -E 'rel L2|vs torch' "$tmp/$t.txt" | sed 's/^/   /'
done
summary
