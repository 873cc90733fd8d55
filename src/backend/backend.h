/*
 * backend.h — the compute backend under the three networks and the sampler.
 *
 * A backend owns device memory and runs ops on it. The models never touch
 * activation memory directly: they allocate device buffers (once per shape,
 * in a workspace), upload their inputs, queue ops, and download the result.
 * A forward pass, and a whole sampling step, is a sequence of ops with no
 * host round trip in between; only downloads (and i4_be_sync) wait.
 *
 *   buffers  alloc / free / upload / download; `wrap` binds constant host
 *            data (the mmap'd weights, in their stored dtype) — the CPU
 *            backend uses the host memory in place, a GPU backend copies it
 *            once at load.
 *   views    i4_dv = buffer + byte offset; ops take views plus element
 *            strides, so slices (the q|k|v thirds of a fused Linear, the
 *            image rows of a packed sequence) cost nothing.
 *   weights  i4_dlinear / i4_dconv / i4_dparam: the kernel views of ops.h
 *            with device views instead of host pointers, bound once.
 *   ops      every piece of arithmetic the networks and the sampler do
 *            (below). Activations are f32; `p` selects the precision mode of
 *            ops.h (bf16 mode rounds each op's result as documented there).
 *
 * Errors: ops are queued and report nothing; a failure (out of device
 * memory, device lost) is remembered and returned by the next sync,
 * download or i4_be_status — the CPU backend cannot fail in an op.
 *
 * Thread count and CPU instruction set belong to the backend context
 * (i4_backend_options), not to global state.
 */
#ifndef I4_BACKEND_H
#define I4_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "ideogram4.h"
#include "ops/ops.h"
#include "tensor/dtype.h"

typedef struct i4_backend i4_backend;
typedef struct i4_buf i4_buf;

/* A device view: `off` bytes into `buf`. buf == NULL is "none". */
typedef struct {
    i4_buf *buf;
    size_t off;
} i4_dv;

static inline i4_dv i4_dv_none(void) {
    i4_dv v = {NULL, 0};
    return v;
}
/* The view `elems` f32 elements further on. */
static inline i4_dv i4_dv_f32(i4_dv v, int64_t elems) {
    v.off += (size_t)elems * sizeof(float);
    return v;
}
/* The view `elems` int64 elements further on. */
static inline i4_dv i4_dv_i64(i4_dv v, int64_t elems) {
    v.off += (size_t)elems * sizeof(int64_t);
    return v;
}

/* A Linear bound on a backend (see i4_linear_w in ops.h for the math). */
typedef struct {
    i4_dtype dtype;
    i4_dv w;              /* [out, in], stored bytes */
    i4_dv scale;          /* F8: [out] f32 per-row scales, or [1] when scale_per_tensor */
    int scale_per_tensor;
    i4_dtype bias_dtype;
    i4_dv bias;           /* [out] or none */
    int64_t out, in;
} i4_dlinear;

/* A conv2d weight bound on a backend (see i4_conv_w). */
typedef struct {
    i4_dtype dtype;
    i4_dv w;              /* [c_out, c_in, k, k] */
    i4_dtype bias_dtype;
    i4_dv bias;           /* [c_out] or none */
    int64_t c_out, c_in;
    int k;
} i4_dconv;

/* A parameter vector as stored (norm weights, embeddings). */
typedef struct {
    i4_dtype dtype;
    i4_dv data;
    int64_t n;
} i4_dparam;

typedef enum { I4_ACT_SILU = 0, I4_ACT_TANH = 1 } i4_act_kind;

/* Memory the backend holds for buffers (alloc and wrap), in bytes: now, the
 * most at any time since creation, and what the device offers (its
 * device-local heap, or the driver's budget for this process where
 * VK_EXT_memory_budget says; 0 = not limited by the backend: the CPU). The CPU
 * backend counts its allocations; its wrapped buffers are the caller's host
 * memory (mmap'd weights) and count nothing. */
typedef struct {
    size_t now, peak, capacity;
    char where[96]; /* "host memory" or the device's name */
} i4_be_memory;

