#!/usr/bin/env bash
# CLI tests for `ideogram4 bench`: every benchmark on tiny shapes (--repeat 1)
# prints JSON lines that parse, carry every key, and give gflops > 0 and a
# measured peak > 0; the human table; bad flags fail with a clear message and
# exit code 2. Speeds are never asserted (the machines are shared).
set -u
cd "$(dirname "$0")/../.."
. tests/cli/lib.sh
BIN=${I4_BIN:-build/ideogram4}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

KEYS='["op","shape","backend","isa","precision","threads","seconds_min","seconds_median","gflops","peak_gflops","peak_ratio","foreign_cpu"]'
FAST=(--repeat 1 --warmup 0 --threads 2 --json)
TINY_DIT=(--dim 64 --heads 2 --ffn 96)

# json_ok FILE WANT_LINES OP... : FILE has WANT_LINES JSON objects (one per
# line), each with every key, the right value types, gflops > 0 and
# peak_gflops > 0, and op among OP...
json_ok() {
  local f=$1 want=$2; shift 2
  local ops n
  ops=$(printf '%s\n' "$@" | jq -R . | jq -s -c .)
  n=$(wc -l <"$f")
  [ "$n" -eq "$want" ] || { echo "  $n lines, want $want:"; sed 's/^/  /' "$f"; return 1; }
  jq -e --argjson keys "$KEYS" --argjson ops "$ops" '
      . as $o
      | ($keys | all(. as $k | $o | has($k)))
      and (.shape | type == "object") and (.threads | type == "number")
      and (.backend == "cpu") and (.isa | IN("avx2", "avx512", "scalar"))
      and (.precision | IN("f32", "bf16"))
      and (.seconds_min > 0) and (.seconds_median >= .seconds_min)
      and (.gflops > 0) and (.peak_gflops > 0) and (.peak_ratio > 0)
      and (.foreign_cpu == null or .foreign_cpu >= 0)
      and (.op | IN($ops[]))' "$f" >"$tmp/jq.out" 2>&1 \
    && ! grep -qv '^true$' "$tmp/jq.out" \
    || { echo "  bad line(s):"; paste "$tmp/jq.out" "$f" | grep -v '^true' | sed 's/^/  /'; return 1; }
}

run_json() { # NAME WANT_LINES OPS(comma separated) args...
  local name=$1 want=$2 ops=$3; shift 3
  "$BIN" bench "$@" >"$tmp/$name.json" 2>"$tmp/$name.err" || { echo "  exit $?:"; cat "$tmp/$name.err"; return 1; }
  IFS=, read -ra opl <<<"$ops"
  json_ok "$tmp/$name.json" "$want" "${opl[@]}"
}

