/*
 * cpu_backend.c — the CPU backend: device memory is host memory, and the
 * ops are the kernels of src/ops/ from the kernel table chosen for this
 * context (scalar / avx2 / avx512), on this context's thread count.
 *
 * Wrapped weights are used in place (the mmap'd checkpoint bytes); nothing
 * is queued — every op has finished when it returns, so sync never waits.
 * The thread count is set on the calling thread before each op (OpenMP's
 * nthreads is a per-thread setting), so two contexts with different counts
 * used from different threads do not disturb each other.
 */
#include <omp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend/backend.h"
#include "base/error.h"
#include "ops/cpu_isa.h"

struct i4_buf {
    void *host;
    size_t bytes;
    int owned;
};

typedef struct {
    i4_backend base;
    const i4_cpu_kernels *k;
    int threads;
    atomic_size_t mem_now, mem_peak; /* bytes of owned (alloc'd) buffers */
    char desc[64];
} cpu_backend;

static cpu_backend *cpu(i4_backend *be) { return (cpu_backend *)be; }

/* Host address of a view (NULL for none). */
static inline void *at(i4_dv v) { return v.buf ? (char *)v.buf->host + v.off : NULL; }
static inline float *F(i4_dv v) { return at(v); }
static inline const int64_t *I(i4_dv v) { return at(v); }

static const i4_cpu_kernels *enter(i4_backend *be) {
    cpu_backend *c = cpu(be);
    omp_set_num_threads(c->threads);
    return c->k;
}

static void cpu_destroy(i4_backend *be) { free(be); }

static i4_buf *cpu_alloc(i4_backend *be, size_t bytes) {
    i4_buf *b = malloc(sizeof *b);
    /* 64-byte alignment for the vector kernels; never a zero-size request. */
    void *p = NULL;
    if (!b || posix_memalign(&p, 64, bytes ? (bytes + 63) & ~(size_t)63 : 64) != 0) {
        free(b);
        i4_error("out of memory (%.1f MiB)", (double)bytes / (1 << 20));
        return NULL;
    }
    b->host = p;
    b->bytes = bytes;
    b->owned = 1;
    cpu_backend *c = cpu(be);
    size_t now = atomic_fetch_add(&c->mem_now, bytes) + bytes, peak = atomic_load(&c->mem_peak);
    while (now > peak && !atomic_compare_exchange_weak(&c->mem_peak, &peak, now)) {
    }
    return b;
}

static i4_buf *cpu_wrap(i4_backend *be, const void *host, size_t bytes) {
    (void)be;
    i4_buf *b = malloc(sizeof *b);
    if (!b) {
        i4_error("out of memory");
        return NULL;
    }
    b->host = (void *)host; /* read only: ops never write through a wrapped buffer */
    b->bytes = bytes;
    b->owned = 0;
    return b;
}

static void cpu_release(i4_backend *be, i4_buf *b) {
    if (b->owned) {
        free(b->host);
        atomic_fetch_sub(&cpu(be)->mem_now, b->bytes);
    }
    free(b);
}

static void cpu_memory(i4_backend *be, i4_be_memory *m) {
    m->now = atomic_load(&cpu(be)->mem_now);
    m->peak = atomic_load(&cpu(be)->mem_peak);
    m->capacity = 0;
    snprintf(m->where, sizeof m->where, "host memory");
}

static int cpu_upload(i4_backend *be, i4_dv dst, const void *src, size_t bytes) {
    (void)be;
    if (dst.off + bytes > dst.buf->bytes) return i4_error("upload of %zu bytes past the end of a buffer", bytes);
    if (bytes) memcpy(at(dst), src, bytes);
    return 0;
}

static int cpu_download(i4_backend *be, void *dst, i4_dv src, size_t bytes) {
    (void)be;
    if (src.off + bytes > src.buf->bytes) return i4_error("download of %zu bytes past the end of a buffer", bytes);
    if (bytes) memcpy(dst, at(src), bytes);
    return 0;
}

static int cpu_sync(i4_backend *be) {
    (void)be;
    return 0;
}

static const char *cpu_describe(i4_backend *be) {
    cpu_backend *c = cpu(be);
    snprintf(c->desc, sizeof c->desc, "cpu (%s, %d thread%s)", c->k->name, c->threads, c->threads == 1 ? "" : "s");
    return c->desc;
}

static const char *cpu_kernels(i4_backend *be) { return cpu(be)->k->name; }

static int cpu_threads(i4_backend *be) { return cpu(be)->threads; }

/* ---- ops */

static i4_linear_w host_linear(const i4_dlinear *W) {
    i4_linear_w w = {W->dtype, at(W->w), F(W->scale), W->scale_per_tensor, W->bias_dtype, at(W->bias), W->out, W->in};
    return w;
}

