#!/usr/bin/env bash
# Runs the libFuzzer harnesses (build-fuzz/fuzz_NAME, from tests/fuzz/fuzz_NAME.c)
# for FUZZ_SECONDS each (default 30; 0 = only replay the corpus) and prints
# one line per harness with its executions, executions/s and edges covered,
# then "N passed, N failed". A harness passes when it ran its time without a
# crash, leak, sanitizer report or timeout.
#
#   tests/fuzz/run.sh                 every harness
#   tests/fuzz/run.sh caption lora    only these
#
# Inputs: the committed seeds in tests/fuzz/corpus/NAME/ (read only) and the
# dictionary tests/fuzz/NAME.dict when there is one. New inputs go to
# $FUZZ_WORK/NAME/corpus (default build-fuzz/work, kept between runs so later
# runs start from what earlier ones found); a crashing input is saved as
# $FUZZ_WORK/NAME/crash-* (add it to the committed corpus with its fix).
# Harnesses write their temp files under a scratch folder removed at exit.
# Builds the harnesses first (make fuzz-build) unless FUZZ_SKIP_BUILD is set.
set -uo pipefail
cd "$(dirname "$0")/../.."

seconds=${FUZZ_SECONDS:-30}
bin_dir=${FUZZ_BUILD:-build-fuzz}
work=${FUZZ_WORK:-$bin_dir/work}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

if [ -z "${FUZZ_SKIP_BUILD:-}" ]; then
  if ! make -j"${FUZZ_JOBS:-$(nproc)}" fuzz-build >"$scratch/build.txt" 2>&1; then
    tail -n 40 "$scratch/build.txt"
    echo "fuzz: building the harnesses failed (clang-14 and libclang-rt-14-dev installed? see scripts/setup.sh)"
    echo "0 passed, 1 failed"
    exit 1
  fi
fi

if [ $# -gt 0 ]; then
  names=("$@")
else
  names=()
  for src in tests/fuzz/fuzz_*.c; do
    n=$(basename "$src" .c)
    names+=("${n#fuzz_}")
  done
fi

if [ "$seconds" -gt 0 ] 2>/dev/null; then
  limit=(-max_total_time="$seconds")
else
  limit=(-runs=0) # replay the corpus only
fi

pass=0
fail=0
for name in "${names[@]}"; do
  bin=$bin_dir/fuzz_$name
  seeds=tests/fuzz/corpus/$name
  out=$work/$name
  log=$scratch/$name.log
  mkdir -p "$out/corpus" "$scratch/$name-tmp"
  dirs=("$out/corpus") # the first folder is where libFuzzer writes new inputs
  [ -d "$seeds" ] && dirs+=("$seeds")
  if [ ! -x "$bin" ]; then
    echo "FAIL fuzz_$name: $bin not built"
    fail=$((fail + 1))
    continue
  fi
  dict=()
  [ -f "tests/fuzz/$name.dict" ] && dict=(-dict="tests/fuzz/$name.dict")
  # One thread: the parsers need no more, and other work shares the machine.
  TMPDIR="$scratch/$name-tmp" OMP_NUM_THREADS=1 \
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$bin" "${limit[@]}" -print_final_stats=1 -timeout="${FUZZ_TIMEOUT:-25}" \
    -rss_limit_mb="${FUZZ_RSS_MB:-2048}" -artifact_prefix="$out/" "${dict[@]}" \
    "${dirs[@]}" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  cov=$(grep -oE ' cov: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+')
  ft=$(grep -oE ' ft: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+')
  stats="${execs:-?} execs, ${rate:-?} exec/s, cov ${cov:-?} edges, ft ${ft:-?}"
  if [ "$rc" -eq 0 ] && grep -qE '^Done [0-9]+ runs' "$log"; then
    echo "PASS fuzz_$name: $stats"
    pass=$((pass + 1))
  else
    echo "FAIL fuzz_$name: exit $rc, $stats"
    grep -E 'ERROR: |runtime error|fuzz invariant failed|SUMMARY' "$log" | head -n 5 | sed 's/^/  /'
    grep -oE "Test unit written to .*" "$log" | sed 's/^/  /'
    tail -n 30 "$log" | sed 's/^/  | /'
    fail=$((fail + 1))
  fi
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
