/*
 * cpustat.h — CPU time used by other processes while a benchmark ran.
 * These machines are shared: a figure measured while something else was busy
 * must say so. A sample reads the machine's busy time from /proc/stat (user +
 * nice + system + irq + softirq + steal of the "cpu" line; steal is time the
 * hypervisor gave to other guests) and this process's own CPU time from
 * /proc/self/stat (utime + stime, all threads). Between two samples,
 *   foreign = (busy1 - busy0) - (own1 - own0)          in seconds,
 * clamped at 0 (both counters tick at USER_HZ, usually 10 ms, so a quiet
 * interval can read slightly negative).
 */
#ifndef I4_BENCH_CPUSTAT_H
#define I4_BENCH_CPUSTAT_H

typedef struct {
    unsigned long long busy; /* machine, clock ticks */
    unsigned long long own;  /* this process, clock ticks */
    int ok;                  /* 0 when /proc could not be read */
} i4_cpustat;

void i4_cpustat_sample(i4_cpustat *s);
/* Foreign CPU seconds between a and b, or -1 when either sample failed. */
double i4_cpustat_foreign(const i4_cpustat *a, const i4_cpustat *b);

#endif
