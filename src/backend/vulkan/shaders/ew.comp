#version 450
// ew.comp — the element-wise ops of backend.h, one invocation per element of x
// (see src/ops/elementwise.c and activation.c for the CPU versions):
//   ADD x=rnd(x+y)  MUL x=rnd(x*y)  ADDS x=rnd(x+c)  MULROWS x[r,i]=rnd(x*s[i])
//   GATED h=rnd(h+rnd(g[i]*a))  ADDIDX h[r,i]=rnd(h+table[sel[r],i])  FILL x=c
//   SILU x=rnd(x/(1+exp(-x)))  TANH x=rnd(tanh x)  GUIDE z+=(g*vc+(1-g)*vu)*dt
// `precise` keeps the compiler from fusing a product and a sum into one fma
// (the CPU evaluates each rounded separately).
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
#include "common.glsl"

layout(binding = 0) buffer X { float x[]; };
layout(binding = 1) readonly buffer Y { float y[]; };
layout(binding = 2) readonly buffer G { float g[]; };
layout(binding = 3) readonly buffer S { uint sel[]; };

// The parameter block (binding 8), copied to a private variable at the
// start of main: read once, then constants to the compiler.
struct Params {
    uint off[8];
    uint op, n, dim, bf;
    float c, gs, dt;
};
layout(std430, binding = 8) restrict readonly buffer PCB { Params v; } pcb_;
Params pc;

#define OP_ADD 0u
#define OP_MUL 1u
#define OP_ADDS 2u
#define OP_MULROWS 3u
#define OP_GATED 4u
#define OP_ADDIDX 5u
#define OP_FILL 6u
#define OP_SILU 7u
#define OP_TANH 8u
#define OP_GUIDE 9u

float tanh_acc(float v) {
    // tanh from exp of a negative argument (no overflow); near zero the
    // series keeps the relative error small where 1 - e cancels.
    float a = abs(v);
    precise float t;
    if (a < 0.125) {
        float a2 = a * a;
        t = a * (1.0 + a2 * (-1.0 / 3.0 + a2 * (2.0 / 15.0 + a2 * (-17.0 / 315.0 + a2 * (62.0 / 2835.0)))));
    } else {
        float e = exp(-2.0 * a);
        t = (1.0 - e) / (1.0 + e);
    }
    return v < 0.0 ? -t : t;
}

void main() {
    pc = pcb_.v;
    uint e = flat_id();
    if (e >= pc.n) return;
    uint xo = pc.off[0] >> 2, yo = pc.off[1] >> 2, go = pc.off[2] >> 2, so = pc.off[3] >> 2;
    uint bf = pc.bf;
    precise float v = x[xo + e];
    precise float r;
    switch (pc.op) {
    case OP_ADD: r = rnd(v + y[yo + e], bf); break;
    case OP_MUL: r = rnd(v * y[yo + e], bf); break;
    case OP_ADDS: r = rnd(v + pc.c, bf); break;
    case OP_MULROWS: r = rnd(v * y[yo + e % pc.dim], bf); break;
    case OP_GATED: {
        precise float p = rnd(g[go + e % pc.dim] * y[yo + e], bf);
        r = rnd(v + p, bf);
        break;
    }
    case OP_ADDIDX: {
        uint row = e / pc.dim, i = e % pc.dim;
        uint t = sel[so + 2u * row]; // low word of the int64 index
        r = rnd(v + y[yo + t * pc.dim + i], bf);
        break;
    }
    case OP_FILL: r = pc.c; break;
    case OP_SILU: r = rnd(v / (1.0 + exp(-v)), bf); break;
    case OP_TANH: r = rnd(tanh_acc(v), bf); break;
    default: { // OP_GUIDE
        precise float gv = pc.gs * y[yo + e];
        precise float uv = (1.0 - pc.gs) * g[go + e];
        precise float s = (gv + uv) * pc.dt;
        r = v + s;
        break;
    }
    }
    x[xo + e] = r;
}