/* The backend's function table; use the i4_be_* wrappers below. */
typedef struct {
    const char *name;
    void (*destroy)(i4_backend *be);
    i4_buf *(*alloc)(i4_backend *be, size_t bytes);
    i4_buf *(*wrap)(i4_backend *be, const void *host, size_t bytes);
    void (*release)(i4_backend *be, i4_buf *b);
    int (*upload)(i4_backend *be, i4_dv dst, const void *src, size_t bytes);
    int (*download)(i4_backend *be, void *dst, i4_dv src, size_t bytes);
    int (*sync)(i4_backend *be);
    /* A one-line description: "cpu (avx512, 2 threads)". */
    const char *(*describe)(i4_backend *be);
    /* The kernels in use: the CPU table ("avx512") or the device's name. */
    const char *(*kernels)(i4_backend *be);
    /* CPU threads the backend's ops use. */
    int (*threads)(i4_backend *be);
    /* Bytes held now and at peak, and the capacity (see i4_be_memory). */
    void (*memory)(i4_backend *be, i4_be_memory *m);

    /* ---- ops (see ops.h for the math of the first eight) ---- */
    void (*linear)(i4_backend *be, const i4_dlinear *W, i4_dv x, int64_t x_stride, int64_t n, i4_dv y,
                   int64_t y_stride, i4_precision p);
    void (*rmsnorm)(i4_backend *be, i4_dv y, i4_dv x, int64_t rows, int64_t dim, int64_t stride,
                    const i4_dparam *w, float eps, i4_precision p, i4_rms_rounding r);
    void (*layernorm)(i4_backend *be, i4_dv y, i4_dv x, int64_t rows, int64_t dim, float eps, i4_precision p);
    void (*groupnorm)(i4_backend *be, i4_dv y, i4_dv x, int64_t C, int64_t HW, int64_t groups,
                      const i4_dparam *gamma, const i4_dparam *beta, float eps, i4_precision p);
    void (*act)(i4_backend *be, i4_act_kind kind, i4_dv x, int64_t n, i4_precision p);
    void (*rope)(i4_backend *be, i4_dv x, int64_t n, int n_heads, int head_dim, int64_t stride, i4_dv cos_tab,
                 i4_dv sin_tab, i4_precision p);
    /* seg: int64 [nq] for I4_MASK_SEGMENT, else none */
    void (*attention)(i4_backend *be, i4_dv out, int64_t out_stride, i4_dv q, int64_t q_stride, i4_dv k,
                      int64_t k_stride, i4_dv v, int64_t v_stride, int64_t nq, int64_t nk, int n_heads,
                      int n_kv_heads, int head_dim, float scale, i4_mask_kind mask, i4_dv seg, i4_precision p);
    void (*conv2d)(i4_backend *be, const i4_dconv *W, i4_dv x, int64_t H, int64_t Wd, int pad, i4_dv y,
                   i4_precision p);
    void (*upsample2x)(i4_backend *be, i4_dv y, i4_dv x, int64_t C, int64_t H, int64_t W);

    /* ---- element-wise (bf16 mode rounds each product and sum as written) ---- */
    /* x[i] = rnd(x[i] + y[i]) */
    void (*add)(i4_backend *be, i4_dv x, i4_dv y, int64_t n, i4_precision p);
    /* x[i] = rnd(x[i] * y[i]) */
    void (*mul)(i4_backend *be, i4_dv x, i4_dv y, int64_t n, i4_precision p);
    /* x[i] = rnd(x[i] + c) */
    void (*add_scalar)(i4_backend *be, i4_dv x, int64_t n, float c, i4_precision p);
    /* x[r, i] = rnd(x[r, i] * s[i])  (rows of length dim, contiguous) */
    void (*mul_rows)(i4_backend *be, i4_dv x, i4_dv s, int64_t rows, int64_t dim, i4_precision p);
    /* h[r, i] = rnd(h[r, i] + rnd(g[i] * a[r, i])) */
    void (*gated_add)(i4_backend *be, i4_dv h, i4_dv a, i4_dv g, int64_t rows, int64_t dim, i4_precision p);
    /* h[r, i] = rnd(h[r, i] + table[sel[r], i]); sel int64 [rows] */
    void (*add_rows_indexed)(i4_backend *be, i4_dv h, i4_dv table, i4_dv sel, int64_t rows, int64_t dim,
                             i4_precision p);
    /* dst[r, :] = rnd(src[idx[r], :]) for rows of length ld (rnd only when round_bf16) */
    void (*gather_rows)(i4_backend *be, i4_dv dst, i4_dv src, int64_t ld, i4_dv idx, int64_t n, int round_bf16);
    /* dst[idx[r], :] = src[r * src_stride, :]; src_stride 0 broadcasts one row */
    void (*scatter_rows)(i4_backend *be, i4_dv dst, i4_dv src, int64_t src_stride, int64_t ld, i4_dv idx,
                         int64_t n);
    /* dst[r*drs + c*dcs] = (accumulate ? rnd(dst[..] + src[..]) : src[r*srs + c*scs]), f32 elements */
    void (*copy2d)(i4_backend *be, i4_dv dst, int64_t drs, int64_t dcs, i4_dv src, int64_t srs, int64_t scs,
                   int64_t rows, int64_t cols, int accumulate, i4_precision p);
    void (*fill)(i4_backend *be, i4_dv x, int64_t n, float value);
    /* Token latents [gh*gw, ph*pw*ae] → image latents [ae, gh*ph, gw*pw]:
     * lat = t * scale[c] + shift[c], c = (py*pw + px)*ae + a (scale/shift f32 [ph*pw*ae]) */
    void (*unpack_latents)(i4_backend *be, i4_dv lat, i4_dv tokens, int64_t gh, int64_t gw, int ph, int pw,
                           int64_t ae, i4_dv scale, i4_dv shift);
    /* Guided Euler step: z[e] += (g*vc[e] + (1-g)*vu[e]) * dt, in that f32 order */
    void (*guidance_step)(i4_backend *be, i4_dv z, i4_dv vc, i4_dv vu, int64_t n, float g, float dt);
    /* The `bytes` at v hold nothing needed any more: the backend may give
     * their memory back until they are written again (CPU: the whole pages
     * inside are returned to the OS; a GPU may do nothing). Contents after
     * it are undefined. Keeps a workspace's resident size at what its live
     * buffers need when a large slot is idle between stages. */
    void (*discard)(i4_backend *be, i4_dv v, size_t bytes);

    /* ---- streamed weights (--offload); NULL where weights are host memory
     * already (CPU): i4_weight_set_init_streamed then binds as usual ---- */
    /* An empty group: one buffer whose bytes stay in host memory and are
     * copied into one of a ring of device slots (one group each) when an op
     * uses it, or when prefetch asks first. */
    i4_buf *(*stream_new)(i4_backend *be);
    /* Its contents: parts[i] (bytes[i] of host data) at offs[i], total bytes. */
    int (*stream_fill)(i4_backend *be, i4_buf *group, const void *const *parts, const size_t *offs,
                       const size_t *bytes, size_t n, size_t total);
    /* Queue the group's copy into a slot now (when not there already), so
     * that it overlaps the work queued before its first use. */
    void (*prefetch)(i4_backend *be, i4_buf *group);
} i4_backend_ops;

