/*
 * vae.h — the Flux2 KL VAE decoder (diffusers AutoencoderKLFlux2 layout;
 * docs/MODEL.md §7), with latent denormalisation by the official constants and
 * 2x2 unpatchify. Batch 1.
 */
#ifndef I4_VAE_H
#define I4_VAE_H

#include <stdint.h>

#include "backend/backend.h"
#include "ideogram4.h"

typedef struct i4_vae i4_vae;

/* Load from snapshot/vae (config.json + diffusion_pytorch_model.safetensors). */
int i4_vae_load(i4_vae **out, const char *component_dir, i4_precision p, i4_backend *be);
void i4_vae_free(i4_vae *m);
/* Channels per DiT token (latent_channels * 4 = 128). */
int64_t i4_vae_token_channels(const i4_vae *m);

/* latents [gh*gw, 128] normalised packed tokens -> image [3, 8*2*gh, 8*2*gw]
 * (i4_vae_image_size; decoder output before clamping). Denormalises with the
 * official constants and unpatchifies (i4_vae_unpack_latents); in bf16
 * precision the latent is then rounded to bf16 (docs/MODEL.md §7.4). */
int i4_vae_decode_tokens(const i4_vae *m, const float *latents, int64_t gh, int64_t gw, float *image);

/* Image size (pixels) the decoder produces for a gh x gw token grid. */
/* Flops (2 x multiply-adds) of one decode of a gh x gw token grid. */
double i4_vae_decode_flops(const i4_vae *m, int64_t gh, int64_t gw);

void i4_vae_image_size(const i4_vae *m, int64_t gh, int64_t gw, int64_t *height, int64_t *width);

/* Number of channels whose checkpoint bn.running_mean / bn.running_var
 * disagree with the official constants (running_mean == SHIFT, running_var ==
 * SCALE^2 - batch_norm_eps); 0 when they agree, -1 when the file has no bn
 * buffers. A mismatch only warns at load: the constants are normative. */
int i4_vae_bn_mismatches(const i4_vae *m);

/* Denormalise + unpatchify (docs/MODEL.md §7.4): tokens [gh*gw, ph*pw*ae] ->
 * lat [ae, ph*gh, pw*gw] with
 *   lat[a, gy*ph+py, gx*pw+px] = tok[gy*gw+gx, (py*pw+px)*ae + a] * SCALE[c] + SHIFT[c]
 * (f32). ph*pw*ae must be 128 (the constants' length). */
int i4_vae_unpack_latents(const float *tokens, int64_t gh, int64_t gw, int ph, int pw, int64_t ae, float *lat);

/* The official latent constants (docs/MODEL.md Appendix A), indexed by token channel. */
extern const float i4_latent_shift[128];
extern const float i4_latent_scale[128];

#endif
