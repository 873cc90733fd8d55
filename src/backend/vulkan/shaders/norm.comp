#version 450
// norm.comp — rmsnorm / layernorm (one workgroup per row) and groupnorm (one
// workgroup per group), as src/ops/norm.c:
//   rms:   ms = f32(sum x^2 / dim), r = 1/sqrtf(ms + eps), y = rnd(w * rnd2(x*r))
//   layer: mu = f32(sum x / dim), var = f32(sum (x-mu)^2 / dim), y = rnd((x-mu)*r)
//   group: the layer statistics over C/groups channels x HW, y = rnd((x-mu)*r*gamma[c] + beta[c])
// The sums are in double, as on the CPU (shaderFloat64): a different summation
// order than the CPU's 8 lanes, so ms/mu/var can differ in the last bit of
// their f32 rounding in rare ties, no more. sqrt and 1/x are evaluated in
// double and rounded to f32 twice (= sqrtf, then 1.0f/s): correctly rounded
// as on the CPU, where a GPU's f32 sqrt and division are not.
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
#include "common.glsl"

layout(binding = 0) buffer Yb { float y[]; };
layout(binding = 1) readonly buffer Xb { float x[]; };
layout(binding = 2) readonly buffer Wb { uint wst[]; };
layout(binding = 3) readonly buffer Bb { uint bst[]; };

// The parameter block (binding 8), copied to a private variable at the
// start of main: read once, then constants to the compiler.
struct Params {
    uint off[8];
    uint op, dim, stride, bf;
    uint has_w, wdt, twice, has_b; // weight (gamma) / beta present, their dtype, rms rounding
    uint HW, cpg;                  // groupnorm: pixels per channel, channels per group
    float eps;
};
layout(std430, binding = 8) restrict readonly buffer PCB { Params v; } pcb_;
Params pc;

#define OP_RMS 0u
#define OP_LAYER 1u
#define OP_GROUP 2u

#define STORED_ARRAY wst
#include "stored.glsl"
#undef STORED_ARRAY

float beta_at(uint i) {
    uint bo = pc.off[3] + 0u;
    if (pc.wdt == DT_BF16) return uintBitsToFloat(((bst[(bo + 2u * i) >> 2] >> (8u * ((bo + 2u * i) & 2u))) & 0xffffu) << 16);
    if (pc.wdt == DT_F16) return f16_to_f32((bst[(bo + 2u * i) >> 2] >> (8u * ((bo + 2u * i) & 2u))) & 0xffffu);
    return uintBitsToFloat(bst[(bo >> 2) + i]);
}

shared double part[256];

double reduce(double v) {
    uint t = gl_LocalInvocationID.x;
    part[t] = v;
    barrier();
    for (uint s = 128u; s > 0u; s >>= 1) {
        if (t < s) part[t] += part[t + s];
        barrier();
    }
    double r = part[0];
    barrier();
    return r;
}

float rsqrt_cr(float v) { // 1.0f / sqrtf(v), each correctly rounded
    float s = float(sqrt(double(v)));
    return float(1.0lf / double(s));
}

void main() {
    pc = pcb_.v;
    uint t = gl_LocalInvocationID.x;
    uint row = flat_group();
    uint xo = pc.off[1] >> 2, yo = pc.off[0] >> 2;
    if (pc.op == OP_RMS) {
        uint base = row * pc.stride;
        precise double s = 0.0lf;
        for (uint i = t; i < pc.dim; i += 256u) {
            double d = double(x[xo + base + i]);
            s = fma(d, d, s);
        }
        s = reduce(s);
        float ms = float(s / double(pc.dim));
        float r = rsqrt_cr(ms + pc.eps);
        for (uint i = t; i < pc.dim; i += 256u) {
            precise float nv = x[xo + base + i] * r;
            if (pc.twice != 0u) nv = rnd(nv, pc.bf);
            precise float v = pc.has_w != 0u ? rnd(stored_f32(pc.wdt, pc.off[2], i), pc.bf) * nv : nv;
            y[yo + base + i] = rnd(v, pc.bf);
        }
        return;
    }
    // layer (rows of dim) or group (cpg channels x HW)
    uint n = pc.op == OP_LAYER ? pc.dim : pc.cpg * pc.HW;
    uint base = row * n;
    double s = 0.0lf;
    for (uint i = t; i < n; i += 256u) s += double(x[xo + base + i]);
    s = reduce(s);
    float mu = float(s / double(n));
    precise double q = 0.0lf;
    for (uint i = t; i < n; i += 256u) {
        double d = double(x[xo + base + i]) - double(mu);
        q = fma(d, d, q);
    }
    q = reduce(q);
    float r = rsqrt_cr(float(q / double(n)) + pc.eps);
    for (uint i = t; i < n; i += 256u) {
        precise float v = (x[xo + base + i] - mu) * r;
        if (pc.op == OP_GROUP) {
            uint c = row * pc.cpg + i / pc.HW;
            float ga = pc.has_w != 0u ? rnd(stored_f32(pc.wdt, pc.off[2], c), pc.bf) : 1.0;
            float bt = pc.has_b != 0u ? rnd(beta_at(c), pc.bf) : 0.0;
            v = v * ga + bt;
        }
        y[yo + base + i] = rnd(v, pc.bf);
    }
}
