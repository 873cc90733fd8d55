#version 450
// linear.comp — y[t, o] = sum_k x[t, k] * w_eff[o, k] (+ b_eff[o]), a tiled
// shared-memory GEMM: a 16x16 workgroup computes a 64-token x 64-output tile,
// 4x4 outputs per invocation, stepping k through 16-wide tiles of x and of
// the decoded weights held in shared memory.
// Effective weights (src/ops/scalar/linear_scalar.c): F8 e4m3(code)*scale
// (bf16 mode: bf16(e4m3*bf16(scale))), BF16/F16/F32 widened (bf16 mode
// rounds to bf16). Each output is one fma chain over k in order, as the CPU
// reference, so both agree bit for bit; then y = rnd(acc + rnd(b)).
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 16, local_size_y = 16) in;
#include "common.glsl"

layout(binding = 0) readonly buffer Xb { float x[]; };
layout(binding = 1) writeonly buffer Yb { float y[]; };
layout(binding = 2) readonly buffer Wb { uint wst[]; };
layout(binding = 3) readonly buffer Sb { float scl[]; };
layout(binding = 4) readonly buffer Bb { uint bst[]; };

// The parameter block (binding 8), copied to a private variable at the
// start of main: read once, then constants to the compiler.
struct Params {
    uint off[8];
    uint dtype, per_tensor, has_bias, bias_dtype;
    uint n_out, n_in, n_tok, x_stride, y_stride, bf;
};
layout(std430, binding = 8) restrict readonly buffer PCB { Params v; } pcb_;
Params pc;

#define STORED_ARRAY wst
#include "stored.glsl"
#undef STORED_ARRAY

#define BM 64u
#define BN 64u
#define BK 16u

shared float xs[BK][BM + 1u];
shared float ws[BK][BN + 1u];

float bias_at(uint o) {
    uint bo = pc.off[4] + (pc.bias_dtype == DT_F32 ? 4u : 2u) * o;
    if (pc.bias_dtype == DT_BF16) return uintBitsToFloat(((bst[bo >> 2] >> (8u * (bo & 2u))) & 0xffffu) << 16);
    if (pc.bias_dtype == DT_F16) return f16_to_f32((bst[bo >> 2] >> (8u * (bo & 2u))) & 0xffffu);
    return uintBitsToFloat(bst[bo >> 2]);
}

void main() {
    pc = pcb_.v;
    uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
    uint lid = ty * 16u + tx;
    uint o0 = gl_WorkGroupID.x * BN, t0 = gl_WorkGroupID.y * BM;
    uint xo = pc.off[0] >> 2;
    uint bf = pc.bf;
    float acc[4][4];
    for (uint a = 0u; a < 4u; a++)
        for (uint b = 0u; b < 4u; b++) acc[a][b] = 0.0;

    for (uint k0 = 0u; k0 < pc.n_in; k0 += BK) {
        // Stage 64x16 of x and 64x16 decoded weights: 4 elements each per invocation.
        for (uint q = 0u; q < 4u; q++) {
            uint li = lid + q * 256u;
            uint kk = li % BK, rr = li / BK; // rr < 64
            uint k = k0 + kk;
            uint t = t0 + rr;
            xs[kk][rr] = (t < pc.n_tok && k < pc.n_in) ? x[xo + t * pc.x_stride + k] : 0.0;
            uint o = o0 + rr;
            float wv = 0.0;
            if (o < pc.n_out && k < pc.n_in) {
                uint idx = o * pc.n_in + k;
                if (pc.dtype == DT_F8) {
                    float s = scl[(pc.off[3] >> 2) + (pc.per_tensor != 0u ? 0u : o)];
                    wv = e4m3_to_f32(stored_byte(pc.off[2] + idx)) * rnd(s, bf);
                } else {
                    wv = stored_f32(pc.dtype, pc.off[2], idx);
                }
                wv = rnd(wv, bf);
            }
            ws[kk][rr] = wv;
        }
        barrier();
        uint kn = min(BK, pc.n_in - k0);
        for (uint kk = 0u; kk < kn; kk++) {
            float xv[4], wv[4];
            for (uint a = 0u; a < 4u; a++) xv[a] = xs[kk][ty + 16u * a];
            for (uint b = 0u; b < 4u; b++) wv[b] = ws[kk][tx + 16u * b];
            for (uint a = 0u; a < 4u; a++)
                for (uint b = 0u; b < 4u; b++) acc[a][b] = fma1(xv[a], wv[b], acc[a][b]);
        }
        barrier();
    }
    for (uint b = 0u; b < 4u; b++) {
        uint o = o0 + tx + 16u * b;
        if (o >= pc.n_out) continue;
        float bv = pc.has_bias != 0u ? rnd(bias_at(o), bf) : 0.0;
        for (uint a = 0u; a < 4u; a++) {
            uint t = t0 + ty + 16u * a;
            if (t >= pc.n_tok) continue;
            precise float s = acc[a][b] + bv;
            y[(pc.off[1] >> 2) + t * pc.y_stride + o] = rnd(s, bf);
        }
    }
}