check "peak: 3 loops x 2 thread counts at most, AVX2 always" \
  bash -c "'$BIN' bench peak ${FAST[*]} >'$tmp/peak.json' && jq -e -s '
      (map(select(.shape.loop == \"ymm_fma\")) | map(.threads) == [1, 2])
      and (length >= 2) and (length <= 6)
      and (map(select(.shape.loop == \"ymm_fma\")) | all(.peak_ratio == 1))' '$tmp/peak.json' >/dev/null"
check "peak: JSON lines carry every key" json_ok "$tmp/peak.json" "$(wc -l <"$tmp/peak.json")" peak
for dt in fp8 bf16 f16 f32; do
  check "linear --dtype $dt (f32)" run_json "linear_$dt" 1 linear linear --dtype "$dt" --m 9 --k 40 --n 24 "${FAST[@]}"
done
check "linear fp8, bf16 precision, shape in JSON" \
  bash -c "'$BIN' bench linear --m 13 --k 64 --n 32 --precision bf16 ${FAST[*]} | jq -e '
      .precision == \"bf16\" and .shape == {dtype: \"fp8\", m: 13, k: 64, n: 32}' >/dev/null"
check "attention" run_json attention 1 attention attention --tokens 20 --heads 2 --head-dim 16 "${FAST[@]}"
check "conv3x3" run_json conv 1 conv3x3 conv3x3 --channels 4 --size 8 "${FAST[@]}"
check "dit-block (tiny width)" run_json block 1 dit-block dit-block --tokens 24 --text-tokens 4 "${TINY_DIT[@]}" "${FAST[@]}"
check "step: 2 blocks + 2 rests + the extrapolated step" \
  run_json step 5 dit-block,dit-rest,step step --resolution 64 --text-tokens 5 --layers 2 --llm-features 80 \
  "${TINY_DIT[@]}" "${FAST[@]}"
check "step is labelled as an extrapolation" \
  jq -e -s '(map(select(.op == "step")) | length == 1 and .[0].extrapolated == true)
            and (map(select(.op != "step")) | all(has("extrapolated") | not))' "$tmp/step.json" >/dev/null
check "preview: its cost next to the extrapolated step (no fit)" bash -c \
  "'$BIN' bench preview --resolution 64 --text-tokens 5 --layers 2 --llm-features 80 ${TINY_DIT[*]} ${FAST[*]} --fit-grids 0 --json >'$tmp/pv.json' 2>'$tmp/pv.err'"
jq_quiet() { jq "$@" >/dev/null; }
check "preview: the preview line, the step's five, one preview-cost object" \
  jq_quiet -e -s 'map(.op) == ["preview","dit-block","dit-rest","dit-block","dit-rest","step","preview-cost"]
            and (.[0].shape.tokens == 16 and .[0].shape.data_url_bytes > 100)
            and (.[6] | .step_extrapolated == true and .preview_cost_percent_of_step > 0
                 and (.preview_cost_percent_of_step / (100 * .preview_seconds / .step_seconds) - 1 | fabs) < 1e-4)' "$tmp/pv.json"
check "preview --step-seconds: a given step" bash -c \
  "'$BIN' bench preview --resolution 64 --step-seconds 2 --fit-grids 0 ${FAST[*]} --json | jq -e 'select(.op == \"preview-cost\") | .step_seconds == 2 and .step_extrapolated == false' >/dev/null"
mkdir -p "$tmp/bt"
export TMPDIR="$tmp/bt"
check "text-encoder: two full-width layers measured, 36 extrapolated" \
  run_json te 2 text-encoder-layers,text-encoder text-encoder --tokens 8 "${FAST[@]}"
check "text-encoder extrapolation is 18x the two layers" \
  jq -e -s '(.[0].op == "text-encoder-layers") and (.[1].extrapolated == true)
            and ((.[1].seconds_min / .[0].seconds_min - 18) | fabs < 1e-3)' "$tmp/te.json"
check "vae-decode: the full-size decoder at 64x64" run_json vae 1 vae-decode vae-decode --resolution 64 "${FAST[@]}"
check "vae-decode image size in JSON" jq -e '.shape.resolution == 64 and .shape.tokens == 16' "$tmp/vae.json"
check "the random weights are removed afterwards" bash -c "[ -z \"\$(ls -A '$tmp/bt')\" ]"
unset TMPDIR
check "--backend auto runs on cpu" \
  bash -c "'$BIN' bench linear --m 2 --k 8 --n 8 --backend auto ${FAST[*]} | jq -e '.backend == \"cpu\"' >/dev/null"
check "human output: header and one aligned row with % of peak" \
  bash -c "out=\$('$BIN' bench conv3x3 --channels 4 --size 8 --repeat 1 --warmup 0 --threads 1) \
           && grep -q '^op .*GFLOP/s .*%peak' <<<\"\$out\" && grep -qE '^conv3x3 .* [0-9.]+%' <<<\"\$out\""

# fails_2 SUBSTRING args... : exit code 2 and SUBSTRING on stderr.
fails_2() {
  local want=$1; shift
  local rc
  "$BIN" bench "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?
  [ "$rc" -eq 2 ] && grep -qF -- "$want" "$tmp/err" || { echo "  rc=$rc stderr: $(cat "$tmp/err")"; return 1; }
}
check "no benchmark named" fails_2 "which benchmark"
check "unknown benchmark" fails_2 "unknown benchmark 'frob'" frob
check "unknown option" fails_2 "unknown option '--bogus'" linear --bogus 1
check "option without value" fails_2 "'--m' needs a value" linear --m
check "bad integer" fails_2 "--repeat needs an integer" linear --repeat x
check "zero size" fails_2 "--k needs an integer" linear --k 0
check "bad dtype" fails_2 "unknown --dtype 'int4'" linear --dtype int4
check "bad precision" fails_2 "unknown precision" linear --precision fp4
check "unknown backend refused" fails_2 "unknown backend 'metal'" linear --backend metal
check "option of another benchmark" fails_2 "'--tokens' does not apply to 'linear'" linear --tokens 5
check "resolution not a multiple of 16" fails_2 "multiple of 16" step --resolution 100
check "width not a multiple of heads" fails_2 "multiple of --heads" dit-block --dim 100 --heads 3
check "text tokens above tokens" fails_2 "more than --tokens" dit-block --tokens 4 --text-tokens 5
check "shape larger than memory" fails_2 "more than this machine's" linear --m 4000000 --k 4000000 --n 4 --repeat 1
check "preview --step-seconds must be positive" fails_2 "positive number" preview --step-seconds 0
check "--help exits 0" bash -c "'$BIN' bench --help | grep -q 'usage: ideogram4 bench'"
summary
