/*
 * conv_scalar.c — the reference 2-D convolution in portable C (see ops.h):
 *   y[co, oy, ox] = b[co] + sum_{ci, ky, kx} w[co, ci, ky, kx] * x[ci, oy+ky-pad, ox+kx-pad]
 * stride 1, zero padding; weights widened (bf16-rounded in bf16 mode), one
 * fused multiply-add chain per output over (ci, ky, kx), the bias (bf16 in
 * bf16 mode) added last, bf16 mode rounds y.
 */
#include <math.h>

#include "ops/cpu_isa.h"

static float widen(i4_dtype t, const void *w, int64_t i, int bf) {
    float v = t == I4_DT_BF16  ? i4_bf16_to_f32(((const uint16_t *)w)[i])
              : t == I4_DT_F16 ? i4_f16_to_f32(((const uint16_t *)w)[i])
                               : ((const float *)w)[i];
    return bf ? i4_round_bf16(v) : v;
}

void i4_conv2d_scalar(const i4_conv_w *W, const float *x, int64_t H, int64_t Wd, int pad, float *y, i4_precision p) {
    const int bf = p == I4_PRECISION_BF16;
    const int k = W->k;
    const int64_t OH = H + 2 * pad - k + 1, OW = Wd + 2 * pad - k + 1;
#pragma omp parallel for schedule(static)
    for (int64_t co = 0; co < W->c_out; co++) {
        float b = 0.0f;
        if (W->bias) {
            i4_convert_to_f32(W->bias_dtype, (const uint8_t *)W->bias + co * (int64_t)i4_dtype_size(W->bias_dtype), &b, 1);
            if (bf) b = i4_round_bf16(b);
        }
        for (int64_t oy = 0; oy < OH; oy++)
            for (int64_t ox = 0; ox < OW; ox++) {
                float acc = 0.0f;
                for (int64_t ci = 0; ci < W->c_in; ci++)
                    for (int ky = 0; ky < k; ky++) {
                        const int64_t iy = oy + ky - pad;
                        if (iy < 0 || iy >= H) continue;
                        for (int kx = 0; kx < k; kx++) {
                            const int64_t ix = ox + kx - pad;
                            if (ix < 0 || ix >= Wd) continue;
                            const int64_t wi = ((co * W->c_in + ci) * k + ky) * k + kx;
                            acc = fmaf(widen(W->dtype, W->w, wi, bf), x[(ci * H + iy) * Wd + ix], acc);
                        }
                    }
                const float s = acc + b;
                y[(co * OH + oy) * OW + ox] = bf ? i4_round_bf16(s) : s;
            }
    }
}
