/*
 * debug_forward.c — i4_debug_forward (ideogram4.h): run one network of a
 * snapshot on tensors from a safetensors file and write its outputs to
 * another. The handlers per network are debug_dit.c, debug_qwen3.c and
 * debug_vae.c; this file holds the component table and the input checks
 * they share.
 */
#include "model/debug_forward.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"

static const char *expected(char *buf, size_t size, char kind, int ndim, const int64_t *shape) {
    size_t used = (size_t)snprintf(buf, size, "%s [", kind == 'i' ? "I64" : "F32");
    for (int d = 0; d < ndim && used < size; d++) {
        if (shape[d] < 0) used += (size_t)snprintf(buf + used, size - used, "%s?", d ? ", " : "");
        else used += (size_t)snprintf(buf + used, size - used, "%s%lld", d ? ", " : "", (long long)shape[d]);
    }
    if (used < size) snprintf(buf + used, size - used, "]");
    return buf;
}

const i4_tensor *i4_debug_input(const i4_tensor_set *in, const char *name, char kind, int ndim, int64_t *shape) {
    char want[160], got[160];
    const i4_tensor *t = i4_tensor_set_find(in, name);
    if (!t) {
        i4_error("input '%s' missing: expected %s", name, expected(want, sizeof want, kind, ndim, shape));
        return NULL;
    }
    int type_ok = kind == 'i' ? (t->dtype == I4_DT_I64 || t->dtype == I4_DT_I32)
                              : (t->dtype == I4_DT_F32 || t->dtype == I4_DT_F16 || t->dtype == I4_DT_BF16);
    int shape_ok = t->ndim == ndim;
    for (int d = 0; shape_ok && d < ndim; d++) shape_ok = shape[d] < 0 || shape[d] == t->shape[d];
    if (!type_ok || !shape_ok) {
        i4_error("input '%s' is %s %s, expected %s", name, i4_dtype_name(t->dtype),
                 i4_shape_str(got, sizeof got, t->ndim, t->shape), expected(want, sizeof want, kind, ndim, shape));
        return NULL;
    }
    for (int d = 0; d < ndim; d++) shape[d] = t->shape[d];
    return t;
}

typedef int (*handler_fn)(const char *, i4_precision, i4_backend *, const i4_tensor_set *, i4_st_writer *);

static const struct {
    const char *component;
    const char *folder;
    handler_fn fn;
} components[] = {
    {"transformer", "transformer", i4_debug_forward_dit},
    {"unconditional-transformer", "unconditional_transformer", i4_debug_forward_dit},
    {"text-encoder", "text_encoder", i4_debug_forward_qwen3},
    {"vae-decoder", "vae", i4_debug_forward_vae},
};

int i4_debug_forward(const char *component, const i4_load_options *opt, const char *in_path, const char *out_path) {
    size_t which = sizeof components / sizeof components[0];
    for (size_t i = 0; i < sizeof components / sizeof components[0]; i++)
        if (!strcmp(component, components[i].component)) which = i;
    if (which == sizeof components / sizeof components[0]) {
        i4_error("unknown component '%s' (transformer, unconditional-transformer, text-encoder, vae-decoder)",
                 component);
        return I4_ERR_INVALID_ARG;
    }
    char snapshot[PATH_MAX], dir[PATH_MAX + 64];
    if (i4_resolve_snapshot(opt->model_dir, opt->repo, snapshot, sizeof snapshot) != 0) return -1;
    snprintf(dir, sizeof dir, "%s/%s", snapshot, components[which].folder);
    i4_backend_options bo = {.name = opt->backend, .threads = opt->threads, .cpu_isa = NULL, .device = opt->device};
    i4_backend *be = NULL;
    if (i4_backend_create(&bo, &be) != 0) return -1;
    i4_tensor_set *in = NULL;
    if (i4_tensor_set_open(&in, in_path) != 0) {
        i4_backend_destroy(be);
        return -1;
    }
    i4_st_writer *out = i4_st_writer_new();
    int rc = out ? components[which].fn(dir, opt->precision, be, in, out) : i4_error("out of memory");
    if (rc == 0) rc = i4_st_writer_save(out, out_path);
    i4_st_writer_free(out);
    i4_tensor_set_close(in);
    i4_backend_destroy(be);
    return rc == 0 ? 0 : -1;
}

