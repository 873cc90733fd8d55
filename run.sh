#!/usr/bin/env bash
# The main job: set up, build, write one sample image, then run the app
# (HTTP server + web UI) at http://127.0.0.1:8000/ until Ctrl-C.
#
# Uses the real weights when `ideogram-ai/ideogram-4-fp8` is in the Hugging
# Face cache (or MODEL=DIR is set); otherwise the built-in tiny model (random
# weights: images are noise-like, but every stage of the engine runs).
#   ./run.sh                 sample image output/result.png, then the app
#   ./run.sh --no-serve      only the sample image
#   ./run.sh [--no-serve] --preset V4_QUALITY_48 ...   extra flags go to `generate`
# IDEOGRAM4_SERVER_PORT / IDEOGRAM4_SERVER_HOST (or a .env file) move the app.
set -euo pipefail
cd "$(dirname "$0")"
serve=1
gen_args=()
for a in "$@"; do
  if [ "$a" = --no-serve ]; then serve=0; else gen_args+=("$a"); fi
done
./scripts/setup.sh
model=${MODEL:-}
if [ -z "$model" ] && build/ideogram4 tokenize --repo ideogram-ai/ideogram-4-fp8 --raw x >/dev/null 2>&1; then
  echo "using the real weights from the Hugging Face cache"
  args=(--repo ideogram-ai/ideogram-4-fp8)
  serve_args=(--repo ideogram-ai/ideogram-4-fp8)
else
  model=${model:-build/tiny-model}
  if [ "$model" = build/tiny-model ]; then
    build/ideogram4 make-tiny-model "$model" --seed 1 >/dev/null
    echo "real weights not found: using the built-in tiny model ($model)"
    serve_args=(--demo)
  else
    serve_args=(--model "$model")
  fi
  args=(--model "$model" --preset V4_TURBO_12 --resolution 512)  # quick on the tiny model; flags after override
fi
mkdir -p output
build/ideogram4 generate "${args[@]}" --prompt-file examples/caption.json --out output/result.png "${gen_args[@]}"
[ "$serve" = 1 ] || exit 0
echo "starting the app: open http://${IDEOGRAM4_SERVER_HOST:-127.0.0.1}:${IDEOGRAM4_SERVER_PORT:-8000}/ (Ctrl-C stops it)"
exec build/ideogram4 serve "${serve_args[@]}" --load
