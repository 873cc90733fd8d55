/*
 * dsum_scalar.c — the norms' double sums in portable C:
 *   sum (x[i] - m)^p, p = 2 when sq else 1,
 * in the lane order of the AVX2 version (8 lanes: lane l takes i = l mod 8 of
 * each full group of 8, lanes l and l+4 added, then (0+1)+(2+3), then the
 * tail in order), so both agree bit for bit.
 */
#include <math.h>

#include "ops/cpu_isa.h"

double i4_dsum_scalar(const float *x, int64_t n, double m, int sq) {
    double lane[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) {
            const double d = (double)x[i + l] - m;
            lane[l] = sq ? fma(d, d, lane[l]) : lane[l] + d;
        }
    double t[4];
    for (int l = 0; l < 4; l++) t[l] = lane[l] + lane[l + 4];
    double s = (t[0] + t[1]) + (t[2] + t[3]);
    for (; i < n; i++) {
        const double d = (double)x[i] - m;
        s += sq ? d * d : d;
    }
    return s;
}
