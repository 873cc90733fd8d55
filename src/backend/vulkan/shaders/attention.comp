#version 450
// attention.comp — softmax(q.k * scale + mask) v without an LxL buffer, one
// invocation per (query, head), in the order of the CPU reference
// (src/ops/scalar/attention_scalar.c) so the two agree to the last bits of exp:
//   pass 1: m = max_j s_j over allowed keys, s_j = (q.k fma chain) * scale
//   pass 2: l = sum_j exp(s_j - m) (key order)
//   pass 3: acc = sum_j p_j v_j, p_j = e_j / l (f32) or bf16(e_j) (bf16 mode,
//           then out = bf16(acc * (1/l)))
// Scores are recomputed in each pass (three q.k products per key). Masks:
// causal j <= i, segment seg[i] == seg[j]; a row with no allowed key is 0.
// GQA: head h reads kv head h / (n_heads / n_kv_heads). head_dim <= 256.
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64) in;
#include "common.glsl"

layout(binding = 0) writeonly buffer Ob { float o[]; };
layout(binding = 1) readonly buffer Qb { float q[]; };
layout(binding = 2) readonly buffer Kb { float k[]; };
layout(binding = 3) readonly buffer Vb { float v[]; };
layout(binding = 4) readonly buffer Sg { uint seg[]; };

layout(push_constant) uniform PC {
    uint off[8];
    uint nq, nk, n_heads, n_kv_heads, head_dim;
    uint os, qs, ks, vs, mask, bf;
    float scale;
} pc;

#define MAXD 256

bool allowed(uint i, uint j) {
    if (pc.mask == 1u) return j <= i;
    if (pc.mask == 2u) {
        uint so = pc.off[4] >> 2;
        return seg[so + 2u * i] == seg[so + 2u * j] && seg[so + 2u * i + 1u] == seg[so + 2u * j + 1u];
    }
    return true;
}

// exp(s*scale - m) with the product and the difference rounded separately.
float score_exp(float s, float m) {
    precise float sc = s * pc.scale;
    precise float z = sc - m;
    return exp(z);
}

void main() {
    uint i = gl_GlobalInvocationID.x, h = gl_WorkGroupID.y;
    if (i >= pc.nq) return;
    uint hd = pc.head_dim;
    uint hk = h / (pc.n_heads / pc.n_kv_heads);
    uint qi = (pc.off[1] >> 2) + i * pc.qs + h * hd;
    uint kb = (pc.off[2] >> 2) + hk * hd, vb = (pc.off[3] >> 2) + hk * hd;
    uint ob = (pc.off[0] >> 2) + i * pc.os + h * hd;

    float m = uintBitsToFloat(0xff800000u); // -inf
    for (uint j = 0u; j < pc.nk; j++) {
        if (!allowed(i, j)) continue;
        precise float s = 0.0;
        for (uint d = 0u; d < hd; d++) s = fma1(q[qi + d], k[kb + j * pc.ks + d], s);
        m = max(m, s * pc.scale);
    }
    if (isinf(m)) {
        for (uint d = 0u; d < hd; d++) o[ob + d] = 0.0;
        return;
    }
    precise float l = 0.0;
    for (uint j = 0u; j < pc.nk; j++) {
        if (!allowed(i, j)) continue;
        precise float s = 0.0;
        for (uint d = 0u; d < hd; d++) s = fma1(q[qi + d], k[kb + j * pc.ks + d], s);
        l += score_exp(s, m);
    }
    precise float acc[MAXD];
    for (uint d = 0u; d < hd; d++) acc[d] = 0.0;
    for (uint j = 0u; j < pc.nk; j++) {
        if (!allowed(i, j)) continue;
        precise float s = 0.0;
        for (uint d = 0u; d < hd; d++) s = fma1(q[qi + d], k[kb + j * pc.ks + d], s);
        float e = score_exp(s, m);
        float p = pc.bf != 0u ? bf16r(e) : float(double(e) / double(l));
        if (p == 0.0) continue;
        for (uint d = 0u; d < hd; d++) acc[d] = fma1(p, v[vb + j * pc.vs + d], acc[d]);
    }
    float inv = float(1.0lf / double(l));
    for (uint d = 0u; d < hd; d++) o[ob + d] = pc.bf != 0u ? bf16r(acc[d] * inv) : acc[d];
}
