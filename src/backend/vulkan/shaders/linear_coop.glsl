// linear_coop.glsl — y[t, o] = sum_k x[t, k] * w_eff[o, k] (+ b_eff[o]) in the
// bf16 precision mode (src/ops/ops.h; w_eff = bf16(e4m3 * bf16(scale))) on
// cooperative matrices (VK_KHR_cooperative_matrix, 16x16x16, f16 A and B,
// f32 C). Included by coop/linear_coop.comp (COOP defined, compiled by
// glslangValidator) and linear_coop_emu.comp (COOP undefined: the same tiles,
// scaling, loads and stores, with the matrix products as plain loops over
// shared memory — what lavapipe, without cooperative matrices, tests).
//
// Exact f16 operands: every w_eff has 8 significant bits and every x of the
// bf16 mode too (the caller's inputs are bf16 values), so each is exact in
// f16 once moved into f16's normal range by a power of two: per output row
// o, 2^-e_o with 448 * bf16(scale_o) * 2^-e_o in [2^14, 2^15) (448: the
// largest e4m3; the smallest nonzero one, 2^-9, lands at >= 2^-4); per token
// t, 2^-a_t with max_k |x[t, k]| * 2^-a_t in [2^14, 2^15) (a first pass over
// the tile's rows; values under 2^-28 of their row's largest lose bits as f16
// subnormals — far below the f32 sum's own rounding). The products are then
// exact, summed in f32, and y = rnd(2^(a_t + e_o) * sum + rnd(b)) as
// linear.comp does: the reference arithmetic up to the order of the f32 sum.
// F8 weights only (the transformers' Linears); the others stay on linear.comp.
//
// A workgroup of 4 subgroups of 32 computes a 64-token x 64-output tile;
// subgroup s the 32x32 quarter (s / 2, s % 2) as 2x2 matrices of 16x16; k
// steps through 16-wide tiles staged in shared memory.
// 4 rows of 32 invocations. On the device, the rows are its subgroups: the
// coop path is only picked where subgroups of 32 run (NVIDIA's size, or
// required at pipeline creation where the size is chosen, e.g. AMD wave32).
// In the emulation the rows only stand for them (no subgroup operation).
const uint SG = 32u;
layout(local_size_x = 32, local_size_y = 4) in;

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
shared float xmax[2u * BM]; // the first pass: two partial maxima per token row
shared int xexp[BM];        // a_t
shared int wexp[BN];        // e_o
shared float wscale[BN];    // bf16(scale_o)

// e with v * 2^-e in [2^14, 2^15) (v > 0); 0 for v == 0
int range_exp(float v) {
    if (!(v > 0.0)) return 0;
    int e;
    frexp(v, e); // v = m * 2^e, m in [0.5, 1)
    return e - 15;
}

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
#ifdef COOP
    uint sg = gl_SubgroupID; // this subgroup's quarter of the tile
#else
    uint sg = gl_LocalInvocationID.y; // the row standing for a subgroup
#endif
    uint o0 = gl_WorkGroupID.x * BN, t0 = gl_WorkGroupID.y * BM;
    uint r0 = (sg >> 1) * 32u, c0 = (sg & 1u) * 32u; // this subgroup's quarter
    uint xo = pc.off[0] >> 2;
    uint bf = pc.bf;
    {
        uint rr = lid >> 1u, half_ = lid & 1u, t = t0 + rr;
        float m = 0.0;
        if (t < pc.n_tok)
            for (uint k = half_; k < pc.n_in; k += 2u) m = max(m, abs(x[xo + t * pc.x_stride + k]));
        xmax[lid] = m;
        if (lid < BN) {
            uint o = min(o0 + lid, pc.n_out - 1u);
            float sc = rnd(scl[(pc.off[3] >> 2) + (pc.per_tensor != 0u ? 0u : o)], bf);
            wscale[lid] = sc;
            wexp[lid] = range_exp(448.0 * abs(sc));
        }
        barrier();
        if (lid < BM) xexp[lid] = range_exp(max(xmax[2u * lid], xmax[2u * lid + 1u]));
        barrier();
    }
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
            xs[rr * BK + kk] = to_half((t < pc.n_tok && k < pc.n_in) ? ldexp(x[xo + t * pc.x_stride + k], -xexp[rr]) : 0.0);
        }
        for (uint li = lid; li < BK * BN; li += NT) {
            uint kk = li / BN, cc = li % BN, o = o0 + cc, k = k0 + kk;
            float wv = 0.0;
            if (o < pc.n_out && k < pc.n_in)
                wv = ldexp(rnd(e4m3_to_f32(stored_byte(pc.off[2] + o * pc.n_in + k)) * wscale[cc], bf), -wexp[cc]);
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
    for (uint li = lid; li < BM * BN; li += NT) {
        uint rr = li / BN, cc = li % BN, t = t0 + rr, o = o0 + cc;
        if (t >= pc.n_tok || o >= pc.n_out) continue;
        float bv = pc.has_bias != 0u ? rnd(bias_at(o), bf) : 0.0;
        precise float v = ldexp(cs[li], xexp[rr] + wexp[cc]) + bv;
        y[(pc.off[1] >> 2) + t * pc.y_stride + o] = rnd(v, bf);
    }
}
