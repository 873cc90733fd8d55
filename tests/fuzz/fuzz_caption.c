/*
 * fuzz_caption.c — the structured caption verifier (src/text/caption.c).
 *
 * Feeds: each input, exactly as given (not NUL-terminated, so ASan sees any
 * read past its length), to i4_caption_verify (raw-text ensure_ascii scan,
 * JSON parse with NUL allowed, every schema check and the Python-style value
 * rendering of its messages) and to i4_caption_kind. When the input is a JSON
 * object, it is also fed to i4_caption_verify_json.
 * Checks: every issue is a non-empty string with a ": " after its JSON path;
 * the verdict agrees with i4_caption_kind (not_json iff NOT_JSON); for a
 * parsed value, i4_caption_verify_json gives the same schema issues as
 * i4_caption_verify minus its raw-text warning.
 */
#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "text/caption.h"

static void check_issues(const i4_caption_issues *is) {
    FUZZ_CHECK(is->count == 0 || is->items != NULL);
    for (size_t i = 0; i < is->count; i++) {
        FUZZ_CHECK(is->items[i] != NULL && is->items[i][0] != 0);
        FUZZ_CHECK(strstr(is->items[i], ": ") != NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    i4_caption_issues all;
    FUZZ_CHECK(i4_caption_verify(text, size, &all) == 0);
    check_issues(&all);
    int kind = i4_caption_kind(text, size);
    FUZZ_CHECK(all.not_json == (kind == I4_CAPTION_NOT_JSON));
    FUZZ_CHECK((i4_caption_kind_warning(kind) == NULL) == (kind == I4_CAPTION_OBJECT));

    json_t *root = json_loadb(text, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    FUZZ_CHECK((root == NULL) == (all.not_json != 0));
    if (root) {
        i4_caption_issues schema;
        FUZZ_CHECK(i4_caption_verify_json(root, &schema) == 0);
        check_issues(&schema);
        /* verify = [raw-text warning] + the schema issues, in order */
        FUZZ_CHECK(all.count == schema.count || all.count == schema.count + 1);
        size_t skip = all.count - schema.count;
        if (skip) FUZZ_CHECK(strncmp(all.items[0], "raw text: ", 10) == 0);
        for (size_t i = 0; i < schema.count; i++) FUZZ_CHECK(strcmp(all.items[skip + i], schema.items[i]) == 0);
        i4_caption_issues_free(&schema);
        json_decref(root);
    }
    i4_caption_issues_free(&all);
    return 0;
}
