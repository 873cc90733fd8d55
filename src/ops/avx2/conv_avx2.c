/*
 * conv_avx2.c — 2-D convolution (NCHW, batch 1, stride 1, zero padding), AVX2 + FMA.
 *   y[co, oy, ox] = b[co] + sum_{ci,ky,kx} w[co,ci,ky,kx] * x[ci, oy+ky-pad, ox+kx-pad]
 * Output size (H + 2 pad - k + 1) x (W + 2 pad - k + 1). Weights BF16/F16/F32
 * widened to f32 (rounded to bf16 in bf16 mode), f32 accumulation, the bias
 * (rounded to bf16 in bf16 mode) added last, bf16 mode rounds y.
 *
 * Direct convolution as a GEMM without im2col: the layer's weights are
 * repacked once per call ([co/6][ky,kx][ci][6] f32, the size of the stored
 * weights x 2..4), and each task (output row, tile of 64 pixels) copies the
 * k input rows it needs into a zero-padded band [ci][ky][64+16]; the 6x16
 * micro-kernel (kernel.h) then accumulates, for each (ky, kx), the sum over
 * input channels of weight x shifted band row into a 6 channel x 16 pixel tile.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/avx2/kernel.h"
#include "ops/cpu_isa.h"
#include "ops/ops.h"

/* Weight element i (row-major [c_out, c_in, k, k]) widened to f32. */
static inline float load_w(i4_dtype t, const void *w, int64_t i) {
    switch (t) {
    case I4_DT_BF16: return i4_bf16_to_f32(((const uint16_t *)w)[i]);
    case I4_DT_F16: return i4_f16_to_f32(((const uint16_t *)w)[i]);
    default: return ((const float *)w)[i];
    }
}

void i4_conv2d_avx2(const i4_conv_w *W, const float *x, int64_t H, int64_t Wd, int pad, float *y,
               i4_precision p) {
    const int bf = p == I4_PRECISION_BF16;
    const int k = W->k;
    const int kk_n = k * k;
    const int64_t co_n = W->c_out, ci_n = W->c_in;
    const int64_t OH = H + 2 * pad - k + 1, OW = Wd + 2 * pad - k + 1;
    if (co_n <= 0 || OH <= 0 || OW <= 0) return;
    const int64_t ncb = (co_n + I4_MR - 1) / I4_MR;

    /* Weights packed as wp[cb][ky*k+kx][ci][6] (co blocks of 6, zero padded). */
    float *wp = i4_scratch((size_t)(ncb * kk_n * ci_n * I4_MR + 16) * sizeof(float));
    float *bias = malloc((size_t)co_n * sizeof(float));
    if (!wp || !bias) abort();
#pragma omp parallel for schedule(static) if (ncb * kk_n * ci_n * I4_MR > 65536)
    for (int64_t cb = 0; cb < ncb; cb++) {
        for (int kk = 0; kk < kk_n; kk++)
            for (int64_t ci = 0; ci < ci_n; ci++)
                for (int r = 0; r < I4_MR; r++) {
                    const int64_t co = cb * I4_MR + r;
                    float v = 0.0f;
                    if (co < co_n) {
                        v = load_w(W->dtype, W->w, (co * ci_n + ci) * kk_n + kk);
                        if (bf) v = i4_round_bf16(v);
                    }
                    wp[((cb * kk_n + kk) * ci_n + ci) * I4_MR + r] = v;
                }
    }
    for (int64_t c = 0; c < co_n; c++) {
        float b = 0.0f;
        if (W->bias) {
            i4_convert_to_f32(W->bias_dtype, (const uint8_t *)W->bias + c * (int64_t)i4_dtype_size(W->bias_dtype), &b, 1);
            if (bf) b = i4_round_bf16(b);
        }
        bias[c] = b;
    }

    /* Tasks: (output row, tile of TW output pixels). The band holds, for every
     * input channel and kernel row, the TW + k - 1 input pixels the tile reads
     * (zeros outside the image): band[ci][ky][BW]. */
    int64_t TW = ci_n * k > 1536 ? 32 : 64;
    if (OW <= 16) TW = 16;
    else if (OW <= 32 && TW > 32) TW = 32;
    const int64_t BW = TW + 16;
    const int64_t ntw = (OW + TW - 1) / TW;
    const int64_t ntask = OH * ntw;
#pragma omp parallel if (ntask > 1 && (double)co_n * ci_n * kk_n * OH * OW >= 262144.0)
    {
        float *band = i4_scratch((size_t)(ci_n * k * BW + 16) * sizeof(float));
        float *tile = i4_scratch(I4_MR * I4_NR * sizeof(float));
        if (!band || !tile) abort();
#pragma omp for schedule(dynamic, 1)
        for (int64_t task = 0; task < ntask; task++) {
            const int64_t oy = task / ntw, ox0 = (task % ntw) * TW;
            const int64_t tw = OW - ox0 < TW ? OW - ox0 : TW;
            for (int64_t ci = 0; ci < ci_n; ci++)
                for (int ky = 0; ky < k; ky++) {
                    float *dst = band + (ci * k + ky) * BW;
                    const int64_t iy = oy + ky - pad;
                    if (iy < 0 || iy >= H) {
                        memset(dst, 0, (size_t)BW * sizeof(float));
                        continue;
                    }
                    const float *src = x + (ci * H + iy) * Wd;
                    for (int64_t t = 0; t < BW; t++) {
                        const int64_t ix = ox0 - pad + t;
                        dst[t] = (ix >= 0 && ix < Wd) ? src[ix] : 0.0f;
                    }
                }
            for (int64_t cb = 0; cb < ncb; cb++) {
                const int mr = (int)(co_n - cb * I4_MR < I4_MR ? co_n - cb * I4_MR : I4_MR);
                for (int64_t p0 = 0; p0 < tw; p0 += 16) {
                    for (int kk = 0; kk < kk_n; kk++) {
                        const int ky = kk / k, kx = kk % k;
                        i4_kern(I4_MR, ci_n, wp + (cb * kk_n + kk) * ci_n * I4_MR, 1, I4_MR,
                                band + ky * BW + kx + p0, k * BW, tile, kk > 0);
                    }
                    const int nc = (int)(tw - p0 < 16 ? tw - p0 : 16);
                    for (int r = 0; r < mr; r++) {
                        const int64_t co = cb * I4_MR + r;
                        float *yr = y + (co * OH + oy) * OW + ox0 + p0;
                        const float *tr = tile + r * 16;
                        if (bf)
                            for (int c = 0; c < nc; c++) yr[c] = i4_round_bf16(tr[c] + bias[co]);
                        else
                            for (int c = 0; c < nc; c++) yr[c] = tr[c] + bias[co];
                    }
                }
            }
        }
        free(band);
        free(tile);
    }
    free(wp);
    free(bias);
}
