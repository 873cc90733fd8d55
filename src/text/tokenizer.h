/*
 * tokenizer.h — the Qwen2/Qwen3 byte-level BPE tokenizer of the text encoder
 * and the fixed chat template of Ideogram 4 (docs/MODEL.md §6).
 *
 * Encoding (what HF `tokenizers` does for this tokenizer.json):
 *   1. invalid UTF-8 in the input is repaired: every maximal invalid subpart
 *      becomes U+FFFD (the same as Python's bytes.decode("utf-8", "replace"));
 *   2. added tokens ("<|im_end|>", ...) are cut out first, leftmost-longest
 *      literal match, and map straight to their ids (also inside captions);
 *   3. every other segment is NFC-normalised, split into pieces by the Qwen2
 *      pre-tokenizer regex (implemented by hand in pretokenize.c), and each
 *      piece's UTF-8 bytes are BPE-merged by merge rank into vocabulary ids.
 * No BOS/EOS is added.
 */
#ifndef I4_TEXT_TOKENIZER_H
#define I4_TEXT_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "ideogram4.h" /* i4_tokenize: load, encode and free in one call */

typedef struct i4_tokenizer i4_tokenizer;

/* Read tokenizer_dir/tokenizer.json. When tokenizer_dir/chat_template.jinja
 * exists it is only checked to be a Qwen-style template (<|im_start|> /
 * <|im_end|> / generation prompt); the engine renders the fixed string of
 * i4_tokenizer_encode_prompt. Fails with a message for a missing or malformed
 * file and for tokenizer settings this implementation does not cover (other
 * pre-tokenizer regex, normaliser, BPE options, added-token flags). */
int i4_tokenizer_load(i4_tokenizer **out, const char *tokenizer_dir);
void i4_tokenizer_free(i4_tokenizer *t);

/* Encode len bytes of text (need not be NUL-terminated; NUL is a character).
 * On success *ids is a malloc'd array (free() it; never NULL, even when
 * *n_ids == 0). */
int i4_tokenizer_encode(const i4_tokenizer *t, const char *text, size_t len, int64_t **ids, size_t *n_ids);

/* The chat template for one user message with the generation prompt,
 *   "<|im_start|>user\n" + caption + "<|im_end|>\n<|im_start|>assistant\n",
 * encoded as above (docs/MODEL.md §6.3). */
int i4_tokenizer_encode_prompt(const i4_tokenizer *t, const char *caption, size_t len, int64_t **ids,
                               size_t *n_ids);

/* The token's text as stored in tokenizer.json (byte-level alphabet for
 * vocabulary tokens, e.g. "Ġthe"; the literal content for added tokens), for
 * debugging. NULL for an id that is not a token. */
const char *i4_tokenizer_token_text(const i4_tokenizer *t, int64_t id);

/* Number of ids the table covers (max token id + 1). */
int64_t i4_tokenizer_vocab_size(const i4_tokenizer *t);

#endif
