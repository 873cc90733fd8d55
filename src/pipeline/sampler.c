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

typedef struct {
    i4_dv x, feat, z, vc, vu;
} loop_buffers;

/* feat holds the n_text text rows only: the conditional layout puts them
 * first, and the transformer reads features at text positions alone (a
 * [L, F] buffer would be 0.9 GB of zeros at 1024x1024). */
static void take_loop_buffers(i4_workspace *w, loop_buffers *b, int64_t L, int64_t n_text, int64_t n_img, int64_t C,
                              int64_t F) {
    const size_t fs = sizeof(float);
    b->x = i4_workspace_take(w, fs * (size_t)(L * C));
    b->feat = i4_workspace_take(w, fs * (size_t)((n_text > 0 ? n_text : 1) * F));
    b->z = i4_workspace_take(w, fs * (size_t)(n_img * C));
    b->vc = i4_workspace_take(w, fs * (size_t)(L * C));
    b->vu = i4_workspace_take(w, fs * (size_t)(n_img * C));
}

int i4_sample(const i4_dit *cond, const i4_dit *uncond, const float *text_feat, int64_t n_text, int64_t gh,
              int64_t gw, const i4_sampler_params *sp, float *z, i4_step_fn progress, void *user) {
    const i4_dit_config *cc = i4_dit_config_get(cond), *uc = i4_dit_config_get(uncond);
    i4_backend *be = i4_dit_backend(cond);
    const int64_t C = cc->in_channels, F = cc->llm_features;
    if (uc->in_channels != C) return i4_error("conditional and unconditional transformers disagree on channels");
    if (i4_dit_backend(uncond) != be) return i4_error("the two transformers are on different backends");
    if (sp->steps < 1) return i4_error("steps must be at least 1");
    const int64_t n_img = gh * gw, L = n_text + n_img;
    const size_t fs = sizeof(float);
    int rc = -1;
    i4_dit_run *rc_run = NULL, *ru_run = NULL;
    i4_workspace ws = {0};
    float *times = malloc(fs * (size_t)(sp->steps + 1));
    int64_t *pos = malloc(sizeof(int64_t) * (size_t)(L * 3)), *seg = malloc(sizeof(int64_t) * (size_t)L);
    int64_t *ind = malloc(sizeof(int64_t) * (size_t)L);
    int64_t *upos = malloc(sizeof(int64_t) * (size_t)(n_img * 3)), *useg = malloc(sizeof(int64_t) * (size_t)n_img);
    int64_t *uind = malloc(sizeof(int64_t) * (size_t)n_img);
    if (!times || !pos || !seg || !ind || !upos || !useg || !uind) {
        i4_error("out of memory for the sampler (%lld tokens)", (long long)L);
        goto done;
    }
    i4_schedule_times(sp->steps, sp->mu, sp->sigma, times);
    i4_layout_conditional(n_text, gh, gw, pos, seg, ind);
    i4_layout_unconditional(gh, gw, upos, useg, uind);
    if (i4_dit_run_new(cond, pos, seg, ind, L, &rc_run) != 0 || i4_dit_run_new(uncond, upos, useg, uind, n_img, &ru_run) != 0)
        goto done;

    /* Device state of the loop: x = [0_text ; z] and feat [n_text, F] for the
     * conditional pass, z, and the two velocities. */
    i4_workspace plan;
    i4_workspace_plan(&plan);
    loop_buffers lb;
    take_loop_buffers(&plan, &lb, L, n_text, n_img, C, F);
    if (i4_workspace_init(&ws, be, plan.used, "sampler") != 0) goto done;
    take_loop_buffers(&ws, &lb, L, n_text, n_img, C, F);
    const i4_dv x = lb.x, feat = lb.feat, zd = lb.z, vc = lb.vc, vu = lb.vu;
    be->ops->fill(be, x, L * C, 0.0f);
    if (i4_be_upload(be, feat, text_feat, fs * (size_t)(n_text * F)) != 0 ||
        i4_be_upload(be, zd, z, fs * (size_t)(n_img * C)) != 0)
        goto done;
    rc = 0;
    for (int k = 0; k < sp->steps && rc == 0; k++) {
        int i = sp->steps - 1 - k;
        float t = times[i + 1], s = times[i];
        float t_model = i4_round_bf16(t);
        be->ops->copy2d(be, i4_dv_f32(x, n_text * C), C, 1, zd, C, 1, n_img, C, 0, I4_PRECISION_F32);
        if (i4_dit_run_forward(rc_run, x, t_model, feat, vc) != 0 ||
            i4_dit_run_forward(ru_run, zd, t_model, i4_dv_none(), vu) != 0) {
            rc = i4_error_prefix("sampling step %d", k + 1);
            break;
        }
        be->ops->guidance_step(be, zd, i4_dv_f32(vc, n_text * C), vu, n_img * C, sp->guidance[k], s - t);
        /* progress and cancel see finished steps */
        if (i4_be_sync(be) != 0) {
            rc = i4_error_prefix("sampling step %d", k + 1);
            break;
        }
        /* live previews: the latents after this step, into the caller's z */
        if (sp->latents) {
            if (i4_be_download(be, z, zd, fs * (size_t)(n_img * C)) != 0) {
                rc = -1;
                break;
            }
            if (sp->latents(sp->latents_user, k + 1, sp->steps, z)) rc = I4_ERR_CANCELLED;
        }
        if (rc == 0 && progress && progress(user, k + 1, sp->steps)) rc = I4_ERR_CANCELLED;
    }
    /* z is the latents after the last finished step, also when cancelled */
    if ((rc == 0 || rc == I4_ERR_CANCELLED) && i4_be_download(be, z, zd, fs * (size_t)(n_img * C)) != 0) rc = -1;
done:
    if (ws.buf) i4_workspace_free(&ws);
    i4_dit_run_free(rc_run);
    i4_dit_run_free(ru_run);
    free(times);
    free(pos); free(seg); free(ind); free(upos); free(useg); free(uind);
    return rc;
}
