/* timing.c — warmup, timed repeats, min / median and foreign CPU time (see timing.h). */
#include "bench/timing.h"

#include <stdlib.h>

#include "base/error.h"
#include "base/io.h"
#include "bench/cpustat.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int i4_bench_time(void (*fn)(void *ctx), void *ctx, int warmup, int repeat, i4_bench_timing *t) {
    if (repeat < 1) repeat = 1;
    double *s = malloc((size_t)repeat * sizeof *s);
    if (!s) return i4_error("out of memory");
    for (int i = 0; i < warmup; i++) fn(ctx);
    i4_cpustat c0, c1;
    i4_cpustat_sample(&c0);
    for (int i = 0; i < repeat; i++) {
        double t0 = i4_now_seconds();
        fn(ctx);
        s[i] = i4_now_seconds() - t0;
    }
    i4_cpustat_sample(&c1);
    qsort(s, (size_t)repeat, sizeof *s, cmp_double);
    t->min = s[0];
    t->median = repeat % 2 ? s[repeat / 2] : 0.5 * (s[repeat / 2 - 1] + s[repeat / 2]);
    t->foreign = i4_cpustat_foreign(&c0, &c1);
    free(s);
    return 0;
}
