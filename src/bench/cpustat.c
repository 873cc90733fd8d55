/* cpustat.c — machine busy time minus this process's CPU time (see cpustat.h). */
#include "bench/cpustat.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int read_busy(unsigned long long *busy) {
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return -1;
    unsigned long long v[8] = {0};
    /* cpu  user nice system idle iowait irq softirq steal [guest guest_nice] */
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                   &v[6], &v[7]);
    fclose(f);
    if (n < 7) return -1;
    *busy = v[0] + v[1] + v[2] + v[5] + v[6] + (n >= 8 ? v[7] : 0);
    return 0;
}

static int read_own(unsigned long long *own) {
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f) return -1;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* Field 2 (comm) is in parentheses and may hold spaces: start after the last ')'. */
    const char *p = strrchr(buf, ')');
    if (!p) return -1;
    unsigned long long utime = 0, stime = 0;
    /* After ')': state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15) */
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2) return -1;
    *own = utime + stime;
    return 0;
}

void i4_cpustat_sample(i4_cpustat *s) {
    s->busy = s->own = 0;
    s->ok = read_busy(&s->busy) == 0 && read_own(&s->own) == 0;
}

double i4_cpustat_foreign(const i4_cpustat *a, const i4_cpustat *b) {
    if (!a->ok || !b->ok) return -1.0;
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0) hz = 100;
    double busy = (double)(b->busy - a->busy), own = (double)(b->own - a->own);
    double f = (busy - own) / (double)hz;
    return f > 0 ? f : 0.0;
}
