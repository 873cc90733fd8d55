/*
 * dit_block.h — one Ideogram 4 transformer block (and the work of a forward
 * pass outside its blocks) on random weights, for `ideogram4 bench dit-block`
 * and `bench step`.
 *
 * src/model/dit.c builds its blocks only from a checkpoint on disk (a tensor
 * set opened from a component folder), so this file does not call it: it runs
 * the same op sequence as one block of i4_dit_forward, through the same ops
 * API, in the same order and with the same bf16 roundings:
 *   mod = adaln_modulation(c)  -> 1+scale_a, tanh(gate_a), 1+scale_f, tanh(gate_f)
 *   xn  = RMSNorm_an1(h)·(1+scale_a);  q, k, v = Linear(xn) (three D x D FP8)
 *   q, k = RoPE(RMSNorm_qk(q, k)) per head;  a = attention(q, k, v) (no mask)
 *   h  += tanh(gate_a) · RMSNorm_an2(o(a))
 *   u   = RMSNorm_fn1(h)·(1+scale_f);  h += tanh(gate_f) · RMSNorm_fn2(w2(silu(w1 u) · w3 u))
 * Keep it in step with dit.c when the block changes.
 *
 * "The rest" of one forward (i4_bench_dit_rest) is everything i4_dit_forward
 * does outside the blocks: input_proj on the image rows, the time embedding
 * (two D x D Linears at one row) and adaln_proj, the text path (RMSNorm over F
 * and llm_cond_proj F -> D on the text rows, conditional transformer only), the
 * role embedding, the RoPE tables and the final layer (adaLN, LayerNorm,
 * final_layer.linear D -> C_in).
 * All Linears are FP8 e4m3 with per-row f32 scales, as in ideogram-4-fp8.
 */
#ifndef I4_BENCH_DIT_BLOCK_H
#define I4_BENCH_DIT_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "ideogram4.h"

typedef struct {
    int64_t dim;          /* D: 4608 */
    int64_t heads;        /* 18 (head_dim = D / heads = 256) */
    int64_t ffn;          /* I: 12288 */
    int64_t adaln;        /* A: 512 */
    int64_t in_channels;  /* C_in: 128 */
    int64_t llm_features; /* F: 53248 */
} i4_bench_dit_shape;

/* The real model's shapes (MODEL.md §3.1). */
i4_bench_dit_shape i4_bench_dit_real_shape(void);

typedef struct i4_bench_dit i4_bench_dit;

/* Bytes a model of this shape needs for n_txt text + n_img image tokens
 * (with_rest: also the weights and buffers of the rest of a forward). */
double i4_bench_dit_bytes(const i4_bench_dit_shape *s, int64_t n_txt, int64_t n_img, int with_rest);

/* Random weights for one block (and for the rest when with_rest), buffers for
 * up to n_txt text + n_img image tokens; the sequence starts as n_txt text
 * tokens then n_img image tokens (MODEL.md §4.1 positions). Returns 0, or -1
 * with an error (out of memory). */
int i4_bench_dit_create(i4_bench_dit **out, const i4_bench_dit_shape *s, int64_t n_txt, int64_t n_img,
                        int with_rest, i4_precision p, uint64_t seed);
/* Use the first n_txt text and n_img image tokens (at most the created sizes). */
void i4_bench_dit_set_tokens(i4_bench_dit *b, int64_t n_txt, int64_t n_img);
/* One block over the current tokens (the hidden state is updated in place). */
void i4_bench_dit_block(i4_bench_dit *b);
/* The rest of one forward over the current tokens: with text tokens it is
 * the conditional transformer's (text features present), without them the
 * unconditional one's. Needs with_rest at creation. */
void i4_bench_dit_rest(i4_bench_dit *b);
void i4_bench_dit_free(i4_bench_dit *b);

/* Flops counted: the Linears (2 x rows x in x out) and attention (4 L^2 D). */
double i4_bench_dit_block_flops(const i4_bench_dit_shape *s, int64_t L);
double i4_bench_dit_rest_flops(const i4_bench_dit_shape *s, int64_t n_txt, int64_t n_img);

#endif
