// conv2d.glsl — the body of conv2d.comp (LY = 8: 64 output channels per
// workgroup) and conv2d_c32.comp (LY = 4: 32, for c_out <= 32, where half of
// a 64-channel tile would stage x for channels that are not there); the
// math and the tiling are described in conv2d.comp.

// Tile shape. Shared memory is read and written as vec4: on lavapipe every
// load or store is a loop over the SIMD lanes, so a vec4 costs about what a
// float does; on a GPU they are 128-bit accesses.
// LY (invocations along output channels) is defined by the including .comp.
#define LX 8u  // invocations along pixels
#define TN 8u  // pixels per invocation: p0 + 4*(tx + LX*h) + c, h < TN/4, c < 4
#define TM 8u  // channels per invocation: co0 + TM*ty + b
#define BK 16u // k per shared tile (a multiple of LY; BK*BM a multiple of 4*LX*LY)
#define BN (LX * TN)
#define BM (LY * TM)
layout(local_size_x = LX, local_size_y = LY) in;
#include "common.glsl"

layout(binding = 0) readonly buffer Xb { float x[]; };
layout(binding = 1) writeonly buffer Yb { float y[]; };
layout(binding = 2) readonly buffer Wb { uint wst[]; };
layout(binding = 3) readonly buffer Bb { uint bst[]; };

// The parameter block (binding 8), copied to a private variable at the
// start of main: read once, then constants to the compiler.
struct Params {
    uint off[8];
    uint c_out, c_in, ksz, H, W, OH, OW, pad;
    uint dtype, has_bias, bias_dtype, bf;
};
layout(std430, binding = 8) restrict readonly buffer PCB { Params v; } pcb_;
Params pc;

shared vec4 xs[BK][BN / 4u];      // X[k0 + kk, p0 + 4q + c]
shared vec4 ws[BK][BM / 4u + 1u]; // W[co0 + 4q + c, k0 + kk]; +1: the staging writes run along kk

