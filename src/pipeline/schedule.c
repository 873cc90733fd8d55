/*
 * schedule.c — flow-time schedule and presets (docs/MODEL.md §8.2, §8.3, §8.5).
 *
 * ndtri: an initial rational estimate (central and tail regions) refined by
 * Halley steps on Phi(x) - p, with Phi from libm's erfc (double accurate).
 * For p > 0.5 the symmetry ndtri(p) = -ndtri(1-p) is used; 1-p is exact in
 * double there, so no cancellation enters the tail.
 */
#include "pipeline/schedule.h"

#include <math.h>
#include <string.h>

static double phi(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

/* Initial estimate for 0 < p <= 0.5 (relative error about 1e-9). */
static double ndtri_estimate(double p) {
    static const double a[6] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                                1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[5] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                                6.680131188771972e+01, -1.328068155288572e+01};
    static const double c[6] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                                -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
    static const double d[4] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                3.754408661907416e+00};
    if (p < 0.02425) {
        double q = sqrt(-2 * log(p));
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
               ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    double q = p - 0.5, r = q * q;
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
           (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

double i4_ndtri(double p) {
    if (isnan(p) || p < 0 || p > 1) return NAN;
    if (p == 0) return -INFINITY;
    if (p == 1) return INFINITY;
    if (p > 0.5) return -i4_ndtri(1.0 - p);
    double x = ndtri_estimate(p);
    /* Halley refinement: cubic convergence, two steps reach double precision. */
    for (int it = 0; it < 2; it++) {
        double e = phi(x) - p;
        double u = e * sqrt(2 * M_PI) * exp(x * x / 2);
        x = x - u / (1 + x * u / 2);
    }
    return x;
}

double i4_schedule_t_min(void) { return 1.0 / (1.0 + exp(0.5 * 18.0)); }
double i4_schedule_t_max(void) { return 1.0 / (1.0 + exp(0.5 * -15.0)); }

/* u_i of torch.linspace(0, 1, n+1, float32), scalar path: the first half
 * counts up from 0, the second half down from 1 (docs/MODEL.md §8.3). */
static float interval_at(int n, int i) {
    if (n <= 0) return 0.0f;
    float step = (float)(1.0f / (float)n);
    if (i < (n + 1) / 2) return step * (float)i;
    return 1.0f - step * (float)(n - i);
}

void i4_schedule_intervals(int n, float *u) {
    for (int i = 0; i <= (n > 0 ? n : 0); i++) u[i] = interval_at(n, i);
}

float i4_schedule_time(double u, double mu, double sigma) {
    double z = mu + sigma * i4_ndtri(u);
    double expit = 1.0 / (1.0 + exp(-z));
    if (isinf(z)) expit = z > 0 ? 1.0 : 0.0;
    double t = 1.0 - expit;
    double lo = i4_schedule_t_min(), hi = i4_schedule_t_max();
    if (t < lo) t = lo;
    if (t > hi) t = hi;
    return (float)t;
}

double i4_schedule_mu(double mu_preset, int width, int height) {
    return mu_preset + 0.5 * log(((double)width * (double)height) / (512.0 * 512.0));
}

void i4_schedule_times(int n, double mu, double sigma, float *times) {
    for (int i = 0; i <= n; i++) times[i] = i4_schedule_time((double)interval_at(n, i), mu, sigma);
}

static const i4_preset presets[] = {
    {"V4_QUALITY_48", 48, 0.0, 1.5, 3, 7.0f, 3.0f},
    {"V4_DEFAULT_20", 20, 0.0, 1.75, 2, 7.0f, 3.0f},
    {"V4_TURBO_12", 12, 0.5, 1.75, 1, 7.0f, 3.0f},
};

const i4_preset *i4_preset_at(int i) {
    return i >= 0 && i < (int)(sizeof presets / sizeof presets[0]) ? &presets[i] : NULL;
}

const i4_preset *i4_preset_find(const char *name) {
    for (int i = 0; i4_preset_at(i); i++)
        if (strcmp(presets[i].name, name) == 0) return &presets[i];
    return NULL;
}

int i4_preset_steps(const char *name) {
    const i4_preset *p = name ? i4_preset_find(name) : NULL;
    return p ? p->steps : 0;
}

float i4_preset_guidance(const i4_preset *p, int n, int k) {
    /* Official tables are stored in loop-index order (index 0 = last step);
     * in run order the polish steps come last (docs/MODEL.md §8.5, §11.1 item 4). */
    return k >= n - p->polish_steps ? p->polish_guidance : p->guidance;
}