static void cpu_linear(i4_backend *be, const i4_dlinear *W, i4_dv x, int64_t xs, int64_t n, i4_dv y, int64_t ys,
                       i4_precision p) {
    const i4_cpu_kernels *k = enter(be);
    i4_linear_w w = host_linear(W);
    k->linear(&w, F(x), xs, n, F(y), ys, p);
}

static void cpu_rmsnorm(i4_backend *be, i4_dv y, i4_dv x, int64_t rows, int64_t dim, int64_t stride,
                        const i4_dparam *w, float eps, i4_precision p, i4_rms_rounding r) {
    const i4_cpu_kernels *k = enter(be);
    i4_rmsnorm_k(k, F(y), F(x), rows, dim, stride, w ? w->dtype : I4_DT_F32, w ? at(w->data) : NULL, eps, p, r);
}

static void cpu_layernorm(i4_backend *be, i4_dv y, i4_dv x, int64_t rows, int64_t dim, float eps, i4_precision p) {
    const i4_cpu_kernels *k = enter(be);
    i4_layernorm_noaffine_k(k, F(y), F(x), rows, dim, eps, p);
}

static void cpu_groupnorm(i4_backend *be, i4_dv y, i4_dv x, int64_t C, int64_t HW, int64_t groups,
                          const i4_dparam *gamma, const i4_dparam *beta, float eps, i4_precision p) {
    const i4_cpu_kernels *k = enter(be);
    /* gamma and beta share one dtype (checked when bound) */
    i4_dtype dt = gamma ? gamma->dtype : beta ? beta->dtype : I4_DT_F32;
    i4_groupnorm_k(k, F(y), F(x), C, HW, groups, dt, gamma ? at(gamma->data) : NULL, beta ? at(beta->data) : NULL,
                   eps, p);
}

static void cpu_act(i4_backend *be, i4_act_kind kind, i4_dv x, int64_t n, i4_precision p) {
    enter(be);
    if (kind == I4_ACT_SILU) i4_silu(F(x), n, p);
    else i4_tanh(F(x), n, p);
}

static void cpu_rope(i4_backend *be, i4_dv x, int64_t n, int n_heads, int head_dim, int64_t stride, i4_dv cos_tab,
                     i4_dv sin_tab, i4_precision p) {
    enter(be);
    i4_rope_apply(F(x), n, n_heads, head_dim, stride, F(cos_tab), F(sin_tab), p);
}

static void cpu_attention(i4_backend *be, i4_dv out, int64_t os, i4_dv q, int64_t qs, i4_dv k_, int64_t ks, i4_dv v,
                          int64_t vs, int64_t nq, int64_t nk, int n_heads, int n_kv_heads, int head_dim, float scale,
                          i4_mask_kind mask, i4_dv seg, i4_precision p) {
    const i4_cpu_kernels *k = enter(be);
    k->attention(F(out), os, F(q), qs, F(k_), ks, F(v), vs, nq, nk, n_heads, n_kv_heads, head_dim, scale, mask, I(seg),
                 p);
}

static void cpu_conv2d(i4_backend *be, const i4_dconv *W, i4_dv x, int64_t H, int64_t Wd, int pad, i4_dv y,
                       i4_precision p) {
    const i4_cpu_kernels *k = enter(be);
    i4_conv_w w = {W->dtype, at(W->w), W->bias_dtype, at(W->bias), W->c_out, W->c_in, W->k};
    k->conv2d(&w, F(x), H, Wd, pad, F(y), p);
}

static void cpu_upsample2x(i4_backend *be, i4_dv y, i4_dv x, int64_t C, int64_t H, int64_t W) {
    enter(be);
    i4_upsample_nearest2x(F(y), F(x), C, H, W);
}

static void cpu_add(i4_backend *be, i4_dv x, i4_dv y, int64_t n, i4_precision p) {
    enter(be);
    i4_ew_add(F(x), F(y), n, p);
}

static void cpu_mul(i4_backend *be, i4_dv x, i4_dv y, int64_t n, i4_precision p) {
    enter(be);
    i4_ew_mul(F(x), F(y), n, p);
}

static void cpu_add_scalar(i4_backend *be, i4_dv x, int64_t n, float c, i4_precision p) {
    enter(be);
    i4_ew_add_scalar(F(x), n, c, p);
}

static void cpu_mul_rows(i4_backend *be, i4_dv x, i4_dv s, int64_t rows, int64_t dim, i4_precision p) {
    enter(be);
    i4_ew_mul_rows(F(x), F(s), rows, dim, p);
}

static void cpu_gated_add(i4_backend *be, i4_dv h, i4_dv a, i4_dv g, int64_t rows, int64_t dim, i4_precision p) {
    enter(be);
    i4_ew_gated_add(F(h), F(a), F(g), rows, dim, p);
}

