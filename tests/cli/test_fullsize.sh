#!/usr/bin/env bash
# CLI tests for `make-tiny-model DIR --full-size`: the plan (--dry-run) of
# the real model lists the real shapes and dtypes (docs/MODEL.md §3.1, §3.2,
# §5.1, §7) and sizes, --layers cuts only the two transformers, --shard-size
# splits files like the official sharded revisions, nothing is written by a
# dry run, and bad flags fail with exit code 2. (Writing the 10-27 GB
# snapshot is out of reach of CI: the writer runs on reduced widths in
# tests/unit/test_fullsize.c.)
set -u
cd "$(dirname "$0")/../.."
. tests/cli/lib.sh
BIN=${I4_BIN:-build/ideogram4}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$BIN" make-tiny-model "$tmp/one" --full-size --layers 1 --dry-run >"$tmp/one.txt" 2>"$tmp/one.err"
rc_one=$?
"$BIN" make-tiny-model "$tmp/full" --full-size --dry-run >"$tmp/full.txt" 2>"$tmp/full.err"
rc_full=$?
check "dry runs exit 0" test "$rc_one" -eq 0 -a "$rc_full" -eq 0
check "a dry run writes nothing" test ! -e "$tmp/one" -a ! -e "$tmp/full"

has() { # file line: the plan holds exactly this line
  grep -qxF -- "$2" "$1" || { echo "  missing: $2" >&2; return 1; }
}
T=transformer/diffusion_pytorch_model.safetensors
U=unconditional_transformer/diffusion_pytorch_model.safetensors
E=text_encoder/model.safetensors
V=vae/diffusion_pytorch_model.safetensors
# DiT: hidden 4608 = 18 heads x 256, FFN 12288, adaLN 512, F = 13 x 4096, C_in 128.
check "transformer: fused qkv [3D, D] FP8 + per-row F32 scale" bash -c "
  grep -qxF 'tensor $T layers.0.attention.qkv.weight F8_E4M3 [13824, 4608] 63700992' '$tmp/one.txt' &&
  grep -qxF 'tensor $T layers.0.attention.qkv.weight_scale F32 [13824] 55296' '$tmp/one.txt'"
check "transformer: 18 heads of 256 (q/k norms [256])" has "$tmp/one.txt" \
  "tensor $T layers.0.attention.norm_q.weight BF16 [256] 512"
check "transformer: FFN 12288" bash -c "
  grep -qxF 'tensor $T layers.0.feed_forward.w1.weight F8_E4M3 [12288, 4608] 56623104' '$tmp/one.txt' &&
  grep -qxF 'tensor $T layers.0.feed_forward.w2.weight F8_E4M3 [4608, 12288] 56623104' '$tmp/one.txt'"
check "transformer: adaLN 512, modulation [4D, A] with bias" bash -c "
  grep -qxF 'tensor $T adaln_proj.weight F8_E4M3 [512, 4608] 2359296' '$tmp/one.txt' &&
  grep -qxF 'tensor $T layers.0.adaln_modulation.weight F8_E4M3 [18432, 512] 9437184' '$tmp/one.txt' &&
  grep -qxF 'tensor $T layers.0.adaln_modulation.bias BF16 [18432] 36864' '$tmp/one.txt'"
check "transformer: text features 13 x 4096" bash -c "
  grep -qxF 'tensor $T llm_cond_proj.weight F8_E4M3 [4608, 53248] 245366784' '$tmp/one.txt' &&
  grep -qxF 'tensor $T llm_cond_norm.weight BF16 [53248] 106496' '$tmp/one.txt' &&
  grep -qxF 'tensor $T input_proj.weight F8_E4M3 [4608, 128] 589824' '$tmp/one.txt'"
check "the unconditional transformer has the same tensors" bash -c "
  diff <(grep '^tensor $T ' '$tmp/one.txt' | cut -d' ' -f3-) <(grep '^tensor $U ' '$tmp/one.txt' | cut -d' ' -f3-)"
check "--layers 1: one block in each transformer" bash -c "
  grep -q '^tensor $T layers\.0\.' '$tmp/one.txt' && ! grep -q '^tensor [a-z_]*transformer/[^ ]* layers\.1\.' '$tmp/one.txt' &&
  grep -qx 'dims transformer hidden 4608 heads 18 head_dim 256 ffn 12288 adaln 512 text_features 53248 in_channels 128 layers 1' '$tmp/one.txt'"
check "full depth: 34 blocks" bash -c "
  grep -q '^tensor $T layers\.33\.' '$tmp/full.txt' && ! grep -q '^tensor $T layers\.34\.' '$tmp/full.txt'"
# Qwen3-VL 8B: 36 layers kept (taps up to 35), 32 query + 8 KV heads of 128, FFN 12288.
for f in one full; do
  check "text encoder keeps 36 layers ($f)" bash -c "
    grep -qxF 'tensor $E language_model.layers.35.mlp.down_proj.weight F8_E4M3 [4096, 12288] 50331648' '$tmp/$f.txt' &&
    ! grep -q 'language_model.layers.36\.' '$tmp/$f.txt'"
