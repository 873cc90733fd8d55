#!/usr/bin/env python3
"""Golden vectors for LoRA on the Ideogram 4 transformer (src/model/lora.c).

Usage: ref_lora.py --model TINY_SNAPSHOT --out tests/vectors
(needs `peft` in the venv besides tools/reference/requirements.txt, and
tests/vectors/dit_cond.safetensors, written by ref_dit.py, which runs first.)

Writes small deterministic LoRA files for the tiny conditional transformer
(D 64, 2 layers, FFN 128, adaLN 32) under OUT/lora/, one per key format, and
the expected velocity of each merged model on the dit_cond inputs:

  peft.safetensors        PEFT / diffusers: `transformer.` prefix, split names
                          attention.to_q/to_k/to_v (layer 0), attention.to_out.0
                          and feed_forward.w2 (layer 1), final_layer.linear (a
                          Linear with bias); F32; alpha in the diffusers
                          `lora_adapter_metadata` header entry (lora_alpha 8,
                          r 4, alpha_pattern {layers.1.feed_forward.w2: 2})
  kohya.safetensors       kohya dotted: `diffusion_model.` prefix, fused
                          attention.qkv / attention.o / feed_forward.w1,w2,w3 /
                          adaln_modulation, lora_down/lora_up BF16, 0-d alphas
  kohya_flat.safetensors  kohya flattened `lora_unet_layers_1_attention_qkv`
                          etc. (names with '_' inside module names), one module
                          without alpha (scale 1)
  lokr.safetensors        LyCORIS LoKr, `diffusion_model.` prefix: qkv and o
                          with full w1 + factorised w2 (w2_a·w2_b) + alpha,
                          feed_forward.w1 with both factors full + alpha (alpha
                          ignored), feed_forward.w2 with factorised w1 + full w2
  <name>_expected.safetensors
                          velocity_f32 [1, L, C]  model in float32, weights e4m3*scale (f32)
                          velocity_bf16 [1, L, C] model in bfloat16, base weights
                                   bf16(e4m3*bf16(scale)), merge W + s*dW in f32, one
                                   rounding to bf16 (docs/MODEL.md §9.3)
                          spread_bf16_vs_f32 [1]  rel L2 of the two over image rows
                          strength [1]   (stack: strengths [2], files in metadata)
                          rel_change [1] rel L2(velocity_f32, no-LoRA velocity)
  stack_expected.safetensors  peft at +0.6 and kohya at -0.5 together

How the expected outputs are made (f32: the merged weights W + s*scale*dW in float32):
  * peft, kohya, stack: diffusers' Ideogram4LoraLoaderMixin.lora_state_dict (the
    Ideogram 4 converter handles the `diffusion_model.` prefix, kohya
    lora_down/lora_up, alpha folding and the fused qkv -> to_q/to_k/to_v split)
    + load_lora_into_transformer (PEFT LoraConfig from the header metadata) +
    transformer.fuse_lora(lora_scale=strength) — the upstream code path.
  * kohya_flat: diffusers cannot read kohya flattened names for Ideogram 4 (its
    converter only triggers on `diffusion_model.` / `.attention.qkv.` keys and
    the generic kohya converter is UNet-specific), so the script renames
    `lora_unet_X` to `diffusion_model.<module>` by matching X against the
    checkpoint's module names with '.' -> '_' (what lora.c does) and then uses
    the same diffusers path.
  * lokr: diffusers/PEFT can load LoKr only onto modules it has; the Ideogram 4
    diffusers model has split to_q/to_k/to_v and no fuse_qkv_projections, and a
    Kronecker delta over the fused qkv does not factor into per-projection LoKr
    factors, and the Ideogram4 pipeline loader rejects keys without "lora". So
    the merge is done here with the docs/MODEL.md §9.4 formula in torch
    (W + s*scale*kron(W1, W2)), and the formula is cross-checked against PEFT's
    LoKr (transformer.load_lora_adapter + fuse_lora) on the two modules PEFT can
    represent (layers.1.attention.to_out.0: factorised w2 with alpha baked in,
    as diffusers' _create_lokr_config expects; layers.1.feed_forward.w1: both
    factors full) — the script asserts the fused weights agree.
  * bf16: the same merges done on an f32 model whose base weights are the bf16
    dequantization (bf16 values), then the model is cast to bfloat16 (one
    rounding of W + s*dW) and run in bfloat16, as ref_dit.py runs the base model
    (RMSNorm patched to F.rms_norm, f32 RoPE inv_freq).
"""
import argparse
import json
import os
import re
import sys

