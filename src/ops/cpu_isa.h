/*
 * cpu_isa.h — the CPU kernel tables and their choice at run time.
 *
 * The heavy kernels (linear, attention, conv2d, the norms' double sums) exist
 * once per instruction set: a portable scalar C table (the reference every
 * other table is tested against, and what builds on any architecture) and an
 * AVX2 + FMA table (src/ops/avx2/, compiled with -march=x86-64-v3 while the
 * rest of the binary targets baseline x86-64) and an AVX-512 table
 * (src/ops/avx512/: the AVX2 linear with a 6x32 zmm micro-kernel — the same
 * FMA chains, so the same bits, at twice the width; its other entries are the
 * AVX2 ones). The default table is chosen
 * once, at first use, from cpuid — the best table the CPU runs — unless
 * IDEOGRAM4_CPU_ISA names one (scalar | avx2 | avx512; an unknown name or a table the
 * CPU cannot run is an error printed once, and the best table is used).
 * i4_linear, i4_attention and i4_conv2d (ops.h) call the default table.
 */
#ifndef I4_OPS_CPU_ISA_H
#define I4_OPS_CPU_ISA_H

#include <stdint.h>

#include "ops/ops.h"

typedef enum { I4_ISA_SCALAR = 0, I4_ISA_AVX2 = 1, I4_ISA_AVX512 = 2, I4_ISA_COUNT } i4_cpu_isa;

typedef struct {
    i4_cpu_isa isa;
    const char *name;
    void (*linear)(const i4_linear_w *W, const float *x, int64_t x_stride, int64_t n, float *y, int64_t y_stride,
                   i4_precision p);
    void (*attention)(float *out, int64_t out_stride, const float *q, int64_t q_stride, const float *k,
                      int64_t k_stride, const float *v, int64_t v_stride, int64_t nq, int64_t nk, int n_heads,
                      int n_kv_heads, int head_dim, float scale, i4_mask_kind mask, const int64_t *seg,
                      i4_precision p);
    void (*conv2d)(const i4_conv_w *W, const float *x, int64_t H, int64_t Wd, int pad, float *y, i4_precision p);
    /* sum (x[i] - m)^p over n elements in double, p = 2 when sq else 1 */
    double (*dsum)(const float *x, int64_t n, double m, int sq);
} i4_cpu_kernels;

/* The table for isa, or NULL when this CPU (or this build) cannot run it. */
const i4_cpu_kernels *i4_cpu_kernels_for(i4_cpu_isa isa);
/* The table the ops use (chosen once: cpuid, IDEOGRAM4_CPU_ISA). */
const i4_cpu_kernels *i4_cpu_kernels_default(void);
/* "scalar" / "avx2" → isa; -1 when unknown. */
int i4_cpu_isa_parse(const char *name);

/* The norms of ops.h with an explicit table (for its dsum). */
void i4_rmsnorm_k(const i4_cpu_kernels *k, float *y, const float *x, int64_t rows, int64_t dim, int64_t stride,
                  i4_dtype wt, const void *w, float eps, i4_precision p, i4_rms_rounding r);
void i4_layernorm_noaffine_k(const i4_cpu_kernels *k, float *y, const float *x, int64_t rows, int64_t dim, float eps,
                             i4_precision p);
void i4_groupnorm_k(const i4_cpu_kernels *k, float *y, const float *x, int64_t C, int64_t HW, int64_t groups,
                    i4_dtype gt, const void *gamma, const void *beta, float eps, i4_precision p);

/* The tables' entries. */
void i4_linear_scalar(const i4_linear_w *W, const float *x, int64_t x_stride, int64_t n, float *y,
                      int64_t y_stride, i4_precision p);
void i4_attention_scalar(float *out, int64_t out_stride, const float *q, int64_t q_stride, const float *k,
                         int64_t k_stride, const float *v, int64_t v_stride, int64_t nq, int64_t nk, int n_heads,
                         int n_kv_heads, int head_dim, float scale, i4_mask_kind mask, const int64_t *seg,
                         i4_precision p);
void i4_conv2d_scalar(const i4_conv_w *W, const float *x, int64_t H, int64_t Wd, int pad, float *y, i4_precision p);
double i4_dsum_scalar(const float *x, int64_t n, double m, int sq);
#if defined(__x86_64__)
void i4_linear_avx2(const i4_linear_w *W, const float *x, int64_t x_stride, int64_t n, float *y, int64_t y_stride,
                    i4_precision p);
void i4_attention_avx2(float *out, int64_t out_stride, const float *q, int64_t q_stride, const float *k,
                       int64_t k_stride, const float *v, int64_t v_stride, int64_t nq, int64_t nk, int n_heads,
                       int n_kv_heads, int head_dim, float scale, i4_mask_kind mask, const int64_t *seg,
                       i4_precision p);
void i4_conv2d_avx2(const i4_conv_w *W, const float *x, int64_t H, int64_t Wd, int pad, float *y, i4_precision p);
double i4_dsum_avx2(const float *x, int64_t n, double m, int sq);
void i4_attention_avx512_zmm(float *out, int64_t out_stride, const float *q, int64_t q_stride, const float *k,
                             int64_t k_stride, const float *v, int64_t v_stride, int64_t nq, int64_t nk, int n_heads,
                             int n_kv_heads, int head_dim, float scale, i4_mask_kind mask, const int64_t *seg,
                             i4_precision p);
void i4_linear_avx512_zmm(const i4_linear_w *W, const float *x, int64_t x_stride, int64_t n, float *y,
                          int64_t y_stride, i4_precision p);
#endif

#endif
