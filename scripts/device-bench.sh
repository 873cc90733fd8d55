#!/usr/bin/env bash
# device-bench.sh — the Vulkan backend on a lent GPU machine, in one command
# of at most 8 minutes there, everything written to $OUT.
#
# Two halves, because that machine has no package registry and none of our
# build dependencies (jansson, libmicrohttpd, glslc, ...):
#
#   here:   scripts/device-bench.sh prepare
#           builds (make -j2), copies build/ideogram4, build/test_runner and
#           every shared library they need except glibc's into .devbench/
#           (git-ignored through .git/info/exclude), and downloads the Vulkan
#           loader packages into .gl/ (the device README's recipe). Both
#           machines are x86-64; the build targets x86-64 (ARCH in the
#           Makefile), so the binaries run there.
#   there:  run with carry [".devbench", ".gl"] and the command
#             bash scripts/device-bench.sh run
#           (timeout_s 540; DEVICE_BENCH_SECONDS, default 470, is the budget
#           of the steps; DEVICE_BENCH_SKIP="golden-vulkan bench-step" skips
#           steps by name; GEN_STEPS, default 4, the generate's steps). It
#           installs the loaders, points the loader at the NVIDIA driver when
#           no ICD is registered, and runs, each step with its own time limit
#           (never past the budget: the last ones are skipped when it is
#           spent, most important first) so that one failing or slow step
#           costs only its line:
#             1. ideogram4 devices                          -> devices.txt
#             2. the unit + golden tests with IDEOGRAM4_BACKEND=vulkan
#                (test_vulkan.c: every op against the CPU) -> golden.log
#             3. bench --backend vulkan --json: peak; step at 1024x1024
#                (dit-block at 4352 and 4096 tokens, dit-rest, the step
#                EXTRAPOLATED to 34 layers)              -> bench.jsonl
#             4. make-tiny-model --full-size --layers 2 (real widths, ~10 GB
#                under /tmp, only when 14 GiB are free; else the tiny model),
#                then generate --backend vulkan at 1024x1024, GEN_STEPS steps,
#                with its sidecar (timings, peak device memory) -> generate.log
#             5. bench text-encoder, vae-decode, linear at the real shapes
#                (fp8, 4352 tokens: qkv, attention out, w1|w3, w2, adaLN; qkv
#                and w2 again in bf16 mode: the cooperative-matrix GEMM),
#                attention at 4352 tokens, conv3x3     -> bench.jsonl
#           Bench and model files go under TMPDIR=/tmp/devbench-tmp, removed
#           at the end; the model is removed after the generate.
#           and summary.json (every step's status and seconds, the device, the
#           bench lines, the generate's sidecar and its extrapolation to 34
#           layers: measured s/step + 32 x the two dit-block lines of step 3),
#           run.log (all output).
set -u
cd "$(dirname "$0")/.."
mode=${1:-}
DB=.devbench

prepare() {
  set -e
  make -j2 all
  rm -rf "$DB"
  mkdir -p "$DB/bin" "$DB/lib"
  cp build/ideogram4 build/test_runner "$DB/bin/"
  # every shared library but glibc's own (the GPU machine's glibc is as new or newer)
  for b in build/ideogram4 build/test_runner; do
    ldd "$b" | awk '$3 ~ /^\// {print $3}'
  done | sort -u | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*) ;;
      *) cp -L "$lib" "$DB/lib/" ;;
    esac
  done
  grep -qx '/.devbench/' .git/info/exclude 2>/dev/null || echo /.devbench/ >>"$(git rev-parse --git-path info/exclude)"
  grep -qx '/.gl/' "$(git rev-parse --git-path info/exclude)" 2>/dev/null || echo /.gl/ >>"$(git rev-parse --git-path info/exclude)"
  if ! ls .gl/libvulkan1_*.deb >/dev/null 2>&1; then
    mkdir -p .gl /tmp/amd64/partial
    o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
    apt-get $o update -qq && (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
  fi
  du -sh "$DB" .gl
  echo "prepared: carry [\"$DB\", \".gl\"], command: bash scripts/device-bench.sh run (timeout_s 540)"
}

