/* weights.c — checked binding of checkpoint tensors to kernel views, and the
 * tiny-model writing helpers (see weights.h). */
#include "model/weights.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

static int is_float_dtype(i4_dtype t) { return t == I4_DT_F32 || t == I4_DT_F16 || t == I4_DT_BF16; }

int i4_bind_linear(const i4_tensor_set *set, const char *prefix, int64_t expect_out, int64_t expect_in,
                   int bias_rule, i4_linear_w *out) {
    char name[512], sb[160];
    memset(out, 0, sizeof *out);
    snprintf(name, sizeof name, "%s.weight", prefix);
    const i4_tensor *w = i4_tensor_set_get(set, name);
    if (!w) return -1;
    if (w->ndim != 2)
        return i4_error("%s: tensor '%s' has shape %s, expected a 2-D [out, in] matrix", w->file, name,
                        i4_shape_str(sb, sizeof sb, w->ndim, w->shape));
    if ((expect_out >= 0 && w->shape[0] != expect_out) || (expect_in >= 0 && w->shape[1] != expect_in))
        return i4_error("%s: tensor '%s' has shape %s, expected [%lld, %lld]", w->file, name,
                        i4_shape_str(sb, sizeof sb, w->ndim, w->shape), (long long)expect_out, (long long)expect_in);
    out->out = w->shape[0];
    out->in = w->shape[1];
    out->dtype = w->dtype;
    out->w = w->data;
    snprintf(name, sizeof name, "%s.weight_scale", prefix);
    const i4_tensor *s = i4_tensor_set_find(set, name);
    if (w->dtype == I4_DT_F8_E4M3) {
        if (!s) return i4_error("%s: FP8 tensor '%s.weight' has no '%s'", w->file, prefix, name);
        if (s->dtype != I4_DT_F32 && s->dtype != I4_DT_BF16 && s->dtype != I4_DT_F16)
            return i4_error("%s: tensor '%s' has dtype %s, expected F32", s->file, name, i4_dtype_name(s->dtype));
        if (s->dtype != I4_DT_F32)
            return i4_error("%s: tensor '%s' has dtype %s; only F32 scales are supported", s->file, name,
                            i4_dtype_name(s->dtype));
        if (s->numel == 1 && (s->ndim == 0 || out->out != 1)) out->scale_per_tensor = 1;
        else if (s->numel != out->out)
            return i4_error("%s: tensor '%s' has %lld elements, expected %lld (one per output row) or 1", s->file,
                            name, (long long)s->numel, (long long)out->out);
        if (((uintptr_t)s->data & 3) != 0)
            return i4_error("%s: tensor '%s' is not 4-byte aligned in the file", s->file, name);
        out->scale = s->data;
    } else if (!is_float_dtype(w->dtype)) {
        return i4_error("%s: tensor '%s.weight' has dtype %s; Linear weights must be F8_E4M3, BF16, F16 or F32",
                        w->file, prefix, i4_dtype_name(w->dtype));
    } else if (s) {
        return i4_error("%s: '%s' present but the weight is %s, not F8_E4M3", s->file, name, i4_dtype_name(w->dtype));
    }
    snprintf(name, sizeof name, "%s.bias", prefix);
    const i4_tensor *b = i4_tensor_set_find(set, name);
    if (b && bias_rule == 0) return i4_error("%s: unexpected tensor '%s' (this layer has no bias)", b->file, name);
    if (!b && bias_rule == 1) return i4_error("tensor '%s' not found in %s", name, i4_tensor_set_origin(set));
    if (b) {
        if (!is_float_dtype(b->dtype) || b->numel != out->out)
            return i4_error("%s: tensor '%s' is %s %s, expected a float vector of %lld", b->file, name,
                            i4_dtype_name(b->dtype), i4_shape_str(sb, sizeof sb, b->ndim, b->shape), (long long)out->out);
        out->bias = b->data;
        out->bias_dtype = b->dtype;
    }
    return 0;
}

int i4_bind_param(const i4_tensor_set *set, const char *name, int64_t expect_numel, i4_param *out) {
    char sb[160];
    memset(out, 0, sizeof *out);
    const i4_tensor *t = i4_tensor_set_get(set, name);
    if (!t) return -1;
    if (!is_float_dtype(t->dtype))
        return i4_error("%s: tensor '%s' has dtype %s, expected BF16, F16 or F32", t->file, name, i4_dtype_name(t->dtype));
    if (expect_numel >= 0 && t->numel != expect_numel)
        return i4_error("%s: tensor '%s' has shape %s (%lld elements), expected %lld elements", t->file, name,
                        i4_shape_str(sb, sizeof sb, t->ndim, t->shape), (long long)t->numel, (long long)expect_numel);
    out->dtype = t->dtype;
    out->data = t->data;
    out->numel = t->numel;
    out->t = t;
    return 0;
}

