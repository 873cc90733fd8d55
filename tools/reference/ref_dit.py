#!/usr/bin/env python3
"""Golden vectors for the Ideogram 4 transformer (src/model/dit.c), from diffusers.

Usage: ref_dit.py --model TINY_SNAPSHOT --out tests/vectors

Loads TINY/transformer and TINY/unconditional_transformer (official FP8
layout, written by `ideogram4 make-tiny-model`) into diffusers'
Ideogram4Transformer2DModel and writes tests/vectors/dit_<case>.safetensors:

  inputs (the `ideogram4 debug-forward transformer` format)
    hidden_states F32 [1, L, C_in], timestep F32 [1] (model time t: 0 = noise,
    1 = data, a bf16-representable value), encoder_hidden_states [1, L, F]
    (BF16 — the values are bf16-representable, so this is exact and halves the
    file; absent for the unconditional layout = zeros), position_ids,
    segment_ids, indicator I64 [1, L, 3] / [1, L] / [1, L]
  expected outputs
    velocity_f32   diffusers in float32, weights e4m3 * scale in f32
    velocity_bf16  diffusers in bfloat16, weights bf16(e4m3 * bf16(scale)) (docs/MODEL.md §2.3)
    velocity_bf16_explicit_attn  the same bf16 run with SDPA replaced by an
                   explicit form of its flash-attention rounding (docs/MODEL.md
                   3.5.2): f32 scores, e = exp(s - max) in f32, l = sum e (f32),
                   out = bf16((bf16(e) . v) / l). torch's CPU flash kernel does
                   this with its own fast exp, which flips ~3% of the bf16
                   attention outputs by one ulp; the explicit form pins the
                   rest of the rounding sequence down (the C engine reproduces
                   it bit for bit or nearly)
    spread_bf16_vs_f32 F32 [1]  rel L2(velocity_bf16, velocity_f32) over image rows
  (also in the metadata, with rmsnorm_diffusers_vs_official = rel L2 of the
  bf16 output with diffusers' own RMSNorm against the one used here).

How diffusers takes the inputs (read from transformer_ideogram4.py, 0.42.1):
  * `timestep` is already the model time t in [0, 1] (0 = noise, 1 = data); the
    pipeline converts its sigma-domain timesteps with 1 - t/1000 before calling.
    Ideogram4EmbedScalar computes f32(1e4 * t), freq = exp(-j ln(1e4)/(half-1))
    in f32, [sin, cos], cast to the input dtype — identical to docs/MODEL.md §3.7.
    The bf16 run passes t as a bf16 tensor (as the pipeline does); the value is
    bf16-representable so both runs see the same t.
  * It always passes a boolean segment mask to SDPA; docs/MODEL.md §3.5 step 11 says
    "no mask" is identical when all segment ids agree (the C code skips it).
  * Masks/padding: features and latents are multiplied by the indicator masks
    exactly as docs/MODEL.md §3.5 steps 2-4, 7.
Deviations from docs/MODEL.md and how this script compensates:
  1. RMSNorm rounding. diffusers' RMSNorm class computes bf16(w * bf16(x*r))
     (two roundings); the official package calls torch.nn.functional.rms_norm,
     which rounds once, bf16(w * (x*r)) — on CUDA and on the CPU kernel of
     torch 2.15 (checked). The C engine uses the one-rounding form
     (I4_RMS_ROUND_ONCE), so every RMSNorm module's forward is replaced by
     F.rms_norm(x, dim, weight, eps) in both runs (f32: same math).
  2. inv_freq buffer. Module.to(torch.bfloat16) would also round the RoPE
     inv_freq buffer to bf16, which diffusers' from_pretrained does not do (the
     buffer is created in f32 at init and only parameters get the dtype); the
     bf16 model gets its f32 inv_freq back after the cast.
  3. mrope_section of the tiny model is (4, 3, 3): the real (24, 20, 20) indexes
     frequency slots up to 59, which do not exist with head_dim 32 (diffusers
     raises an IndexError). Same interleaving rule, with a T-axis tail.
"""
import argparse
import json
import os

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file

from diffusers.utils import logging as diffusers_logging
from diffusers.models.normalization import RMSNorm
from diffusers.models.transformers import transformer_ideogram4
from diffusers.models.transformers.transformer_ideogram4 import Ideogram4Transformer2DModel

IMAGE_OFFSET = 65536


def load_tensors(folder):
    """All tensors of a component folder (single file or sharded index)."""
    single = os.path.join(folder, "diffusion_pytorch_model.safetensors")
    if os.path.exists(single):
        files = [single]
    else:
        with open(os.path.join(folder, "diffusion_pytorch_model.safetensors.index.json")) as f:
            index = json.load(f)
        files = sorted({os.path.join(folder, v) for v in index["weight_map"].values()})
    out = {}
    for path in files:
        with safe_open(path, "pt") as f:
            for k in f.keys():
                out[k] = f.get_tensor(k)
    return out


