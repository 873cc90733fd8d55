#!/usr/bin/env bash
# Sets up, builds and generates one image from examples/caption.json.
# Uses the real weights when `ideogram-ai/ideogram-4-fp8` is in the Hugging
# Face cache (or MODEL=DIR is set); otherwise the built-in tiny model (random
# weights: the image is noise-like, but every stage of the engine runs).
# Extra arguments go to `ideogram4 generate` (e.g. --preset V4_TURBO_12).
set -euo pipefail
cd "$(dirname "$0")"
./scripts/setup.sh
model=${MODEL:-}
if [ -z "$model" ] && build/ideogram4 tokenize --repo ideogram-ai/ideogram-4-fp8 --raw x >/dev/null 2>&1; then
  echo "using the real weights from the Hugging Face cache"
  args=(--repo ideogram-ai/ideogram-4-fp8)
else
  model=${model:-build/tiny-model}
  if [ "$model" = build/tiny-model ]; then
    build/ideogram4 make-tiny-model "$model" --seed 1 >/dev/null
    echo "real weights not found: using the built-in tiny model ($model)"
  fi
  args=(--model "$model" --preset V4_TURBO_12 --resolution 512)  # quick on the tiny model; flags after override
fi
mkdir -p output
build/ideogram4 generate "${args[@]}" --prompt-file examples/caption.json --out output/result.png "$@"
