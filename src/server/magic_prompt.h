/*
 * magic_prompt.h — the magic-prompt ("Quick Prompt") client (docs/APP.md §7): a
 * natural-language idea plus optional reference images (data URLs / raw
 * base64) becomes a structured caption by one call to an OpenAI-compatible
 * chat-completions endpoint (hosted API or a local llama.cpp server).
 *
 * Steps (docs/APP.md §7.2–7.7): validate the request; reduce width:height by their
 * gcd to the aspect ratio; build [system, user] messages for the prompt
 * profile (user content = text part + one image_url part per image, MIME
 * sniffed from the decoded bytes); POST <base_url>/chat/completions with
 * libcurl; take choices[0].message.content (fallback reasoning_content);
 * extract the first balanced JSON object (code fences, prose before/after);
 * drop top-level aspect_ratio and every element bbox; normalise style aliases,
 * medium and palettes; reorder keys canonically; run the caption verifier
 * (docs/APP.md §8.5). The caption comes back minified with non-ASCII literal.
 *
 * No HTTP route here: the server maps i4_mp_error to its JSON error (422 for
 * I4_MP_INVALID_INPUT, 500 with `message` otherwise).
 *
 * Threading: every call is independent (own curl easy handle, no shared
 * state). The one process-wide step is curl_global_init, done exactly once
 * inside this module through pthread_once on first use (it is never undone;
 * curl_global_cleanup is left to process exit). Call sites that use curl
 * themselves before any other thread exists may also call
 * i4_magic_prompt_global_init() early.
 */
#ifndef I4_MAGIC_PROMPT_H
#define I4_MAGIC_PROMPT_H

#include <stddef.h>

#include "ideogram4.h"

typedef enum {
    I4_MP_OK = 0,
    I4_MP_NOT_CONFIGURED,   /* no base URL / model, or a bad base URL */
    I4_MP_INVALID_INPUT,    /* empty request, prompt too long, bad image, too many images, bad size */
    I4_MP_TIMEOUT,          /* the LLM did not answer within timeout_seconds */
    I4_MP_UNREACHABLE,      /* connection / transport failure (refused, DNS, TLS) */
    I4_MP_HTTP_ERROR,       /* non-2xx: http_status set, message has reason + body excerpt */
    I4_MP_BAD_REPLY,        /* reply not JSON, no choices, empty message, no/unclosed JSON object, not parseable */
    I4_MP_INVALID_CAPTION,  /* parsed but the verifier reported issues (issues + caption_json set) */
    I4_MP_INTERNAL,         /* allocation or library failure */
} i4_mp_error;

typedef enum { I4_MP_PROVIDER_OPENAI = 0, I4_MP_PROVIDER_LLAMA_CPP = 1 } i4_mp_provider;
typedef enum { I4_MP_PROFILE_OFFICIAL = 0, I4_MP_PROFILE_COMPACT = 1, I4_MP_PROFILE_GEMMA4 = 2 } i4_mp_profile;

typedef struct {
    char base_url[1024];    /* request goes to <base_url>/chat/completions */
    char model[256];
    char api_key[1024];     /* "" = no Authorization header (fine for openai_compatible / llama_cpp) */
    i4_mp_provider provider;
    i4_mp_profile profile;
    int response_format_json;   /* adds response_format {"type":"json_object"} */
    char token_param[32];       /* "max_tokens" or "max_completion_tokens" */
    double timeout_seconds;
    long max_tokens;
    double temperature;
    size_t max_chars;           /* idea length cap, in Unicode code points */
    size_t max_images;
    size_t max_image_bytes;     /* decoded size cap per image */
    const int *cancel;          /* when set and non-zero, a call in flight ends (as a timeout) */
} i4_magic_prompt_config;

/* The docs/APP.md §7.3 / §10.1 defaults: base http://127.0.0.1:18082/v1, model
 * local-model, no key, openai_compatible, ideogram_official, format off,
 * max_tokens (16384), temperature 1.0, timeout 120 s, 12000 chars, 4 images,
 * 6291456 bytes. */
void i4_magic_prompt_config_defaults(i4_magic_prompt_config *cfg);

/* Environment lookup: returns the value of `name` or NULL. */
typedef const char *(*i4_mp_getenv_fn)(const char *name, void *ctx);

