/*
 * preview.h — live previews of the latents while sampling (docs/APP.md
 * "Live previews"): a fixed linear map from one token's 128 latent channels
 * to the mean RGB of the 16x16 pixel patch the VAE decoder makes of it,
 * fitted against the loaded decoder itself (see preview.c for the math).
 * One pixel per token: a 1024x1024 image previews as 64x64.
 */
#ifndef I4_PREVIEW_H
#define I4_PREVIEW_H

#include <stddef.h>
#include <stdint.h>

#include "model/vae.h"

#define I4_PREVIEW_CH 128 /* token channels (2x2 patches x 32 latent channels) */

typedef struct {
    float w[3][I4_PREVIEW_CH + 1]; /* rgb[c] = w[c][128] + sum_k w[c][k] z[k], in the decoder's [-1, 1] */
    double r2_fit;         /* R^2 on the fitting latents */
    double r2_heldout;     /* R^2 on held-out random latents (other seeds) */
    double r2_const;       /* R^2 of the constant (fit-set mean) predictor on the same held-out latents */
    double seconds;        /* time the fit took (decodes + solve + held-out check) */
    int grids, grid;       /* fitted on `grids` grids of grid x grid tokens */
} i4_preview_map;

/* Fit the map against m's decoder: `grids` deterministic N(0,1) token grids of
 * grid x grid tokens from seed, plus 2 held-out grids for r2_heldout. */
int i4_preview_fit(const i4_vae *m, int grids, int grid, uint64_t seed, i4_preview_map *out);

/* n tokens z [n, 128] -> rgb [n][3] (one pixel per token). */
void i4_preview_apply(const i4_preview_map *pm, const float *z, int64_t n, uint8_t *rgb);

/* rgb [h][w][3] as a PNG in memory (*png malloc'd). */
int i4_preview_png(const uint8_t *rgb, int w, int h, unsigned char **png, size_t *len);
/* "data:image/png;base64,..." of rgb (malloc'd), NULL on failure. */
char *i4_preview_data_url(const uint8_t *rgb, int w, int h);

#endif
