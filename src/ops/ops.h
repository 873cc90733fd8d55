/*
 * ops.h — CPU kernels shared by the three networks.
 *
 * Activations are float32, row-major. Weights stay in their stored dtype and
 * are decoded tile by tile inside the kernels (never a dequantized copy of a
 * whole layer). Every kernel is multi-threaded with OpenMP (the one thread
 * pool; size set by i4_set_threads).
 *
 * Precision (i4_precision from ideogram4.h):
 *   I4_PRECISION_F32  — exact weight decode (e4m3 * scale in f32, bf16/f16
 *                       widened), everything in f32, no rounding.
 *   I4_PRECISION_BF16 — the reference arithmetic of docs/MODEL.md §2.3/§3.8:
 *                       effective weights rounded to bf16, f32 accumulation,
 *                       one bf16 rounding of each op's output where stated
 *                       below. Inputs are assumed already bf16-valued (the
 *                       caller rounds model inputs once).
 */
#ifndef I4_OPS_H
#define I4_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "ideogram4.h"
#include "tensor/dtype.h"

/* ---- Linear -------------------------------------------------------------
 * y[n, o] = sum_i x[n, i] * W[o, i] + b[o]
 * Weight dtypes: F8_E4M3 (with per-row f32 scale, or a single scalar scale),
 * BF16, F16, F32. Bias dtypes: BF16, F16, F32 (or none).
 * Effective weight:
 *   F8, f32 mode : e4m3(code) * scale[o]                       (f32)
 *   F8, bf16 mode: bf16( e4m3(code) * bf16(scale[o]) )          (docs/MODEL.md §2.3)
 *   BF16/F16/F32 : widened; bf16 mode rounds F32/F16 weights to bf16
 * Output: f32 mode y = acc + b; bf16 mode y = bf16(acc + bf16(b)).
 */
typedef struct {
    i4_dtype dtype;         /* of w */
    const void *w;          /* [out, in], row-major, stored bytes */
    const float *scale;     /* F8 only: [out] per-row scales, or [1] when scale_per_tensor */
    int scale_per_tensor;   /* 1 when scale is a 0-d / single value */
    i4_dtype bias_dtype;    /* of bias */
    const void *bias;       /* [out] or NULL */
    int64_t out, in;
} i4_linear_w;

/* x: [n, in] with row stride x_stride (elements); y: [n, out] with row stride y_stride. */
void i4_linear(const i4_linear_w *W, const float *x, int64_t x_stride, int64_t n, float *y,
               int64_t y_stride, i4_precision p);

/* ---- Norms ----------------------------------------------------------------
 * RMSNorm over the last dim: r = 1/sqrt(mean(x^2) + eps), y = w * (x * r).
 * w may be NULL (treated as 1). Rounding in bf16 mode:
 *   I4_RMS_ROUND_ONCE: y = bf16( w * (x*r) )            (DiT, docs/MODEL.md §3.5.3 (a))
 *   I4_RMS_ROUND_TWICE: y = bf16( w * bf16(x*r) )       (Qwen, docs/MODEL.md §5.3 step 4)
 * The weight is given as stored (dtype wt); in bf16 mode it is rounded to bf16.
 * Rows: rows vectors of length dim, row stride `stride`; in place allowed (y == x). */
typedef enum { I4_RMS_ROUND_ONCE = 0, I4_RMS_ROUND_TWICE = 1 } i4_rms_rounding;
void i4_rmsnorm(float *y, const float *x, int64_t rows, int64_t dim, int64_t stride, i4_dtype wt,
                const void *w, float eps, i4_precision p, i4_rms_rounding r);

/* LayerNorm without affine over the last dim (biased variance, stats in f32):
 * y = (x - mean) / sqrt(var + eps); bf16 mode rounds y. In place allowed. */
void i4_layernorm_noaffine(float *y, const float *x, int64_t rows, int64_t dim, float eps,
                           i4_precision p);