struct i4_backend {
    const i4_backend_ops *ops;
};

/* ---- creating one ------------------------------------------------------- */

typedef struct {
    const char *name;  /* "auto" | "cpu" | "vulkan"; NULL = $IDEOGRAM4_BACKEND, else auto */
    int threads;       /* CPU threads; <= 0 = online CPUs */
    const char *cpu_isa; /* NULL = $IDEOGRAM4_CPU_ISA, else the best this CPU runs */
    /* Vulkan device: its index in `ideogram4 devices` ("1"); NULL or "" =
     * $IDEOGRAM4_DEVICE, else auto (the best GPU). A string, so that a
     * zero-initialised options struct means auto, not device 0. */
    const char *device;
} i4_backend_options;

/* Create the backend named in opt (auto picks the best available; a named
 * backend that is unavailable is an error saying why). A device index makes
 * auto mean vulkan on that device (CPU Vulkan devices too); with cpu it is an
 * error. */
int i4_backend_create(const i4_backend_options *opt, i4_backend **out);
void i4_backend_destroy(i4_backend *be);
/* Is `name` a backend name this build knows ("auto", "cpu", "vulkan")? */
int i4_backend_name_valid(const char *name);

/* The CPU backend (src/backend/cpu_backend.c). isa NULL = default table. */
int i4_cpu_backend_create(int threads, const char *isa, i4_backend **out);

/* ---- wrappers ------------------------------------------------------------ */

