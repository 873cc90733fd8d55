/* test_ops_norm.c — rmsnorm / layernorm / groupnorm against double loops. */
#include <math.h>
#include <stdlib.h>

#include "ops/ops.h"
#include "test.h"
#include "test_ops_util.h"

static void run_rms(int *i4_failures, trng *r, int64_t rows, int64_t dim, int64_t stride, i4_dtype wt,
                    int has_w, int inplace) {
    float *x = malloc((size_t)(rows * stride) * sizeof *x), *y = malloc((size_t)(rows * stride) * sizeof *y);
    float *wv = malloc((size_t)dim * sizeof *wv);
    trng_fill(r, x, (size_t)(rows * stride), -3.0f, 3.0f);
    tround_bf16(x, (size_t)(rows * stride));
    trng_fill(r, wv, (size_t)dim, 0.2f, 2.0f);
    void *w = has_w ? tencode(wt, wv, (size_t)dim) : NULL;
    const float eps = 1e-6f;
    int64_t n = rows * dim, mis[2] = {0, 0}, cross = 0;
    float *outs[2] = {malloc((size_t)n * sizeof(float)), malloc((size_t)n * sizeof(float))};
    for (int bf = 0; bf < 2; bf++) {
        for (int rr = 0; rr < (bf ? 2 : 1); rr++) {
            float *dst = inplace ? x : y;
            float *xin = x;
            float *save = NULL;
            if (inplace) {
                save = malloc((size_t)(rows * stride) * sizeof *save);
                memcpy(save, x, (size_t)(rows * stride) * sizeof *save);
            }
            for (int64_t i = 0; i < rows * stride; i++)
                if (!inplace) y[i] = -9.0f;
            i4_rmsnorm(dst, xin, rows, dim, stride, wt, w, eps, bf ? I4_PRECISION_BF16 : I4_PRECISION_F32,
                       rr ? I4_RMS_ROUND_TWICE : I4_RMS_ROUND_ONCE);
            const float *src = inplace ? save : x;
            double maxrel = 0;
            int rep_ok = 1, pad_ok = 1;
            for (int64_t i = 0; i < rows; i++) {
                double ss = 0;
                for (int64_t d = 0; d < dim; d++) ss += (double)src[i * stride + d] * src[i * stride + d];
                double rs = 1.0 / sqrt(ss / dim + eps);
                for (int64_t d = 0; d < dim; d++) {
                    double wd = has_w ? tdecode(wt, w, (size_t)d) : 1.0;
                    if (bf) wd = i4_round_bf16((float)wd);
                    double nv = src[i * stride + d] * rs;
                    float g = dst[i * stride + d];
                    if (bf) {
                        float nr = rr ? i4_round_bf16((float)nv) : (float)nv;
                        float e = i4_round_bf16((float)(wd * nr));
                        if (!tis_bf16(g)) rep_ok = 0;
                        if (g != e) mis[rr]++;
                        if (tbf16_ulps(g, e) > 1) maxrel = 1;
                        outs[rr][i * dim + d] = g;
                    } else {
                        double e = wd * nv;
                        double rel = fabs(g - e) / (fabs(e) + 1e-6);
                        if (rel > maxrel) maxrel = rel;
                    }
                }
                if (!inplace)
                    for (int64_t d = dim; d < stride; d++)
                        if (y[i * stride + d] != -9.0f) pad_ok = 0;
            }
            if (inplace) {
                memcpy(x, save, (size_t)(rows * stride) * sizeof *save);
                free(save);
            }
            CHECK(pad_ok);
            CHECK(rep_ok);
            if (maxrel > (bf ? 0 : 1e-6) || mis[rr] * 100 > n)
                fprintf(stderr, "  rms rows %ld dim %ld bf %d twice %d: maxrel %.3g mis %ld/%ld\n", (long)rows,
                        (long)dim, bf, rr, maxrel, (long)mis[rr], (long)n);
            CHECK(maxrel <= (bf ? 0 : 1e-6));
            if (bf) CHECK(mis[rr] * 100 <= n);
        }
    }
    /* With non-trivial weights the two bf16 rounding styles must differ somewhere. */
    for (int64_t i = 0; i < n; i++) cross += outs[0][i] != outs[1][i];
    if (has_w && wt != I4_DT_F32 && n >= 1000) CHECK(cross > 0);
    free(outs[0]);
    free(outs[1]);
    free(x);
    free(y);
    free(wv);
    free(w);
}

I4_TEST(ops_rmsnorm) {
    trng r = {41};
    run_rms(i4_failures, &r, 5, 64, 64, I4_DT_BF16, 1, 0);
    run_rms(i4_failures, &r, 33, 200, 213, I4_DT_F32, 1, 0);
    run_rms(i4_failures, &r, 7, 129, 129, I4_DT_F16, 1, 1);
    run_rms(i4_failures, &r, 40, 128, 3 * 128, I4_DT_BF16, 1, 1);
    run_rms(i4_failures, &r, 3, 31, 40, I4_DT_BF16, 0, 0);
    run_rms(i4_failures, &r, 101, 200, 203, I4_DT_BF16, 1, 0); /* parallel path */
}

