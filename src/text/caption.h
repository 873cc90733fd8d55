/*
 * caption.h — the Ideogram 4 structured caption: classification of a prompt
 * (APP.md §2.1) and the vendor caption verifier's checks (APP.md §8.5).
 *
 * The verifier reproduces the rules, check order and message texts of the
 * official caption_verifier.py (CaptionVerifier.verify_raw): every problem is
 * one string "<json path>: <message>", values rendered the way Python prints
 * them (['a', 'b'], ('a', 'b'), dict/list/str/int/float/bool/NoneType). An
 * empty list means the caption is valid. All findings are warnings in the
 * upstream sense; whether they block anything is the caller's decision.
 */
#ifndef I4_CAPTION_H
#define I4_CAPTION_H

#include <stddef.h>

struct json_t; /* jansson */

typedef struct {
    char **items;  /* "path: message" strings, in the verifier's order */
    size_t count;
    int not_json;  /* 1 when the text did not parse as JSON; the last item is then
                      "invalid JSON: <parser message> (line L, column C)" */
} i4_caption_issues;

/* Parse `text` (len bytes, UTF-8, need not be NUL-terminated) and run every
 * check: first the raw-text ensure_ascii warning, then "invalid JSON: ..." or
 * the schema checks. Returns 0 (out filled; out->count == 0 means valid) or
 * -1 on allocation failure (i4_last_error). Free with i4_caption_issues_free.
 * Duplicate object keys behave like Python's json.loads: the last value wins
 * and the key keeps the position of its first occurrence. */
int i4_caption_verify(const char *text, size_t len, i4_caption_issues *out);

/* The schema checks alone, on an already parsed value (the HTTP verify
 * endpoint and the magic prompt use this). Same return convention. */
int i4_caption_verify_json(const struct json_t *caption, i4_caption_issues *out);

void i4_caption_issues_free(i4_caption_issues *issues);

/* Classify a prompt for the CLI (APP.md §2.1). */
enum {
    I4_CAPTION_OBJECT = 0,     /* JSON object: a structured caption */
    I4_CAPTION_NOT_JSON = 1,   /* not JSON: plain text */
    I4_CAPTION_NOT_OBJECT = 2, /* JSON, but not an object */
};
int i4_caption_kind(const char *text, size_t len);

/* The CLI warning for a kind (APP.md §2.1), or NULL for I4_CAPTION_OBJECT:
 * "Not JSON — Ideogram 4 needs structured captions for quality" /
 * "JSON is not a dict, treating as plain text (low quality)". */
const char *i4_caption_kind_warning(int kind);

#endif
