// linear_coop.glsl — y[t, o] = scale[o] * sum_k f16(x[t, k]) * f16(w[o, k]) (+ b[o]) on
// cooperative matrices (VK_KHR_cooperative_matrix, 16x16x16, f16 A/B, f32 C).
// Included by linear_coop.comp (the real one, COOP defined, compiled by
// glslangValidator) and linear_coop_emu.comp (COOP undefined: the same tiles,
// loads, decode and stores, with the matrix products as plain loops over
// shared memory — what lavapipe, without cooperative matrices, tests).
//
// A workgroup of 4 subgroups (4 * SG invocations, SG a specialization
// constant: the device's subgroup size) computes a 64-token x 64-output
// tile; subgroup s the 32x32 quarter (s / 2, s % 2) as 2x2 matrices of
// 16x16. k steps through 16-wide tiles staged in shared memory as f16:
// activations rounded to f16 (range 65504: the bf16-mode opt-in path only),
// weights decoded to f16 WITHOUT their scale — every e4m3 value and every
// f16 is exact in f16 — so the products are exact and the per-row (or
// per-tensor) F8 scale is applied once to the f32 sum. BF16/F32 weights stay
// on linear.comp. Then y = rnd(rnd(acc * s) + rnd(b)) (bf16 mode rounding).
layout(constant_id = 1) const uint SG = 32u;
layout(local_size_x_id = 1) in; // x = SG; 4 subgroups along y
layout(local_size_y = 4) in;

layout(binding = 0) readonly buffer Xb { float x[]; };
layout(binding = 1) writeonly buffer Yb { float y[]; };
layout(binding = 2) readonly buffer Wb { uint wst[]; };
layout(binding = 3) readonly buffer Sb { float scl[]; };
layout(binding = 4) readonly buffer Bb { uint bst[]; };

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

#ifdef COOP
#define HALF float16_t
HALF to_half(float v) { return float16_t(v); }
#else
// the same values, held as float: f16-rounded through packHalf2x16
#define HALF float
HALF to_half(float v) { return unpackHalf2x16(packHalf2x16(vec2(v, 0.0))).x; }
#endif
shared HALF xs[BM * BK]; // [token][k], row-major
shared HALF ws[BK * BN]; // [k][output], row-major
shared float cs[BM * BN]; // the f32 sums, [token][output]

float bias_at(uint o) {
    uint bo = pc.off[4] + (pc.bias_dtype == DT_F32 ? 4u : 2u) * o;
    if (pc.bias_dtype == DT_BF16) return uintBitsToFloat(((bst[bo >> 2] >> (8u * (bo & 2u))) & 0xffffu) << 16);
    if (pc.bias_dtype == DT_F16) return f16_to_f32((bst[bo >> 2] >> (8u * (bo & 2u))) & 0xffffu);
    return uintBitsToFloat(bst[bo >> 2]);
}

