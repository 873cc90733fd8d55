/*
 * pretokenize.h — UTF-8 repair and the Qwen2 pre-tokenizer split (internal to
 * src/text/; see pretokenize.c for the exact regex semantics).
 */
#ifndef I4_TEXT_PRETOKENIZE_H
#define I4_TEXT_PRETOKENIZE_H

#include <stddef.h>
#include <stdint.h>

/* The split regex this implementation reproduces (tokenizer.json must carry
 * exactly this pattern). */
extern const char i4_qwen2_split_regex[];

/* i4_utf8_valid and i4_utf8_repair live in base/utf8.h. */
#include "base/utf8.h"

/* A piece of the input: bytes [start, end). */
typedef struct {
    size_t start, end;
} i4_span;

/* Reusable buffers for i4_pretokenize (zero-initialise; free with
 * i4_pretok_work_free). */
typedef struct {
    uint32_t *cp;
    uint8_t *cls;
    size_t *off;
    size_t cap;
    i4_span *pieces;
    size_t pieces_cap;
} i4_pretok_work;

/* Split valid UTF-8 s[0..n) into pieces with the Qwen2 regex. The pieces
 * cover the input in order, without gaps. Returns the number of pieces (in
 * w->pieces) or -1 on allocation failure. */
long i4_pretokenize(const char *s, size_t n, i4_pretok_work *w);
void i4_pretok_work_free(i4_pretok_work *w);

#endif
