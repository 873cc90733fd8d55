# lib.sh — tiny helpers for CLI tests: `check NAME COMMAND...` and `summary`.
passed=0
failed=0
check() {
  local name=$1; shift
  if "$@"; then echo "ok   $name"; passed=$((passed + 1)); else echo "FAIL $name"; failed=$((failed + 1)); fi
}
summary() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; }
# need_vulkan: in a Vulkan test, go on only where `$BIN devices` lists a
# device; else end the script here — skipped (passing) with I4_TEST_NO_VULKAN=1,
# otherwise failed.
need_vulkan() {
  "$BIN" devices 2>/dev/null | grep -q '^0: ' && return 0
  if [ "${I4_TEST_NO_VULKAN:-}" = 1 ]; then echo "skipped: I4_TEST_NO_VULKAN=1"; summary; exit 0; fi
  echo "FAIL no Vulkan device (set I4_TEST_NO_VULKAN=1 to skip)"; failed=1; summary; exit 1
}
