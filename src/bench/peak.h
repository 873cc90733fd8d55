/*
 * peak.h — the machine's FMA peak, measured: every thread runs a tight loop of
 * independent FMA chains (enough of them to hide the FMA latency), so the loop
 * is bound by the FMA ports only. Loops:
 *   YMM_FMA     AVX2 _mm256_fmadd_ps,      12 chains, 16 flops per instruction
 *   ZMM_FMA     AVX-512F _mm512_fmadd_ps,  24 chains, 32 flops per instruction
 *   ZMM_DPBF16  AVX-512-BF16 _mm512_dpbf16_ps, 24 chains, 64 flops per
 *               instruction (16 lanes x 2 bf16 products x multiply + add)
 * The AVX-512 loops live in functions compiled with target attributes and run
 * only where __builtin_cpu_supports says the CPU (and OS) has them; the rest
 * of the binary stays x86-64-v3.
 */
#ifndef I4_BENCH_PEAK_H
#define I4_BENCH_PEAK_H

typedef enum { I4_PEAK_YMM_FMA = 0, I4_PEAK_ZMM_FMA, I4_PEAK_ZMM_DPBF16, I4_PEAK_COUNT } i4_peak_loop;

/* Short name ("ymm_fma", "zmm_fma", "zmm_dpbf16"), the ISA it needs
 * ("avx2", "avx512") and the arithmetic ("f32", "bf16"). */
const char *i4_peak_name(i4_peak_loop l);
const char *i4_peak_isa(i4_peak_loop l);
const char *i4_peak_arith(i4_peak_loop l);
/* Independent accumulator chains of the loop. */
int i4_peak_chains(i4_peak_loop l);
/* 1 when this CPU can run the loop. */
int i4_peak_supported(i4_peak_loop l);
/* Flops one thread does in `iters` iterations of the loop. */
double i4_peak_flops(i4_peak_loop l, long iters);
/* Runs the loop for `iters` iterations on `threads` threads at once (one
 * OpenMP parallel region, started together after a barrier) and returns the
 * wall seconds from the start barrier to the end barrier. */
double i4_peak_run(i4_peak_loop l, int threads, long iters);
/* Iterations for one thread to run about `seconds` (calibrated on one thread). */
long i4_peak_calibrate(i4_peak_loop l, double seconds);

#endif
