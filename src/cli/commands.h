/* commands.h — CLI subcommands (one file each) and the per-component
 * debug-forward handlers used by `ideogram4 debug-forward`. */
#ifndef I4_COMMANDS_H
#define I4_COMMANDS_H

#include "ideogram4.h"
#include "tensor/safetensors.h"

int i4_cmd_bench(int argc, char **argv);
int i4_cmd_make_tiny_model(int argc, char **argv);
int i4_cmd_debug_forward(int argc, char **argv);
int i4_cmd_generate(int argc, char **argv);
int i4_cmd_serve(int argc, char **argv);
int i4_cmd_tokenize(int argc, char **argv);
int i4_cmd_verify(int argc, char **argv);

/* Each reads its inputs from `in` (reporting missing/mis-shaped inputs by
 * name and expected shape), runs the component found in component_dir, and
 * adds its outputs to `out`. */
int i4_debug_forward_dit(const char *component_dir, i4_precision p, const i4_tensor_set *in, i4_st_writer *out);
int i4_debug_forward_qwen3(const char *component_dir, i4_precision p, const i4_tensor_set *in, i4_st_writer *out);
int i4_debug_forward_vae(const char *component_dir, i4_precision p, const i4_tensor_set *in, i4_st_writer *out);

/* Look up input `name` in a debug-forward file and check its rank and dims
 * (entries of `shape` that are < 0 match anything; the actual dims are
 * stored back into them). kind: 'f' = float tensor (F32/F16/BF16), 'i' =
 * integer tensor (I64/I32). Records an error naming the input and the
 * expected shape, e.g. "input 'timestep' missing: expected F32 [1]". */
const i4_tensor *i4_debug_input(const i4_tensor_set *in, const char *name, char kind, int ndim, int64_t *shape);

#endif
