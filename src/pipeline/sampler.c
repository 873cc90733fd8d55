/* sampler.c — packed layouts, initial noise, and the Euler loop with
 * asymmetric guidance (see sampler.h for the math). */
#include "pipeline/sampler.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/rng.h"
#include "pipeline/schedule.h"
#include "tensor/dtype.h"

#define IMAGE_POSITION_OFFSET 65536

static void image_layout(int64_t gh, int64_t gw, int64_t *pos, int64_t *seg, int64_t *ind) {
    for (int64_t k = 0; k < gh * gw; k++) {
        pos[k * 3 + 0] = IMAGE_POSITION_OFFSET;
        pos[k * 3 + 1] = IMAGE_POSITION_OFFSET + k / gw;
        pos[k * 3 + 2] = IMAGE_POSITION_OFFSET + k % gw;
        seg[k] = 1;
        ind[k] = 2;
    }
}

void i4_layout_conditional(int64_t n_text, int64_t gh, int64_t gw, int64_t *pos, int64_t *seg, int64_t *ind) {
    for (int64_t i = 0; i < n_text; i++) {
        pos[i * 3 + 0] = pos[i * 3 + 1] = pos[i * 3 + 2] = i;
        seg[i] = 1;
        ind[i] = 3;
    }
    image_layout(gh, gw, pos + n_text * 3, seg + n_text, ind + n_text);
}

void i4_layout_unconditional(int64_t gh, int64_t gw, int64_t *pos, int64_t *seg, int64_t *ind) {
    image_layout(gh, gw, pos, seg, ind);
}

void i4_noise(uint64_t seed, float *z, int64_t n) {
    i4_rng r;
    i4_rng_seed(&r, seed);
    for (int64_t i = 0; i < n; i++) z[i] = (float)i4_rng_normal(&r);
}

int i4_sample(const i4_dit *cond, const i4_dit *uncond, const float *text_feat, int64_t n_text, int64_t gh,
              int64_t gw, const i4_sampler_params *sp, float *z, i4_step_fn progress, void *user) {
    const i4_dit_config *cc = i4_dit_config_get(cond), *uc = i4_dit_config_get(uncond);
    int64_t C = cc->in_channels, F = cc->llm_features;
    if (uc->in_channels != C) return i4_error("conditional and unconditional transformers disagree on channels");
    if (sp->steps < 1) return i4_error("steps must be at least 1");
    int64_t n_img = gh * gw, L = n_text + n_img;
    int rc = 0;
    float *times = malloc(sizeof(float) * (size_t)(sp->steps + 1));
    float *x = calloc((size_t)(L * C), sizeof(float));
    float *feat = calloc((size_t)(L * F), sizeof(float));
    float *vc = malloc(sizeof(float) * (size_t)(L * C));
    float *vu = malloc(sizeof(float) * (size_t)(n_img * C));
    int64_t *pos = malloc(sizeof(int64_t) * (size_t)(L * 3)), *seg = malloc(sizeof(int64_t) * (size_t)L);
    int64_t *ind = malloc(sizeof(int64_t) * (size_t)L);
    int64_t *upos = malloc(sizeof(int64_t) * (size_t)(n_img * 3)), *useg = malloc(sizeof(int64_t) * (size_t)n_img);
    int64_t *uind = malloc(sizeof(int64_t) * (size_t)n_img);
    if (!times || !x || !feat || !vc || !vu || !pos || !seg || !ind || !upos || !useg || !uind) {
        rc = i4_error("out of memory for the sampler (%lld tokens)", (long long)L);
        goto done;
    }
    i4_schedule_times(sp->steps, sp->mu, sp->sigma, times);
    i4_layout_conditional(n_text, gh, gw, pos, seg, ind);
    i4_layout_unconditional(gh, gw, upos, useg, uind);
    memcpy(feat, text_feat, sizeof(float) * (size_t)(n_text * F));
    for (int k = 0; k < sp->steps && rc == 0; k++) {
        int i = sp->steps - 1 - k;
        float t = times[i + 1], s = times[i];
        float t_model = i4_round_bf16(t);
        memcpy(x + n_text * C, z, sizeof(float) * (size_t)(n_img * C));
        if (i4_dit_forward(cond, x, t_model, feat, pos, seg, ind, L, vc) != 0 ||
            i4_dit_forward(uncond, z, t_model, NULL, upos, useg, uind, n_img, vu) != 0) {
            rc = i4_error_prefix("sampling step %d", k + 1);
            break;
        }
        float g = sp->guidance[k], one_minus_g = 1.0f - g;
        float dt = s - t;
        const float *vci = vc + n_text * C;
        for (int64_t e = 0; e < n_img * C; e++) {
            float gv = g * vci[e];
            float uv = one_minus_g * vu[e];
            float v = gv + uv;
            float step = v * dt;
            z[e] = z[e] + step;
        }
        if (progress && progress(user, k + 1, sp->steps)) rc = I4_ERR_CANCELLED;
    }
done:
    free(times); free(x); free(feat); free(vc); free(vu);
    free(pos); free(seg); free(ind); free(upos); free(useg); free(uind);
    return rc;
}
