/*
 * schedule.h — the flow-time schedule of the official sampler (docs/MODEL.md §8):
 * logit-normal times T(u) = clamp(1 - expit(mu + sigma*ndtri(u)), t_min, t_max)
 * in double, rounded to f32, at the f32 linspace intervals u_0..u_N of
 * PyTorch's scalar algorithm, and the three official presets.
 */
#ifndef I4_SCHEDULE_H
#define I4_SCHEDULE_H

#include <stdint.h>

#include "ideogram4.h" /* i4_preset_steps, the public view of a preset */

/* Inverse standard-normal CDF accurate to double precision; ndtri(0) = -inf,
 * ndtri(1) = +inf, NaN outside [0, 1]. */
double i4_ndtri(double p);

/* t_min = 1/(1+e^(0.5*18)), t_max = 1/(1+e^(0.5*-15)) (docs/MODEL.md §8.2). */
double i4_schedule_t_min(void);
double i4_schedule_t_max(void);

/* u_i, i = 0..n (n+1 values), PyTorch's scalar f32 linspace(0, 1, n+1). */
void i4_schedule_intervals(int n, float *u);
/* T(u) of docs/MODEL.md §8.2 rounded to f32. */
float i4_schedule_time(double u, double mu, double sigma);
/* mu for an image size: mu_preset + 0.5*ln(W*H / 512^2). */
double i4_schedule_mu(double mu_preset, int width, int height);
/* times[i] = T(u_i), i = 0..n. times[0] = t_max, times[n] = t_min. */
void i4_schedule_times(int n, double mu, double sigma, float *times);

typedef struct {
    const char *name;
    int steps;
    double mu;       /* before the resolution shift */
    double sigma;
    int polish_steps; /* the last polish_steps steps (run order) use polish_guidance */
    float guidance;
    float polish_guidance;
} i4_preset;

/* NULL when unknown. Names: V4_QUALITY_48, V4_DEFAULT_20, V4_TURBO_12. */
const i4_preset *i4_preset_find(const char *name);
const i4_preset *i4_preset_at(int i); /* NULL past the end */
/* Guidance of run-order step k (0 = first step) of a preset with n steps. */
float i4_preset_guidance(const i4_preset *p, int n, int k);

#endif
