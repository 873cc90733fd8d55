/* test_ops_conv.c — conv2d against a naive double loop. */
#include <math.h>
#include <stdlib.h>

#include "ops/ops.h"
#include "test.h"
#include "test_ops_util.h"

static void run_conv(int *i4_failures, trng *r, int64_t ci, int64_t co, int64_t H, int64_t W, int k, int pad,
                     i4_dtype wt, i4_dtype bt, int has_bias) {
    const int64_t OH = H + 2 * pad - k + 1, OW = W + 2 * pad - k + 1;
    const size_t nw = (size_t)(co * ci * k * k);
    float *wv = malloc(nw * sizeof *wv), *bv = malloc((size_t)co * sizeof *bv);
    trng_fill(r, wv, nw, -0.3f, 0.3f);
    trng_fill(r, bv, (size_t)co, -1, 1);
    void *w = tencode(wt, wv, nw), *b = has_bias ? tencode(bt, bv, (size_t)co) : NULL;
    float *x = malloc((size_t)(ci * H * W) * sizeof *x);
    trng_fill(r, x, (size_t)(ci * H * W), -1, 1);
    tround_bf16(x, (size_t)(ci * H * W));
    const size_t ny = (size_t)(co * OH * OW);
    float *y = malloc((ny + 8) * sizeof *y), *ref = malloc(ny * sizeof *ref);
    double *sabs = malloc(ny * sizeof *sabs);
    i4_conv_w cw = {.dtype = wt, .w = w, .bias_dtype = bt, .bias = b, .c_out = co, .c_in = ci, .k = k};
    float *wd = malloc(nw * sizeof *wd);
    for (int bf = 0; bf < 2; bf++) {
        for (size_t i = 0; i < nw; i++) wd[i] = bf ? i4_round_bf16(tdecode(wt, w, i)) : tdecode(wt, w, i);
        for (int64_t o = 0; o < co; o++) {
            double bb = has_bias ? tdecode(bt, b, (size_t)o) : 0;
            if (bf) bb = i4_round_bf16((float)bb);
            for (int64_t oy = 0; oy < OH; oy++)
                for (int64_t ox = 0; ox < OW; ox++) {
                    double acc = 0, sa = 0;
                    for (int64_t c = 0; c < ci; c++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int64_t iy = oy + ky - pad, ix = ox + kx - pad;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                float wf = wd[((o * ci + c) * k + ky) * k + kx];
                                double pr = (double)wf * x[(c * H + iy) * W + ix];
                                acc += pr;
                                sa += fabs(pr);
                            }
                    size_t idx = (size_t)((o * OH + oy) * OW + ox);
                    float v = (float)acc + (float)bb;
                    ref[idx] = bf ? i4_round_bf16(v) : v;
                    sabs[idx] = sa + fabs(bb);
                }
        }
        for (size_t i = 0; i < ny + 8; i++) y[i] = -321.0f;
        i4_conv2d(&cw, x, H, W, pad, y, bf ? I4_PRECISION_BF16 : I4_PRECISION_F32);
        int ok = 1, tail = 1;
        for (size_t i = 0; i < ny; i++) {
            double tol = bf ? fabs(ref[i]) / 128 + 1e-6 * sabs[i] : 2e-6 * sabs[i] + 1e-30;
            if (!(fabs(y[i] - ref[i]) <= tol) || (bf && !tis_bf16(y[i]))) {
                if (ok) fprintf(stderr, "  conv ci %ld co %ld %ldx%ld k %d pad %d bf %d at %zu: %.9g vs %.9g\n",
                                (long)ci, (long)co, (long)H, (long)W, k, pad, bf, i, y[i], ref[i]);
                ok = 0;
            }
        }
        for (size_t i = ny; i < ny + 8; i++) tail &= y[i] == -321.0f;
        CHECK(ok);
        CHECK(tail);
        CHECK(i4_test_rel_l2(y, ref, ny) <= (bf ? 4e-3 : 1e-5));
    }
    free(wd);
    free(wv);
    free(bv);
    free(w);
    free(b);
    free(x);
    free(y);
    free(ref);
    free(sabs);
}

I4_TEST(ops_conv2d) {
    trng r = {71};
    run_conv(i4_failures, &r, 5, 7, 9, 13, 3, 1, I4_DT_BF16, I4_DT_BF16, 1);
    run_conv(i4_failures, &r, 5, 7, 9, 13, 1, 0, I4_DT_F32, I4_DT_F32, 1);
    run_conv(i4_failures, &r, 20, 19, 17, 35, 3, 1, I4_DT_F16, I4_DT_F32, 0);
    run_conv(i4_failures, &r, 3, 4, 8, 8, 3, 0, I4_DT_F32, I4_DT_BF16, 1);
    run_conv(i4_failures, &r, 16, 13, 6, 40, 1, 0, I4_DT_BF16, I4_DT_F16, 1);
    run_conv(i4_failures, &r, 33, 8, 3, 2, 3, 1, I4_DT_BF16, I4_DT_BF16, 1);
    run_conv(i4_failures, &r, 1, 1, 1, 1, 3, 1, I4_DT_F32, I4_DT_F32, 1);
    run_conv(i4_failures, &r, 40, 30, 9, 70, 3, 1, I4_DT_BF16, I4_DT_BF16, 1);
    run_conv(i4_failures, &r, 40, 24, 11, 67, 1, 0, I4_DT_F32, I4_DT_F32, 0);
}