def diffusers_state_dict(raw, dtype):
    """Official FP8 names -> diffusers names, dequantized (docs/MODEL.md §2.3, 3.3)."""
    sd = {}
    for name, t in raw.items():
        if name.endswith(".weight_scale"):
            continue
        if t.dtype == torch.float8_e4m3fn:
            prefix = name[: -len(".weight")]
            scale = raw[prefix + ".weight_scale"].to(torch.float32)
            codes = t.to(torch.float32)
            if dtype == torch.float32:
                w = codes * scale[:, None]  # exact f32 product
            else:
                w = (codes * scale.to(torch.bfloat16).to(torch.float32)[:, None]).to(torch.bfloat16)
        else:
            w = t.to(dtype)
        if name.endswith("attention.qkv.weight"):
            base = name[: -len("qkv.weight")]
            d = w.shape[0] // 3
            sd[base + "to_q.weight"] = w[:d].clone()
            sd[base + "to_k.weight"] = w[d : 2 * d].clone()
            sd[base + "to_v.weight"] = w[2 * d :].clone()
        elif name.endswith("attention.o.weight"):
            sd[name[: -len("o.weight")] + "to_out.0.weight"] = w
        else:
            sd[name] = w
    return sd


def official_rmsnorm(model):
    """Make every diffusers RMSNorm call F.rms_norm (one bf16 rounding), as the official package."""
    for m in model.modules():
        if isinstance(m, RMSNorm):
            m.forward = (lambda mod: (lambda x: F.rms_norm(x, mod.dim, mod.weight, mod.eps)))(m)


def build(folder, dtype, official_norm=True):
    with open(os.path.join(folder, "config.json")) as f:
        cfg = {k: v for k, v in json.load(f).items() if not k.startswith("_")}
    cfg["mrope_section"] = tuple(cfg["mrope_section"])
    model = Ideogram4Transformer2DModel(**cfg).eval()
    inv_freq = model.rotary_emb.inv_freq.clone()
    model = model.to(dtype)
    model.rotary_emb.inv_freq = inv_freq  # keep f32 (see deviation 2)
    missing, unexpected = model.load_state_dict(diffusers_state_dict(load_tensors(folder), dtype), strict=True)
    assert not missing and not unexpected, (missing, unexpected)
    if official_norm:
        official_rmsnorm(model)
    return model, cfg


def run(model, dtype, inp):
    kw = dict(
        hidden_states=inp["hidden_states"].to(dtype),
        timestep=inp["timestep"].to(dtype),
        encoder_hidden_states=inp["encoder_hidden_states"].to(dtype),
        position_ids=inp["position_ids"],
        segment_ids=inp["segment_ids"],
        indicator=inp["indicator"],
        return_dict=False,
    )
    with torch.no_grad():
        return model(**kw)[0].to(torch.float32)


def explicit_attention(query, key, value, attn_mask=None, **_):
    """Flash-attention rounding on diffusers' (B, L, H, D) layout: unnormalised
    e = exp(s - max) rounded to the input dtype for P.V, row sum l in f32."""
    q, k, v = (t.transpose(1, 2).to(torch.float32) for t in (query, key, value))
    s = (q @ k.transpose(-1, -2)) * (q.shape[-1] ** -0.5)
    if attn_mask is not None:
        s = s.masked_fill(~attn_mask, float("-inf"))
    e = torch.exp(s - s.amax(dim=-1, keepdim=True))
    l = e.sum(dim=-1, keepdim=True)
    acc = e.to(query.dtype).to(torch.float32) @ v
    return (acc / l).to(query.dtype).transpose(1, 2)


def run_explicit_attention(model, dtype, inp):
    saved = transformer_ideogram4.dispatch_attention_fn
    transformer_ideogram4.dispatch_attention_fn = explicit_attention
    try:
        return run(model, dtype, inp)
    finally:
        transformer_ideogram4.dispatch_attention_fn = saved


def bf16_values(gen, shape):
    return torch.randn(shape, generator=gen).to(torch.bfloat16).to(torch.float32)


