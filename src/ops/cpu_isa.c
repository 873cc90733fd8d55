/* cpu_isa.c — see cpu_isa.h. */
#include "ops/cpu_isa.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const i4_cpu_kernels k_scalar = {I4_ISA_SCALAR, "scalar", i4_linear_scalar, i4_attention_scalar,
                                        i4_conv2d_scalar, i4_dsum_scalar};
#if defined(__x86_64__)
static const i4_cpu_kernels k_avx2 = {I4_ISA_AVX2, "avx2", i4_linear_avx2, i4_attention_avx2, i4_conv2d_avx2,
                                      i4_dsum_avx2};
static const i4_cpu_kernels k_avx512 = {I4_ISA_AVX512, "avx512", i4_linear_avx512_zmm, i4_attention_avx512_zmm,
                                        i4_conv2d_avx2, i4_dsum_avx2};
#endif

#if defined(__x86_64__)
/* F16C (leaf 1, ECX bit 29): clang's __builtin_cpu_supports has no name for it. */
static int has_f16c(void) {
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
}
#endif

static int cpu_runs(i4_cpu_isa isa) {
    switch (isa) {
    case I4_ISA_SCALAR: return 1;
#if defined(__x86_64__)
    case I4_ISA_AVX2:
        __builtin_cpu_init();
        /* x86-64-v3: the AVX2 files are compiled for it (F16C for f16 decode). */
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c() &&
               __builtin_cpu_supports("bmi2");
    case I4_ISA_AVX512:
        /* the table's files are compiled with AVX-512 F, BW and VL enabled */
        return cpu_runs(I4_ISA_AVX2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl");
#endif
    default: return 0;
    }
}

const i4_cpu_kernels *i4_cpu_kernels_for(i4_cpu_isa isa) {
    if (!cpu_runs(isa)) return NULL;
    switch (isa) {
    case I4_ISA_SCALAR: return &k_scalar;
#if defined(__x86_64__)
    case I4_ISA_AVX2: return &k_avx2;
    case I4_ISA_AVX512: return &k_avx512;
#endif
    default: return NULL;
    }
}

int i4_cpu_isa_parse(const char *name) {
    if (!strcmp(name, "scalar")) return I4_ISA_SCALAR;
    if (!strcmp(name, "avx2")) return I4_ISA_AVX2;
    if (!strcmp(name, "avx512")) return I4_ISA_AVX512;
    return -1;
}

/* Chosen once and never changed: read-only after the first call. */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static const i4_cpu_kernels *g_default;


static void choose(void) {
    for (int isa = I4_ISA_COUNT - 1; isa >= 0 && !g_default; isa--) g_default = i4_cpu_kernels_for((i4_cpu_isa)isa);
    const char *want = getenv("IDEOGRAM4_CPU_ISA");
    if (!want || !*want) return;
    int isa = i4_cpu_isa_parse(want);
    const i4_cpu_kernels *k = isa >= 0 ? i4_cpu_kernels_for((i4_cpu_isa)isa) : NULL;
    if (k) g_default = k;
    else
        fprintf(stderr, "warning: IDEOGRAM4_CPU_ISA=%s: %s; using %s\n", want,
                isa < 0 ? "unknown (scalar, avx2 or avx512)" : "this CPU cannot run it", g_default->name);
}

const i4_cpu_kernels *i4_cpu_kernels_default(void) {
    pthread_once(&g_once, choose);
    return g_default;
}

/* ---- the ops.h entry points */

void i4_linear(const i4_linear_w *W, const float *x, int64_t x_stride, int64_t n, float *y, int64_t y_stride,
               i4_precision p) {
    i4_cpu_kernels_default()->linear(W, x, x_stride, n, y, y_stride, p);
}

void i4_attention(float *out, int64_t out_stride, const float *q, int64_t q_stride, const float *k, int64_t k_stride,
                  const float *v, int64_t v_stride, int64_t nq, int64_t nk, int n_heads, int n_kv_heads, int head_dim,
                  float scale, i4_mask_kind mask, const int64_t *seg, i4_precision p) {
    i4_cpu_kernels_default()->attention(out, out_stride, q, q_stride, k, k_stride, v, v_stride, nq, nk, n_heads,
                                        n_kv_heads, head_dim, scale, mask, seg, p);
}

void i4_conv2d(const i4_conv_w *W, const float *x, int64_t H, int64_t Wd, int pad, float *y, i4_precision p) {
    i4_cpu_kernels_default()->conv2d(W, x, H, Wd, pad, y, p);
}
