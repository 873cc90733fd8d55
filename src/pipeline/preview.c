/*
 * preview.c — the live-preview map: latent token -> mean RGB of its patch.
 *
 * The decoder turns a token grid z [gh*gw, 128] (normalised, as the sampler
 * holds it) into an image [3, 16 gh, 16 gw]. A preview needs something far
 * cheaper than a decode, so each token is mapped on its own by an affine map
 *
 *     p(z_t) = W z_t + b        W [3, 128], b [3]
 *
 * to y_t = the mean over token t's 16x16 patch of clamp(decode(z)[c], -1, 1).
 * The map is fitted by least squares against the loaded decoder itself (the
 * real weights cannot be fitted offline here): `grids` grids of grid x grid
 * tokens drawn N(0,1) from the engine's generator (the distribution of the
 * sampler's noise and of normalised latents) are decoded, giving one sample
 * (x_t = [z_t ; 1], y_t) per token, and
 *
 *     (X^T X + lambda D) B = X^T Y,   B = [W^T ; b^T]  [129, 3]
 *
 * is solved in double by Cholesky, with a ridge lambda = RIDGE * n on
 * the 128 weight rows only (D = diag(1..1, 0): the bias is not shrunk).
 * Two further grids from other seeds give the held-out
 *
 *     R^2 = 1 - sum (y - p)^2 / sum (y - mean_heldout(y))^2   (over t and c),
 *
 * reported next to the R^2 of the constant predictor (the fit set's mean).
 * The neighbours' influence (the decoder's receptive field) is what a
 * per-token map cannot see; it is most of the residual.
 *
 * Cost: grids + 2 decodes of (16 grid)^2 pixels — for the default 8 + 2
 * grids of 8x8 tokens, ten 128x128 decodes (1/64 of a 1024x1024 decode
 * each), done once per pipeline, on the first generation that asks for
 * previews. Applying the map: 3 x 129 multiply-adds per token.
 */
#include "pipeline/preview.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/io.h"
#include "pipeline/image.h"
#include "pipeline/sampler.h"

#define RIDGE 0.5 /* chosen on the tiny model: held-out R^2 0.20 (0.02: -0.35, 2: 0.14) */
#define HELDOUT_GRIDS 2
#define K (I4_PREVIEW_CH + 1)

/* Decode grid g (seed) and append its (x, y) samples: x [n, 128], y [n, 3]. */
static int decode_samples(const i4_vae *m, int grid, uint64_t seed, float *x, double *y) {
    int64_t n = (int64_t)grid * grid, oh, ow;
    i4_vae_image_size(m, grid, grid, &oh, &ow);
    const int64_t ph = oh / grid, pw = ow / grid;
    float *img = malloc(sizeof(float) * 3 * (size_t)(oh * ow));
    if (!img) return i4_error("out of memory for the preview fit");
    i4_noise(seed, x, n * I4_PREVIEW_CH);
    if (i4_vae_decode_tokens(m, x, grid, grid, img) != 0) {
        free(img);
        return i4_error_prefix("preview fit");
    }
    for (int64_t t = 0; t < n; t++) {
        int64_t gy = t / grid, gx = t % grid;
        for (int c = 0; c < 3; c++) {
            double s = 0;
            for (int64_t py = 0; py < ph; py++)
                for (int64_t px = 0; px < pw; px++) {
                    float v = img[((size_t)c * oh + gy * ph + py) * ow + gx * pw + px];
                    s += v < -1 ? -1 : v > 1 ? 1 : v;
                }
            y[t * 3 + c] = s / (double)(ph * pw);
        }
    }
    free(img);
    return 0;
}

/* In place Cholesky solve of A [K, K] (SPD) X = B [K, 3]; -1 if not SPD. */
static int cholesky_solve(double *a, double *b) {
    for (int j = 0; j < K; j++) {
        double d = a[j * K + j];
        for (int k = 0; k < j; k++) d -= a[j * K + k] * a[j * K + k];
        if (!(d > 0)) return -1;
        d = sqrt(d);
        a[j * K + j] = d;
        for (int i = j + 1; i < K; i++) {
            double s = a[i * K + j];
            for (int k = 0; k < j; k++) s -= a[i * K + k] * a[j * K + k];
            a[i * K + j] = s / d;
        }
    }
    for (int c = 0; c < 3; c++) {
        for (int i = 0; i < K; i++) { /* L u = b */
            double s = b[i * 3 + c];
            for (int k = 0; k < i; k++) s -= a[i * K + k] * b[k * 3 + c];
            b[i * 3 + c] = s / a[i * K + i];
        }
        for (int i = K - 1; i >= 0; i--) { /* L^T x = u */
            double s = b[i * 3 + c];
            for (int k = i + 1; k < K; k++) s -= a[k * K + i] * b[k * 3 + c];
            b[i * 3 + c] = s / a[i * K + i];
        }
    }
    return 0;
}

static double predict(const i4_preview_map *pm, int c, const float *z) {
    double s = pm->w[c][I4_PREVIEW_CH];
    for (int k = 0; k < I4_PREVIEW_CH; k++) s += (double)pm->w[c][k] * z[k];
    return s;
}

/* R^2 of the map (constant mean when cmean is set) on n samples. */
static double r_squared(const i4_preview_map *pm, const double *cmean, const float *x, const double *y, int64_t n) {
    double mean[3] = {0, 0, 0}, res = 0, tot = 0;
    for (int64_t t = 0; t < n; t++)
        for (int c = 0; c < 3; c++) mean[c] += y[t * 3 + c] / (double)n;
    for (int64_t t = 0; t < n; t++)
        for (int c = 0; c < 3; c++) {
            double p = cmean ? cmean[c] : predict(pm, c, x + t * I4_PREVIEW_CH), e = y[t * 3 + c] - p;
            double d = y[t * 3 + c] - mean[c];
            res += e * e;
            tot += d * d;
        }
    return tot > 0 ? 1.0 - res / tot : 0.0;
}

