/*
 * debug_qwen3.c — `ideogram4 debug-forward text-encoder`:
 *   in:  input_ids I64 or I32 [1, L]
 *   out: features  F32 [1, L, 13*hidden]  (interleaved taps, docs/MODEL.md §5.4)
 */
#include <stdlib.h>

#include "base/error.h"
#include "model/debug_forward.h"
#include "model/qwen3.h"

int i4_debug_forward_qwen3(const char *component_dir, i4_precision p, i4_backend *be, const i4_tensor_set *in,
                            i4_st_writer *out) {
    int64_t shape[2] = {1, -1};
    const i4_tensor *t = i4_debug_input(in, "input_ids", 'i', 2, shape);
    if (!t) return -1;
    const int64_t L = shape[1];
    if (L < 1) return i4_error("input 'input_ids' is empty: expected I64 [1, L] with L >= 1");

    i4_qwen3 *m = NULL;
    if (i4_qwen3_load(&m, component_dir, p, be) != 0) return -1;
    const i4_qwen3_config *c = i4_qwen3_config_get(m);
    const int64_t nf = (int64_t)c->n_taps * c->hidden;
    int64_t *ids = malloc((size_t)L * sizeof *ids);
    float *feat = malloc((size_t)(L * nf) * sizeof *feat);
    int rc;
    if (!ids || !feat) {
        rc = i4_error("out of memory");
    } else {
        i4_tensor_to_i64(t, ids);
        rc = i4_qwen3_encode(m, ids, L, feat);
        int64_t oshape[3] = {1, L, nf};
        if (rc == 0) rc = i4_st_writer_add_f32(out, "features", 3, oshape, feat);
    }
    free(ids);
    free(feat);
    i4_qwen3_free(m);
    return rc;
}
