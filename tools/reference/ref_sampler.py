#!/usr/bin/env python3
"""Golden vector for the sampling loop (src/pipeline/sampler.c), docs/MODEL.md §4, 8.2-8.4.

Usage: ref_sampler.py --model TINY_SNAPSHOT --out tests/vectors

Runs the official Euler loop with asymmetric guidance (docs/MODEL.md §8.4) in float32
with diffusers' Ideogram4Transformer2DModel for both transformers (the tiny
checkpoint's transformer/ and unconditional_transformer/, FP8 weights decoded
exactly to f32 by ref_dit.build), preset V4_TURBO_12 at 64x64 pixels
(gh = gw = 4, 16 image tokens), and writes tests/vectors/sampler_turbo.safetensors:

  text_features  F32 [6, F]      deterministic N(0,1) (numpy PCG64, seed 4242)
  noise          F32 [1, 16, C]  deterministic N(0,1) (same generator, drawn after the features)
  times          F32 [13]        T(u_i), i = 0..12 (docs/MODEL.md §8.2/8.3), for diagnosis
  latents_step2  F32 [1, 16, C]  z after the first 2 run-order steps of the 12-step loop
  latents        F32 [1, 16, C]  final z (at t_max)

The loop, exactly as docs/MODEL.md §8.4 (batch 1, no padding):
  u_i   scalar f32 linspace(0, 1, N+1) (step = f32(1/N); first half f32(step*i),
        second half f32(1 - f32(step*(N-i))))
  T(u)  clamp(1 - expit(mu + sigma*ndtri(u)), t_min, t_max) in float64 -> f32,
        ndtri = torch.special.ndtri in float64 (the reference's own function)
  mu    0.5 + 0.5*ln(64*64/512^2), sigma 1.75
  step k (i = N-1-k): t = T(u[i+1]), s = T(u[i]); both models get bf16(t) (as an f32 tensor)
    v_c = cond([zeros(6, C); z], feat at the text rows, zeros at image rows,
               text: ind 3 seg 1 pos (i,i,i); image: ind 2 seg 1 pos (65536, 65536+row, 65536+col))[6:]
    v_u = uncond(z, zeros features, image-only layout)
    g = 7 for k < 11, 3 for k = 11
    v = f32(g*v_c) + f32((1-g)*v_u);  dt = f32(s - t);  z = z + f32(v*dt)   (all f32 tensor ops)
"""
import argparse
import math
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file

from diffusers.utils import logging as diffusers_logging

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref_dit import IMAGE_OFFSET, build  # noqa: E402  (loader: official FP8 names -> diffusers, f32)

N_STEPS = 12
MU_PRESET = 0.5
SIGMA = 1.75
GUIDANCE_RUN_ORDER = [7.0] * 11 + [3.0]
WIDTH = HEIGHT = 64
PATCH = 16
N_TEXT = 6
SEED = 4242


def linspace_scalar_f32(n):
    """torch.linspace(0, 1, n+1, float32), CPU scalar algorithm (docs/MODEL.md §8.3)."""
    step = np.float32(np.float32(1.0) / np.float32(n))
    u = []
    for i in range(n + 1):
        if i < (n + 1) // 2:
            u.append(np.float32(step * np.float32(i)))
        else:
            u.append(np.float32(np.float32(1.0) - np.float32(step * np.float32(n - i))))
    return np.array(u, dtype=np.float32)


def schedule_times(n, mu, sigma):
    """T(u_i), i = 0..n, in float64, rounded to f32 (docs/MODEL.md §8.2)."""
    t_min = 1.0 / (1.0 + math.exp(0.5 * 18.0))
    t_max = 1.0 / (1.0 + math.exp(0.5 * -15.0))
    u = torch.from_numpy(linspace_scalar_f32(n)).to(torch.float64)
    z = mu + sigma * torch.special.ndtri(u)  # -inf at u = 0, +inf at u = 1
    t = 1.0 - torch.special.expit(z)
    t = torch.clamp(t, t_min, t_max)
    return t.to(torch.float32)