int i4_preview_fit(const i4_vae *m, int grids, int grid, uint64_t seed, i4_preview_map *out) {
    memset(out, 0, sizeof *out);
    if (i4_vae_token_channels(m) != I4_PREVIEW_CH)
        return i4_error("preview fit: the VAE has %lld token channels, not %d", (long long)i4_vae_token_channels(m),
                        I4_PREVIEW_CH);
    if (grids < 1 || grid < 1 || grid > 64) return i4_error("preview fit: invalid grids %d x %d", grids, grid);
    double t0 = i4_now_seconds();
    const int64_t per = (int64_t)grid * grid, n = per * grids, nh = per * HELDOUT_GRIDS;
    float *x = malloc(sizeof(float) * (size_t)((n + nh) * I4_PREVIEW_CH));
    double *y = malloc(sizeof(double) * 3 * (size_t)(n + nh));
    double *a = calloc(K * K, sizeof(double)), *b = calloc(K * 3, sizeof(double));
    int rc = -1;
    if (!x || !y || !a || !b) {
        i4_error("out of memory for the preview fit");
        goto out;
    }
    for (int g = 0; g < grids + HELDOUT_GRIDS; g++)
        if (decode_samples(m, grid, seed + (uint64_t)g, x + (size_t)(g * per * I4_PREVIEW_CH), y + g * per * 3) != 0)
            goto out;
    /* normal equations over the fit samples, x_t extended by 1 */
    for (int64_t t = 0; t < n; t++) {
        const float *xt = x + t * I4_PREVIEW_CH;
        for (int i = 0; i < K; i++) {
            double xi = i < I4_PREVIEW_CH ? xt[i] : 1.0;
            for (int j = 0; j <= i; j++) a[i * K + j] += xi * (j < I4_PREVIEW_CH ? xt[j] : 1.0);
            for (int c = 0; c < 3; c++) b[i * 3 + c] += xi * y[t * 3 + c];
        }
    }
    for (int i = 0; i < K; i++)
        for (int j = 0; j < i; j++) a[j * K + i] = a[i * K + j];
    for (int i = 0; i < I4_PREVIEW_CH; i++) a[i * K + i] += RIDGE * (double)n;
    if (cholesky_solve(a, b) != 0) {
        i4_error("preview fit: the normal equations are singular");
        goto out;
    }
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < K; i++) out->w[c][i] = (float)b[i * 3 + c];
    double fit_mean[3] = {0, 0, 0};
    for (int64_t t = 0; t < n; t++)
        for (int c = 0; c < 3; c++) fit_mean[c] += y[t * 3 + c] / (double)n;
    out->r2_fit = r_squared(out, NULL, x, y, n);
    out->r2_heldout = r_squared(out, NULL, x + n * I4_PREVIEW_CH, y + n * 3, nh);
    out->r2_const = r_squared(out, fit_mean, x + n * I4_PREVIEW_CH, y + n * 3, nh);
    out->grids = grids;
    out->grid = grid;
    out->seconds = i4_now_seconds() - t0;
    rc = 0;
out:
    free(x);
    free(y);
    free(a);
    free(b);
    return rc;
}

void i4_preview_apply(const i4_preview_map *pm, const float *z, int64_t n, uint8_t *rgb) {
    for (int64_t t = 0; t < n; t++) {
        const float *zt = z + t * I4_PREVIEW_CH;
        for (int c = 0; c < 3; c++) {
            float s = pm->w[c][I4_PREVIEW_CH];
            for (int k = 0; k < I4_PREVIEW_CH; k++) s += pm->w[c][k] * zt[k];
            s = s < -1 ? -1 : s > 1 ? 1 : s;
            rgb[t * 3 + c] = (uint8_t)lrintf((s + 1.0f) * 127.5f);
        }
    }
}

int i4_preview_png(const uint8_t *rgb, int w, int h, unsigned char **png, size_t *len) {
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f) return i4_error("preview: cannot open a memory stream");
    int rc = i4_image_write_stream(f, I4_IMAGE_PNG, -1, rgb, w, h);
    if (fclose(f) != 0 && rc == 0) rc = i4_error("preview: cannot encode the PNG");
    if (rc != 0) {
        free(buf);
        return -1;
    }
    *png = (unsigned char *)buf;
    *len = n;
    return 0;
}

char *i4_preview_data_url(const uint8_t *rgb, int w, int h) {
    static const char PREFIX[] = "data:image/png;base64,";
    static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char *png = NULL;
    size_t n = 0;
    if (i4_preview_png(rgb, w, h, &png, &n) != 0) return NULL;
    char *out = malloc(sizeof PREFIX + 4 * ((n + 2) / 3));
    if (!out) {
        free(png);
        return NULL;
    }
    memcpy(out, PREFIX, sizeof PREFIX - 1);
    char *o = out + sizeof PREFIX - 1;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)png[i] << 16 | (i + 1 < n ? (uint32_t)png[i + 1] << 8 : 0) | (i + 2 < n ? png[i + 2] : 0);
        *o++ = B64[v >> 18 & 63];
        *o++ = B64[v >> 12 & 63];
        *o++ = i + 1 < n ? B64[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? B64[v & 63] : '=';
    }
    *o = 0;
    free(png);
    return out;
}