/* GroupNorm on one image x[C, HW] (NCHW, batch 1), `groups` groups of C/groups
 * consecutive channels; mean and biased variance per group in f32;
 * y = (x - mu)/sqrt(var + eps) * gamma[c] + beta[c]; gamma/beta as stored
 * (dtype gt); bf16 mode rounds gamma/beta and y. In place allowed. */
void i4_groupnorm(float *y, const float *x, int64_t C, int64_t HW, int64_t groups, i4_dtype gt,
                  const void *gamma, const void *beta, float eps, i4_precision p);

/* ---- Element-wise (in place; bf16 mode rounds each result) ---- */
void i4_silu(float *x, int64_t n, i4_precision p);
void i4_tanh(float *x, int64_t n, i4_precision p);

/* ---- Rotary embeddings ----------------------------------------------------
 * Tables cos/sin [n, head_dim] in f32, laid out [theta, theta] over the two
 * halves (rotate-half convention). In bf16 mode the tables are rounded to bf16.
 *
 * 1-D (Qwen text): theta[n, j] = f32(inv_freq[j] * f32(pos[n])),
 *   inv_freq[j] = f32(1 / f32(base^(2j/head_dim))), j < head_dim/2.
 * 3-axis interleaved MRoPE (DiT, docs/MODEL.md §3.6): pos [n, 3] (t, h, w); slot j
 *   uses axis 1 if j%3==1 && j < 3*sections[1], axis 2 if j%3==2 && j < 3*sections[2],
 *   else axis 0. */
void i4_rope_table_1d(float *cos_out, float *sin_out, const int64_t *pos, int64_t n,
                      int head_dim, double base, i4_precision p);
void i4_rope_table_mrope(float *cos_out, float *sin_out, const int64_t *pos3, int64_t n,
                         int head_dim, double base, const int sections[3], i4_precision p);

/* Apply rotary embedding in place to x [n, n_heads, head_dim] (row stride
 * `stride` elements between tokens, heads contiguous inside a row):
 *   out[d] = x[d]*cos[d] + rot(x)[d]*sin[d], rot(x)[d] = -x[d+half] (d<half), x[d-half] (d>=half)
 * bf16 mode: out = bf16( bf16(x*cos) + bf16(rot*sin) ). */
void i4_rope_apply(float *x, int64_t n, int n_heads, int head_dim, int64_t stride,
                   const float *cos_tab, const float *sin_tab, i4_precision p);

/* ---- Attention --------------------------------------------------------------
 * out[i, h, :] = sum_j softmax_j( q[i,h,:]·k[j,hk,:] * scale + bias(i,j) ) v[j,hk,:]
 * hk = h / (n_heads / n_kv_heads) (grouped-query attention).
 * Layouts: q [nq, n_heads*head_dim] with row stride q_stride; k, v
 * [nk, n_kv_heads*head_dim] with row strides k_stride, v_stride; out
 * [nq, n_heads*head_dim] with row stride out_stride (head-major concat).
 * Masks: I4_MASK_NONE; I4_MASK_CAUSAL (j <= i, requires nq == nk);
 * I4_MASK_SEGMENT (allowed iff seg[i] == seg[j], seg has nq == nk entries).
 * A row with no allowed key gives zeros. Softmax in f32 with max subtraction.
 * bf16 mode (flash-attention rounding of torch's SDPA): the unnormalised
 * e = exp(s - max) is rounded to bf16 for P·V, the row sum stays f32,
 * out = bf16(acc / sum). */
typedef enum { I4_MASK_NONE = 0, I4_MASK_CAUSAL = 1, I4_MASK_SEGMENT = 2 } i4_mask_kind;
void i4_attention(float *out, int64_t out_stride, const float *q, int64_t q_stride,
                  const float *k, int64_t k_stride, const float *v, int64_t v_stride,
                  int64_t nq, int64_t nk, int n_heads, int n_kv_heads, int head_dim, float scale,
                  i4_mask_kind mask, const int64_t *seg, i4_precision p);