done
check "text encoder: embeddings BF16, GQA 32/8 x 128" bash -c "
  grep -qxF 'tensor $E language_model.embed_tokens.weight BF16 [151936, 4096] 1244659712' '$tmp/one.txt' &&
  grep -qxF 'tensor $E language_model.layers.0.self_attn.q_proj.weight F8_E4M3 [4096, 4096] 16777216' '$tmp/one.txt' &&
  grep -qxF 'tensor $E language_model.layers.0.self_attn.k_proj.weight F8_E4M3 [1024, 4096] 4194304' '$tmp/one.txt' &&
  grep -qxF 'tensor $E language_model.layers.0.self_attn.q_norm.weight BF16 [128] 256' '$tmp/one.txt'"
check "VAE: widths 128/256/512/512, BF16" bash -c "
  grep -qxF 'tensor $V decoder.conv_in.weight BF16 [512, 32, 3, 3] 294912' '$tmp/one.txt' &&
  grep -qxF 'tensor $V decoder.up_blocks.3.resnets.0.conv_shortcut.weight BF16 [128, 256, 1, 1] 65536' '$tmp/one.txt' &&
  grep -qxF 'tensor $V decoder.conv_out.weight BF16 [3, 128, 3, 3] 6912' '$tmp/one.txt' &&
  grep -qxF 'tensor $V bn.running_var F32 [128] 512' '$tmp/one.txt'"
check "one file per component (the official FP8 layout)" bash -c "
  test \$(grep -c '^file ' '$tmp/full.txt') -eq 4 && grep -q '^file $E ' '$tmp/full.txt'"

# Sizes. One DiT block in bytes from docs/MODEL.md §3.2 (D 4608, I 12288,
# A 512): FP8 weights 3D·D + D·D + 2·I·D + D·I + 4D·A, F32 scales
# 4·(3D + D + I + I + D + 4D), BF16 2·(2·256 + 4·D + 4D bias).
D=4608; I=12288; A=512
block=$(( 3*D*D + D*D + 3*I*D + 4*D*A + 4*(9*D + 2*I) + 2*(2*256 + 4*D + 4*D) ))
value() { awk -v k="$2" -v n="$3" '$1 == k && $2 == n {print $3}' "$1"; }
total_full=$(awk '$1 == "total" {print $2}' "$tmp/full.txt")
total_one=$(awk '$1 == "total" {print $2}' "$tmp/one.txt")
check "full depth is about 27 GB (26.9e9 .. 27.0e9 bytes)" \
  test "${total_full:-0}" -gt 26900000000 -a "${total_full:-0}" -lt 27000000000
check "--layers 1 removes 33 blocks from each transformer (and a little header)" bash -c "
  d=\$(( $total_full - ${total_one:-0} - 2*33*$block )); test \$d -gt 0 -a \$d -lt 200000"
check "text encoder and VAE sizes do not depend on --layers" bash -c "
  test '$(value "$tmp/one.txt" bytes text_encoder)' = '$(value "$tmp/full.txt" bytes text_encoder)' &&
  test '$(value "$tmp/one.txt" bytes vae)' = '$(value "$tmp/full.txt" bytes vae)' &&
  test -n '$(value "$tmp/one.txt" bytes vae)'"
check "the totals add up" bash -c "
  test \$(awk '\$1 == \"file\" {s += \$3} END {printf \"%.0f\", s}' '$tmp/full.txt') = '$total_full'"

# --shard-size: like save_pretrained's max_shard_size.
"$BIN" make-tiny-model "$tmp/sh" --full-size --dry-run --shard-size 5GB >"$tmp/sh.txt" 2>&1
check "--shard-size 5GB: 2 + 2 + 2 + 1 shards, same total bytes of tensor data" bash -c "
  grep -q '^file transformer/diffusion_pytorch_model-00002-of-00002.safetensors ' '$tmp/sh.txt' &&
  grep -q '^file text_encoder/model-00002-of-00002.safetensors ' '$tmp/sh.txt' &&
  grep -q '^file vae/diffusion_pytorch_model-00001-of-00001.safetensors ' '$tmp/sh.txt' &&
  test \$(grep -c '^file ' '$tmp/sh.txt') -eq 7 &&
  test '$(value "$tmp/full.txt" data transformer)' = \"\$(awk '\$1 == \"data\" && \$2 == \"transformer\" {print \$3}' '$tmp/sh.txt')\""
check "every shard holds at most 5e9 bytes" bash -c "
  ! awk '\$1 == \"file\" && \$3 > 5000100000' '$tmp/sh.txt' | grep -q ."

fails2() { # expected-substring command...: exit code 2 and the message
  local want=$1; shift
  local out rc
  out=$("$@" 2>&1); rc=$?
  [ "$rc" -eq 2 ] && grep -qF -- "$want" <<<"$out" || { echo "  rc $rc: $out" >&2; return 1; }
}
check "--layers needs --full-size" fails2 "need --full-size" "$BIN" make-tiny-model "$tmp/x" --layers 2
check "--dry-run needs --full-size" fails2 "need --full-size" "$BIN" make-tiny-model "$tmp/x" --dry-run
check "--layers 0" fails2 "[1, 34]" "$BIN" make-tiny-model "$tmp/x" --full-size --layers 0 --dry-run
check "--layers 35" fails2 "[1, 34]" "$BIN" make-tiny-model "$tmp/x" --full-size --layers 35 --dry-run
check "--shard-size garbage" fails2 "--shard-size" "$BIN" make-tiny-model "$tmp/x" --full-size --shard-size 5X --dry-run
check "--shard-size 0" fails2 "--shard-size" "$BIN" make-tiny-model "$tmp/x" --full-size --shard-size 0 --dry-run
check "bad flags write nothing" test ! -e "$tmp/x"
summary
