"""The size of the diffusers-pipeline difference (docs/MODEL.md §8.7): the same
TURBO_12 64x64 sampling as ref_sampler.py (same tiny weights, features and
noise from tests/vectors/sampler_turbo.safetensors), but with diffusers'
sigma schedule: float64 u_i = i/N, sigma_i = f32(1 - T64(u_i)) reversed, last
entry dropped and sigma = 0 appended (the last step goes to t = 1), model time
f32(1 - f32(sigma*1000)/1000), z <- z + (sigma_next - sigma) * (-v).
Writes tests/vectors/sampler_diffusers_gap.safetensors (`latents_diffusers`)."""
import argparse, math, os, sys

import numpy as np
import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref_dit import build  # noqa: E402
from ref_sampler import GUIDANCE_RUN_ORDER, HEIGHT, MU_PRESET, N_STEPS, SIGMA, WIDTH, layouts, velocity  # noqa: E402


def diffusers_sigmas(n, mu, sigma):
    t_min = 1.0 / (1.0 + math.exp(0.5 * 18.0))
    t_max = 1.0 / (1.0 + math.exp(0.5 * -15.0))
    u = torch.arange(n + 1, dtype=torch.float64) / n
    t = torch.clamp(1.0 - torch.special.expit(mu + sigma * torch.special.ndtri(u)), t_min, t_max)
    s = (1.0 - t).to(torch.float32).flip(0)[:-1]
    return torch.cat([s, torch.zeros(1, dtype=torch.float32)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(1)
    vec = load_file(os.path.join(a.out, "sampler_turbo.safetensors"))
    cond, cfg = build(os.path.join(a.model, "transformer"), torch.float32)
    uncond, _ = build(os.path.join(a.model, "unconditional_transformer"), torch.float32)
    C, F = cfg["in_channels"], cfg["llm_features_dim"]
    feat_text, z = vec["text_features"], vec["noise"].clone()
    n_text, n_img = feat_text.shape[0], z.shape[1]
    gh = gw = int(round(math.sqrt(n_img)))
    cl, ul = layouts(n_text, gh, gw)
    feat = torch.zeros(1, n_text + n_img, F)
    feat[0, :n_text] = feat_text
    ufeat = torch.zeros(1, n_img, F)
    pad = torch.zeros(1, n_text, C)
    mu = MU_PRESET + 0.5 * math.log((WIDTH * HEIGHT) / (512.0 * 512.0))
    sig = diffusers_sigmas(N_STEPS, mu, SIGMA)
    for k in range(N_STEPS):
        timestep = (sig[k] * 1000).to(torch.float32)
        t_model = (1 - timestep / 1000).to(torch.float32)
        t_in = float(t_model.to(torch.bfloat16).to(torch.float32))
        v_c = velocity(cond, torch.cat([pad, z], dim=1), t_in, feat, cl)[:, n_text:, :]
        v_u = velocity(uncond, z, t_in, ufeat, ul)
        g = torch.tensor(GUIDANCE_RUN_ORDER[k], dtype=torch.float32)
        v = g * v_c + (1.0 - g) * v_u
        z = z + (sig[k + 1] - sig[k]) * (-v)
    gap = float((z - vec["latents"]).norm() / vec["latents"].norm())
    print(f"diffusers-schedule latents vs official loop: rel L2 {gap:.4e} (last t = 1 vs t_max)")
    save_file({"latents_diffusers": z.contiguous()}, os.path.join(a.out, "sampler_diffusers_gap.safetensors"),
              metadata={"gap_rel_l2": repr(gap), "generator": "tools/reference/ref_sampler_gap.py"})


if __name__ == "__main__":
    main()
