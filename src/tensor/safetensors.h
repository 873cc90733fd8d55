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

/* ---- Streaming writing (checkpoints too large to hold in memory) ---- */

/* Writes bytes [offset, offset + n) of a tensor's data into dst; 0, or -1
 * with an i4_error message. Called in increasing offset order, n at most a
 * few MiB. */
typedef int (*i4_st_fill_fn)(const void *ctx, uint8_t *dst, uint64_t offset, size_t n);
typedef struct {
    const char *name;
    i4_dtype dtype;
    int ndim;
    int64_t shape[I4_MAX_DIMS];
    i4_st_fill_fn fill;
    const void *ctx;
} i4_st_source;
/* Called after each chunk with the bytes written so far by this save
 * (headers included). */
typedef void (*i4_st_progress_fn)(void *user, uint64_t bytes_done);

/* Write the tensors src[0..n) (any order; written in name order, each
 * produced chunk by chunk: one chunk buffer in memory) as
 * dir/<stem>.safetensors when shard_bytes is 0, else as shards of at most
 * shard_bytes data plus the index, exactly as i4_st_writer_save_sharded
 * names them. The bytes equal those of i4_st_writer_save /
 * i4_st_writer_save_sharded for the same tensors (without metadata). Each
 * file is written whole or not at all; a full disk reads
 * "<path>: disk full (no space left on device)". */
int i4_st_stream_save(const i4_st_source *src, size_t n, const char *dir, const char *stem, uint64_t shard_bytes,
                      i4_st_progress_fn progress, void *user);
/* The files i4_st_stream_save would write with the same arguments, without
 * writing anything: each(user, file name, file bytes with the header,
 * its tensors in name order, count) per safetensors file (the index of a
 * sharded save is not reported). */
typedef void (*i4_st_file_fn)(void *user, const char *file, uint64_t bytes, const i4_st_source *const *tensors,
                              size_t n);
int i4_st_stream_describe(const i4_st_source *src, size_t n, const char *stem, uint64_t shard_bytes,
                          i4_st_file_fn each, void *user);

#endif
