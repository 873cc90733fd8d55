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
// Built a second time with I4_NO_F64 (norm_nof64) for devices without
// shaderFloat64 (Intel Arc, Apple through MoltenVK): the sums are then f32
// pairs (hi, lo) grown by error-free TwoSum steps (about 48 significant bits),
// and sqrt and 1/x are the device's f32 ones — within the golden tests'
// tolerances, no longer bit for bit with the CPU.
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

#ifdef I4_NO_F64
#define ACC vec2
#define ACC_ZERO vec2(0.0)
// s + e == a + b exactly (Knuth's TwoSum)
vec2 two_sum(float a, float b) {
    precise float s = a + b;
    precise float bb = s - a;
    precise float e = (a - (s - bb)) + (b - bb);
    return vec2(s, e);
}
ACC acc_add(ACC a, ACC b) {
    vec2 t = two_sum(a.x, b.x);
    precise float lo = t.y + a.y + b.y;
    return two_sum(t.x, lo);
}
ACC acc_plus(ACC a, float v) { return acc_add(a, vec2(v, 0.0)); }
ACC acc_sq(ACC a, float d) { // a + d*d, the product's rounding error kept by fma
    precise float p = d * d;
    return acc_add(a, vec2(p, fma(d, d, -p)));
}
ACC acc_sqdiff(ACC a, float v, float mu) { return acc_sq(a, v - mu); }
float acc_div(ACC a, uint n) { return (a.x + a.y) / float(n); }
float rsqrt_cr(float v) { return 1.0 / sqrt(v); }
#else
#define ACC double
#define ACC_ZERO 0.0lf
ACC acc_add(ACC a, ACC b) { return a + b; }
ACC acc_plus(ACC a, float v) { return a + double(v); }
ACC acc_sq(ACC a, float v) {
    double d = double(v);
    return fma(d, d, a);
}
ACC acc_sqdiff(ACC a, float v, float mu) {
    double d = double(v) - double(mu);
    return fma(d, d, a);
}
float acc_div(ACC a, uint n) { return float(a / double(n)); }
float rsqrt_cr(float v) { // 1.0f / sqrtf(v), each correctly rounded
    float s = float(sqrt(double(v)));
    return float(1.0lf / double(s));
}
#endif

shared ACC part[256];

ACC reduce(ACC v) {
    uint t = gl_LocalInvocationID.x;
    part[t] = v;
    barrier();
    for (uint s = 128u; s > 0u; s >>= 1) {
        if (t < s) part[t] = acc_add(part[t], part[t + s]);
        barrier();
    }
    ACC r = part[0];
    barrier();
    return r;
}

void main() {
    pc = pcb_.v;
    uint t = gl_LocalInvocationID.x;
    uint row = flat_group();
    uint xo = pc.off[1] >> 2, yo = pc.off[0] >> 2;
    if (pc.op == OP_RMS) {
        uint base = row * pc.stride;
        precise ACC s = ACC_ZERO;
        for (uint i = t; i < pc.dim; i += 256u) s = acc_sq(s, x[xo + base + i]);
        s = reduce(s);
        float ms = acc_div(s, pc.dim);
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
    ACC s = ACC_ZERO;
    for (uint i = t; i < n; i += 256u) s = acc_plus(s, x[xo + base + i]);
    s = reduce(s);
    float mu = acc_div(s, n);
    precise ACC q = ACC_ZERO;
    for (uint i = t; i < n; i += 256u) q = acc_sqdiff(q, x[xo + base + i], mu);
    q = reduce(q);
    float r = rsqrt_cr(acc_div(q, n) + pc.eps);
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