static void cpu_add_rows_indexed(i4_backend *be, i4_dv h, i4_dv table, i4_dv sel, int64_t rows, int64_t dim,
                                 i4_precision p) {
    enter(be);
    i4_ew_add_rows_indexed(F(h), F(table), I(sel), rows, dim, p);
}

static void cpu_gather_rows(i4_backend *be, i4_dv dst, i4_dv src, int64_t ld, i4_dv idx, int64_t n, int round_bf16) {
    enter(be);
    i4_gather_rows(F(dst), F(src), ld, I(idx), n, round_bf16);
}

static void cpu_scatter_rows(i4_backend *be, i4_dv dst, i4_dv src, int64_t src_stride, int64_t ld, i4_dv idx,
                             int64_t n) {
    enter(be);
    i4_scatter_rows(F(dst), F(src), src_stride, ld, I(idx), n);
}

static void cpu_copy2d(i4_backend *be, i4_dv dst, int64_t drs, int64_t dcs, i4_dv src, int64_t srs, int64_t scs,
                       int64_t rows, int64_t cols, int accumulate, i4_precision p) {
    enter(be);
    i4_copy2d(F(dst), drs, dcs, F(src), srs, scs, rows, cols, accumulate, p);
}

static void cpu_fill(i4_backend *be, i4_dv x, int64_t n, float value) {
    enter(be);
    i4_fill(F(x), n, value);
}

static void cpu_unpack_latents(i4_backend *be, i4_dv lat, i4_dv tokens, int64_t gh, int64_t gw, int ph, int pw,
                               int64_t ae, i4_dv scale, i4_dv shift) {
    enter(be);
    i4_unpack_latents(F(lat), F(tokens), gh, gw, ph, pw, ae, F(scale), F(shift));
}

static void cpu_guidance_step(i4_backend *be, i4_dv z, i4_dv vc, i4_dv vu, int64_t n, float g, float dt) {
    enter(be);
    i4_guidance_step(F(z), F(vc), F(vu), n, g, dt);
}

static void cpu_discard(i4_backend *be, i4_dv v, size_t bytes) {
    (void)be;
    if (!v.buf || !v.buf->owned || v.off >= v.buf->bytes) return;
    if (bytes > v.buf->bytes - v.off) bytes = v.buf->bytes - v.off;
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)at(v) + page - 1) & ~(page - 1), hi = ((uintptr_t)at(v) + bytes) & ~(page - 1);
    /* whole pages only; anonymous private memory reads back as zeros */
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

static const i4_backend_ops cpu_ops = {
    .name = "cpu",
    .destroy = cpu_destroy,
    .alloc = cpu_alloc,
    .wrap = cpu_wrap,
    .release = cpu_release,
    .upload = cpu_upload,
    .download = cpu_download,
    .sync = cpu_sync,
    .describe = cpu_describe,
    .memory = cpu_memory,
    .kernels = cpu_kernels,
    .threads = cpu_threads,
    .linear = cpu_linear,
    .rmsnorm = cpu_rmsnorm,
    .layernorm = cpu_layernorm,
    .groupnorm = cpu_groupnorm,
    .act = cpu_act,
    .rope = cpu_rope,
    .attention = cpu_attention,
    .conv2d = cpu_conv2d,
    .upsample2x = cpu_upsample2x,
    .add = cpu_add,
    .mul = cpu_mul,
    .add_scalar = cpu_add_scalar,
    .mul_rows = cpu_mul_rows,
    .gated_add = cpu_gated_add,
    .add_rows_indexed = cpu_add_rows_indexed,
    .gather_rows = cpu_gather_rows,
    .scatter_rows = cpu_scatter_rows,
    .copy2d = cpu_copy2d,
    .fill = cpu_fill,
    .unpack_latents = cpu_unpack_latents,
    .guidance_step = cpu_guidance_step,
    .discard = cpu_discard,
};

int i4_cpu_backend_create(int threads, const char *isa, i4_backend **out) {
    *out = NULL;
    const i4_cpu_kernels *k = i4_cpu_kernels_default();
    if (isa && *isa) {
        int id = i4_cpu_isa_parse(isa);
        if (id < 0) return i4_error("unknown CPU instruction set '%s' (scalar, avx2 or avx512)", isa);
        k = i4_cpu_kernels_for((i4_cpu_isa)id);
        if (!k) return i4_error("this CPU cannot run the %s kernels", isa);
    }
    if (threads <= 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cpus > 0 ? (int)cpus : 1;
    }
    cpu_backend *c = calloc(1, sizeof *c);
    if (!c) return i4_error("out of memory");
    c->base.ops = &cpu_ops;
    c->k = k;
    c->threads = threads;
    atomic_init(&c->mem_now, 0);
    atomic_init(&c->mem_peak, 0);
    *out = &c->base;
    return 0;
}
