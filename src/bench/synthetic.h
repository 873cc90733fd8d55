/*
 * synthetic.h — the real networks on random weights for `ideogram4 bench`:
 * a temporary snapshot folder holding the components asked for, written by
 * the full-size writer (model/fullsize.h) with the dimensions given (usually
 * the real ones with fewer layers), and removed afterwards. The benchmarks
 * then load it with the engine's own loaders and time the engine's own
 * forward passes on the chosen backend — no second copy of the model code.
 */
#ifndef I4_BENCH_SYNTHETIC_H
#define I4_BENCH_SYNTHETIC_H

#include <limits.h>
#include <stdint.h>

#include "model/fullsize.h"

typedef struct {
    char dir[PATH_MAX];
    int made;
} i4_bench_snapshot;

/* Write the I4_FULLSIZE_* components of d into a new folder under $TMPDIR
 * (default /tmp); s->dir names it. Progress on stderr unless quiet. */
int i4_bench_snapshot_make(i4_bench_snapshot *s, const i4_fullsize_dims *d, unsigned components, int quiet);
/* Path of a component folder ("transformer", "text_encoder", "vae"). */
const char *i4_bench_snapshot_component(const i4_bench_snapshot *s, const char *folder, char *buf, size_t size);
/* Delete the folder and everything in it. */
void i4_bench_snapshot_remove(i4_bench_snapshot *s);

/* Flops counted (multiply-adds x 2) by the benchmarks. */
double i4_bench_dit_block_flops(const i4_tiny_dit_dims_t *d, int64_t tokens);
double i4_bench_dit_rest_flops(const i4_tiny_dit_dims_t *d, int64_t n_text, int64_t n_image);
/* One decoder layer of the text encoder over n tokens (causal attention: half the score matrix). */
double i4_bench_te_layer_flops(const i4_tiny_qwen3_dims_t *d, int64_t n);

#endif
