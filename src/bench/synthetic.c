/* synthetic.c — temporary full-width snapshots for the benchmarks (see synthetic.h). */
#include "bench/synthetic.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"

static void on_progress(void *user, uint64_t done, uint64_t total) {
    (void)user;
    fprintf(stderr, "\r# writing random weights: %.2f / %.2f GB", (double)done / 1e9, (double)total / 1e9);
    if (done >= total) fputc('\n', stderr);
}

int i4_bench_snapshot_make(i4_bench_snapshot *s, const i4_fullsize_dims *d, unsigned components, int quiet) {
    memset(s, 0, sizeof *s);
    const char *tmp = getenv("TMPDIR");
    snprintf(s->dir, sizeof s->dir, "%s/ideogram4-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(s->dir)) return i4_error("cannot make a temporary folder under %s", tmp && *tmp ? tmp : "/tmp");
    s->made = 1;
    i4_fullsize_options o;
    memset(&o, 0, sizeof o);
    o.seed = 20260608;
    o.components = components;
    if (!quiet) o.progress = on_progress;
    if (i4_make_fullsize_model(s->dir, d, &o, NULL) != 0) {
        i4_bench_snapshot_remove(s);
        return i4_error_prefix("writing the benchmark's random weights");
    }
    return 0;
}

const char *i4_bench_snapshot_component(const i4_bench_snapshot *s, const char *folder, char *buf, size_t size) {
    snprintf(buf, size, "%s/%s", s->dir, folder);
    return buf;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void i4_bench_snapshot_remove(i4_bench_snapshot *s) {
    if (s->made) nftw(s->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    s->made = 0;
}

double i4_bench_dit_block_flops(const i4_tiny_dit_dims_t *d, int64_t tokens) {
    const double D = (double)d->dim, I = (double)d->ffn_dim, A = (double)d->adaln_dim, n = (double)tokens;
    const double linears = 2.0 * n * (4.0 * D * D + 3.0 * D * I) + 2.0 * A * 4.0 * D;
    return linears + 4.0 * n * n * D;
}

double i4_bench_dit_rest_flops(const i4_tiny_dit_dims_t *d, int64_t n_text, int64_t n_image) {
    const double D = (double)d->dim, A = (double)d->adaln_dim, C = (double)d->in_channels,
                 F = (double)d->llm_features, L = (double)(n_text + n_image);
    return 2.0 * (double)n_image * C * D + 2.0 * (2.0 * D * D + D * A) + 2.0 * (double)n_text * F * D +
           2.0 * A * D + 2.0 * L * D * C;
}

double i4_bench_te_layer_flops(const i4_tiny_qwen3_dims_t *d, int64_t n) {
    const double H = (double)d->hidden, qd = (double)(d->n_heads * d->head_dim),
                 kd = (double)(d->n_kv_heads * d->head_dim), F = (double)d->ffn_dim, T = (double)n;
    return 2.0 * T * (H * qd + 2.0 * H * kd + qd * H + 3.0 * H * F) + 2.0 * T * T * qd;
}
