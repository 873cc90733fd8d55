/*
 * cmd_debug_forward.c — `ideogram4 debug-forward COMPONENT --model DIR --in IN
 * --out OUT [--precision f32|bf16]`: run one network on tensors from a
 * safetensors file and write its outputs to another, so anyone can compare
 * the engine with the upstream reference on their own inputs.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "cli/commands.h"
#include "ideogram4.h"

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

typedef int (*handler_fn)(const char *, i4_precision, const i4_tensor_set *, i4_st_writer *);

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

int i4_cmd_debug_forward(int argc, char **argv) {
    const char *component = NULL, *model = NULL, *repo = NULL, *in_path = NULL, *out_path = NULL;
    i4_precision prec = I4_PRECISION_F32;
    int threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--model") && v) model = argv[++i];
        else if (!strcmp(a, "--repo") && v) repo = argv[++i];
        else if (!strcmp(a, "--in") && v) in_path = argv[++i];
        else if (!strcmp(a, "--out") && v) out_path = argv[++i];
        else if (!strcmp(a, "--threads") && v) threads = atoi(argv[++i]);
        else if (!strcmp(a, "--precision") && v) {
            if (i4_precision_parse(argv[++i], &prec) != 0) {
                fprintf(stderr, "debug-forward: %s\n", i4_last_error());
                return 2;
            }
        } else if (a[0] != '-' && !component) component = a;
        else {
            fprintf(stderr, "debug-forward: unknown or incomplete option '%s'\n", a);
            return 2;
        }
    }
    if (!component || !in_path || !out_path) {
        fprintf(stderr, "usage: ideogram4 debug-forward COMPONENT --model DIR --in IN.safetensors --out OUT.safetensors "
                        "[--precision f32|bf16]\n");
        return 2;
    }
    size_t which = sizeof components / sizeof components[0];
    for (size_t i = 0; i < sizeof components / sizeof components[0]; i++)
        if (!strcmp(component, components[i].component)) which = i;
    if (which == sizeof components / sizeof components[0]) {
        fprintf(stderr, "debug-forward: unknown component '%s' (transformer, unconditional-transformer, "
                        "text-encoder, vae-decoder)\n", component);
        return 2;
    }
    i4_set_threads(threads);
    char snapshot[PATH_MAX], dir[PATH_MAX + 64];
    if (i4_resolve_snapshot(model, repo, snapshot, sizeof snapshot) != 0) {
        fprintf(stderr, "debug-forward: %s\n", i4_last_error());
        return 1;
    }
    snprintf(dir, sizeof dir, "%s/%s", snapshot, components[which].folder);
    i4_tensor_set *in = NULL;
    if (i4_tensor_set_open(&in, in_path) != 0) {
        fprintf(stderr, "debug-forward: %s\n", i4_last_error());
        return 1;
    }
    i4_st_writer *out = i4_st_writer_new();
    int rc = components[which].fn(dir, prec, in, out);
    if (rc == 0) rc = i4_st_writer_save(out, out_path);
    if (rc != 0) fprintf(stderr, "debug-forward %s: %s\n", component, i4_last_error());
    i4_st_writer_free(out);
    i4_tensor_set_close(in);
    return rc == 0 ? 0 : 1;
}