I4_TEST(ops_layernorm) {
    trng r = {42};
    const int64_t rows = 19, dim = 301;
    float *x = malloc((size_t)(rows * dim) * sizeof *x), *y = malloc((size_t)(rows * dim) * sizeof *y);
    trng_fill(&r, x, (size_t)(rows * dim), -2.0f, 5.0f);
    tround_bf16(x, (size_t)(rows * dim));
    for (int bf = 0; bf < 2; bf++) {
        for (int inplace = 0; inplace < 2; inplace++) {
            float *xc = malloc((size_t)(rows * dim) * sizeof *xc);
            memcpy(xc, x, (size_t)(rows * dim) * sizeof *xc);
            float *dst = inplace ? xc : y;
            i4_layernorm_noaffine(dst, xc, rows, dim, 1e-6f, bf ? I4_PRECISION_BF16 : I4_PRECISION_F32);
            int ok = 1;
            for (int64_t i = 0; i < rows; i++) {
                double s = 0, v = 0;
                for (int64_t d = 0; d < dim; d++) s += x[i * dim + d];
                double mu = s / dim;
                for (int64_t d = 0; d < dim; d++) v += (x[i * dim + d] - mu) * (x[i * dim + d] - mu);
                double rs = 1 / sqrt(v / dim + 1e-6);
                for (int64_t d = 0; d < dim; d++) {
                    double e = (x[i * dim + d] - mu) * rs;
                    float g = dst[i * dim + d];
                    if (bf) {
                        if (!tis_bf16(g) || tbf16_ulps(g, i4_round_bf16((float)e)) > 1) ok = 0;
                    } else if (fabs(g - e) > 1e-6 * (fabs(e) + 1)) {
                        ok = 0;
                    }
                }
            }
            CHECK(ok);
            free(xc);
        }
    }
    free(x);
    free(y);
}

I4_TEST(ops_groupnorm) {
    trng r = {43};
    const int64_t C = 12, HW = 1501, G = 4; /* C*HW above the parallel threshold */
    float *x = malloc((size_t)(C * HW) * sizeof *x), *y = malloc((size_t)(C * HW) * sizeof *y);
    float gv[12], bv[12];
    trng_fill(&r, gv, 12, 0.5f, 1.5f);
    trng_fill(&r, bv, 12, -0.5f, 0.5f);
    /* Channel-dependent offsets so that the grouping matters. */
    for (int64_t c = 0; c < C; c++)
        for (int64_t i = 0; i < HW; i++) x[c * HW + i] = i4_round_bf16(trng_uniform(&r, -1, 1) * (1 + c) + (float)c);
    static const i4_dtype types[] = {I4_DT_F32, I4_DT_BF16, I4_DT_F16};
    for (int ti = 0; ti < 3; ti++) {
        void *g = tencode(types[ti], gv, 12), *b = tencode(types[ti], bv, 12);
        for (int bf = 0; bf < 2; bf++) {
            for (int inplace = 0; inplace < 2; inplace++) {
                float *xc = malloc((size_t)(C * HW) * sizeof *xc);
                memcpy(xc, x, (size_t)(C * HW) * sizeof *xc);
                float *dst = inplace ? xc : y;
                i4_groupnorm(dst, xc, C, HW, G, types[ti], g, b, 1e-6f,
                             bf ? I4_PRECISION_BF16 : I4_PRECISION_F32);
                int ok = 1;
                for (int64_t gi = 0; gi < G; gi++) {
                    const int64_t cpg = C / G, n = cpg * HW;
                    double s = 0, v = 0;
                    for (int64_t i = 0; i < n; i++) s += x[gi * n + i];
                    double mu = s / n;
                    for (int64_t i = 0; i < n; i++) v += (x[gi * n + i] - mu) * (x[gi * n + i] - mu);
                    double rs = 1 / sqrt(v / n + 1e-6);
                    for (int64_t c = gi * cpg; c < (gi + 1) * cpg; c++) {
                        double gg = tdecode(types[ti], g, (size_t)c), bb = tdecode(types[ti], b, (size_t)c);
                        if (bf) {
                            gg = i4_round_bf16((float)gg);
                            bb = i4_round_bf16((float)bb);
                        }
                        for (int64_t i = 0; i < HW; i++) {
                            double e = (x[c * HW + i] - mu) * rs * gg + bb;
                            float got = dst[c * HW + i];
                            if (bf) {
                                if (!tis_bf16(got) || tbf16_ulps(got, i4_round_bf16((float)e)) > 1) ok = 0;
                            } else if (fabs(got - e) > 2e-6 * (fabs(e) + 1)) {
                                ok = 0;
                            }
                        }
                    }
                }
                if (!ok) fprintf(stderr, "  groupnorm dtype %d bf %d inplace %d\n", types[ti], bf, inplace);
                CHECK(ok);
                free(xc);
            }
        }
        free(g);
        free(b);
    }
    free(x);
    free(y);
}