// Element i of the stored BF16/F16/F32 weights, widened: one load and no
// branch on the dtype (lavapipe runs both sides of a branch, loads included).
float weight_at(uint i) {
    const uint dt = pc.dtype, bo = pc.off[2] + (dt == DT_F32 ? 4u : 2u) * i;
    const uint word = wst[bo >> 2], h = (word >> (8u * (bo & 2u))) & 0xffffu;
    return mix(mix(f16_to_f32(h), uintBitsToFloat(h << 16), dt == DT_BF16), uintBitsToFloat(word), dt == DT_F32);
}

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
    const uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y, lid = ty * LX + tx;
    const uint co0 = gl_WorkGroupID.z * BM;
    const uint K = pc.ksz, KK = K * K, Ktot = pc.c_in * KK;
    const uint bf = pc.bf, xo = pc.off[0] >> 2;
    const int pad = int(pc.pad);

    // This invocation's pixels p0 + 4*(tx + LX*h) + c = pix(a), a = 4h + c:
    // it stages X for them (rows kk = ty + LY*j) and accumulates them.
    int oyp[TN], oxp[TN]; // oy - pad, ox - pad
    for (uint a = 0u; a < TN; a++) {
        uint p = p0 + 4u * (tx + LX * (a >> 2)) + (a & 3u);
        oyp[a] = int(p / pc.OW) - pad;
        oxp[a] = int(p % pc.OW) - pad;
    }
    // The staged rows' k = k0 + ty + LY*j as (ci, r = ky*K + kx), carried
    // from tile to tile (k0 += BK) without a division by KK.
    const uint dq = BK / KK, dr = BK % KK;
    uint sci[BK / LY], sr[BK / LY];
    for (uint j = 0u; j < BK / LY; j++) {
        sci[j] = (ty + LY * j) / KK;
        sr[j] = (ty + LY * j) % KK;
    }

    // Channels co0 + TM*ty + b; an invocation with none stages, skips the sums.
    const bool busy = co0 + TM * ty < pc.c_out;
    float acc[TM][TN];
    for (uint b = 0u; b < TM; b++)
        for (uint a = 0u; a < TN; a++) acc[b][a] = 0.0;
    int ky = 0, kx = 0; // the tap of the k the sums are at

    for (uint k0 = 0u; k0 < Ktot; k0 += BK) {
        for (uint j = 0u; j < BK / LY; j++) {
            const uint kk = ty + LY * j;
            const int sky = int(sr[j] / K), skx = int(sr[j] % K);
            const bool kin = k0 + kk < Ktot;
            const uint xc = xo + sci[j] * pc.H * pc.W;
            float v[TN];
            for (uint a = 0u; a < TN; a++) {
                int iy = oyp[a] + sky, ix = oxp[a] + skx;
                bool inb = kin && uint(iy) < pc.H && uint(ix) < pc.W; // (a pixel past the end: oy >= OH)
                v[a] = inb ? x[xc + uint(iy) * pc.W + uint(ix)] : 0.0;
            }
            for (uint h = 0u; h < TN / 4u; h++)
                xs[kk][tx + LX * h] = vec4(v[4u * h], v[4u * h + 1u], v[4u * h + 2u], v[4u * h + 3u]);
            sci[j] += dq;
            sr[j] += dr;
            if (sr[j] >= KK) {
                sr[j] -= KK;
                sci[j]++;
            }
        }
        for (uint j = 0u; j < BK * BM / (4u * LX * LY); j++) {
            const uint e = lid + LX * LY * j, kk = e % BK, q = e / BK, k = k0 + kk;
            float v[4];
            for (uint c = 0u; c < 4u; c++) {
                uint co = co0 + 4u * q + c;
                v[c] = (co < pc.c_out && k < Ktot) ? rnd(weight_at(co * Ktot + k), bf) : 0.0;
            }
            ws[kk][q] = vec4(v[0], v[1], v[2], v[3]);
        }
        barrier();
        if (busy) {
            const uint kn = min(BK, Ktot - k0);
            for (uint kk = 0u; kk < kn; kk++) {
                float xv[TN], wv[TM];
                bool ok[TN];
                for (uint h = 0u; h < TN / 4u; h++) {
                    vec4 t = xs[kk][tx + LX * h];
                    xv[4u * h] = t.x, xv[4u * h + 1u] = t.y, xv[4u * h + 2u] = t.z, xv[4u * h + 3u] = t.w;
                }
                for (uint h = 0u; h < TM / 4u; h++) {
                    vec4 t = ws[kk][(TM / 4u) * ty + h];
                    wv[4u * h] = t.x, wv[4u * h + 1u] = t.y, wv[4u * h + 2u] = t.z, wv[4u * h + 3u] = t.w;
                }
                for (uint a = 0u; a < TN; a++) ok[a] = all(lessThan(uvec2(oyp[a] + ky, oxp[a] + kx), uvec2(pc.H, pc.W)));
                for (uint b = 0u; b < TM; b++)
                    for (uint a = 0u; a < TN; a++) acc[b][a] = mix(acc[b][a], fma1(wv[b], xv[a], acc[b][a]), ok[a]);
                kx++;
                if (kx == int(K)) {
                    kx = 0;
                    ky = ky + 1 == int(K) ? 0 : ky + 1;
                }
            }
        }
        barrier();
    }
    if (!busy) return;
    for (uint b = 0u; b < TM; b++) {
        uint co = co0 + TM * ty + b;
        if (co >= pc.c_out) continue;
        float bv = pc.has_bias != 0u ? rnd(bias_at(co), bf) : 0.0;
        for (uint a = 0u; a < TN; a++) {
            uint p = p0 + 4u * (tx + LX * (a >> 2)) + (a & 3u);
            if (p >= npix) continue;
            precise float s = acc[b][a] + bv;
            y[(pc.off[1] >> 2) + co * npix + p] = rnd(s, bf);
        }
    }
}