/* ---- Convolution (NCHW, batch 1) ------------------------------------------
 * y[co, oy, ox] = b[co] + sum_{ci,ky,kx} w[co, ci, ky, kx] * x[ci, oy+ky-pad, ox+kx-pad]
 * stride 1, zero padding `pad`, square kernel k (1 or 3), output H x W same as
 * input when pad = (k-1)/2. Weight dtypes BF16/F16/F32 (rounded to bf16 in
 * bf16 mode); bias as stored; bf16 mode rounds y. */
typedef struct {
    i4_dtype dtype;     /* of w */
    const void *w;      /* [c_out, c_in, k, k] */
    i4_dtype bias_dtype;
    const void *bias;   /* [c_out] or NULL */
    int64_t c_out, c_in;
    int k;
} i4_conv_w;
void i4_conv2d(const i4_conv_w *W, const float *x, int64_t H, int64_t Wd, int pad, float *y,
               i4_precision p);

/* ---- Element-wise and data movement (src/ops/elementwise.c) --------------
 * rnd(v) is bf16(v) in bf16 mode and v in f32 mode; each product and sum
 * below is rounded where rnd appears (the rounding of the bf16 torch ops the
 * networks use). f32 elements, contiguous unless strides are given. */
void i4_ew_add(float *x, const float *y, int64_t n, i4_precision p);          /* x = rnd(x + y) */
void i4_ew_mul(float *x, const float *y, int64_t n, i4_precision p);          /* x = rnd(x * y) */
void i4_ew_add_scalar(float *x, int64_t n, float c, i4_precision p);          /* x = rnd(x + c) */
/* x[r, i] = rnd(x[r, i] * s[i]) */
void i4_ew_mul_rows(float *x, const float *s, int64_t rows, int64_t dim, i4_precision p);
/* h[r, i] = rnd(h[r, i] + rnd(g[i] * a[r, i])) */
void i4_ew_gated_add(float *h, const float *a, const float *g, int64_t rows, int64_t dim, i4_precision p);
/* h[r, i] = rnd(h[r, i] + table[sel[r] * dim + i]) */
void i4_ew_add_rows_indexed(float *h, const float *table, const int64_t *sel, int64_t rows, int64_t dim,
                            i4_precision p);
/* dst[r, :] = src[idx[r], :] (bf16-rounded when round_bf16), rows of ld */
void i4_gather_rows(float *dst, const float *src, int64_t ld, const int64_t *idx, int64_t n, int round_bf16);
/* dst[idx[r], :] = src[r * src_stride, :] (src_stride 0: one row for all) */
void i4_scatter_rows(float *dst, const float *src, int64_t src_stride, int64_t ld, const int64_t *idx, int64_t n);
/* dst[r*drs + c*dcs] = src[r*srs + c*scs], or rnd(dst[..] + src[..]) when accumulate */
void i4_copy2d(float *dst, int64_t drs, int64_t dcs, const float *src, int64_t srs, int64_t scs, int64_t rows,
               int64_t cols, int accumulate, i4_precision p);
void i4_fill(float *x, int64_t n, float value);
/* Token latents [gh*gw, ph*pw*ae] → [ae, gh*ph, gw*pw]: t * scale[c] + shift[c], c = (py*pw + px)*ae + a */
void i4_unpack_latents(float *lat, const float *tokens, int64_t gh, int64_t gw, int ph, int pw, int64_t ae,
                       const float *scale, const float *shift);
/* z[e] += (g*vc[e] + (1-g)*vu[e]) * dt, evaluated in this order in f32 */
void i4_guidance_step(float *z, const float *vc, const float *vu, int64_t n, float g, float dt);

/* Nearest-neighbour 2x upsampling: y[c, y, x] = x[c, y/2, x/2]; y is [C, 2H, 2W]. */
void i4_upsample_nearest2x(float *y, const float *x, int64_t C, int64_t H, int64_t W);

#endif
