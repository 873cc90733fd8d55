#version 450
// conv2d.comp — y[co, oy, ox] = rnd(b[co] + sum_{ci,ky,kx} w[co,ci,ky,kx] * x[ci, oy+ky-pad, ox+kx-pad])
// as an implicit GEMM: Y[co, p] = W[co, k] X[k, p] with p = oy*OW + ox,
// k = (ci*ksz + ky)*ksz + kx and X[k, p] = x[ci, oy+ky-pad, ox+kx-pad]
// (im2col(x), never written out). An LX x LY workgroup computes BM = LY*TM
// output channels x BN = LX*TN output pixels, TM x TN per invocation; k
// steps through BK-wide tiles: the decoded weights W[co0.., k0..] and the
// gathered X[k0.., p0..] are staged in shared memory, then every invocation
// walks the tile's k in order. Each output is still ONE fma chain over
// (ci, ky, kx) in the order of src/ops/scalar/conv_scalar.c, padding taps
// skipped (not added as w*0: that would turn an acc of -0.0 into +0.0, an
// inf weight into NaN), then the bias added last: bit for bit the CPU
// reference. Weights BF16/F16/F32 widened (bf16 mode rounds them to bf16).
// The code is in conv2d.glsl, shared with conv2d_c32.comp (32 channels per
// workgroup; vk_backend.c picks it for c_out <= 32).
#extension GL_GOOGLE_include_directive : require

#define LY 8u // invocations along output channels: BM = 64
#include "conv2d.glsl"

