/*
 * sampler.h — Euler flow-matching sampling with asymmetric guidance
 * (docs/MODEL.md §4, §8.4). Batch 1.
 *
 * Per step k (run order, i = N-1-k): t = T(u[i+1]), s = T(u[i]);
 *   v_c = DiT_cond([0_text ; z], bf16(t), feat, cond layout)[text rows dropped]
 *   v_u = DiT_uncond(z, bf16(t), no features, image-only layout)
 *   v   = f32(f32(g*v_c) + f32((1-g)*v_u));  z = f32(z + f32(v * f32(s - t)))
 * The flow time given to both transformers is rounded to bf16 in every
 * precision mode (the official pipeline does so).
 */
#ifndef I4_SAMPLER_H
#define I4_SAMPLER_H

#include <stdint.h>

#include "ideogram4.h"
#include "model/dit.h"

/* Latents after a step: z [gh*gw, C] on the host (i4_sample's z buffer, the
 * device copy downloaded into it). Non-zero cancels. */
typedef int (*i4_latents_fn)(void *user, int step, int steps, const float *z);

typedef struct {
    int steps;
    double mu;          /* after the resolution shift */
    double sigma;
    const float *guidance; /* [steps] in run order */
    i4_latents_fn latents; /* optional: called after each step, before progress */
    void *latents_user;
} i4_sampler_params;

/* Progress: called after each step with (step done 1..steps, steps). Return
 * non-zero to cancel (the sampler then returns I4_ERR_CANCELLED). */
typedef int (*i4_step_fn)(void *user, int step, int steps);



/* Packed layouts (docs/MODEL.md §4.1/§4.2). The conditional sequence is
 * [n_text text tokens][gh*gw image tokens] (batch 1: no padding). pos is
 * [L,3], seg/ind [L]. */
void i4_layout_conditional(int64_t n_text, int64_t gh, int64_t gw, int64_t *pos, int64_t *seg, int64_t *ind);
void i4_layout_unconditional(int64_t gh, int64_t gw, int64_t *pos, int64_t *seg, int64_t *ind);

/* z [gh*gw, C] holds the initial noise on entry and the final latents on
 * exit. text_feat [n_text, F]. Returns 0, I4_ERR_CANCELLED or -1 on error. */
int i4_sample(const i4_dit *cond, const i4_dit *uncond, const float *text_feat, int64_t n_text, int64_t gh,
              int64_t gw, const i4_sampler_params *sp, float *z, i4_step_fn progress, void *user);

/* Initial noise: N(0,1) f32 from the engine's documented generator
 * (xoshiro256** seeded by splitmix64(seed), Box–Muller), n values. */
void i4_noise(uint64_t seed, float *z, int64_t n);

#endif
