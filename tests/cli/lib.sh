# lib.sh — tiny helpers for CLI tests: `check NAME COMMAND...` and `summary`.
passed=0
failed=0
check() {
  local name=$1; shift
  if "$@"; then echo "ok   $name"; passed=$((passed + 1)); else echo "FAIL $name"; failed=$((failed + 1)); fi
}
summary() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; }
