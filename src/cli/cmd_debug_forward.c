/*
 * cmd_debug_forward.c — `ideogram4 debug-forward COMPONENT --model DIR --in IN
 * --out OUT [--precision f32|bf16]`: run one network on tensors from a
 * safetensors file and write its outputs to another, so anyone can compare
 * the engine with the upstream reference on their own inputs. The work is
 * i4_debug_forward (ideogram4.h, src/model/debug_forward.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "ideogram4.h"

int i4_cmd_debug_forward(int argc, char **argv) {
    const char *component = NULL, *model = NULL, *repo = NULL, *in_path = NULL, *out_path = NULL, *backend = NULL, *device = NULL;
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
        else if (!strcmp(a, "--backend") && v) {
            backend = argv[++i];
            if (!i4_backend_name_ok(backend)) {
                fprintf(stderr, "debug-forward: unknown backend '%s' (auto, cpu or vulkan)\n", backend);
                return 2;
            }
        }
        else if (!strcmp(a, "--device") && v) {
            device = argv[++i];
            if (!i4_device_index_ok(device)) {
                fprintf(stderr, "debug-forward: --device needs a device index (see `ideogram4 devices`), got '%s'\n",
                        device);
                return 2;
            }
        }
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
                        "[--precision f32|bf16] [--backend auto|cpu|vulkan] [--device N] [--threads N]\n");
        return 2;
    }
    i4_load_options opt = {.model_dir = model, .repo = repo, .precision = prec, .backend = backend, .threads = threads,
                           .device = device};
    int rc = i4_debug_forward(component, &opt, in_path, out_path);
    if (rc == I4_ERR_INVALID_ARG) {
        fprintf(stderr, "debug-forward: %s\n", i4_last_error());
        return 2;
    }
    if (rc != 0) fprintf(stderr, "debug-forward %s: %s\n", component, i4_last_error());
    return rc == 0 ? 0 : 1;
}