void main() {
    pc = pcb_.v;
    const uint NT = 4u * SG;
    uint lid = gl_LocalInvocationID.y * SG + gl_LocalInvocationID.x;
    uint sg = gl_LocalInvocationID.y; // the subgroup (one row of the workgroup)
    uint o0 = gl_WorkGroupID.x * BN, t0 = gl_WorkGroupID.y * BM;
    uint r0 = (sg >> 1) * 32u, c0 = (sg & 1u) * 32u; // this subgroup's quarter
    uint xo = pc.off[0] >> 2;
#ifdef COOP
    coopmat<float, gl_ScopeSubgroup, 16, 16, gl_MatrixUseAccumulator> acc[2][2];
    for (uint i = 0u; i < 2u; i++)
        for (uint j = 0u; j < 2u; j++) acc[i][j] = coopmat<float, gl_ScopeSubgroup, 16, 16, gl_MatrixUseAccumulator>(0.0);
#else
    // plain loops: invocation l of the subgroup owns elements l, l + SG, ...
    // of each of the subgroup's four 16x16 accumulators (k in order)
    float acc[2][2][256 / 8];
    for (uint i = 0u; i < 2u; i++)
        for (uint j = 0u; j < 2u; j++)
            for (uint e = 0u; e < 32u; e++) acc[i][j][e] = 0.0;
#endif
    for (uint k0 = 0u; k0 < pc.n_in; k0 += BK) {
        for (uint li = lid; li < BM * BK; li += NT) {
            uint rr = li / BK, kk = li % BK, t = t0 + rr, k = k0 + kk;
            xs[rr * BK + kk] = to_half((t < pc.n_tok && k < pc.n_in) ? x[xo + t * pc.x_stride + k] : 0.0);
        }
        for (uint li = lid; li < BK * BN; li += NT) {
            uint kk = li / BN, cc = li % BN, o = o0 + cc, k = k0 + kk;
            float wv = 0.0;
            if (o < pc.n_out && k < pc.n_in) {
                uint idx = o * pc.n_in + k;
                wv = pc.dtype == DT_F8 ? e4m3_to_f32(stored_byte(pc.off[2] + idx)) : stored_f32(pc.dtype, pc.off[2], idx);
            }
            ws[kk * BN + cc] = to_half(wv);
        }
        barrier();
#ifdef COOP
        coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseA> a[2];
        coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseB> b[2];
        for (uint i = 0u; i < 2u; i++)
            coopMatLoad(a[i], xs, (r0 + 16u * i) * BK, BK, gl_CooperativeMatrixLayoutRowMajor);
        for (uint j = 0u; j < 2u; j++)
            coopMatLoad(b[j], ws, c0 + 16u * j, BN, gl_CooperativeMatrixLayoutRowMajor);
        for (uint i = 0u; i < 2u; i++)
            for (uint j = 0u; j < 2u; j++) acc[i][j] = coopMatMulAdd(a[i], b[j], acc[i][j]);
#else
        uint l = gl_LocalInvocationID.x;
        for (uint i = 0u; i < 2u; i++)
            for (uint j = 0u; j < 2u; j++)
                for (uint e = 0u; e * SG + l < 256u; e++) {
                    uint m = (e * SG + l) / 16u, n = (e * SG + l) % 16u;
                    float s = acc[i][j][e];
                    for (uint kk = 0u; kk < BK; kk++)
                        s += float(xs[(r0 + 16u * i + m) * BK + kk]) * float(ws[kk * BN + c0 + 16u * j + n]);
                    acc[i][j][e] = s;
                }
#endif
        barrier();
    }
#ifdef COOP
    for (uint i = 0u; i < 2u; i++)
        for (uint j = 0u; j < 2u; j++)
            coopMatStore(acc[i][j], cs, (r0 + 16u * i) * BN + c0 + 16u * j, BN, gl_CooperativeMatrixLayoutRowMajor);
#else
    {
        uint l = gl_LocalInvocationID.x;
        for (uint i = 0u; i < 2u; i++)
            for (uint j = 0u; j < 2u; j++)
                for (uint e = 0u; e * SG + l < 256u; e++) {
                    uint m = (e * SG + l) / 16u, n = (e * SG + l) % 16u;
                    cs[(r0 + 16u * i + m) * BN + c0 + 16u * j + n] = acc[i][j][e];
                }
    }
#endif
    barrier();
    uint bf = pc.bf;
    for (uint li = lid; li < BM * BN; li += NT) {
        uint rr = li / BN, cc = li % BN, t = t0 + rr, o = o0 + cc;
        if (t >= pc.n_tok || o >= pc.n_out) continue;
        float s = pc.dtype == DT_F8 ? rnd(scl[(pc.off[3] >> 2) + (pc.per_tensor != 0u ? 0u : o)], bf) : 1.0;
        float v = rnd(cs[li] * s, bf);
        if (pc.has_bias != 0u) v = rnd(v + rnd(bias_at(o), bf), bf);
        y[(pc.off[1] >> 2) + t * pc.y_stride + o] = v;
    }
}
