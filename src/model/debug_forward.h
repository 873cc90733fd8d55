/*
 * debug_forward.h — the per-network handlers behind i4_debug_forward
 * (ideogram4.h): each reads its inputs from a safetensors set, runs one
 * network of the snapshot and adds its outputs to a writer, so the engine
 * can be compared with the upstream reference on any inputs.
 */
#ifndef I4_DEBUG_FORWARD_H
#define I4_DEBUG_FORWARD_H

#include "backend/backend.h"
#include "ideogram4.h"
#include "tensor/safetensors.h"

/* Each reads its inputs from `in` (reporting missing or mis-shaped inputs by
 * name and expected shape), runs the network found in component_dir, and
 * adds its outputs to `out`. */
int i4_debug_forward_dit(const char *component_dir, i4_precision p, i4_backend *be, const i4_tensor_set *in,
                            i4_st_writer *out);
int i4_debug_forward_qwen3(const char *component_dir, i4_precision p, i4_backend *be, const i4_tensor_set *in,
                            i4_st_writer *out);
int i4_debug_forward_vae(const char *component_dir, i4_precision p, i4_backend *be, const i4_tensor_set *in,
                            i4_st_writer *out);

/* Look up input `name` and check its rank and dims (entries of `shape` that
 * are < 0 match anything; the actual dims are stored back into them). kind:
 * 'f' = float tensor (F32/F16/BF16), 'i' = integer tensor (I64/I32). Records
 * an error naming the input and the expected shape, e.g. "input 'timestep'
 * missing: expected F32 [1]". */
const i4_tensor *i4_debug_input(const i4_tensor_set *in, const char *name, char kind, int ndim, int64_t *shape);

#endif
