/*
 * timing.h — the benchmark loop: `warmup` untimed runs, then `repeat` timed
 * runs of one function; the minimum and the median wall time, and the CPU
 * time other processes used over the timed runs (cpustat.h).
 */
#ifndef I4_BENCH_TIMING_H
#define I4_BENCH_TIMING_H

typedef struct {
    double min, median; /* seconds per run */
    double foreign;     /* foreign CPU seconds over all timed runs, -1 when unknown */
} i4_bench_timing;

/* Returns 0, or -1 with an error (out of memory). repeat >= 1, warmup >= 0. */
int i4_bench_time(void (*fn)(void *ctx), void *ctx, int warmup, int repeat, i4_bench_timing *t);

#endif
