/*
 * tokenizer_internal.h — the tokenizer's tables, shared by tokenizer_load.c
 * (builds them from tokenizer.json) and tokenizer.c (encodes with them).
 */
#ifndef I4_TEXT_TOKENIZER_INTERNAL_H
#define I4_TEXT_TOKENIZER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "text/tokenizer.h"

#define I4_NO_STRING UINT32_MAX

typedef struct {
    uint32_t off, len; /* content in strings[] */
    int64_t id;
} i4_added_token;

struct i4_tokenizer {
    /* id -> token text (NUL-terminated inside strings[]); off = I4_NO_STRING
     * for ids that are not tokens. */
    int64_t n_ids;
    uint32_t *str_off, *str_len;
    char *strings;
    size_t strings_len, strings_cap;

    /* merges: key (left id << 32 | right id) -> rank and merged id; open
     * addressing, empty slot = UINT64_MAX. */
    uint64_t *mkey;
    uint32_t *mrank, *mnew;
    size_t mmask;

    /* vocabulary id of each byte's GPT-2 bytes_to_unicode symbol */
    uint32_t byte_id[256];

    /* added tokens, matched on the raw text before normalisation */
    i4_added_token *added;
    size_t n_added;
    uint8_t added_first[256]; /* 1 when some added token starts with this byte */
    int normalize_nfc;        /* normalizer NFC (1) or none (0) */
};

/* Merge lookup: 1 and *rank / *new_id when (a, b) has a merge. */
static inline uint64_t i4_merge_hash(uint64_t k) {
    k ^= k >> 31;
    k *= 0x7fb5d329728ea185ULL;
    k ^= k >> 27;
    k *= 0x81dadef4bc2dd44dULL;
    k ^= k >> 33;
    return k;
}

static inline int i4_merge_find(const struct i4_tokenizer *t, uint32_t a, uint32_t b, uint32_t *rank,
                                uint32_t *new_id) {
    uint64_t key = (uint64_t)a << 32 | b;
    size_t h = (size_t)i4_merge_hash(key) & t->mmask;
    for (;;) {
        uint64_t k = t->mkey[h];
        if (k == key) {
            *rank = t->mrank[h];
            *new_id = t->mnew[h];
            return 1;
        }
        if (k == UINT64_MAX) return 0;
        h = (h + 1) & t->mmask;
    }
}

#endif
