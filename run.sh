#!/usr/bin/env bash
# Sets up, builds and runs the engine on the built-in tiny model. Until the
# generation pipeline lands (issue 3) the "main job" is one forward pass of
# each network (text encoder, both transformers, VAE decoder) through
# `ideogram4 debug-forward`, on the golden-vector inputs (which have the tiny
# model's dimensions, so the real weights cannot be used here yet).
set -euo pipefail
cd "$(dirname "$0")"
./scripts/setup.sh
model=build/tiny-model
build/ideogram4 make-tiny-model "$model" --seed 1 >/dev/null
echo "using the built-in tiny model ($model)"
for v in tests/vectors/qwen3_*.safetensors; do
  [ -e "$v" ] && build/ideogram4 debug-forward text-encoder --model "$model" --in "$v" --out build/run-text.safetensors && break
done
for v in tests/vectors/dit_cond*.safetensors; do
  [ -e "$v" ] && build/ideogram4 debug-forward transformer --model "$model" --in "$v" --out build/run-dit.safetensors && break
done
for v in tests/vectors/dit_uncond*.safetensors; do
  [ -e "$v" ] && build/ideogram4 debug-forward unconditional-transformer --model "$model" --in "$v" --out build/run-dit-u.safetensors && break
done
for v in tests/vectors/vae_*.safetensors; do
  [ -e "$v" ] && build/ideogram4 debug-forward vae-decoder --model "$model" --in "$v" --out build/run-vae.safetensors && break
done
echo "ran every network once; outputs in build/run-*.safetensors"