run() {
  OUT=${OUT:-$PWD/device-bench-out}
  mkdir -p "$OUT"
  exec > >(tee -a "$OUT/run.log") 2>&1
  local t_start=$SECONDS budget=${DEVICE_BENCH_SECONDS:-470}
  [ -x "$DB/bin/ideogram4" ] || { echo "no $DB/bin/ideogram4: run 'scripts/device-bench.sh prepare' here first and carry $DB"; exit 1; }
  # the loaders (README of the device tool), then our libraries
  if ! ldconfig -p 2>/dev/null | grep -q libvulkan; then # only where the machine has no loader
    for f in .gl/*.deb; do [ -e "$f" ] && dpkg -x "$f" /; done
    ldconfig 2>/dev/null || true
  fi
  export LD_LIBRARY_PATH="$PWD/$DB/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  if ! ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json >/dev/null 2>&1 &&
     [ -e /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    export VK_ICD_FILENAMES=$VK_DRIVER_FILES
  fi
  local BIN=$PWD/$DB/bin/ideogram4
  export I4_BIN=$BIN IDEOGRAM4_LOG_DIR=none
  local steps="$OUT/.steps"
  : >"$steps"
  : >"$OUT/bench.jsonl"
  # step NAME SECONDS COMMAND... : runs it with a limit (never past the budget), records rc and time
  step() {
    local name=$1 limit=$2; shift 2
    case " ${DEVICE_BENCH_SKIP:-} " in *" $name "*) echo "== $name: skipped (DEVICE_BENCH_SKIP)"; echo "$name skipped 0" >>"$steps"; return 0 ;; esac
    local left=$((budget - (SECONDS - t_start)))
    [ "$limit" -gt "$left" ] && limit=$left
    if [ "$limit" -le 5 ]; then
      echo "== $name: skipped (time budget spent)"; echo "$name skipped 0" >>"$steps"; return 0
    fi
    echo "== $name (limit ${limit}s)"
    local t0=$SECONDS rc
    timeout -k 5 "$limit" "$@"
    rc=$?
    echo "== $name: rc $rc in $((SECONDS - t0)) s"
    echo "$name $rc $((SECONDS - t0))" >>"$steps"
    return 0
  }
  export BENCH_JSONL="$OUT/bench.jsonl"
  bench() { # NAME SECONDS bench args... : one bench, its JSON lines appended to bench.jsonl
    local name=$1 limit=$2; shift 2
    step "bench-$name" "$limit" bash -c 'set -o pipefail; "$0" bench "$@" --backend vulkan --json | tee -a "$BENCH_JSONL"' \
      "$BIN" "$@"
  }

  step devices 20 bash -c '"$0" devices | tee "$1"' "$BIN" "$OUT/devices.txt"
  step golden-vulkan 120 bash -c 'IDEOGRAM4_BACKEND=vulkan "$0" >"$1" 2>&1; rc=$?; tail -n 3 "$1"; exit $rc' \
    "$PWD/$DB/bin/test_runner" "$OUT/golden.log"

  # The bench and the model writer put their files under TMPDIR: a folder of
  # our own, removed at the end (the machine's disk is 64 GiB; see below).
  export TMPDIR=/tmp/devbench-tmp
  rm -rf "$TMPDIR"; mkdir -p "$TMPDIR"
  bench peak 20 peak --repeat 3
  # one sampling step at 1024x1024, EXTRAPOLATED to 34 layers from measured
  # dit-block lines (text+image and image-only tokens) and dit-rest lines:
  # the same block lines extrapolate the generate below.
  local T=4352
  bench step 75 step --resolution 1024 --text-tokens 256 --repeat 1 --warmup 0

  # generate at 1024x1024 on the full-size synthetic model cut to 2 layers
  # (real widths, the text encoder's 36 layers, the real VAE: ~10 GB written),
  # GEN_STEPS steps; summary.json extrapolates its sampling to 34 layers.
  local model=/tmp/devbench-model gen_model=none free_kb need_kb=$((14 * 1024 * 1024))
  rm -rf "$model"
  free_kb=$(df -Pk /tmp | awk 'NR == 2 {print $4}')
  echo "== disk: $((free_kb / 1024 / 1024)) GiB free under /tmp (the full-size model needs ~10 GB, 14 GiB asked)"
  if [ "${free_kb:-0}" -ge "$need_kb" ]; then
    step make-model 90 "$BIN" make-tiny-model "$model" --full-size --layers 2 && gen_model=full-size-2-layers
    grep -q '^make-model 0 ' "$steps" || gen_model=none
  fi
  if [ "$gen_model" = none ]; then # too little disk, or the writer failed: the tiny model, so generate still runs
    rm -rf "$model"
    step make-tiny-model 30 "$BIN" make-tiny-model "$model" --seed 1 && gen_model=tiny
  fi
  step generate-1024 150 bash -c '"$0" generate --model "$1" --backend vulkan --resolution 1024 --preset V4_TURBO_12 \
      --steps "$3" --prompt "{\"high_level_description\": \"a red bicycle under a lamp post\"}" --out "$2/generate.png" \
      >"$2/generate.log" 2>&1; rc=$?; cat "$2/generate.json" >>"$2/generate.log" 2>/dev/null; rm -f "$2/generate.json"; \
      tail -n 4 "$2/generate.log"; exit $rc' "$BIN" "$model" "$OUT" "${GEN_STEPS:-4}"
  rm -rf "$model"

  # the other model parts at the real shapes
  bench text-encoder 45 text-encoder --repeat 1 --warmup 0
  bench vae-decode 45 vae-decode --repeat 1 --warmup 0
  # the real model's Linears at 4096 image + 256 text tokens (fp8), attention, conv
  bench linear-qkv 20 linear --dtype fp8 --m $T --k 4608 --n 13824 --repeat 3
  bench linear-out 20 linear --dtype fp8 --m $T --k 4608 --n 4608 --repeat 3
  bench linear-w13 20 linear --dtype fp8 --m $T --k 4608 --n 24576 --repeat 3
  bench linear-w2 20 linear --dtype fp8 --m $T --k 12288 --n 4608 --repeat 3
  bench linear-adaln 15 linear --dtype bf16 --m 1 --k 4608 --n 27648 --repeat 3
  # the same fp8 Linears in the bf16 mode: the cooperative-matrix GEMM where
  # `devices` says "GEMM path on" (linear_coop.glsl), linear.comp elsewhere
  bench linear-qkv-bf16 20 linear --dtype fp8 --m $T --k 4608 --n 13824 --precision bf16 --repeat 3
  bench linear-w2-bf16 20 linear --dtype fp8 --m $T --k 12288 --n 4608 --precision bf16 --repeat 3
  # and qkv in bf16 mode without it (the shared-memory GEMM): the coop path's gain
  IDEOGRAM4_VULKAN_COOPMAT=off bench linear-qkv-bf16-nocoop 20 linear --dtype fp8 --m $T --k 4608 --n 13824 \
    --precision bf16 --repeat 3
  bench attention 40 attention --tokens $T --heads 18 --head-dim 256 --repeat 3
  bench conv3x3 20 conv3x3 --channels 256 --size 128 --repeat 3
  rm -rf "$TMPDIR"

  # summary.json: steps, device, bench lines (python3 is there; jq may not be)
  python3 - "$OUT" "$gen_model" <<'PY' || echo "summary.json not written"
import json, os, sys
out, gen_model = sys.argv[1], sys.argv[2]
steps = []
for line in open(os.path.join(out, ".steps")):
    name, rc, secs = line.split()
    steps.append({"step": name, "rc": None if rc in ("skipped", "absent") else int(rc),
                  "status": rc if rc in ("skipped", "absent") else ("ok" if rc == "0" else "failed"),
                  "seconds": int(secs)})
bench = []
for line in open(os.path.join(out, "bench.jsonl")):
    line = line.strip()
    if line.startswith("{"):
        try: bench.append(json.loads(line))
        except ValueError: pass
def text(name):
    try: return open(os.path.join(out, name)).read()
    except OSError: return ""
sidecar = None
g = text("generate.log")
if "{" in g:
    try: sidecar = json.loads(g[g.index("\n{") + 1:] if "\n{" in g else g[g.index("{"):])
    except ValueError: pass
golden = [l for l in text("golden.log").splitlines() if " passed, " in l]
# The generate ran LAYERS_RUN layers per transformer; the real model has 34.
# Per step: one forward over text+image tokens and one over image tokens, so
# each missing layer adds dit-block(text+image) + dit-block(image) (the bench
# step's measured block lines). Extrapolated sampling time of the preset's
# steps = steps_preset * (measured s/step + (34 - LAYERS_RUN) * that).
extrapolated = None
blocks = [b for b in bench if b.get("op") == "dit-block"]
if gen_model == "full-size-2-layers" and sidecar and len(blocks) >= 2:
    t = sidecar.get("timings_seconds", {})
    n_steps = sidecar.get("steps") or sidecar.get("parameters", {}).get("steps")
    if t.get("sampling") and n_steps:
        per_layer = sum(b["seconds_median"] for b in blocks[:2])
        per_step = t["sampling"] / n_steps + (34 - 2) * per_layer
        extrapolated = {"layers": 34, "measured_layers": 2, "measured_steps": n_steps,
                        "seconds_per_step": per_step, "per_layer_seconds": per_layer,
                        "text_encoding": t.get("text_encoding"), "decoding": t.get("decoding"),
                        "V4_TURBO_12_seconds": t.get("text_encoding", 0) + 12 * per_step + t.get("decoding", 0),
                        "V4_QUALITY_48_seconds": t.get("text_encoding", 0) + 48 * per_step + t.get("decoding", 0),
                        "note": "EXTRAPOLATED: the 2-layer generate's s/step plus 32 x (dit-block(text+image) + dit-block(image)) of bench step"}
json.dump({"devices": text("devices.txt"), "golden_vulkan": golden[-1] if golden else None,
           "steps": steps, "bench": bench, "generate_model": gen_model, "generate_sidecar": sidecar,
           "generate_extrapolated_34_layers": extrapolated},
          open(os.path.join(out, "summary.json"), "w"), indent=1)
print("summary.json:", len(steps), "steps,", len(bench), "bench lines")
PY
  rm -f "$steps"
  echo "done in $((SECONDS - t_start)) s"
}

case "$mode" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: scripts/device-bench.sh prepare (here) | run (on the GPU machine, with \$OUT)"; exit 2 ;;
esac
