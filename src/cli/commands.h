/* commands.h — CLI subcommands (one file each) and the per-component
 * debug-forward handlers used by `ideogram4 debug-forward`. */
#ifndef I4_COMMANDS_H
#define I4_COMMANDS_H

#include "ideogram4.h"
#include "tensor/safetensors.h"

int i4_cmd_make_tiny_model(int argc, char **argv);
int i4_cmd_debug_forward(int argc, char **argv);

/* Each reads its inputs from `in` (reporting missing/mis-shaped inputs by
 * name and expected shape), runs the component found in component_dir, and
 * adds its outputs to `out`. */
int i4_debug_forward_dit(const char *component_dir, i4_precision p, const i4_tensor_set *in, i4_st_writer *out);
int i4_debug_forward_qwen3(const char *component_dir, i4_precision p, const i4_tensor_set *in, i4_st_writer *out);
int i4_debug_forward_vae(const char *component_dir, i4_precision p, const i4_tensor_set *in, i4_st_writer *out);

#endif
