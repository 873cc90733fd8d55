/*
 * safetensors.h — memory-mapped safetensors reading (single files and sharded
 * checkpoints through *.safetensors.index.json) and writing.
 *
 * File format: u64 little-endian header length N, N bytes of JSON mapping
 * tensor name -> {dtype, shape, data_offsets:[begin,end]} (+ optional
 * "__metadata__" string map), then the data; tensor bytes are at 8+N+begin.
 * The header is untrusted: every inconsistency is an error naming the file and
 * the tensor, never a crash.
 */
#ifndef I4_SAFETENSORS_H
#define I4_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "tensor/dtype.h"

#define I4_MAX_DIMS 8

typedef struct {
    const char *name;          /* owned by the file/set it came from */
    i4_dtype dtype;
    int ndim;                  /* 0 for a scalar */
    int64_t shape[I4_MAX_DIMS];
    int64_t numel;             /* product of shape (1 for a scalar) */
    const void *data;          /* read-only, mmap'd (may be unaligned for its dtype) */
    size_t nbytes;
    const char *file;          /* path of the file holding it */
} i4_tensor;

/* ---- Reading: a set of tensors from one file or from an index + shards ---- */
typedef struct i4_tensor_set i4_tensor_set;

/* Open one .safetensors file. */
int i4_tensor_set_open_file(i4_tensor_set **out, const char *path);
/* Open a component: dir/<stem>.safetensors if it exists, else
 * dir/<stem>.safetensors.index.json with its shards. */
int i4_tensor_set_open_component(i4_tensor_set **out, const char *dir, const char *stem);
/* Open a path that is either a .safetensors file or an .index.json file. */
int i4_tensor_set_open(i4_tensor_set **out, const char *path);
void i4_tensor_set_close(i4_tensor_set *set);

size_t i4_tensor_set_count(const i4_tensor_set *set);
const i4_tensor *i4_tensor_set_at(const i4_tensor_set *set, size_t i);
/* NULL when absent (no error recorded). */
const i4_tensor *i4_tensor_set_find(const i4_tensor_set *set, const char *name);
/* Like find, but records "tensor NAME not found in <files>" when absent. */
const i4_tensor *i4_tensor_set_get(const i4_tensor_set *set, const char *name);
/* Value of a "__metadata__" key of the (first) file, or NULL. */
const char *i4_tensor_set_metadata(const i4_tensor_set *set, const char *key);
/* Human-readable description of where the set came from (file or index path). */
const char *i4_tensor_set_origin(const i4_tensor_set *set);

/* Check a tensor's dtype and shape; ndim < 0 skips the shape check. On
 * mismatch records "FILE: tensor NAME has dtype/shape X, expected Y". */
int i4_tensor_expect(const i4_tensor *t, i4_dtype dtype, int ndim, const int64_t *shape);
/* Format a shape as "[a, b, c]" into buf. */
const char *i4_shape_str(char *buf, size_t size, int ndim, const int64_t *shape);

/* Copy a tensor's elements to f32 / i64 arrays (numel entries; any numeric
 * dtype, integer <-> float conversions as in C). */
void i4_tensor_to_f32(const i4_tensor *t, float *dst);
void i4_tensor_to_i64(const i4_tensor *t, int64_t *dst);

/* ---- Writing ---- */
typedef struct i4_st_writer i4_st_writer;

i4_st_writer *i4_st_writer_new(void);
/* Adds a tensor (data copied). Names must be unique. */
int i4_st_writer_add(i4_st_writer *w, const char *name, i4_dtype dtype, int ndim,
                     const int64_t *shape, const void *data);
/* Convenience: an F32 tensor from floats. */
int i4_st_writer_add_f32(i4_st_writer *w, const char *name, int ndim, const int64_t *shape,
                         const float *data);
int i4_st_writer_set_metadata(i4_st_writer *w, const char *key, const char *value);
/* Total data bytes so far (to decide sharding). */
size_t i4_st_writer_data_bytes(const i4_st_writer *w);
/* Writes tensors sorted by name (deterministic bytes), whole or not at all
 * (i4_write_file_atomic). */
int i4_st_writer_save(const i4_st_writer *w, const char *path);
void i4_st_writer_free(i4_st_writer *w);

/* Split the writer's tensors (in name order) into shards of at most
 * shard_bytes data each, written as dir/<stem>-0000K-of-0000M.safetensors,
 * plus dir/<stem>.safetensors.index.json ({"metadata":{"total_size":..},
 * "weight_map":{name: shard}}). */
int i4_st_writer_save_sharded(const i4_st_writer *w, const char *dir, const char *stem,
                              size_t shard_bytes);

#endif
