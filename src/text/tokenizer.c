/*
 * tokenizer.c — encoding with the Qwen2 byte-level BPE (docs/MODEL.md §6.1, §6.3).
 *
 *   text --UTF-8 repair--> valid UTF-8
 *        --added tokens (leftmost-longest literal match on the raw text)--> ids | segments
 *   segment --NFC (utf8proc)--> --split regex (pretokenize.c)--> pieces
 *   piece bytes --byte ids (GPT-2 bytes_to_unicode symbols)--> BPE merges --> ids
 *
 * BPE follows tokenizers' Word::merge_all: a min-heap of candidate merges
 * ordered by (rank, position of the left symbol); pop the best, skip it when
 * stale (left symbol gone, no right neighbour, or the pair now there has a
 * different merge result), merge, and push the new pairs with the left and
 * right neighbours. O(n log n) per piece, so long runs (10 000 spaces are one
 * piece) stay fast.
 */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "base/error.h"
#include "text/pretokenize.h"
#include "text/tokenizer_internal.h"

typedef struct {
    int64_t *v;
    size_t n, cap;
} idvec;

static int push(idvec *o, int64_t id) {
    if (o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 64;
        int64_t *v = realloc(o->v, cap * sizeof *v);
        if (!v) return -1;
        o->v = v;
        o->cap = cap;
    }
    o->v[o->n++] = id;
    return 0;
}

typedef struct {
    uint32_t rank, pos, new_id;
} merge_cand;

typedef struct {
    uint32_t *id;
    int32_t *prev, *next;
    uint8_t *alive;
    size_t cap;
    merge_cand *heap;
    size_t heap_n, heap_cap;
    i4_pretok_work pre;
} work;

static void work_free(work *w) {
    free(w->id);
    free(w->prev);
    free(w->next);
    free(w->alive);
    free(w->heap);
    i4_pretok_work_free(&w->pre);
}

static int cand_less(const merge_cand *a, const merge_cand *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static int heap_push(work *w, merge_cand c) {
    if (w->heap_n == w->heap_cap) {
        size_t cap = w->heap_cap ? 2 * w->heap_cap : 64;
        merge_cand *h = realloc(w->heap, cap * sizeof *h);
        if (!h) return -1;
        w->heap = h;
        w->heap_cap = cap;
    }
    size_t i = w->heap_n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!cand_less(&c, &w->heap[p])) break;
        w->heap[i] = w->heap[p];
        i = p;
    }
    w->heap[i] = c;
    return 0;
}

static merge_cand heap_pop(work *w) {
    merge_cand top = w->heap[0], last = w->heap[--w->heap_n];
    size_t i = 0, n = w->heap_n;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        const merge_cand *best = &last;
        if (l < n && cand_less(&w->heap[l], best)) m = l, best = &w->heap[l];
        if (l + 1 < n && cand_less(&w->heap[l + 1], best)) m = l + 1;
        if (m == i) break;
        w->heap[i] = w->heap[m];
        i = m;
    }
    if (n) w->heap[i] = last;
    return top;
}

static int try_push(const i4_tokenizer *t, work *w, uint32_t pos, uint32_t a, uint32_t b) {
    uint32_t rank, new_id;
    if (!i4_merge_find(t, a, b, &rank, &new_id)) return 0;
    return heap_push(w, (merge_cand){rank, pos, new_id});
}

static int bpe_piece(const i4_tokenizer *t, const uint8_t *s, size_t n, work *w, idvec *out) {
    if (n == 1) return push(out, t->byte_id[s[0]]);
    if (n > INT32_MAX) return -1;
    if (n > w->cap) {
        size_t cap = w->cap ? w->cap : 64;
        while (cap < n) cap *= 2;
        uint32_t *id = realloc(w->id, cap * sizeof *id);
        if (id) w->id = id;
        int32_t *prev = realloc(w->prev, cap * sizeof *prev);
        if (prev) w->prev = prev;
        int32_t *next = realloc(w->next, cap * sizeof *next);
        if (next) w->next = next;
        uint8_t *alive = realloc(w->alive, cap);
        if (alive) w->alive = alive;
        if (!id || !prev || !next || !alive) return -1;
        w->cap = cap;
    }
    w->heap_n = 0;
    for (size_t i = 0; i < n; i++) {
        w->id[i] = t->byte_id[s[i]];
        w->prev[i] = (int32_t)i - 1;
        w->next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
        w->alive[i] = 1;
    }
    for (size_t i = 0; i + 1 < n; i++)
        if (try_push(t, w, (uint32_t)i, w->id[i], w->id[i + 1]) != 0) return -1;
    while (w->heap_n) {
        merge_cand c = heap_pop(w);
        uint32_t p = c.pos;
        if (!w->alive[p] || w->next[p] < 0) continue;
        uint32_t r = (uint32_t)w->next[p], rank, new_id;
        if (!i4_merge_find(t, w->id[p], w->id[r], &rank, &new_id) || new_id != c.new_id) continue;
        w->id[p] = new_id;
        w->alive[r] = 0;
        w->next[p] = w->next[r];
        if (w->next[r] >= 0) w->prev[w->next[r]] = (int32_t)p;
        if (w->prev[p] >= 0 && try_push(t, w, (uint32_t)w->prev[p], w->id[w->prev[p]], new_id) != 0) return -1;
        if (w->next[p] >= 0 && try_push(t, w, p, new_id, w->id[w->next[p]]) != 0) return -1;
    }
    for (int32_t i = 0; i >= 0; i = w->next[i])
        if (push(out, w->id[i]) != 0) return -1;
    return 0;
}

