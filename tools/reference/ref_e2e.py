#!/usr/bin/env python3
"""End-to-end golden vector for i4_generate (src/pipeline/pipeline.c): tests/vectors/e2e_poster.safetensors.

Usage: ref_e2e.py --model TINY_SNAPSHOT --out tests/vectors

The whole text-to-image pipeline on the tiny model (seed 1), in float32, built
from the upstream pieces the other reference scripts already validate:

  1. caption = examples/poster.json with surrounding whitespace stripped (the
     CLI trims --prompt-file text; the library uses the prompt verbatim, so the
     C test passes the same stripped string);
     prompt  = "<|im_start|>user\\n" + caption + "<|im_end|>\\n<|im_start|>assistant\\n"
     ids     = tokenizers.Tokenizer(TINY/tokenizer/tokenizer.json).encode(prompt, add_special_tokens=False)
  2. text features [1, L, 13*H]: transformers' Qwen3VLModel with the FP8
     weights decoded exactly to f32 and diffusers' Ideogram4Pipeline tap
     extraction (ref_qwen3.build / ref_qwen3.features)
  3. sampling: the official Euler loop with asymmetric guidance (ref_sampler:
     V4_TURBO_12 at 64x64, guidance 7 x 11 then 3, bf16(t) to both DiTs,
     diffusers Ideogram4Transformer2DModel in f32) from noise
     N(0,1) numpy default_rng(77) of shape [1, 16, 128]
  4. VAE decode (ref_vae.unpack: official denormalisation constants +
     unpatchify; diffusers AutoencoderKLFlux2.decode in f32)
  5. 8-bit conversion (docs/MODEL.md §7.5): clamp to [-1, 1], (x + 1) * 127.5 in
     f32, round half to even, [3, H, W] -> [H, W, 3]

Stored tensors
  noise      F32 [1, 16, 128]
  input_ids  I64 [L]
  latents    F32 [1, 16, 128]   final z of the loop
  image      F32 [1, 3, 64, 64] decoded image before clamping
  rgb        U8  [64, 64, 3]
"""
import argparse
import math
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer

from diffusers.utils import logging as diffusers_logging

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ref_qwen3  # noqa: E402
import ref_sampler  # noqa: E402
import ref_vae  # noqa: E402
from ref_dit import build as build_dit  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
CAPTION_FILE = os.path.join(REPO, "examples", "poster.json")
NOISE_SEED = 77
WIDTH = HEIGHT = 64
PATCH = 16


def to_rgb8(image):
    """docs/MODEL.md §7.5: f32 clamp, (x+1)*127.5 in f32, round half to even; [1,3,H,W] -> [H,W,3] uint8."""
    x = image[0].numpy().astype(np.float32)
    x = np.clip(x, np.float32(-1.0), np.float32(1.0))
    x = (x + np.float32(1.0)) * np.float32(127.5)
    assert x.dtype == np.float32
    u8 = np.rint(x).astype(np.uint8)  # np.rint rounds half to even
    return np.ascontiguousarray(u8.transpose(1, 2, 0))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="tiny snapshot folder")
    ap.add_argument("--out", required=True, help="output folder (tests/vectors)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    diffusers_logging.set_verbosity_error()
    torch.set_num_threads(1)
    torch.set_grad_enabled(False)

    # 1. tokens
    with open(CAPTION_FILE, "rb") as f:
        caption = f.read().decode("utf-8").strip()
    prompt = "<|im_start|>user\n" + caption + "<|im_end|>\n<|im_start|>assistant\n"
    tok = Tokenizer.from_file(os.path.join(a.model, "tokenizer", "tokenizer.json"))
    ids = tok.encode(prompt, add_special_tokens=False).ids
    print(f"caption {len(caption.encode('utf-8'))} bytes -> {len(ids)} tokens")

    # 2. text features (f32)
    te_dir = os.path.join(a.model, "text_encoder")
    te = ref_qwen3.build(te_dir, ref_qwen3.load_state(te_dir), torch.float32)
    feat, _, _ = ref_qwen3.features(te, ids)
    assert feat.dtype == torch.float32
    del te

    # 3. sampling loop
    cond, cfg = build_dit(os.path.join(a.model, "transformer"), torch.float32)
    uncond, ucfg = build_dit(os.path.join(a.model, "unconditional_transformer"), torch.float32)
    C, F = cfg["in_channels"], cfg["llm_features_dim"]
    assert ucfg["in_channels"] == C and feat.shape[-1] == F, (feat.shape, F)
    gh, gw = HEIGHT // PATCH, WIDTH // PATCH
    noise = torch.from_numpy(np.random.default_rng(NOISE_SEED).standard_normal((1, gh * gw, C)).astype(np.float32))
    mu = ref_sampler.MU_PRESET + 0.5 * math.log((WIDTH * HEIGHT) / (512.0 * 512.0))
    times = ref_sampler.schedule_times(ref_sampler.N_STEPS, mu, ref_sampler.SIGMA)
    z, _ = ref_sampler.sample(cond, uncond, feat[0], noise.clone(), times, C, F)

    # 4. VAE decode (f32)
    vae = ref_vae.load(os.path.join(a.model, "vae"), torch.float32)
    image = vae.decode(ref_vae.unpack(z, gh, gw)).sample.float()
    assert tuple(image.shape) == (1, 3, HEIGHT, WIDTH)

    # 5. 8-bit conversion
    rgb = to_rgb8(image)
    # How many pixels sit near a rounding tie (distance < 1e-3 from .5): these may flip between implementations.
    x = (np.clip(image[0].numpy(), -1, 1) + 1) * 127.5
    near_tie = int(np.sum(np.abs(x - np.floor(x) - 0.5) < 1e-3))

    tensors = {
        "noise": noise.contiguous(),
        "input_ids": torch.tensor(ids, dtype=torch.int64),
        "latents": z.contiguous(),
        "image": image.contiguous(),
        "rgb": torch.from_numpy(rgb),
    }
    meta = {
        "generator": "tools/reference/ref_e2e.py (tokenizers + transformers Qwen3VLModel + diffusers "
                     "Ideogram4Transformer2DModel + AutoencoderKLFlux2, float32, torch %s)" % torch.__version__,
        "caption": "examples/poster.json (stripped)",
        "preset": "V4_TURBO_12",
        "width": str(WIDTH),
        "height": str(HEIGHT),
        "noise_seed": str(NOISE_SEED),
    }
    path = os.path.join(a.out, "e2e_poster.safetensors")
    save_file(tensors, path, metadata=meta)
    print(f"{path}: L={len(ids)} latents rms {float(z.pow(2).mean().sqrt()):.4f} image min {float(image.min()):.3f} "
          f"max {float(image.max()):.3f} std {float(image.std()):.4f}; rgb mean {rgb.mean():.2f}; "
          f"values within 1e-3 of a rounding tie: {near_tie}")


if __name__ == "__main__":
    main()