def layouts(n_text, gh, gw):
    L = n_text + gh * gw
    pos = torch.zeros(1, L, 3, dtype=torch.int64)
    seg = torch.ones(1, L, dtype=torch.int64)
    ind = torch.zeros(1, L, dtype=torch.int64)
    for i in range(n_text):
        ind[0, i] = 3
        pos[0, i] = torch.tensor([i, i, i])
    for k in range(gh * gw):
        ind[0, n_text + k] = 2
        pos[0, n_text + k] = torch.tensor([IMAGE_OFFSET, IMAGE_OFFSET + k // gw, IMAGE_OFFSET + k % gw])
    upos, useg, uind = pos[:, n_text:].clone(), seg[:, n_text:].clone(), ind[:, n_text:].clone()
    return (pos, seg, ind), (upos, useg, uind)


def velocity(model, x, t, feat, layout):
    pos, seg, ind = layout
    with torch.no_grad():
        out = model(hidden_states=x, timestep=torch.tensor([t], dtype=torch.float32), encoder_hidden_states=feat,
                    position_ids=pos, segment_ids=seg, indicator=ind, return_dict=False)[0]
    assert out.dtype == torch.float32
    return out


def sample(cond, uncond, feat_text, z, times, C, F, record_after=2):
    n_text, n_img = feat_text.shape[0], z.shape[1]
    gh = gw = int(round(math.sqrt(n_img)))
    cl, ul = layouts(n_text, gh, gw)
    feat = torch.zeros(1, n_text + n_img, F, dtype=torch.float32)
    feat[0, :n_text] = feat_text
    ufeat = torch.zeros(1, n_img, F, dtype=torch.float32)
    pad = torch.zeros(1, n_text, C, dtype=torch.float32)
    snap = None
    for k in range(N_STEPS):
        i = N_STEPS - 1 - k
        t, s = times[i + 1], times[i]  # f32 0-d tensors
        t_model = float(t.to(torch.bfloat16).to(torch.float32))
        v_c = velocity(cond, torch.cat([pad, z], dim=1), t_model, feat, cl)[:, n_text:, :]
        v_u = velocity(uncond, z, t_model, ufeat, ul)
        g = torch.tensor(GUIDANCE_RUN_ORDER[k], dtype=torch.float32)
        v = g * v_c + (1.0 - g) * v_u  # f32 tensor ops: f32(g*v_c) + f32((1-g)*v_u), (1-g) exact
        dt = (s - t).to(torch.float32)  # f32(s - t)
        z = z + v * dt
        assert z.dtype == torch.float32
        if k + 1 == record_after:
            snap = z.clone()
        print(f"  step {k + 1:2d}: t {float(t):.9g} (model {t_model:.9g}) s {float(s):.9g} g {float(g)} "
              f"|z| rms {float(z.pow(2).mean().sqrt()):.4f}")
    return z, snap


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="tiny snapshot folder")
    ap.add_argument("--out", required=True, help="output folder (tests/vectors)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    diffusers_logging.set_verbosity_error()
    torch.set_num_threads(1)
    cond, cfg = build(os.path.join(a.model, "transformer"), torch.float32)
    uncond, ucfg = build(os.path.join(a.model, "unconditional_transformer"), torch.float32)
    C, F = cfg["in_channels"], cfg["llm_features_dim"]
    assert ucfg["in_channels"] == C
    gh, gw = HEIGHT // PATCH, WIDTH // PATCH

    rng = np.random.default_rng(SEED)
    feat = torch.from_numpy(rng.standard_normal((N_TEXT, F)).astype(np.float32))
    noise = torch.from_numpy(rng.standard_normal((1, gh * gw, C)).astype(np.float32))

    mu = MU_PRESET + 0.5 * math.log((WIDTH * HEIGHT) / (512.0 * 512.0))
    times = schedule_times(N_STEPS, mu, SIGMA)
    print(f"mu {mu!r} sigma {SIGMA} times {[float(x) for x in times]}")
    z, z2 = sample(cond, uncond, feat, noise.clone(), times, C, F)

    tensors = {
        "text_features": feat.contiguous(),
        "noise": noise.contiguous(),
        "times": times.contiguous(),
        "latents_step2": z2.contiguous(),
        "latents": z.contiguous(),
    }
    meta = {
        "generator": "tools/reference/ref_sampler.py (official loop, docs/MODEL.md §8.4, diffusers "
                     "Ideogram4Transformer2DModel in float32, torch %s)" % torch.__version__,
        "preset": "V4_TURBO_12",
        "width": str(WIDTH),
        "height": str(HEIGHT),
        "mu": repr(mu),
        "sigma": repr(SIGMA),
        "seed": str(SEED),
    }
    path = os.path.join(a.out, "sampler_turbo.safetensors")
    save_file(tensors, path, metadata=meta)
    print(f"{path}: final latents rms {float(z.pow(2).mean().sqrt()):.4f}, noise rms "
          f"{float(noise.pow(2).mean().sqrt()):.4f}")


if __name__ == "__main__":
    main()
