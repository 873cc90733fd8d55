#!/usr/bin/env bash
# The cooperative-matrix GEMM of the Vulkan backend (shaders/linear_coop.glsl):
#   - its real shader (coop/linear_coop.comp) is built by glslangValidator
#     (.venv-glslang from scripts/setup.sh), embedded, valid SPIR-V for
#     Vulkan 1.2, with the CooperativeMatrixKHR capability and 4 subgroups of 32;
#   - lavapipe has no cooperative matrices: `devices` says so and a normal run
#     keeps the shared-memory GEMM;
#   - its emulation (IDEOGRAM4_VULKAN_COOPMAT=emulate: the same tiles, ranges,
#     loads and stores, products as plain loops) takes the transformers' F8
#     Linears of a bf16 generate and writes the image of the run without it,
#     byte for byte (the coop arithmetic is the bf16 mode's), and the DiT
#     golden tests pass through it.
# Without a Vulkan driver every check fails, unless I4_TEST_NO_VULKAN=1.
set -u
cd "$(dirname "$0")/../.."
. tests/cli/lib.sh
BIN=${I4_BIN:-build/ideogram4}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

need_vulkan

SPV=build/spv/linear_coop.spv
VAL=.venv-glslang/bin/spirv-val
DIS=.venv-glslang/bin/spirv-dis
check "the coop shader was built by glslangValidator (scripts/setup.sh installs it)" test -s "$SPV"
check "... and is embedded in the binary" grep -q -a 'linear_coop' "$BIN"
check "... valid SPIR-V for Vulkan 1.2 (spirv-val)" "$VAL" --target-env vulkan1.2 "$SPV"
check "... using cooperative matrices" bash -c "'$DIS' '$SPV' | grep -q 'OpCapability CooperativeMatrixKHR'"
check "... on workgroups of 4 x 32 invocations" bash -c "'$DIS' '$SPV' | grep -q 'LocalSize 32 4 1'"

check "devices: lavapipe has no cooperative matrix" bash -c "'$BIN' devices 2>/dev/null | grep -q 'cooperative matrix no'"

"$BIN" make-tiny-model "$tmp/m" --seed 1 >/dev/null
CAP='{"high_level_description": "A red bicycle under a lamp post.", "style_description": {"medium": "photograph"}}'
gen() { # NAME [env...] -> $tmp/NAME.png, .err
  local name=$1; shift
  env IDEOGRAM4_VULKAN_STATS=1 "$@" "$BIN" generate --model "$tmp/m" --preset V4_TURBO_12 --steps 3 --resolution 48 \
    --seed 5 --prompt "$CAP" --backend vulkan --precision bf16 --out "$tmp/$name.png" >/dev/null 2>"$tmp/$name.err"
}
check "bf16 generate on vulkan" gen plain
check "... no cooperative-matrix GEMM on lavapipe" grep -q ' 0 cooperative-matrix GEMMs' "$tmp/plain.err"
check "bf16 generate with the coop emulation" gen emu IDEOGRAM4_VULKAN_COOPMAT=emulate
check "... names it" grep -q 'cooperative matrix emulated' "$tmp/emu.err"
check "... runs the Linears on it" grep -qE ' [1-9][0-9]* cooperative-matrix GEMMs' "$tmp/emu.err"
check "... and writes the same image, byte for byte" cmp "$tmp/emu.png" "$tmp/plain.png"
check "IDEOGRAM4_VULKAN_COOPMAT=off: the shared-memory GEMM" bash -c \
  "IDEOGRAM4_VULKAN_COOPMAT=off IDEOGRAM4_VULKAN_STATS=1 '$BIN' generate --model '$tmp/m' --preset V4_TURBO_12 --steps 1 --resolution 32 --prompt x --backend vulkan --precision bf16 --out '$tmp/off.png' 2>&1 | grep -q ' 0 cooperative-matrix GEMMs'"
RUNNER=$(dirname "$BIN")/test_runner
check "the DiT golden tests (bf16 spread) through the coop emulation" bash -c \
  "IDEOGRAM4_BACKEND=vulkan IDEOGRAM4_VULKAN_COOPMAT=emulate '$RUNNER' dit_golden 2>&1 | tee '$tmp/golden.txt' | grep -q '^3 passed, 0 failed'"
grep 'bf16 vs torch' "$tmp/golden.txt" | sed 's/^/   /'
summary
