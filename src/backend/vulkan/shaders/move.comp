#version 450
// move.comp — data movement, one invocation per destination element:
//   GATHER  dst[r,i] = rnd(src[idx[r], i])          (n*ld elements)
//   SCATTER dst[idx[r], i] = src[r*ss + i]          (n*ld elements)
//   COPY2D  dst[r*drs + c*dcs] = src[r*srs + c*scs] or rnd(dst + src) (rows*cols)
//   UPS2X   y[c, oy, ox] = x[c, oy/2, ox/2]         (C*2H*2W)
//   UNPACK  lat[a, gy*ph+py, gx*pw+px] = t[gy*gw+gx, c]*scale[c] + shift[c],
//           c = (py*pw + px)*ae + a                  (ae*H*W)
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
#include "common.glsl"

layout(binding = 0) buffer D { float dst[]; };
layout(binding = 1) readonly buffer Sr { float src[]; };
layout(binding = 2) readonly buffer I { uint idx[]; };
layout(binding = 3) readonly buffer Sc { float scl[]; };
layout(binding = 4) readonly buffer Sh { float sft[]; };

// The parameter block (binding 8), copied to a private variable at the
// start of main: read once, then constants to the compiler.
struct Params {
    uint off[8];
    uint op, n, bf;
    uint a0, a1, a2, a3, a4, a5; // per-op sizes and strides (below)
};
layout(std430, binding = 8) restrict readonly buffer PCB { Params v; } pcb_;
Params pc;

#define OP_GATHER 0u
#define OP_SCATTER 1u
#define OP_COPY2D 2u
#define OP_UPS2X 3u
#define OP_UNPACK 4u

void main() {
    pc = pcb_.v;
    uint e = flat_id();
    if (e >= pc.n) return;
    uint d0 = pc.off[0] >> 2, s0 = pc.off[1] >> 2, i0 = pc.off[2] >> 2;
    if (pc.op == OP_GATHER) { // a0 = ld
        uint r = e / pc.a0, i = e % pc.a0;
        dst[d0 + e] = rnd(src[s0 + idx[i0 + 2u * r] * pc.a0 + i], pc.bf);
    } else if (pc.op == OP_SCATTER) { // a0 = ld, a1 = src row stride
        uint r = e / pc.a0, i = e % pc.a0;
        dst[d0 + idx[i0 + 2u * r] * pc.a0 + i] = src[s0 + r * pc.a1 + i];
    } else if (pc.op == OP_COPY2D) { // a0 = cols, a1 drs, a2 dcs, a3 srs, a4 scs, a5 accumulate
        uint r = e / pc.a0, c = e % pc.a0;
        uint di = d0 + r * pc.a1 + c * pc.a2;
        precise float s = src[s0 + r * pc.a3 + c * pc.a4];
        dst[di] = pc.a5 != 0u ? rnd(dst[di] + s, pc.bf) : s;
    } else if (pc.op == OP_UPS2X) { // a0 = H, a1 = W (input)
        uint W2 = 2u * pc.a1, H2 = 2u * pc.a0;
        uint ox = e % W2, oy = (e / W2) % H2, c = e / (W2 * H2);
        dst[d0 + e] = src[s0 + (c * pc.a0 + oy / 2u) * pc.a1 + ox / 2u];
    } else { // OP_UNPACK: a0 = gh, a1 = gw, a2 = ph, a3 = pw, a4 = ae
        uint H = pc.a0 * pc.a2, W = pc.a1 * pc.a3;
        uint xx = e % W, yy = (e / W) % H, a = e / (W * H);
        uint gy = yy / pc.a2, py = yy % pc.a2, gx = xx / pc.a3, px = xx % pc.a3;
        uint c = (py * pc.a3 + px) * pc.a4 + a;
        uint tc = pc.a2 * pc.a3 * pc.a4;
        precise float v = src[s0 + (gy * pc.a1 + gx) * tc + c] * scl[(pc.off[3] >> 2) + c];
        dst[d0 + e] = v + sft[(pc.off[4] >> 2) + c];
    }
}
