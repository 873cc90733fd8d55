/*
 * memstat.c — the process's peak resident memory per phase. Linux keeps the
 * high-water mark (VmHWM in /proc/self/status) and lets a process reset it
 * to the current RSS by writing "5" to /proc/self/clear_refs, so the peak of
 * each phase (text encoding, sampling, decoding) can be read on its own.
 * Elsewhere (or when /proc is not mounted) both calls report failure and the
 * phase peaks are simply not known.
 */
#include "base/memstat.h"

#include <stdio.h>
#include <string.h>

int i4_rss_peak_reset(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return -1;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

double i4_rss_peak_mb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    double mb = -1;
    while (fgets(line, sizeof line, f)) {
        long long kb;
        if (sscanf(line, "VmHWM: %lld kB", &kb) == 1) {
            mb = (double)kb / 1024.0;
            break;
        }
    }
    fclose(f);
    return mb;
}
