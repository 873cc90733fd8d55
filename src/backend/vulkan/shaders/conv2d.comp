#version 450
// conv2d.comp — y[co, oy, ox] = rnd(b[co] + sum_{ci,ky,kx} w[co,ci,ky,kx] * x[ci, oy+ky-pad, ox+kx-pad])
// direct, one invocation per output, one fma chain over (ci, ky, kx) in the
// order of src/ops/scalar/conv_scalar.c (bit-identical to it); weights
// BF16/F16/F32 widened, rounded to bf16 in bf16 mode; bias added last.
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
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

#define STORED_ARRAY wst
#include "stored.glsl"
#undef STORED_ARRAY

float bias_at(uint co) {
    uint bo = pc.off[3] + (pc.bias_dtype == DT_F32 ? 4u : 2u) * co;
    if (pc.bias_dtype == DT_BF16) return uintBitsToFloat(((bst[bo >> 2] >> (8u * (bo & 2u))) & 0xffffu) << 16);
    if (pc.bias_dtype == DT_F16) return f16_to_f32((bst[bo >> 2] >> (8u * (bo & 2u))) & 0xffffu);
    return uintBitsToFloat(bst[bo >> 2]);
}

void main() {
    pc = pcb_.v;
    uint e = flat_id();
    if (e >= pc.c_out * pc.OH * pc.OW) return;
    uint ox = e % pc.OW, oy = (e / pc.OW) % pc.OH, co = e / (pc.OW * pc.OH);
    uint xo = pc.off[0] >> 2;
    uint K = pc.ksz;
    float acc = 0.0;
    for (uint ci = 0u; ci < pc.c_in; ci++)
        for (uint ky = 0u; ky < K; ky++) {
            int iy = int(oy + ky) - int(pc.pad);
            if (iy < 0 || iy >= int(pc.H)) continue;
            for (uint kx = 0u; kx < K; kx++) {
                int ix = int(ox + kx) - int(pc.pad);
                if (ix < 0 || ix >= int(pc.W)) continue;
                uint wi = ((co * pc.c_in + ci) * K + ky) * K + kx;
                float wv = rnd(stored_f32(pc.dtype, pc.off[2], wi), pc.bf);
                acc = fma1(wv, x[xo + (ci * pc.H + uint(iy)) * pc.W + uint(ix)], acc);
            }
        }
    float bv = pc.has_bias != 0u ? rnd(bias_at(co), pc.bf) : 0.0;
    precise float s = acc + bv;
    y[(pc.off[1] >> 2) + e] = rnd(s, pc.bf);
}
