#!/usr/bin/env python3
"""Golden vectors for the text encoder (docs/MODEL.md §5): tests/vectors/qwen3_<case>.safetensors.

Loads MODEL/text_encoder/ (config.json + model.safetensors) into transformers'
Qwen3VLModel, dequantizing the FP8 Linears per precision (docs/MODEL.md §2.3):
  f32 : W = e4m3(code) * scale                       (f32 model, f32 run)
  bf16: W = bf16(e4m3(code) * bf16(scale))           (bf16 model, bf16 run)
and runs the Ideogram 4 feature extraction of diffusers' Ideogram4Pipeline
(`_get_text_encoder_hidden_states`: the raw outputs of decoder layers
(0, 3, ..., 33, 35), no final norm), stacked interleaved as the pipeline does:
stack -> [13, 1, L, H] -> permute -> [1, L, H, 13] -> reshape [1, L, 13*H],
i.e. features[..., d*13 + k]. The same taps are cross-checked with forward
hooks on the decoder layers of a plain Qwen3VLTextModel forward.

Each file holds
  input_ids      I64  [1, L]
  features_f32   F32  [1, L, 13*H]  (f32 run)
  features_bf16  BF16 [1, L, 13*H]  (bf16 run; exact values)
  spread_bf16    F32  [1]           rel L2(features_bf16, features_f32)
Usage: ref_qwen3.py --model TINY_SNAPSHOT --out tests/vectors
"""
import argparse
import json
import os

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import Qwen3VLConfig, Qwen3VLModel
from diffusers.pipelines.ideogram4.pipeline_ideogram4 import QWEN3_VL_ACTIVATION_LAYERS, Ideogram4Pipeline

CASES = {
    # The chat template of "Hello" (docs/MODEL.md §11.2: 9 tokens for a one-word prompt).
    "hello": [151644, 872, 198, 9707, 151645, 198, 151644, 77091, 198],
    # 40 mixed ids: special tokens, the first and last vocabulary rows, high ids,
    # repeats, ordinary text ids.
    "mixed": [151644, 872, 198, 0, 1, 151935, 151643, 151655, 151652, 151653,
              42, 42, 42, 13, 220, 100000, 151000, 151645, 151646, 9707,
              1879, 11, 358, 1079, 264, 1273, 315, 279, 2083, 13,
              77091, 151934, 65535, 500, 151656, 2, 151644, 77091, 198, 3],
}


def load_state(te_dir):
    """language_model.* tensors with the prefix stripped, as raw stored tensors."""
    path = os.path.join(te_dir, "model.safetensors")
    out = {}
    with safe_open(path, framework="pt") as f:
        for name in f.keys():
            for prefix in ("model.language_model.", "language_model."):
                if name.startswith(prefix):
                    out[name[len(prefix):]] = f.get_tensor(name)
                    break
    return out


def dequantize(raw, dtype):
    sd = {}
    for name, t in raw.items():
        if name.endswith(".weight_scale"):
            continue
        if t.dtype == torch.float8_e4m3fn:
            scale = raw[name + "_scale"].float()
            if dtype == torch.bfloat16:
                w = (t.float() * scale.bfloat16().float()[:, None]).bfloat16()
            else:
                w = t.float() * scale[:, None]
            sd[name] = w
        else:
            sd[name] = t.to(dtype)
    return sd


def build(te_dir, raw, dtype):
    with open(os.path.join(te_dir, "config.json")) as f:
        cfg = Qwen3VLConfig(**json.load(f))
    model = Qwen3VLModel(cfg).eval()
    lm = model.language_model
    inv_freq = lm.rotary_emb.inv_freq.clone()
    model.to(dtype)
    lm.rotary_emb.inv_freq = inv_freq  # the reference keeps the rotary table in f32
    assert lm.rotary_emb.inv_freq.dtype == torch.float32
    missing, unexpected = lm.load_state_dict(dequantize(raw, dtype), strict=False)
    missing = [k for k in missing if "rotary" not in k]
    assert not missing and not unexpected, (missing, unexpected)
    for p in lm.parameters():
        assert p.dtype == dtype
    return model


@torch.no_grad()
def features(model, ids):
    tok = torch.tensor([ids], dtype=torch.long)
    mask = torch.ones_like(tok)
    pos = torch.arange(len(ids))[None]
    sel = Ideogram4Pipeline._get_text_encoder_hidden_states(model, tok, mask, pos)
    feat = torch.stack(sel, dim=0).permute(1, 2, 3, 0).reshape(1, len(ids), -1)

    # Cross-check: forward hooks on the decoder layers of a plain text-model forward.
    taps = {}
    hooks = [layer.register_forward_hook(lambda m, a, o, i=i: taps.__setitem__(i, o))
             for i, layer in enumerate(model.language_model.layers)]
    out = model.language_model(input_ids=tok, output_hidden_states=True)
    for h in hooks:
        h.remove()
    hooked = torch.stack([taps[i] for i in QWEN3_VL_ACTIVATION_LAYERS], -1).reshape(1, len(ids), -1)
    d = (hooked.float() - feat.float()).norm() / feat.float().norm()
    assert d < 1e-6 if feat.dtype == torch.float32 else d < 2e-2, f"hooked taps differ: {d}"
    # hidden_states[-1] has the final norm applied (so it is NOT tap 35); [36] pre-norm would be layer 35.
    hs = out.hidden_states
    last_is_normed = not torch.equal(hs[-1], taps[len(model.language_model.layers) - 1])
    return feat, float(d), last_is_normed


def rel_l2(a, b):
    return float((a.double() - b.double()).norm() / b.double().norm())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.manual_seed(0)
    te_dir = os.path.join(args.model, "text_encoder")
    raw = load_state(te_dir)
    m32 = build(te_dir, raw, torch.float32)
    m16 = build(te_dir, raw, torch.bfloat16)
    print(f"attention implementation: {m32.config.text_config._attn_implementation}")
    os.makedirs(args.out, exist_ok=True)
    H = m32.config.text_config.hidden_size
    for name, ids in CASES.items():
        f32, d32, normed = features(m32, ids)
        f16, d16, _ = features(m16, ids)
        spread = rel_l2(f16.float(), f32)
        # Sanity on the tiny model: the 13 taps differ (layers do work).
        taps = f32.reshape(len(ids), H, 13)
        tap_rms = [float(taps[:, :, k].pow(2).mean().sqrt()) for k in range(13)]
        step = [rel_l2(taps[:, :, k + 1], taps[:, :, k]) for k in range(12)]
        print(f"{name}: L={len(ids)} spread bf16 vs f32 = {spread:.3e}; hooks vs pipeline: f32 {d32:.1e}, bf16 {d16:.1e};"
              f" hidden_states[-1] is final-normed: {normed}")
        print(f"  tap rms {['%.2f' % v for v in tap_rms]}")
        print(f"  rel change between consecutive taps {['%.2f' % v for v in step]}")
        path = os.path.join(args.out, f"qwen3_{name}.safetensors")
        save_file({
            "input_ids": torch.tensor([ids], dtype=torch.int64),
            "features_f32": f32.float().contiguous(),
            "features_bf16": f16.to(torch.bfloat16).contiguous(),
            "spread_bf16": torch.tensor([spread], dtype=torch.float32),
        }, path, metadata={"generator": "tools/reference/ref_qwen3.py", "spread_bf16": f"{spread:.6e}",
                           "taps": ",".join(map(str, QWEN3_VL_ACTIVATION_LAYERS))})
        print(f"  wrote {path}")


if __name__ == "__main__":
    main()
