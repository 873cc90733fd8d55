/*
 * vae.h — the Flux2 KL VAE decoder (diffusers AutoencoderKLFlux2 layout;
 * MODEL.md §7), with latent denormalisation by the official constants and
 * 2x2 unpatchify. Batch 1.
 */
#ifndef I4_VAE_H
#define I4_VAE_H

#include <stdint.h>

#include "ideogram4.h"

typedef struct i4_vae i4_vae;

/* Load from snapshot/vae (config.json + diffusion_pytorch_model.safetensors). */
int i4_vae_load(i4_vae **out, const char *component_dir, i4_precision p);
void i4_vae_free(i4_vae *m);
/* Channels per DiT token (latent_channels * 4 = 128). */
int64_t i4_vae_token_channels(const i4_vae *m);

/* latents [gh*gw, 128] normalised packed tokens -> image [3, 8*2*gh, 8*2*gw]
 * (decoder output before clamping). */
int i4_vae_decode_tokens(const i4_vae *m, const float *latents, int64_t gh, int64_t gw, float *image);

/* The official latent constants (MODEL.md Appendix A), indexed by token channel. */
extern const float i4_latent_shift[128];
extern const float i4_latent_scale[128];

#endif