import torch
from safetensors import safe_open
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref_dit import diffusers_state_dict, load_tensors, official_rmsnorm, rel_l2, run  # noqa: E402

from diffusers.loaders.lora_pipeline import Ideogram4LoraLoaderMixin  # noqa: E402
from diffusers.models.transformers.transformer_ideogram4 import Ideogram4Transformer2DModel  # noqa: E402
from diffusers.utils import logging as diffusers_logging  # noqa: E402

STRENGTH = {"peft": 0.6, "kohya": 0.8, "kohya_flat": 0.7, "lokr": 0.6}
STACK = [("peft", 0.6), ("kohya", -0.5)]


# ------------------------------------------------------------------ base model

def config(folder):
    with open(os.path.join(folder, "config.json")) as f:
        cfg = {k: v for k, v in json.load(f).items() if not k.startswith("_")}
    cfg["mrope_section"] = tuple(cfg["mrope_section"])
    return cfg


def base_state_dict(raw, rule):
    """diffusers-named f32 tensors; rule 'f32' = e4m3*scale, 'bf16' = bf16(e4m3*bf16(scale)) (bf16 values)."""
    sd = diffusers_state_dict(raw, torch.float32 if rule == "f32" else torch.bfloat16)
    return {k: v.to(torch.float32) for k, v in sd.items()}


def f32_model(cfg, sd):
    model = Ideogram4Transformer2DModel(**cfg).eval()
    missing, unexpected = model.load_state_dict(sd, strict=True)
    assert not missing and not unexpected, (missing, unexpected)
    return model


def finish(model, rule):
    """Drop PEFT wrappers (keeping fused weights); for bf16 cast once, keeping the f32 RoPE buffer."""
    if getattr(model, "peft_config", None):
        model.unload_lora()
    if rule == "bf16":
        inv_freq = model.rotary_emb.inv_freq.clone()
        model = model.to(torch.bfloat16)
        model.rotary_emb.inv_freq = inv_freq
    official_rmsnorm(model)
    return model


def forward(model, rule, inp):
    return run(model, torch.float32 if rule == "f32" else torch.bfloat16, inp)


# ------------------------------------------------------------------ LoRA files

def randn(gen, shape, std, dtype=torch.float32):
    return (torch.randn(shape, generator=gen) * std).to(dtype)