void i4_param_read(const i4_param *p, int64_t first, int64_t count, float *dst, i4_precision prec) {
    i4_convert_to_f32(p->dtype, (const uint8_t *)p->data + (size_t)first * i4_dtype_size(p->dtype), dst, (size_t)count);
    if (prec == I4_PRECISION_BF16) i4_round_bf16_inplace(dst, (size_t)count);
}

int i4_bind_conv(const i4_tensor_set *set, const char *prefix, int64_t expect_out, int64_t expect_in, int k,
                 i4_conv_w *out) {
    char name[512], sb[160];
    memset(out, 0, sizeof *out);
    snprintf(name, sizeof name, "%s.weight", prefix);
    const i4_tensor *w = i4_tensor_set_get(set, name);
    if (!w) return -1;
    int ok = w->ndim == 4 && w->shape[2] == k && w->shape[3] == k && (expect_out < 0 || w->shape[0] == expect_out) &&
             (expect_in < 0 || w->shape[1] == expect_in);
    if (!ok)
        return i4_error("%s: tensor '%s' has shape %s, expected [%lld, %lld, %d, %d]", w->file, name,
                        i4_shape_str(sb, sizeof sb, w->ndim, w->shape), (long long)expect_out, (long long)expect_in, k, k);
    if (!is_float_dtype(w->dtype))
        return i4_error("%s: tensor '%s' has dtype %s, expected BF16, F16 or F32", w->file, name, i4_dtype_name(w->dtype));
    out->dtype = w->dtype;
    out->w = w->data;
    out->c_out = w->shape[0];
    out->c_in = w->shape[1];
    out->k = k;
    i4_param b;
    snprintf(name, sizeof name, "%s.bias", prefix);
    if (i4_bind_param(set, name, out->c_out, &b) != 0) return -1;
    out->bias = b.data;
    out->bias_dtype = b.dtype;
    return 0;
}

/* ---------------------------------------------------------------- writing */

int i4_tiny_linear_fp8(i4_st_writer *w, i4_rng *r, const char *prefix, int64_t out, int64_t in, double std,
                       double bias_std) {
    char name[512];
    float *row = malloc((size_t)in * sizeof *row);
    uint8_t *codes = malloc((size_t)(out * in));
    float *scales = malloc((size_t)out * sizeof *scales);
    if (!row || !codes || !scales) {
        free(row); free(codes); free(scales);
        return i4_error("out of memory");
    }
    for (int64_t o = 0; o < out; o++) {
        float amax = 0;
        for (int64_t i = 0; i < in; i++) {
            row[i] = (float)(std * i4_rng_normal(r));
            if (fabsf(row[i]) > amax) amax = fabsf(row[i]);
        }
        float s = amax / 448.0f;
        if (s < 1e-12f) s = 1e-12f;
        scales[o] = s;
        for (int64_t i = 0; i < in; i++) codes[o * in + i] = i4_f32_to_fp8_e4m3(row[i] / s);
    }
    int64_t wshape[2] = {out, in}, sshape[1] = {out};
    snprintf(name, sizeof name, "%s.weight", prefix);
    int rc = i4_st_writer_add(w, name, I4_DT_F8_E4M3, 2, wshape, codes);
    snprintf(name, sizeof name, "%s.weight_scale", prefix);
    if (rc == 0) rc = i4_st_writer_add(w, name, I4_DT_F32, 1, sshape, scales);
    free(row); free(codes); free(scales);
    if (rc == 0 && bias_std > 0) {
        snprintf(name, sizeof name, "%s.bias", prefix);
        rc = i4_tiny_bf16(w, r, name, 1, sshape, 0.0, bias_std);
    }
    return rc;
}

int i4_tiny_bf16(i4_st_writer *w, i4_rng *r, const char *name, int ndim, const int64_t *shape, double mean,
                 double std) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    uint16_t *v = malloc(n * sizeof *v + 1);
    if (!v) return i4_error("out of memory");
    for (size_t i = 0; i < n; i++) v[i] = i4_f32_to_bf16((float)(mean + std * i4_rng_normal(r)));
    int rc = i4_st_writer_add(w, name, I4_DT_BF16, ndim, shape, v);
    free(v);
    return rc;
}

int i4_tiny_f32_values(i4_st_writer *w, const char *name, int ndim, const int64_t *shape, const float *values) {
    return i4_st_writer_add(w, name, I4_DT_F32, ndim, shape, values);
}
