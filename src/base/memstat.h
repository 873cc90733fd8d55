/* memstat.h — peak resident memory of a phase (see memstat.c). */
#ifndef I4_MEMSTAT_H
#define I4_MEMSTAT_H

/* Start a new peak at the current resident size; 0, or -1 when unsupported. */
int i4_rss_peak_reset(void);
/* The peak resident size since the last reset (or process start), in MB; -1 when unknown. */
double i4_rss_peak_mb(void);

#endif
