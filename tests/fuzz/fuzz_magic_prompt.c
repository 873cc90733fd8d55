/*
 * fuzz_magic_prompt.c — the magic-prompt reply path (src/server/magic_prompt.c,
 * docs/APP.md §7.7): what the server does with an LLM's answer.
 *
 * Feeds each input (as a C string: up to its first NUL) three ways:
 *   1. as the reply text: i4_mp_extract_json_object (fences, prose, the first
 *      balanced {...}), then i4_mp_normalize_caption on what it extracted;
 *   2. as the content of a chat-completions body built around it,
 *      {"choices":[{"message":{"content": TEXT}}]}, to i4_mp_parse_reply
 *      (content -> extract -> normalise -> caption verifier);
 *   3. as the whole HTTP body, to i4_mp_parse_reply (choices, message,
 *      content parts, reasoning_content fallback).
 * Checks: the extracted object is a substring of the text that starts with
 * '{' and ends with '}'; the normalised caption is a JSON object and
 * normalising it again changes nothing; i4_mp_parse_reply's kind agrees with
 * its caption, issues and message, and for way 2 its caption is the one of
 * way 1.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "server/magic_prompt.h"

/* Way 1; returns the normalised caption (malloc'd) or NULL. */
static char *extract_and_normalize(const char *text) {
    char err[1024] = "";
    char *obj = i4_mp_extract_json_object(text, err, sizeof err);
    if (!obj) {
        FUZZ_CHECK(err[0] != 0);
        return NULL;
    }
    size_t n = strlen(obj);
    FUZZ_CHECK(n >= 2 && obj[0] == '{' && obj[n - 1] == '}' && strstr(text, obj) != NULL);
    char *cap = i4_mp_normalize_caption(obj, err, sizeof err);
    free(obj);
    if (!cap) {
        FUZZ_CHECK(err[0] != 0);
        return NULL;
    }
    json_t *root = json_loads(cap, 0, NULL);
    FUZZ_CHECK(json_is_object(root));
    json_decref(root);
    char *again = i4_mp_normalize_caption(cap, err, sizeof err);
    FUZZ_CHECK(again != NULL && strcmp(again, cap) == 0);
    free(again);
    return cap;
}

static void check_result(const i4_magic_prompt_result *r, int rc) {
    FUZZ_CHECK((rc == 0) == (r->kind == I4_MP_OK));
    switch (r->kind) {
    case I4_MP_OK: FUZZ_CHECK(r->caption_json && r->issues.count == 0 && r->message[0] == 0); break;
    case I4_MP_INVALID_CAPTION: FUZZ_CHECK(r->caption_json && r->issues.count > 0 && r->message[0]); break;
    case I4_MP_BAD_REPLY: FUZZ_CHECK(!r->caption_json && r->message[0]); break;
    default: FUZZ_CHECK(r->kind == I4_MP_INTERNAL && r->message[0]); break;
    }
}

/* Way 2: the text as message content. Returns 0 when the text cannot be a
 * JSON string (not valid UTF-8), else 1 with its caption (malloc'd) or NULL. */
static int parse_as_content(const char *text, char **cap) {
    *cap = NULL;
    json_t *body = json_pack("{s:[{s:{s:s}}]}", "choices", "message", "content", text);
    if (!body) return 0;
    char *js = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    FUZZ_CHECK(js != NULL);
    i4_magic_prompt_result r;
    memset(&r, 0, sizeof r);
    int rc = i4_mp_parse_reply(js, &r);
    free(js);
    check_result(&r, rc);
    if (r.caption_json) FUZZ_CHECK((*cap = strdup(r.caption_json)) != NULL);
    i4_magic_prompt_result_free(&r);
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_cstr(data, size);
    char *cap1 = extract_and_normalize(text), *cap2 = NULL;
    /* Both ways give the same caption (an empty content is "Empty message"). */
    if (parse_as_content(text, &cap2) && text[0])
        FUZZ_CHECK((!cap1 && !cap2) || (cap1 && cap2 && strcmp(cap1, cap2) == 0));

    i4_magic_prompt_result r;
    memset(&r, 0, sizeof r);
    int rc = i4_mp_parse_reply(text, &r);
    check_result(&r, rc);
    i4_magic_prompt_result_free(&r);
    free(cap1);
    free(cap2);
    free(text);
    return 0;
}