/* NFC, split, BPE one segment without added tokens. */
static int encode_segment(const i4_tokenizer *t, const char *s, size_t n, work *w, idvec *out) {
    if (!n) return 0;
    utf8proc_uint8_t *nfc = NULL;
    if (t->normalize_nfc) {
        int ascii = 1;
        for (size_t i = 0; i < n && ascii; i++) ascii = (uint8_t)s[i] < 0x80;
        if (!ascii) {
            utf8proc_ssize_t r =
                utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &nfc, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
            if (r < 0) return i4_error("NFC normalisation failed: %s", utf8proc_errmsg(r));
            s = (const char *)nfc;
            n = (size_t)r;
        }
    }
    int rc = 0;
    long np = i4_pretokenize(s, n, &w->pre);
    if (np < 0) rc = i4_error("out of memory");
    for (long i = 0; i < np && rc == 0; i++) {
        const i4_span *p = &w->pre.pieces[i];
        if (bpe_piece(t, (const uint8_t *)s + p->start, p->end - p->start, w, out) != 0) rc = i4_error("out of memory");
    }
    free(nfc);
    return rc;
}

int i4_tokenizer_encode(const i4_tokenizer *t, const char *text, size_t len, int64_t **ids, size_t *n_ids) {
    *ids = NULL;
    *n_ids = 0;
    if (!t || (!text && len)) return i4_error("tokenizer: NULL argument");
    char *fixed = NULL;
    size_t fixed_len = 0;
    if (len && i4_utf8_repair(text, len, &fixed, &fixed_len) != 0) return i4_error("out of memory");
    const char *s = fixed ? fixed : text;
    size_t n = fixed ? fixed_len : len;

    idvec out = {0};
    work w = {0};
    if (push(&out, 0) != 0) { /* make sure the array exists even for no ids */
        free(fixed);
        return i4_error("out of memory");
    }
    out.n = 0;
    int rc = 0;
    size_t seg = 0;
    for (size_t i = 0; i < n && rc == 0;) {
        size_t best = 0;
        int64_t best_id = -1;
        if (t->added_first[(uint8_t)s[i]]) {
            for (size_t k = 0; k < t->n_added; k++) {
                const i4_added_token *a = &t->added[k];
                if (a->len > best && a->len <= n - i && !memcmp(s + i, t->strings + a->off, a->len)) {
                    best = a->len;
                    best_id = a->id;
                }
            }
        }
        if (!best) {
            i++;
            continue;
        }
        rc = encode_segment(t, s + seg, i - seg, &w, &out);
        if (rc == 0 && push(&out, best_id) != 0) rc = i4_error("out of memory");
        i += best;
        seg = i;
    }
    if (rc == 0) rc = encode_segment(t, s + seg, n - seg, &w, &out);
    work_free(&w);
    free(fixed);
    if (rc != 0) {
        free(out.v);
        return i4_error_prefix("tokenizer");
    }
    *ids = out.v;
    *n_ids = out.n;
    return 0;
}

int i4_tokenizer_encode_prompt(const i4_tokenizer *t, const char *caption, size_t len, int64_t **ids,
                               size_t *n_ids) {
    static const char pre[] = "<|im_start|>user\n", post[] = "<|im_end|>\n<|im_start|>assistant\n";
    *ids = NULL;
    *n_ids = 0;
    if (!caption && len) return i4_error("tokenizer: NULL caption");
    size_t n = sizeof pre - 1 + len + sizeof post - 1;
    char *s = malloc(n + 1);
    if (!s) return i4_error("out of memory");
    memcpy(s, pre, sizeof pre - 1);
    if (len) memcpy(s + sizeof pre - 1, caption, len);
    memcpy(s + sizeof pre - 1 + len, post, sizeof post - 1);
    s[n] = 0;
    int rc = i4_tokenizer_encode(t, s, n, ids, n_ids);
    free(s);
    return rc;
}

const char *i4_tokenizer_token_text(const i4_tokenizer *t, int64_t id) {
    if (!t || id < 0 || id >= t->n_ids || t->str_off[id] == I4_NO_STRING) return NULL;
    return t->strings + t->str_off[id];
}

int64_t i4_tokenizer_vocab_size(const i4_tokenizer *t) { return t ? t->n_ids : 0; }

int i4_tokenize(const char *tokenizer_dir, const char *text, size_t len, int chat, int64_t **ids, size_t *n_ids) {
    i4_tokenizer *t;
    *ids = NULL;
    *n_ids = 0;
    if (i4_tokenizer_load(&t, tokenizer_dir) != 0) return -1;
    int rc = chat ? i4_tokenizer_encode_prompt(t, text, len, ids, n_ids) : i4_tokenizer_encode(t, text, len, ids, n_ids);
    i4_tokenizer_free(t);
    return rc;
}
