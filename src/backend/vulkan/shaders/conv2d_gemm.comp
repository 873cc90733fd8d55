#version 450
// conv2d_gemm.comp — the convolution of conv2d.comp as an implicit GEMM:
//   Y[co, p] = rnd(b[co] + sum_k W[co, k] * X[k, p]),  p = oy*OW + ox,
//   k = (ci*ksz + ky)*ksz + kx,  X[k, p] = x[ci, oy+ky-pad, ox+kx-pad]
// (X is im2col(x), never written out). A 16x16 workgroup computes 64 output
// channels x 64 output pixels, 4x4 per invocation; k steps through 16-wide
// tiles: the decoded weights W[co0.., k0..] and the gathered X[k0.., p0..]
// are staged in shared memory, then every invocation walks the tile's k in
// order. Each output is still ONE fma chain over (ci, ky, kx) in the order of
// src/ops/scalar/conv_scalar.c, padding taps skipped (not added as w*0: that
// would turn an acc of -0.0 into +0.0), then the bias added last: bit for
// bit the CPU reference. Weights BF16/F16/F32 widened (bf16 mode rounds them).
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 16, local_size_y = 16) in;
#include "common.glsl"

layout(binding = 0) readonly buffer Xb { float x[]; };
layout(binding = 1) writeonly buffer Yb { float y[]; };
layout(binding = 2) readonly buffer Wb { uint wst[]; };
layout(binding = 3) readonly buffer Bb { uint bst[]; };

// The parameter block (binding 8; the layout of conv2d.comp's), copied to a
// private variable at the start of main.
struct Params {
    uint off[8];
    uint c_out, c_in, ksz, H, W, OH, OW, pad;
    uint dtype, has_bias, bias_dtype, bf;
};
layout(std430, binding = 8) restrict readonly buffer PCB { Params v; } pcb_;
Params pc;

#define STORED_ARRAY wst
#include "stored.glsl"
#undef STORED_ARRAY

#define BM 64u // output channels per workgroup (grid z)
#define BN 64u // output pixels per workgroup (grid x, y)
#define BK 16u // k per shared tile

shared float xs[BK][BN];      // X[k0 + kk, p0 + pp]
shared float ws[BK][BM + 1u]; // W[co0 + m, k0 + kk]; +1: the staging writes run along kk
shared int tky[BK], tkx[BK];  // (ky, kx) of k0 + kk

float bias_at(uint co) {
    uint bo = pc.off[3] + (pc.bias_dtype == DT_F32 ? 4u : 2u) * co;
    if (pc.bias_dtype == DT_BF16) return uintBitsToFloat(((bst[bo >> 2] >> (8u * (bo & 2u))) & 0xffffu) << 16);
    if (pc.bias_dtype == DT_F16) return f16_to_f32((bst[bo >> 2] >> (8u * (bo & 2u))) & 0xffffu);
    return uintBitsToFloat(bst[bo >> 2]);
}

void main() {
    pc = pcb_.v;
    const uint npix = pc.OH * pc.OW;
    const uint p0 = flat_group() * BN;
    if (p0 >= npix) return; // the whole workgroup: the grid's rounding
    const uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
    const uint co0 = gl_WorkGroupID.z * BM;
    const uint K = pc.ksz, KK = K * K, Ktot = pc.c_in * KK;
    const uint bf = pc.bf, xo = pc.off[0] >> 2;
    const int pad = int(pc.pad);

    // Staging roles. X: row kk = ty of the tile, pixels tx + 16a (the same
    // pixels this invocation accumulates); its k is tracked as (ci, r = ky*K + kx)
    // from tile to tile without a division. W: column kk = tx, channels ty + 16b.
    int oyp[4], oxp[4]; // oy - pad, ox - pad of pixels p0 + tx + 16a
    for (uint a = 0u; a < 4u; a++) {
        uint p = p0 + tx + 16u * a;
        oyp[a] = int(p / pc.OW) - pad;
        oxp[a] = int(p % pc.OW) - pad;
    }
    const uint dq = BK / KK, dr = BK % KK;
    uint sci = ty / KK, sr = ty % KK; // the staged X row's k = k0 + ty

    // Compute role: channels co0 + 4ty + b, pixels p0 + tx + 16a.
    const bool busy = co0 + 4u * ty < pc.c_out;
    float acc[4][4];
    for (uint b = 0u; b < 4u; b++)
        for (uint a = 0u; a < 4u; a++) acc[b][a] = 0.0;

    for (uint k0 = 0u; k0 < Ktot; k0 += BK) {
        {
            const int ky = int(sr / K), kx = int(sr % K);
            const bool kin = k0 + ty < Ktot;
            for (uint a = 0u; a < 4u; a++) {
                int iy = oyp[a] + ky, ix = oxp[a] + kx;
                bool inb = kin && p0 + tx + 16u * a < npix && uint(iy) < pc.H && uint(ix) < pc.W;
                xs[ty][tx + 16u * a] = inb ? x[xo + (sci * pc.H + uint(iy)) * pc.W + uint(ix)] : 0.0;
            }
            if (tx == 0u) {
                tky[ty] = ky;
                tkx[ty] = kx;
            }
            sci += dq;
            sr += dr;
            if (sr >= KK) {
                sr -= KK;
                sci++;
            }
        }
        {
            const uint k = k0 + tx;
            for (uint b = 0u; b < 4u; b++) {
                uint co = co0 + ty + 16u * b;
                ws[tx][ty + 16u * b] =
                    (co < pc.c_out && k < Ktot) ? rnd(stored_f32(pc.dtype, pc.off[2], co * Ktot + k), bf) : 0.0;
            }
        }
        barrier();
        if (busy) {
            const uint kn = min(BK, Ktot - k0);
            for (uint kk = 0u; kk < kn; kk++) {
                const int ky = tky[kk], kx = tkx[kk];
                float xv[4], wv[4];
                bool ok[4];
                for (uint a = 0u; a < 4u; a++) {
                    xv[a] = xs[kk][tx + 16u * a];
                    ok[a] = uint(oyp[a] + ky) < pc.H && uint(oxp[a] + kx) < pc.W;
                }
                for (uint b = 0u; b < 4u; b++) wv[b] = ws[kk][4u * ty + b];
                for (uint b = 0u; b < 4u; b++)
                    for (uint a = 0u; a < 4u; a++) acc[b][a] = ok[a] ? fma1(wv[b], xv[a], acc[b][a]) : acc[b][a];
            }
        }
        barrier();
    }
    if (!busy) return;
    for (uint b = 0u; b < 4u; b++) {
        uint co = co0 + 4u * ty + b;
        if (co >= pc.c_out) continue;
        float bv = pc.has_bias != 0u ? rnd(bias_at(co), bf) : 0.0;
        for (uint a = 0u; a < 4u; a++) {
            uint p = p0 + tx + 16u * a;
            if (p >= npix) continue;
            precise float s = acc[b][a] + bv;
            y[(pc.off[1] >> 2) + co * npix + p] = rnd(s, bf);
        }
    }
}
