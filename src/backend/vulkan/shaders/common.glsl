// common.glsl — helpers every compute shader of the Vulkan backend includes.
//
// Binding convention (vk_backend.c): descriptor set 0 has 8 storage-buffer
// bindings; binding i is bound at the view's offset rounded down to the
// device's minStorageBufferOffsetAlignment, and the remainder, in bytes, is
// pc.off[i] (the first 8 words of every parameter block: binding 8, a slot of
// the host-written param buffer). f32 arrays are
// read at element (pc.off[i] >> 2) + e; stored weights are read as 32-bit
// words and decoded here (F8 e4m3, BF16, F16, F32); int64 index arrays are
// read by their low 32-bit word (indices are small and non-negative).

// fma(a, b, c) rounded once, as the CPU's fmaf. Real GPUs fuse GLSL fma();
// lavapipe (Mesa's llvmpipe) lowers it to a*b + c with two roundings, so the
// host probes the device (vk_backend.c) and sets FMA_EMULATE there: the exact
// product in double plus c, rounded to f32 (a double rounding that can differ
// from a true fma only when the sum lands within 2^-53 of an f32 tie).
// Without shaderFloat64 (the *_nof64 builds, I4_NO_F64) there is no
// emulation: the device's fma, which real GPUs fuse.
layout(constant_id = 0) const uint FMA_EMULATE = 0u;
float fma1(float a, float b, float c) {
#ifndef I4_NO_F64
    if (FMA_EMULATE != 0u) {
        precise double r = double(a) * double(b) + double(c);
        return float(r);
    }
#endif
    precise float r = fma(a, b, c);
    return r;
}

// Dtype codes: the i4_dtype enum of src/tensor/dtype.h.
#define DT_F32 0u
#define DT_F16 1u
#define DT_BF16 2u
#define DT_F8 3u

// bf16(v): round-to-nearest-even of the f32 bits to the top 16 bits; NaN
// stays a quiet NaN (as i4_f32_to_bf16).
float bf16r(float f) {
    uint u = floatBitsToUint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return uintBitsToFloat((u | 0x00400000u) & 0xffff0000u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return uintBitsToFloat(u & 0xffff0000u);
}
float rnd(float v, uint bf) { return bf != 0u ? bf16r(v) : v; }

float f16_to_f32(uint h) {
    uint sign = (h >> 15) << 31, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1fu) return uintBitsToFloat(sign | 0x7f800000u | (m << 13));
    if (e == 0u) {
        float v = float(m) * (1.0 / 16777216.0); // m * 2^-24, exact
        return sign != 0u ? -v : v;
    }
    return uintBitsToFloat(sign | ((e + 112u) << 23) | (m << 13));
}

float e4m3_to_f32(uint c) {
    uint sign = c >> 7, e = (c >> 3) & 0xfu, m = c & 7u;
    if (e == 0xfu && m == 7u) return uintBitsToFloat(0x7fc00000u);
    float v = e == 0u ? float(m) * (1.0 / 512.0) : uintBitsToFloat(((e + 120u) << 23) | (m << 20));
    return sign != 0u ? -v : v;
}

// (Each shader declares its local size before including this file.)
// The linear invocation index of a 1-D job dispatched as a 2-D grid of
// workgroups (x capped at 65535 by the host).
uint flat_id() {
    return (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
}
uint flat_group() { return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x; }