def make_files(cfg, out_dir, official_names):
    D, I, A, C = cfg["num_attention_heads"] * cfg["attention_head_dim"], cfg["intermediate_size"], cfg["adaln_dim"], \
        cfg["in_channels"]
    gen = torch.Generator().manual_seed(4242)
    files = {}

    def pair(r, out, inp, dtype=torch.float32, b_std=0.15):
        return randn(gen, (r, inp), inp ** -0.5, dtype), randn(gen, (out, r), b_std, dtype)

    # PEFT / diffusers names, alpha in the header metadata.
    sd, targets = {}, []
    for mod, out, inp in (("layers.0.attention.to_q", D, D), ("layers.0.attention.to_k", D, D),
                          ("layers.0.attention.to_v", D, D), ("layers.1.attention.to_out.0", D, D),
                          ("layers.1.feed_forward.w2", D, I), ("final_layer.linear", C, D)):
        a, b = pair(4, out, inp)
        sd[f"transformer.{mod}.lora_A.weight"], sd[f"transformer.{mod}.lora_B.weight"] = a, b
        targets.append(mod)
    meta = {"transformer.r": 4, "transformer.lora_alpha": 8, "transformer.target_modules": targets,
            "transformer.alpha_pattern": {"layers.1.feed_forward.w2": 2}, "transformer.rank_pattern": {},
            "transformer.use_rslora": False, "transformer.lora_dropout": 0.0, "transformer.bias": "none"}
    files["peft"] = (sd, {"format": "pt", "lora_adapter_metadata": json.dumps(meta, sort_keys=True)})

    # kohya dotted, diffusion_model. prefix, fused qkv, BF16, 0-d alphas.
    sd = {}
    for mod, r, out, inp, alpha in (("layers.0.attention.qkv", 4, 3 * D, D, 2.0), ("layers.1.attention.qkv", 2, 3 * D, D, 4.0),
                                    ("layers.0.attention.o", 4, D, D, 4.0), ("layers.1.feed_forward.w1", 4, I, D, 8.0),
                                    ("layers.1.feed_forward.w2", 3, D, I, 1.5), ("layers.0.feed_forward.w3", 4, I, D, 2.0),
                                    ("layers.0.adaln_modulation", 2, 4 * D, A, 2.0)):
        a, b = pair(r, out, inp, torch.bfloat16)
        sd[f"diffusion_model.{mod}.lora_down.weight"], sd[f"diffusion_model.{mod}.lora_up.weight"] = a, b
        sd[f"diffusion_model.{mod}.alpha"] = torch.tensor(alpha, dtype=torch.float32)
    files["kohya"] = (sd, None)

    # kohya flattened.
    sd = {}
    for mod, r, out, inp, alpha in (("layers.1.attention.qkv", 4, 3 * D, D, 2.0), ("layers.0.feed_forward.w3", 2, I, D, None),
                                    ("layers.1.adaln_modulation", 4, 4 * D, A, 8.0), ("layers.0.attention.o", 3, D, D, 6.0)):
        a, b = pair(r, out, inp)
        flat = "lora_unet_" + mod.replace(".", "_")
        sd[f"{flat}.lora_down.weight"], sd[f"{flat}.lora_up.weight"] = a, b
        if alpha is not None:
            sd[f"{flat}.alpha"] = torch.tensor(alpha, dtype=torch.float32)
    files["kohya_flat"] = (sd, None)

    # LyCORIS LoKr (factor 4 as in the real Ideogram LoKrs).
    sd = {}
    p = "diffusion_model."
    sd[p + "layers.0.attention.qkv.lokr_w1"] = randn(gen, (4, 4), 1.0)
    sd[p + "layers.0.attention.qkv.lokr_w2_a"] = randn(gen, (3 * D // 4, 2), 0.2)
    sd[p + "layers.0.attention.qkv.lokr_w2_b"] = randn(gen, (2, D // 4), 0.2)
    sd[p + "layers.0.attention.qkv.alpha"] = torch.tensor(1.0)
    sd[p + "layers.1.attention.o.lokr_w1"] = randn(gen, (4, 4), 1.0)
    sd[p + "layers.1.attention.o.lokr_w2_a"] = randn(gen, (D // 4, 3), 0.1)
    sd[p + "layers.1.attention.o.lokr_w2_b"] = randn(gen, (3, D // 4), 0.1)
    sd[p + "layers.1.attention.o.alpha"] = torch.tensor(6.0).to(torch.bfloat16)
    sd[p + "layers.1.feed_forward.w1.lokr_w1"] = randn(gen, (4, 4), 1.0)
    sd[p + "layers.1.feed_forward.w1.lokr_w2"] = randn(gen, (I // 4, D // 4), 0.03)
    sd[p + "layers.1.feed_forward.w1.alpha"] = torch.tensor(7.0)  # ignored: both factors full
    sd[p + "layers.0.feed_forward.w2.lokr_w1_a"] = randn(gen, (4, 2), 0.7)
    sd[p + "layers.0.feed_forward.w2.lokr_w1_b"] = randn(gen, (2, 4), 0.7)
    sd[p + "layers.0.feed_forward.w2.lokr_w2"] = randn(gen, (D // 4, I // 4), 0.02)
    sd[p + "layers.0.feed_forward.w2.alpha"] = torch.tensor(3.0)  # scale 3 / rows(w1_b) = 1.5
    files["lokr"] = (sd, None)

    os.makedirs(os.path.join(out_dir, "lora"), exist_ok=True)
    for name, (tensors, meta) in files.items():
        save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(out_dir, "lora", name + ".safetensors"),
                  metadata=meta)
    return files


# ------------------------------------------------------------------ merges

def flat_to_dotted(sd, official_names):
    """kohya flattened -> diffusion_model.<module> (resolved against the checkpoint's module names)."""
    modules = {n[: -len(".weight")] for n in official_names if n.endswith(".weight")}
    flat = {m.replace(".", "_"): m for m in modules}
    out = {}
    for k, v in sd.items():
        stem, _, suffix = k.partition(".")
        assert stem.startswith("lora_unet_"), k
        out[f"diffusion_model.{flat[stem[len('lora_unet_'):]]}.{suffix}"] = v
    return out


def diffusers_lora_dict(name, path, files, official_names):
    if name == "kohya_flat":
        return Ideogram4LoraLoaderMixin.lora_state_dict(flat_to_dotted(files[name][0], official_names),
                                                        return_lora_metadata=True)
    return Ideogram4LoraLoaderMixin.lora_state_dict(os.path.dirname(path), weight_name=os.path.basename(path),
                                                    return_lora_metadata=True)


def merged_diffusers(cfg, base, loras, out_dir, files, official_names):
    """Load each (name, strength) with diffusers + PEFT and fuse; returns the fused f32 model."""
    model = f32_model(cfg, base)
    names = []
    for name, _ in loras:
        sd, meta = diffusers_lora_dict(name, os.path.join(out_dir, "lora", name + ".safetensors"), files,
                                       official_names)
        Ideogram4LoraLoaderMixin.load_lora_into_transformer(sd, transformer=model, adapter_name=name, metadata=meta)
        names.append(name)
    if len(loras) == 1:
        model.fuse_lora(lora_scale=loras[0][1], adapter_names=names)
    else:
        model.set_adapters(names, [s for _, s in loras])
        model.fuse_lora(lora_scale=1.0, adapter_names=names)
    return model


def lokr_delta(sd, stem):
    """docs/MODEL.md §9.4: scale * kron(W1, W2) for one module stem (keys without suffix)."""
    g = lambda s: sd.get(f"{stem}.{s}")  # noqa: E731
    w1 = g("lokr_w1").float() if g("lokr_w1") is not None else g("lokr_w1_a").float() @ g("lokr_w1_b").float()
    w2 = g("lokr_w2").float() if g("lokr_w2") is not None else g("lokr_w2_a").float() @ g("lokr_w2_b").float()
    r = None
    if g("lokr_w2") is None:
        r = g("lokr_w2_b").shape[0]
    elif g("lokr_w1") is None:
        r = g("lokr_w1_b").shape[0]
    alpha = g("alpha")
    scale = float(alpha.float()) / r if (alpha is not None and r is not None) else 1.0
    return scale * torch.kron(w1, w2)


def add_official_delta(sd, path, delta):
    """Add an [out, in] delta of an official module path to the diffusers-named state dict."""
    if path.endswith("attention.qkv"):
        base = path[: -len("qkv")]
        d = delta.shape[0] // 3
        for i, proj in enumerate(("to_q", "to_k", "to_v")):
            sd[f"{base}{proj}.weight"] = sd[f"{base}{proj}.weight"] + delta[i * d:(i + 1) * d]
    elif path.endswith("attention.o"):
        key = path[: -len("o")] + "to_out.0.weight"
        sd[key] = sd[key] + delta
    else:
        sd[path + ".weight"] = sd[path + ".weight"] + delta


def lokr_merged_sd(base, lokr_sd, strength):
    sd = dict(base)
    stems = sorted({k.rpartition(".")[0] for k in lokr_sd})
    for stem in stems:
        add_official_delta(sd, stem[len("diffusion_model."):], strength * lokr_delta(lokr_sd, stem))
    return sd


def formula_merged(base, loras, files, official_names):
    """Independent docs/MODEL.md §9.3/9.4 merge of (name, strength) pairs (cross-check of what diffusers fused)."""
    sd = dict(base)
    split = {"to_q": 0, "to_k": 1, "to_v": 2}
    for name, strength in loras:
        tensors, meta = files[name]
        if name == "kohya_flat":
            tensors = flat_to_dotted(tensors, official_names)
        cfg = {}
        if meta and "lora_adapter_metadata" in meta:
            cfg = {k.removeprefix("transformer."): v for k, v in json.loads(meta["lora_adapter_metadata"]).items()}
        stems = sorted({re.sub(r"\.(lora_A\.weight|lora_B\.weight|lora_down\.weight|lora_up\.weight|alpha|lokr_\w+)$", "", k)
                        for k in tensors})
        for stem in stems:
            path = stem
            for pre in ("transformer.", "diffusion_model."):
                path = path.removeprefix(pre)
            if stem + ".lokr_w1" in tensors or stem + ".lokr_w1_a" in tensors:
                delta = lokr_delta(tensors, stem)
            else:
                down = tensors.get(stem + ".lora_A.weight", tensors.get(stem + ".lora_down.weight")).float()
                up = tensors.get(stem + ".lora_B.weight", tensors.get(stem + ".lora_up.weight")).float()
                r = down.shape[0]
                if stem + ".alpha" in tensors:
                    alpha = float(tensors[stem + ".alpha"].float())
                else:
                    alpha = cfg.get("alpha_pattern", {}).get(path, cfg.get("lora_alpha", r))
                delta = (alpha / r) * (up @ down)
            m = re.match(r"(.*attention\.)(to_q|to_k|to_v)$", path)
            if m:  # one row block of the fused qkv
                full = torch.zeros(3 * delta.shape[0], delta.shape[1])
                full[split[m.group(2)] * delta.shape[0]:(split[m.group(2)] + 1) * delta.shape[0]] = delta
                path, delta = m.group(1) + "qkv", full
            path = re.sub(r"attention\.to_out\.0$", "attention.o", path)
            add_official_delta(sd, path, strength * delta)
    return sd


def check_against_formula(case, model, base, loras, files, official_names):
    want = formula_merged(base, loras, files, official_names)
    got = model.state_dict()
    changed = 0
    for key, w in want.items():
        mod, _, leaf = key.rpartition(".")
        g = got.get(key, got.get(f"{mod}.base_layer.{leaf}"))
        assert g is not None, (case, key)
        if torch.equal(w, base[key]):
            assert torch.equal(g, base[key]), (case, key, "diffusers changed a module the formula leaves alone")
            continue
        changed += 1
        err = rel_l2(g - base[key], w - base[key])
        assert err < 1e-5, (case, key, err)
    print(f"  {case}: diffusers fused weights == docs/MODEL.md §9.3 formula on {changed} weight tensors")


def check_lokr_against_peft(cfg, base, lokr_sd, strength):
    """PEFT LoKr on the modules it can represent must give the same fused weights as the formula."""
    p = "diffusion_model."
    o, w1 = p + "layers.1.attention.o", p + "layers.1.feed_forward.w1"
    r_o = lokr_sd[o + ".lokr_w2_b"].shape[0]
    alpha_o = float(lokr_sd[o + ".alpha"].float())
    peft_sd = {
        "transformer.layers.1.attention.to_out.0.lokr_w1": lokr_sd[o + ".lokr_w1"],
        "transformer.layers.1.attention.to_out.0.lokr_w2_a": lokr_sd[o + ".lokr_w2_a"] * (alpha_o / r_o),  # baked
        "transformer.layers.1.attention.to_out.0.lokr_w2_b": lokr_sd[o + ".lokr_w2_b"],
        "transformer.layers.1.feed_forward.w1.lokr_w1": lokr_sd[w1 + ".lokr_w1"],
        "transformer.layers.1.feed_forward.w1.lokr_w2": lokr_sd[w1 + ".lokr_w2"],
    }
    model = f32_model(cfg, base)
    model.load_lora_adapter(peft_sd, adapter_name="lokr_check", prefix="transformer")
    model.fuse_lora(lora_scale=strength, adapter_names=["lokr_check"])
    model.unload_lora()
    got = model.state_dict()
    for key, stem in (("layers.1.attention.to_out.0.weight", o), ("layers.1.feed_forward.w1.weight", w1)):
        want = base[key] + strength * lokr_delta(lokr_sd, stem)
        err = rel_l2(got[key] - base[key], want - base[key])
        print(f"  LoKr formula vs PEFT LoKr on {key}: rel L2 of the deltas {err:.2e}")
        assert err < 1e-5, (key, err)


# ------------------------------------------------------------------ main

def load_inputs(out_dir):
    path = os.path.join(out_dir, "dit_cond.safetensors")
    with safe_open(path, "pt") as f:
        t = {k: f.get_tensor(k) for k in f.keys()}
    inp = {k: t[k] for k in ("hidden_states", "timestep", "position_ids", "segment_ids", "indicator")}
    inp["encoder_hidden_states"] = t["encoder_hidden_states"].to(torch.float32)
    return inp, t["velocity_f32"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="tiny snapshot folder")
    ap.add_argument("--out", required=True, help="output folder (tests/vectors)")
    a = ap.parse_args()
    diffusers_logging.set_verbosity_error()
    torch.set_num_threads(1)
    folder = os.path.join(a.model, "transformer")
    cfg = config(folder)
    raw = load_tensors(folder)
    inp, v_dit = load_inputs(a.out)
    img = inp["indicator"][0] == 2
    base = {rule: base_state_dict(raw, rule) for rule in ("f32", "bf16")}

    v_base = forward(finish(f32_model(cfg, base["f32"]), "f32"), "f32", inp)
    assert rel_l2(v_base[0, img], v_dit[0, img]) < 1e-6, "dit_cond.safetensors was made from another tiny model"

    files = make_files(cfg, a.out, raw.keys())
    check_lokr_against_peft(cfg, base["f32"], files["lokr"][0], STRENGTH["lokr"])

    cases = [(name, [(name, s)]) for name, s in STRENGTH.items()] + [("stack", STACK)]
    for case, loras in cases:
        v = {}
        for rule in ("f32", "bf16"):
            if case == "lokr":
                model = f32_model(cfg, lokr_merged_sd(base[rule], files["lokr"][0], loras[0][1]))
            else:
                model = merged_diffusers(cfg, base[rule], loras, a.out, files, raw.keys())
                check_against_formula(f"{case}/{rule}", model, base[rule], loras, files, raw.keys())
            v[rule] = forward(finish(model, rule), rule, inp)
        spread = rel_l2(v["bf16"][0, img], v["f32"][0, img])
        change = rel_l2(v["f32"][0, img], v_base[0, img])
        tensors = {
            "velocity_f32": v["f32"].contiguous(),
            "velocity_bf16": v["bf16"].contiguous(),
            "spread_bf16_vs_f32": torch.tensor([spread], dtype=torch.float32),
            "strength": torch.tensor([s for _, s in loras], dtype=torch.float32),
            "rel_change": torch.tensor([change], dtype=torch.float32),
        }
        meta = {
            "generator": "tools/reference/ref_lora.py (diffusers Ideogram4LoraLoaderMixin + peft; LoKr by the "
                         "docs/MODEL.md §9.4 formula), torch %s" % torch.__version__,
            "inputs": "dit_cond.safetensors",
            "loras": ",".join(n + ".safetensors" for n, _ in loras),
            "strengths": ",".join("%g" % s for _, s in loras),
            "spread_bf16_vs_f32": "%.6g" % spread,
            "rel_change_vs_base": "%.6g" % change,
        }
        path = os.path.join(a.out, "lora", f"{case}_expected.safetensors")
        save_file(tensors, path, metadata=meta)
        print(f"{path}: strengths {meta['strengths']}, change vs base {change:.3e}, bf16-vs-f32 spread {spread:.3e}")


if __name__ == "__main__":
    main()
