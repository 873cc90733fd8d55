#!/usr/bin/env bash
# run_aarch64.sh — the portable core on aarch64: cross-builds src/base,
# src/tensor and the scalar src/ops with their unit tests (make cross-aarch64,
# Debian's gcc-aarch64-linux-gnu) and runs build-aarch64/test_runner under
# qemu-user. Ends with "N passed, N failed": the runner's counts, plus one
# failure when the runner did not say it was built for and ran on aarch64 or
# exited non-zero. A missing cross compiler or emulator fails (it does not
# skip): scripts/setup.sh installs both.
set -uo pipefail
cd "$(dirname "$0")/../.."

fail() { echo "!! $*"; echo "0 passed, 1 failed"; exit 1; }

cc=${CROSS_CC:-aarch64-linux-gnu-gcc}
command -v "$cc" >/dev/null || fail "$cc not found (apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross; see scripts/setup.sh)"
qemu=
for q in qemu-aarch64 qemu-aarch64-static; do
  if command -v "$q" >/dev/null; then qemu=$q; break; fi
done
[ -n "$qemu" ] || fail "qemu-aarch64 not found (apt-get install qemu-user; see scripts/setup.sh)"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! make -j"$(nproc)" cross-aarch64 CROSS_CC="$cc" >"$log" 2>&1; then
  cat "$log"
  fail "make cross-aarch64 failed"
fi

"$qemu" build-aarch64/test_runner "$@" >"$log" 2>&1
rc=$?
# Everything but the summary: run_all.sh counts this script's last summary line.
grep -vE '^[0-9]+ passed, [0-9]+ failed' "$log"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
passed=0 failed=0
if [ -n "$line" ]; then
  passed=$(echo "$line" | cut -d' ' -f1)
  failed=$(echo "$line" | cut -d' ' -f3)
else
  echo "!! the runner printed no summary (exit status $rc)"
  failed=$((failed + 1))
fi
# The runner prints the architecture it was compiled for (__aarch64__) and
# uname's machine: a native x86-64 binary cannot pass this.
if ! grep -qx 'machine: built for aarch64, running on aarch64' "$log"; then
  echo "!! the runner did not report an aarch64 build running on aarch64"
  failed=$((failed + 1))
elif [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
  echo "!! the runner exited with status $rc"
  failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