/* Fill cfg from IDEOGRAM4_MAGIC_PROMPT_* variables via `lookup` (defaults for
 * unset/empty ones). PROVIDER accepts openai_compatible, llama_cpp (aliases
 * llama-cpp, llamacpp); unset → llama_cpp when LOCAL_LLAMA or MANAGED_LLAMA
 * is on (1/true/yes/on). PROMPT_PROFILE defaults to compact_json for llama_cpp.
 * For llama_cpp with local/managed llama or LOCAL_LLAMA_CTX set, max_tokens is
 * capped at max(512, 0.55 × ctx) (ctx default 8192). Returns 0, or -1 with
 * i4_last_error() naming the bad variable (unknown provider/profile/format/
 * token param, non-numeric or out-of-range number). */
int i4_magic_prompt_config_load(i4_magic_prompt_config *cfg, i4_mp_getenv_fn lookup, void *ctx);
/* Same with the process environment (getenv). */
int i4_magic_prompt_config_from_env(i4_magic_prompt_config *cfg);

typedef struct {
    i4_mp_error kind;
    long http_status;           /* HTTP status of the LLM reply, 0 if none */
    char message[1024];         /* error text for the HTTP layer ("" on success) */
    char *caption_json;         /* minified caption (malloc'd), set for OK and INVALID_CAPTION */
    i4_caption_issues issues;   /* verifier issues (empty on OK) */
} i4_magic_prompt_result;

/* Run one magic prompt. `user_text` may be NULL/"" when images are given (the
 * idea then becomes "Describe this image in detail."). `images` are data URLs
 * (data:image/png|jpeg|jpg|webp|gif;base64,…) or raw base64. width/height give
 * the aspect ratio (both > 0; the HTTP layer applies the generation size
 * rule). Returns 0 when out->kind == I4_MP_OK, else -1 (out->kind/message say
 * why). Always call i4_magic_prompt_result_free afterwards. */
int i4_magic_prompt_run(const i4_magic_prompt_config *cfg, const char *user_text,
                        const char *const *images, size_t n_images, int width, int height,
                        i4_magic_prompt_result *out);
void i4_magic_prompt_result_free(i4_magic_prompt_result *r);

/* Short stable name of an error kind ("timeout", "http_error", …). */
const char *i4_mp_error_name(i4_mp_error kind);

/* --- Pieces exposed for tests and the HTTP layer --- */

/* W:H reduced by gcd into buf ("30:17"); -1 when w or h <= 0. */
int i4_mp_aspect_ratio(int width, int height, char *buf, size_t size);

/* §7.7 steps 1–2: trim, drop a leading code-fence line and a closing fence
 * line, return the first balanced {...} (string contents and backslash escapes
 * skipped) as a malloc'd string. NULL on failure with err set to
 * "No JSON object found in response: <first 300 chars>" or
 * "Unclosed JSON object in response: <first 300 chars>". */
char *i4_mp_extract_json_object(const char *reply, char *err, size_t err_size);

/* §7.7 steps 3–6 on extracted text: parse, drop aspect_ratio and element
 * bboxes, normalise style aliases / medium / palettes, reorder keys. Returns
 * the minified caption (malloc'd) or NULL with err set to the parser message. */
char *i4_mp_normalize_caption(const char *json_text, char *err, size_t err_size);

/* §7.7 on the body of a 2xx chat-completions reply: take
 * choices[0].message.content (fallback reasoning_content; content parts are
 * concatenated), extract, normalise and verify the caption. Sets out->kind
 * (OK, BAD_REPLY, INVALID_CAPTION or INTERNAL), message, caption_json and
 * issues; other fields are left as they are (start from a zeroed result).
 * Returns 0 for I4_MP_OK, else -1. Free with i4_magic_prompt_result_free. */
int i4_mp_parse_reply(const char *body, i4_magic_prompt_result *out);

/* Build the chat-completions request body (JSON text, malloc'd) for already
 * validated inputs: image_urls are the final data URLs. NULL on failure. */
char *i4_mp_build_request(const i4_magic_prompt_config *cfg, const char *idea, const char *aspect,
                          const char *const *image_urls, size_t n_images);

/* Validate one image (data URL or raw base64): base64 alphabet and padding,
 * decoded size <= max_bytes, declared MIME (if any) one of image/png, jpeg,
 * jpg, webp, gif. On success returns a malloc'd data URL with the MIME sniffed
 * from the bytes (PNG/JPEG/WebP/GIF, default image/jpeg). NULL with err set
 * otherwise ("image payload must be valid base64", "each image must be 6.0 MB
 * or smaller", "unsupported image type: …"). */
char *i4_mp_normalize_image(const char *image, size_t max_bytes, char *err, size_t err_size);

/* Global init (curl_global_init) — idempotent, thread-safe (pthread_once). */
int i4_magic_prompt_global_init(void);

#endif
