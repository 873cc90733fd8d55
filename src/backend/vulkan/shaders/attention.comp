#version 450
// attention.comp — flash attention: softmax(q.k * scale + mask) v in one pass
// over the keys, in tiles staged in shared memory, with an online softmax
// (running max m, running sum l, running output acc rescaled by exp(m_old -
// m_new) when the max grows); no L x L buffer, no score recomputation in f32.
// One workgroup = 64 queries of one head; one invocation = one query row.
//
// Rounding, against the CPU reference (src/ops/scalar/attention_scalar.c):
//   s_j = (q.k fma chain in d order) * scale, as there.
//   f32:  acc = sum_j e_j v_j with e_j = exp(s_j - m) (m running), out = acc / l;
//         the reference divides each e_j by l first: the two agree to a few
//         ulps (test_vulkan.c holds them to 2e-6 relative).
//   bf16: the reference rounds p_j = bf16(exp(s_j - m)) with the row's final
//         max m, so a first pass over the keys finds m exactly; the online
//         loop then never rescales and reproduces the reference's order:
//         l = sum_j e_j, acc = sum_j p_j v_j, out = bf16(acc * (1/l)).
// Masks: causal j <= i, segment seg[i] == seg[j]; a row with no allowed key
// is 0. GQA: head h reads kv head h / (n_heads / n_kv_heads). head_dim <= 256.
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64) in;
#include "common.glsl"

layout(binding = 0) writeonly buffer Ob { float o[]; };
layout(binding = 1) readonly buffer Qb { float q[]; };
layout(binding = 2) readonly buffer Kb { float k[]; };
layout(binding = 3) readonly buffer Vb { float v[]; };
layout(binding = 4) readonly buffer Sg { uint seg[]; };

// The parameter block (binding 8), copied to a private variable at the
// start of main: read once, then constants to the compiler.
struct Params {
    uint off[8];
    uint nq, nk, n_heads, n_kv_heads, head_dim;
    uint os, qs, ks, vs, mask, bf;
    float scale;
};
layout(std430, binding = 8) restrict readonly buffer PCB { Params v; } pcb_;
Params pc;

#define MAXD 256
// Shared tiles: 3072 floats of keys and as many of values (24 KiB; lavapipe
// offers 32 KiB): 3072 / head_dim keys per tile (24 at 128, 12 at 256).
#define TILE_FLOATS 3072
shared float ks_[TILE_FLOATS];
shared float vs_[TILE_FLOATS];

bool allowed(uint i, uint j) {
    if (pc.mask == 1u) return j <= i;
    if (pc.mask == 2u) {
        uint so = pc.off[4] >> 2;
        return seg[so + 2u * i] == seg[so + 2u * j] && seg[so + 2u * i + 1u] == seg[so + 2u * j + 1u];
    }
    return true;
}

// exp(s*scale - m) with the product and the difference rounded separately.
float score_exp(float sc, float m) {
    precise float z = sc - m;
    return exp(z);
}

float dot_qk(uint qi, uint t, uint hd) {
    precise float s = 0.0;
    for (uint d = 0u; d < hd; d++) s = fma1(q[qi + d], ks_[t * hd + d], s);
    precise float sc = s * pc.scale;
    return sc;
}

// Stage keys [j0, j0 + n) (and values when with_v) in shared memory.
void load_tile(uint j0, uint n, uint hd, uint kb, uint vb, bool with_v) {
    barrier();
    for (uint e = gl_LocalInvocationID.x; e < n * hd; e += 64u) {
        uint t = e / hd, d = e - t * hd;
        ks_[e] = k[kb + (j0 + t) * pc.ks + d];
        if (with_v) vs_[e] = v[vb + (j0 + t) * pc.vs + d];
    }
    barrier();
}

void main() {
    pc = pcb_.v;
    uint i = gl_GlobalInvocationID.x, h = gl_WorkGroupID.y;
    bool live = i < pc.nq; // idle invocations still stage tiles and meet the barriers
    uint hd = pc.head_dim;
    uint hk = h / (pc.n_heads / pc.n_kv_heads);
    uint qi = (pc.off[1] >> 2) + (live ? i : 0u) * pc.qs + h * hd;
    uint kb = (pc.off[2] >> 2) + hk * hd, vb = (pc.off[3] >> 2) + hk * hd;
    uint ob = (pc.off[0] >> 2) + i * pc.os + h * hd;
    uint tile = uint(TILE_FLOATS) / hd;
    // causal: this workgroup's last query sees no key past it
    uint nk = pc.nk;
    if (pc.mask == 1u) nk = min(nk, min(gl_WorkGroupID.x * 64u + 64u, pc.nq));

    const float NEG_INF = uintBitsToFloat(0xff800000u);
    float m = NEG_INF;
    if (pc.bf != 0u) { // bf16: the exact row max first (see the top)
        for (uint j0 = 0u; j0 < nk; j0 += tile) {
            uint n = min(tile, nk - j0);
            load_tile(j0, n, hd, kb, vb, false);
            if (live)
                for (uint t = 0u; t < n; t++)
                    if (allowed(i, j0 + t)) m = max(m, dot_qk(qi, t, hd));
        }
    }
    precise float l = 0.0;
    precise float acc[MAXD];
    for (uint d = 0u; d < hd; d++) acc[d] = 0.0;
    for (uint j0 = 0u; j0 < nk; j0 += tile) {
        uint n = min(tile, nk - j0);
        load_tile(j0, n, hd, kb, vb, true);
        if (!live) continue;
        for (uint t = 0u; t < n; t++) {
            if (!allowed(i, j0 + t)) continue;
            float sc = dot_qk(qi, t, hd);
            if (sc > m) { // the max grows (f32 only: in bf16 m is final)
                float alpha = isinf(m) ? 0.0 : exp(m - sc);
                l *= alpha;
                for (uint d = 0u; d < hd; d++) acc[d] *= alpha;
                m = sc;
            }
            float e = score_exp(sc, m);
            l += e;
            float p = pc.bf != 0u ? bf16r(e) : e;
            if (p == 0.0) continue;
            for (uint d = 0u; d < hd; d++) acc[d] = fma1(p, vs_[t * hd + d], acc[d]);
        }
    }
    if (!live) return;
    if (isinf(m)) {
        for (uint d = 0u; d < hd; d++) o[ob + d] = 0.0;
        return;
    }
#ifdef I4_NO_F64
    // no shaderFloat64: the device's f32 division (not correctly rounded)
    if (pc.bf != 0u) {
        float inv = 1.0 / l;
        for (uint d = 0u; d < hd; d++) o[ob + d] = bf16r(acc[d] * inv);
    } else {
        for (uint d = 0u; d < hd; d++) o[ob + d] = acc[d] / l;
    }
#else
    if (pc.bf != 0u) {
        float inv = float(1.0lf / double(l));
        for (uint d = 0u; d < hd; d++) o[ob + d] = bf16r(acc[d] * inv);
    } else {
        for (uint d = 0u; d < hd; d++) o[ob + d] = float(double(acc[d]) / double(l));
    }
#endif
}
