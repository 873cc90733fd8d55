/*
 * fuzz_tokenizer_load.c — the tokenizer.json reader (src/text/tokenizer_load.c):
 * the hand-written scanner for the top-level/model objects, model.vocab and
 * model.merges ("a b" strings or ["a", "b"] pairs), escapes handed to
 * jansson, added tokens and the supported-settings checks.
 *
 * Feeds: each input as <tmp>/tokenizer.json to i4_tokenizer_load(<tmp>).
 * When it loads, a fixed sample text with an added token, NFC-sensitive and
 * invalid UTF-8 bytes is encoded with the fuzzed tables.
 * Checks: a failed load leaves an error message; a loaded tokenizer gives
 * only ids below its vocabulary size that all have a token text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "fuzz_util.h"
#include "text/tokenizer.h"

static const char sample[] = "Hi <|im_end|> caf\xc3\xa9 e\xcc\x81 \xff\xfe 12 don't\r\n  x";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_write_file("tokenizer.json", data, size);
    i4_tokenizer *t = NULL;
    if (i4_tokenizer_load(&t, fuzz_tmpdir()) != 0) {
        FUZZ_CHECK(t == NULL && i4_last_error()[0] != 0);
        return 0;
    }
    int64_t *ids = NULL;
    size_t n = 0;
    FUZZ_CHECK(i4_tokenizer_encode(t, sample, sizeof sample - 1, &ids, &n) == 0);
    const int64_t vocab = i4_tokenizer_vocab_size(t);
    for (size_t i = 0; i < n; i++) FUZZ_CHECK(ids[i] >= 0 && ids[i] < vocab && i4_tokenizer_token_text(t, ids[i]));
    free(ids);
    i4_tokenizer_free(t);
    return 0;
}
