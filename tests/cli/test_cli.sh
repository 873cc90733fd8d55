#!/usr/bin/env bash
# CLI integration tests: make-tiny-model determinism and layout, argument errors.
set -u
cd "$(dirname "$0")/../.."
. tests/cli/lib.sh
BIN=${I4_BIN:-build/ideogram4}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$BIN" make-tiny-model "$tmp/a" --seed 7 >/dev/null 2>"$tmp/err_a"
"$BIN" make-tiny-model "$tmp/b" --seed 7 >/dev/null 2>"$tmp/err_b"
"$BIN" make-tiny-model "$tmp/c" --seed 8 >/dev/null 2>"$tmp/err_c"

same_tree() { diff -r "$1" "$2" >/dev/null; }
differs() { ! diff -r -q "$1" "$2" >/dev/null; }
has_files() {
  for f in model_index.json scheduler/scheduler_config.json tokenizer/tokenizer.json tokenizer/tokenizer_config.json \
           tokenizer/chat_template.jinja transformer/config.json transformer/diffusion_pytorch_model.safetensors.index.json \
           unconditional_transformer/config.json unconditional_transformer/diffusion_pytorch_model.safetensors.index.json \
           text_encoder/config.json text_encoder/model.safetensors vae/config.json vae/diffusion_pytorch_model.safetensors; do
    [ -s "$1/$f" ] || { echo "  missing $f" >&2; return 1; }
  done
  ls "$1"/transformer/diffusion_pytorch_model-0000*-of-0000*.safetensors >/dev/null
}
check "make-tiny-model writes the official layout" has_files "$tmp/a"
check "make-tiny-model is byte-identical for the same seed" same_tree "$tmp/a" "$tmp/b"
check "make-tiny-model differs for another seed" differs "$tmp/a" "$tmp/c"
check "conditional and unconditional weights differ" \
  differs "$tmp/a/transformer" "$tmp/a/unconditional_transformer"

fails_with() { # expected-substring command...
  local want=$1; shift
  local out
  out=$("$@" 2>&1) && return 1
  grep -qF -- "$want" <<<"$out" || { echo "  got: $out" >&2; return 1; }
}
check "unknown command is an error" fails_with "unknown command" "$BIN" frobnicate
check "debug-forward: unknown component" fails_with "unknown component" \
  "$BIN" debug-forward widget --model "$tmp/a" --in x --out y
check "debug-forward: missing --in" fails_with "usage" "$BIN" debug-forward transformer --model "$tmp/a"
check "debug-forward: bad precision" fails_with "unknown precision" \
  "$BIN" debug-forward transformer --model "$tmp/a" --in x --out y --precision fp4
check "debug-forward: missing snapshot explains how to download" fails_with "hf download" \
  env HF_HOME="$tmp/empty" "$BIN" debug-forward transformer --in x --out y
check "debug-forward: unreadable input file" fails_with "cannot open" \
  "$BIN" debug-forward transformer --model "$tmp/a" --in "$tmp/nope.safetensors" --out "$tmp/o.safetensors"
check "make-tiny-model: bad seed" fails_with "--seed" "$BIN" make-tiny-model "$tmp/d" --seed -3
check "version prints" bash -c "'$BIN' version | grep -q '^ideogram4 '"
summary
