/*
 * report.h — one result line of `ideogram4 bench`, as JSON (one object per
 * line) or as an aligned human-readable row.
 *
 * JSON keys, in this order: op, shape (object), backend, isa, precision,
 * threads, seconds_min, seconds_median, gflops (flops / seconds_min),
 * peak_gflops (the AVX2 FMA peak measured in the same run at the same thread
 * count: the best of the measurements before and after the benchmark), peak_ratio (gflops / peak_gflops), foreign_cpu (CPU seconds other
 * processes used during the timed runs; null when /proc is unreadable), and
 * "extrapolated": true on figures that are estimates rather than measurements.
 */
#ifndef I4_BENCH_REPORT_H
#define I4_BENCH_REPORT_H

#include <jansson.h>
#include <stdio.h>

#include "bench/timing.h"

typedef struct {
    const char *op;
    json_t *shape;           /* JSON object; the report takes the reference */
    char shape_text[200];    /* the same, for people */
    const char *backend;     /* "cpu" */
    const char *isa;         /* "avx2", "avx512", "scalar" */
    const char *precision;   /* "f32", "bf16" */
    int threads;
    i4_bench_timing t;
    double flops;            /* per run */
    double peak_gflops;
    int extrapolated;
} i4_bench_result;

typedef struct {
    FILE *out;
    int json;
    int header_done;
} i4_bench_report;

/* Prints one line (the column header first, once, in human mode) and
 * releases r->shape. */
void i4_bench_report_line(i4_bench_report *rep, i4_bench_result *r);

#endif
