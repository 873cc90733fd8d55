/*
 * tiny.h — writers of the deterministic tiny random checkpoint (official
 * snapshot layout, small dimensions). Each writes one component folder:
 * config.json plus weights with the official tensor names and dtypes.
 */
#ifndef I4_TINY_H
#define I4_TINY_H

#include <stdint.h>

/* transformer/ or unconditional_transformer/: sharded weights + index. */
int i4_tiny_dit(const char *component_dir, uint64_t seed);
/* text_encoder/: config.json (FP8 flag) + model.safetensors. */
int i4_tiny_qwen3(const char *component_dir, uint64_t seed);
/* vae/: config.json + diffusion_pytorch_model.safetensors (encoder, decoder, bn buffers). */
int i4_tiny_vae(const char *component_dir, uint64_t seed);

#endif
