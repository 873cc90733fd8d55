"""Schedule golden values (docs/MODEL.md §8.2-8.3) for every preset at 512x512,
1024x1024 and 832x1248, computed independently of the C code:
intervals with PyTorch's scalar float32 linspace algorithm (emulated with
numpy float32), T(u) in float64 with torch.special.ndtri, rounded to f32.
Writes tests/vectors/schedule.json (hex bits of each T(u_i))."""
import argparse, json, math, os
import numpy as np
import torch

PRESETS = {"V4_QUALITY_48": (48, 0.0, 1.5), "V4_DEFAULT_20": (20, 0.0, 1.75), "V4_TURBO_12": (12, 0.5, 1.75)}
SIZES = [(512, 512), (1024, 1024), (832, 1248)]
T_MIN = 1.0 / (1.0 + math.exp(0.5 * 18.0))
T_MAX = 1.0 / (1.0 + math.exp(0.5 * -15.0))


def intervals(n):
    step = np.float32(1.0) / np.float32(n)
    half = (n + 1) // 2
    return [np.float32(step * np.float32(i)) if i < half else np.float32(np.float32(1.0) - np.float32(step * np.float32(n - i)))
            for i in range(n + 1)]


def times(n, mu, sigma):
    out = []
    for u in intervals(n):
        z = mu + sigma * torch.special.ndtri(torch.tensor(float(u), dtype=torch.float64)).item()
        t = 1.0 - (1.0 / (1.0 + math.exp(-z)) if math.isfinite(z) else (1.0 if z > 0 else 0.0))
        out.append(np.float32(min(max(t, T_MIN), T_MAX)))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=False)
    ap.add_argument("--out", default="tests/vectors")
    a = ap.parse_args()
    cases = []
    for name, (n, mu0, sigma) in PRESETS.items():
        for w, h in SIZES:
            mu = mu0 + 0.5 * math.log(w * h / (512.0 * 512.0))
            ts = times(n, mu, sigma)
            cases.append({"preset": name, "width": w, "height": h, "mu": mu,
                          "times_hex": ["%08x" % np.float32(t).view(np.uint32) for t in ts]})
    # Cross-check against docs/MODEL.md §12.1 (TURBO_12, 1024x1024).
    turbo = next(c for c in cases if c["preset"] == "V4_TURBO_12" and c["width"] == 1024)
    assert turbo["times_hex"][5] == "3e9c04eb" and turbo["times_hex"][8] == "3dffc620", turbo["times_hex"]
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "schedule.json"), "w") as f:
        json.dump(cases, f, indent=1)
    print("wrote", len(cases), "schedule cases")


if __name__ == "__main__":
    main()