static inline const char *i4_be_name(i4_backend *be) { return be->ops->name; }
static inline const char *i4_be_describe(i4_backend *be) { return be->ops->describe(be); }
static inline const char *i4_be_kernels(i4_backend *be) { return be->ops->kernels(be); }
static inline int i4_be_threads(i4_backend *be) { return be->ops->threads(be); }
static inline void i4_be_memory_get(i4_backend *be, i4_be_memory *m) { be->ops->memory(be, m); }
static inline i4_buf *i4_be_alloc(i4_backend *be, size_t bytes) { return be->ops->alloc(be, bytes); }
static inline i4_buf *i4_be_wrap(i4_backend *be, const void *host, size_t bytes) {
    return be->ops->wrap(be, host, bytes);
}
static inline void i4_be_release(i4_backend *be, i4_buf *b) {
    if (b) be->ops->release(be, b);
}
static inline int i4_be_upload(i4_backend *be, i4_dv dst, const void *src, size_t bytes) {
    return be->ops->upload(be, dst, src, bytes);
}
static inline int i4_be_download(i4_backend *be, void *dst, i4_dv src, size_t bytes) {
    return be->ops->download(be, dst, src, bytes);
}
static inline int i4_be_sync(i4_backend *be) { return be->ops->sync(be); }
static inline i4_dv i4_dv_of(i4_buf *b) {
    i4_dv v = {b, 0};
    return v;
}

/* ---- binding weights (bound once at load; owned by an i4_weight_set) ---- */

/* The buffers a model bound; released together. A streamed set (one
 * transformer layer under --offload) binds into one group of the backend's
 * streamed weights instead: views into it, filled at i4_weight_set_seal. */
typedef struct {
    i4_backend *be;
    i4_buf **bufs;
    size_t n, cap;
    i4_buf *group;          /* streamed: the group; NULL = bound on the device */
    const void **parts;     /* streamed, until sealed: host data, offsets, sizes */
    size_t *offs, *sizes, np, pcap, total;
} i4_weight_set;

void i4_weight_set_init(i4_weight_set *ws, i4_backend *be);
/* A streamed set where the backend streams weights (else a plain one). */
int i4_weight_set_init_streamed(i4_weight_set *ws, i4_backend *be);
/* After the last bind of a streamed set: its bytes go to host memory the
 * device copies from (no-op on a plain set). */
int i4_weight_set_seal(i4_weight_set *ws);
/* Hint: the set's ops come next; a streamed set's copy is queued now. */
void i4_weight_set_prefetch(i4_weight_set *ws);
/* Bytes a streamed set holds (0 for a plain one). */
static inline size_t i4_weight_set_streamed_bytes(const i4_weight_set *ws) { return ws->group ? ws->total : 0; }
void i4_weight_set_release(i4_weight_set *ws);
/* Bind host data (stored bytes) of `bytes`; returns its view, or none with an error set. */
int i4_weight_set_bind(i4_weight_set *ws, const void *host, size_t bytes, i4_dv *out);
int i4_bind_dlinear(i4_weight_set *ws, const i4_linear_w *w, i4_dlinear *out);
int i4_bind_dconv(i4_weight_set *ws, const i4_conv_w *w, i4_dconv *out);
int i4_bind_dparam(i4_weight_set *ws, i4_dtype dtype, const void *data, int64_t n, i4_dparam *out);
/* A row slice [first, first+rows) of a bound Linear (the q|k|v thirds). */
i4_dlinear i4_dlinear_rows(const i4_dlinear *w, int64_t first, int64_t rows);

/* ---- workspace: one device buffer sized once per shape, handed out in slices ---- */

typedef struct {
    i4_backend *be;
    i4_buf *buf;
    size_t size, used;
} i4_workspace;

/* Allocate `bytes` on the backend (error naming `what` when it does not fit). */
int i4_workspace_init(i4_workspace *w, i4_backend *be, size_t bytes, const char *what);
/* A planning workspace: takes only count bytes (w->used is the size to
 * allocate); a model lays its buffers out once to plan, once for real. */
void i4_workspace_plan(i4_workspace *w);
/* The next `bytes` (64-byte aligned); aborts the program on overflow, a
 * sizing bug (callers size the workspace from the same arithmetic). */
i4_dv i4_workspace_take(i4_workspace *w, size_t bytes);
void i4_workspace_free(i4_workspace *w);

/* ---- fitting a model on the device ---- */

/* One part of what a model needs on the device ("transformer weights"). */
typedef struct {
    const char *what;
    size_t bytes;
} i4_mem_need;

/* Do the parts (summed) fit in the backend's capacity next to what it holds
 * already? Else an error naming each part, the total, the capacity and the
 * device, and `hint` (what helps). Backends without a capacity always fit. */
int i4_backend_check_fit(i4_backend *be, const i4_mem_need *parts, int n, const char *hint);

#endif