def layout(n_pad, n_txt, gh, gw, cfg, gen, garbage=False):
    """Packed sequence of docs/MODEL.md §4.1 (4.2 when n_pad = n_txt = 0)."""
    C, Fd = cfg["in_channels"], cfg["llm_features_dim"]
    L = n_pad + n_txt + gh * gw
    ind = torch.zeros(1, L, dtype=torch.int64)
    seg = torch.zeros(1, L, dtype=torch.int64)
    pos = torch.zeros(1, L, 3, dtype=torch.int64)
    ind[0, :n_pad], seg[0, :n_pad] = 0, -1
    for i in range(n_txt):
        n = n_pad + i
        ind[0, n], seg[0, n] = 3, 1
        pos[0, n] = torch.tensor([i, i, i])
    for k in range(gh * gw):
        n = n_pad + n_txt + k
        ind[0, n], seg[0, n] = 2, 1
        pos[0, n] = torch.tensor([IMAGE_OFFSET, IMAGE_OFFSET + k // gw, IMAGE_OFFSET + k % gw])
    x = bf16_values(gen, (1, L, C))
    feat = bf16_values(gen, (1, L, Fd))
    if not garbage:  # the pipeline's zeros in the slots the model masks out
        x = x * (ind == 2).unsqueeze(-1)
        feat = feat * (ind == 3).unsqueeze(-1)
    return x, feat, pos, seg, ind


def rel_l2(a, b):
    return float(torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b))


def make_case(name, folder, out_dir, t, n_pad, n_txt, gh, gw, seed, with_features, garbage=False):
    m32, cfg = build(folder, torch.float32)
    m16, _ = build(folder, torch.bfloat16)
    m16_diffusers_norm, _ = build(folder, torch.bfloat16, official_norm=False)
    gen = torch.Generator().manual_seed(seed)
    x, feat, pos, seg, ind = layout(n_pad, n_txt, gh, gw, cfg, gen, garbage)
    if not with_features:
        feat = torch.zeros_like(feat)
    inp = dict(hidden_states=x, timestep=torch.tensor([t], dtype=torch.float32), encoder_hidden_states=feat,
               position_ids=pos, segment_ids=seg, indicator=ind)
    assert float(torch.tensor(t).to(torch.bfloat16)) == t
    v32 = run(m32, torch.float32, inp)
    v16 = run(m16, torch.bfloat16, inp)
    v16d = run(m16_diffusers_norm, torch.bfloat16, inp)
    v16e = run_explicit_attention(m16, torch.bfloat16, inp)
    img = ind[0] == 2
    spread = rel_l2(v16[0, img], v32[0, img])
    norm_dev = rel_l2(v16d[0, img], v16[0, img])
    attn_dev = rel_l2(v16e[0, img], v16[0, img])
    std = float(v32[0, img].std())
    tensors = {
        "hidden_states": x.contiguous(),
        "timestep": inp["timestep"],
        "position_ids": pos.contiguous(),
        "segment_ids": seg.contiguous(),
        "indicator": ind.contiguous(),
        "velocity_f32": v32.contiguous(),
        "velocity_bf16": v16.contiguous(),
        "velocity_bf16_explicit_attn": v16e.contiguous(),
        "spread_bf16_vs_f32": torch.tensor([spread], dtype=torch.float32),
    }
    if with_features:
        tensors["encoder_hidden_states"] = feat.to(torch.bfloat16).contiguous()
    meta = {
        "component": os.path.basename(folder.rstrip("/")),
        "generator": "tools/reference/ref_dit.py (diffusers Ideogram4Transformer2DModel, torch %s)" % torch.__version__,
        "spread_bf16_vs_f32": "%.6g" % spread,
        "rmsnorm_diffusers_vs_official": "%.6g" % norm_dev,
        "explicit_attn_vs_sdpa_bf16": "%.6g" % attn_dev,
        "velocity_std": "%.6g" % std,
    }
    path = os.path.join(out_dir, f"{name}.safetensors")
    save_file(tensors, path, metadata=meta)
    print(f"{path}: L={x.shape[1]} t={t} image-row std {std:.4f}, bf16-vs-f32 spread {spread:.3e}, "
          f"diffusers RMSNorm vs F.rms_norm (bf16) {norm_dev:.3e}, explicit attention vs SDPA (bf16) {attn_dev:.3e}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="tiny snapshot folder")
    ap.add_argument("--out", required=True, help="output folder (tests/vectors)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    diffusers_logging.set_verbosity_error()  # silence the warning about Module.to(bfloat16) (see deviation 2)
    torch.set_num_threads(1)
    cond = os.path.join(a.model, "transformer")
    uncond = os.path.join(a.model, "unconditional_transformer")
    # 2 left-padding + 7 text tokens + a 4x5 image grid (docs/MODEL.md §4.1): segment mask in use.
    make_case("dit_cond", cond, a.out, 0.3515625, 2, 7, 4, 5, seed=101, with_features=True)
    # image-only layout (docs/MODEL.md §4.2), no features.
    make_case("dit_uncond", uncond, a.out, 0.8125, 0, 0, 3, 6, seed=102, with_features=False)
    # no padding, non-zero values in every masked slot (latents at text rows, features at image rows).
    make_case("dit_masked", cond, a.out, 0.0262451171875, 0, 3, 2, 3, seed=103, with_features=True, garbage=True)


if __name__ == "__main__":
    main()
