#version 450
// rope.comp — rotary embedding in place (src/ops/rope.c), one invocation per
// (token, head, d < half):
//   x[d] = x[d]*cos[d] - x[d+half]*sin[d], x[d+half] = x[d+half]*cos[d+half] + x[d]*sin[d+half]
// bf16 mode: bf16(bf16(a*c) + bf16(rot*s)).
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
#include "common.glsl"

layout(binding = 0) buffer Xb { float x[]; };
layout(binding = 1) readonly buffer Cb { float ct[]; };
layout(binding = 2) readonly buffer Sb { float st[]; };

// The parameter block (binding 8), copied to a private variable at the
// start of main: read once, then constants to the compiler.
struct Params {
    uint off[8];
    uint total, n_heads, head_dim, stride, bf;
};
layout(std430, binding = 8) restrict readonly buffer PCB { Params v; } pcb_;
Params pc;

void main() {
    pc = pcb_.v;
    uint e = flat_id();
    if (e >= pc.total) return;
    uint half_d = pc.head_dim / 2u;
    uint d = e % half_d, h = (e / half_d) % pc.n_heads, i = e / (half_d * pc.n_heads);
    uint xi = (pc.off[0] >> 2) + i * pc.stride + h * pc.head_dim + d;
    uint ti = i * pc.head_dim + d;
    uint co = pc.off[1] >> 2, so = pc.off[2] >> 2;
    float a = x[xi], b = x[xi + half_d];
    float c0 = ct[co + ti], c1 = ct[co + ti + half_d], s0 = st[so + ti], s1 = st[so + ti + half_d];
    precise float lo, hi;
    if (pc.bf != 0u) {
        lo = bf16r(bf16r(a * c0) + bf16r(-b * s0));
        hi = bf16r(bf16r(b * c1) + bf16r(a * s1));
    } else {
        precise float p0 = a * c0, p1 = (-b) * s0, p2 = b * c1, p3 = a * s1;
        lo = p0 + p1;
        hi = p2 + p3;
    }
    x[xi] = lo;
    x[xi + half_d] = hi;
}
