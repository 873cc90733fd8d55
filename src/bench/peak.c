/*
 * peak.c — FMA peak loops (see peak.h). Each loop keeps its accumulators in
 * registers: acc[i] = acc[i] * m + c with m just below 1, so the values stay
 * normal and finite for any iteration count, and returns their sum so the
 * compiler cannot drop the work. Without -ffast-math the compiler may not
 * reassociate the chains, so each chain is a true dependency chain and the
 * chains are independent of each other.
 */
#include "bench/peak.h"

#include <immintrin.h>
#include <omp.h>

#include "base/io.h"

#define YMM_CHAINS 12 /* 2 FMA ports x 4-cycle latency = 8 in flight; 12 leaves slack (16 ymm registers) */
#define ZMM_CHAINS 24 /* 32 zmm registers: room for more chains than any port count needs */

/* One iteration = one FMA on each chain. The macro spells out the chains so
 * they stay in registers (an array indexed in a loop may be kept in memory at -O1). */
#define CH12(OP) OP(0) OP(1) OP(2) OP(3) OP(4) OP(5) OP(6) OP(7) OP(8) OP(9) OP(10) OP(11)
#define CH24(OP) CH12(OP) OP(12) OP(13) OP(14) OP(15) OP(16) OP(17) OP(18) OP(19) OP(20) OP(21) OP(22) OP(23)

__attribute__((target("avx2,fma"), noinline)) static float loop_ymm_fma(long iters, float seed) {
#define DECL(i) __m256 a##i = _mm256_set1_ps(seed + 0.01f * (float)(i));
#define STEP(i) a##i = _mm256_fmadd_ps(a##i, m, c);
#define SUM(i) s = _mm256_add_ps(s, a##i);
    const __m256 m = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f);
    CH12(DECL)
    for (long it = 0; it < iters; it++) {
        CH12(STEP)
    }
    __m256 s = _mm256_setzero_ps();
    CH12(SUM)
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0] + out[7];
#undef DECL
#undef STEP
#undef SUM
}

__attribute__((target("avx512f"), noinline)) static float loop_zmm_fma(long iters, float seed) {
#define DECL(i) __m512 a##i = _mm512_set1_ps(seed + 0.01f * (float)(i));
#define STEP(i) a##i = _mm512_fmadd_ps(a##i, m, c);
#define SUM(i) s = _mm512_add_ps(s, a##i);
    const __m512 m = _mm512_set1_ps(0.9999999f), c = _mm512_set1_ps(1e-7f);
    CH24(DECL)
    for (long it = 0; it < iters; it++) {
        CH24(STEP)
    }
    __m512 s = _mm512_setzero_ps();
    CH24(SUM)
    return _mm512_reduce_add_ps(s);
#undef DECL
#undef STEP
#undef SUM
}

/* acc += sum over bf16 pairs of x*y: x, y hold small values so the
 * accumulators grow by about 1e-3 per iteration and stay finite. */
__attribute__((target("avx512f,avx512bf16"), noinline)) static float loop_zmm_dpbf16(long iters, float seed) {
#define DECL(i) __m512 a##i = _mm512_set1_ps(seed + 0.01f * (float)(i));
#define STEP(i) a##i = _mm512_dpbf16_ps(a##i, x, y);
#define SUM(i) s = _mm512_add_ps(s, a##i);
    const __m512 small = _mm512_set1_ps(0.03125f);
    const __m512bh x = _mm512_cvtne2ps_pbh(small, small), y = _mm512_cvtne2ps_pbh(small, small);
    CH24(DECL)
    for (long it = 0; it < iters; it++) {
        CH24(STEP)
    }
    __m512 s = _mm512_setzero_ps();
    CH24(SUM)
    return _mm512_reduce_add_ps(s);
#undef DECL
#undef STEP
#undef SUM
}

const char *i4_peak_name(i4_peak_loop l) {
    switch (l) {
    case I4_PEAK_YMM_FMA: return "ymm_fma";
    case I4_PEAK_ZMM_FMA: return "zmm_fma";
    case I4_PEAK_ZMM_DPBF16: return "zmm_dpbf16";
    default: return "?";
    }
}

const char *i4_peak_isa(i4_peak_loop l) { return l == I4_PEAK_YMM_FMA ? "avx2" : "avx512"; }

const char *i4_peak_arith(i4_peak_loop l) { return l == I4_PEAK_ZMM_DPBF16 ? "bf16" : "f32"; }

int i4_peak_chains(i4_peak_loop l) { return l == I4_PEAK_YMM_FMA ? YMM_CHAINS : ZMM_CHAINS; }

int i4_peak_supported(i4_peak_loop l) {
    __builtin_cpu_init();
    switch (l) {
    case I4_PEAK_YMM_FMA: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case I4_PEAK_ZMM_FMA: return __builtin_cpu_supports("avx512f");
    case I4_PEAK_ZMM_DPBF16: return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
    default: return 0;
    }
}

double i4_peak_flops(i4_peak_loop l, long iters) {
    const double per_instr = l == I4_PEAK_YMM_FMA ? 16.0 : l == I4_PEAK_ZMM_FMA ? 32.0 : 64.0;
    return per_instr * (double)i4_peak_chains(l) * (double)iters;
}

static float run_one(i4_peak_loop l, long iters, float seed) {
    switch (l) {
    case I4_PEAK_ZMM_FMA: return loop_zmm_fma(iters, seed);
    case I4_PEAK_ZMM_DPBF16: return loop_zmm_dpbf16(iters, seed);
    default: return loop_ymm_fma(iters, seed);
    }
}

double i4_peak_run(i4_peak_loop l, int threads, long iters) {
    if (!i4_peak_supported(l) || threads < 1) return 0.0;
    double t0 = 0.0, t1 = 0.0;
    float sink = 0.0f;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    {
#pragma omp barrier
#pragma omp single
        t0 = i4_now_seconds();
        sink += run_one(l, iters, 1.0f + 0.001f * (float)omp_get_thread_num());
#pragma omp barrier
#pragma omp single
        t1 = i4_now_seconds();
    }
    volatile float keep = sink; /* keeps the loops' results (and so their work) alive */
    (void)keep;
    return t1 - t0;
}

long i4_peak_calibrate(i4_peak_loop l, double seconds) {
    long iters = 1L << 16;
    for (;;) {
        double s = i4_peak_run(l, 1, iters);
        if (s >= 0.02 || iters >= (1L << 40)) {
            double want = (double)iters * seconds / (s > 0 ? s : 1e-9);
            if (want < 1024) want = 1024;
            if (want > 1e12) want = 1e12;
            return (long)want;
        }
        iters *= 4;
    }
}
