/*
 * debug_dit.c — `ideogram4 debug-forward transformer|unconditional-transformer`:
 * one DiT forward pass (docs/MODEL.md §3.5) on inputs from a safetensors file.
 *
 *   in : hidden_states         F32 [1, L, C_in]   latent tokens (text slots zero)
 *        timestep              F32 [1]            model time t (0 = noise, 1 = data), used as given
 *        encoder_hidden_states F32 [1, L, F]      optional; absent = all zeros (unconditional layout)
 *        position_ids          I64/I32 [1, L, 3]  (t, h, w)
 *        segment_ids           I64/I32 [1, L]
 *        indicator             I64/I32 [1, L]     3 text, 2 image, other = padding
 *   out: velocity              F32 [1, L, C_in]   (rows with indicator 2 are meaningful)
 * The names and layout are those of diffusers' Ideogram4Transformer2DModel.forward.
 */
#include <stdlib.h>

#include "base/error.h"
#include "model/debug_forward.h"
#include "model/dit.h"

int i4_debug_forward_dit(const char *component_dir, i4_precision p, i4_backend *be, const i4_tensor_set *in,
                            i4_st_writer *out) {
    i4_dit *m = NULL;
    if (i4_dit_load(&m, component_dir, p, be) != 0) return -1;
    const i4_dit_config *c = i4_dit_config_get(m);
    int rc = -1;
    float *x = NULL, *feat = NULL, *vel = NULL;
    int64_t *pos = NULL, *seg = NULL, *ind = NULL;

    int64_t sx[3] = {1, -1, c->in_channels};
    const i4_tensor *tx = i4_debug_input(in, "hidden_states", 'f', 3, sx);
    if (!tx) goto done;
    const int64_t L = sx[1];
    int64_t st[1] = {1}, sf[3] = {1, L, c->llm_features}, sp[3] = {1, L, 3}, ss[2] = {1, L}, si[2] = {1, L};
    const i4_tensor *tt = i4_debug_input(in, "timestep", 'f', 1, st);
    if (!tt) goto done;
    const i4_tensor *tf = NULL;
    if (i4_tensor_set_find(in, "encoder_hidden_states") &&
        !(tf = i4_debug_input(in, "encoder_hidden_states", 'f', 3, sf)))
        goto done;
    const i4_tensor *tp = i4_debug_input(in, "position_ids", 'i', 3, sp);
    if (!tp) goto done;
    const i4_tensor *ts = i4_debug_input(in, "segment_ids", 'i', 2, ss);
    if (!ts) goto done;
    const i4_tensor *ti = i4_debug_input(in, "indicator", 'i', 2, si);
    if (!ti) goto done;
    if (L <= 0) {
        i4_error("input 'hidden_states' has an empty sequence");
        goto done;
    }

    x = malloc((size_t)(L * c->in_channels) * sizeof *x);
    vel = malloc((size_t)(L * c->in_channels) * sizeof *vel);
    pos = malloc((size_t)(L * 3) * sizeof *pos);
    seg = malloc((size_t)L * sizeof *seg);
    ind = malloc((size_t)L * sizeof *ind);
    if (tf) feat = malloc((size_t)(L * c->llm_features) * sizeof *feat);
    if (!x || !vel || !pos || !seg || !ind || (tf && !feat)) {
        i4_error("out of memory");
        goto done;
    }
    float t;
    i4_tensor_to_f32(tx, x);
    i4_tensor_to_f32(tt, &t);
    if (tf) i4_tensor_to_f32(tf, feat);
    i4_tensor_to_i64(tp, pos);
    i4_tensor_to_i64(ts, seg);
    i4_tensor_to_i64(ti, ind);
    if (i4_dit_forward(m, x, t, feat, pos, seg, ind, L, vel) != 0) goto done;
    int64_t so[3] = {1, L, c->in_channels};
    rc = i4_st_writer_add_f32(out, "velocity", 3, so, vel);
done:
    free(x); free(feat); free(vel); free(pos); free(seg); free(ind);
    i4_dit_free(m);
    return rc;
}
