/*
 * magic_prompt.c — the magic-prompt client (docs/APP.md §7); see magic_prompt.h.
 *
 * Data flow: request validation (§7.2) → aspect ratio + messages (§7.4–7.5)
 * → POST <base>/chat/completions via libcurl (§7.6) → reply text
 * → first balanced JSON object (§7.7 steps 1–2) → drop aspect_ratio / bboxes,
 * normalise, reorder (steps 3–6) → caption verifier (step 7, §8.5).
 *
 * The system prompts are this project's own concise texts written from the
 * docs/APP.md §7.5 summary (the vendor's file is not shipped here).
 */
#include "server/magic_prompt.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/growbuf.h"
#include "base/utf8.h"

#define I4_MP_ENV "IDEOGRAM4_MAGIC_PROMPT_"
#define I4_MP_REPLY_CAP (32u << 20) /* refuse LLM replies above 32 MiB */
#define I4_MP_EXCERPT 300

/* ------------------------------------------------------------------ */
/* Global init                                                         */

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static int g_curl_rc;
static void curl_init_once(void) { g_curl_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1; }

int i4_magic_prompt_global_init(void) {
    pthread_once(&g_curl_once, curl_init_once);
    return g_curl_rc == 0 ? 0 : i4_error("magic prompt: curl_global_init failed");
}

const char *i4_mp_error_name(i4_mp_error kind) {
    switch (kind) {
    case I4_MP_OK: return "ok";
    case I4_MP_NOT_CONFIGURED: return "not_configured";
    case I4_MP_INVALID_INPUT: return "invalid_input";
    case I4_MP_TIMEOUT: return "timeout";
    case I4_MP_UNREACHABLE: return "unreachable";
    case I4_MP_HTTP_ERROR: return "http_error";
    case I4_MP_BAD_REPLY: return "bad_reply";
    case I4_MP_INVALID_CAPTION: return "invalid_caption";
    case I4_MP_INTERNAL: return "internal";
    }
    return "unknown";
}

/* ------------------------------------------------------------------ */
/* Configuration                                                       */

void i4_magic_prompt_config_defaults(i4_magic_prompt_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->base_url, sizeof cfg->base_url, "%s", "http://127.0.0.1:18082/v1");
    snprintf(cfg->model, sizeof cfg->model, "%s", "local-model");
    cfg->provider = I4_MP_PROVIDER_OPENAI;
    cfg->profile = I4_MP_PROFILE_OFFICIAL;
    snprintf(cfg->token_param, sizeof cfg->token_param, "%s", "max_tokens");
    cfg->timeout_seconds = 120.0;
    cfg->max_tokens = 16384;
    cfg->temperature = 1.0;
    cfg->max_chars = 12000;
    cfg->max_images = 4;
    cfg->max_image_bytes = 6291456;
}

static const char *env_get(i4_mp_getenv_fn lookup, void *ctx, const char *suffix) {
    char name[128];
    snprintf(name, sizeof name, I4_MP_ENV "%s", suffix);
    const char *v = lookup(name, ctx);
    return (v && *v) ? v : NULL;
}

static int env_flag(const char *v) {
    if (!v) return 0;
    return !strcasecmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on");
}

static int env_double(const char *v, const char *suffix, double lo, double hi, double *out) {
    if (!v) return 0;
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    while (*end && isspace((unsigned char)*end)) end++;
    if (end == v || *end || errno || !(d >= lo && d <= hi))
        return i4_error(I4_MP_ENV "%s: invalid value '%s' (expected a number in [%g, %g])", suffix, v, lo, hi);
    *out = d;
    return 0;
}

static int env_copy(const char *v, const char *suffix, char *dst, size_t size) {
    if (!v) return 0;
    if (strlen(v) >= size) return i4_error(I4_MP_ENV "%s: value too long", suffix);
    snprintf(dst, size, "%s", v);
    return 0;
}

int i4_magic_prompt_config_load(i4_magic_prompt_config *cfg, i4_mp_getenv_fn lookup, void *ctx) {
    i4_magic_prompt_config_defaults(cfg);
    const char *v;
    if (env_copy(env_get(lookup, ctx, "BASE_URL"), "BASE_URL", cfg->base_url, sizeof cfg->base_url) ||
        env_copy(env_get(lookup, ctx, "MODEL"), "MODEL", cfg->model, sizeof cfg->model) ||
        env_copy(env_get(lookup, ctx, "API_KEY"), "API_KEY", cfg->api_key, sizeof cfg->api_key))
        return -1;
    /* strip trailing slashes so "<base>/chat/completions" has exactly one */
    size_t bl = strlen(cfg->base_url);
    while (bl > 0 && cfg->base_url[bl - 1] == '/') cfg->base_url[--bl] = '\0';

    int local = env_flag(env_get(lookup, ctx, "LOCAL_LLAMA")) || env_flag(env_get(lookup, ctx, "MANAGED_LLAMA"));
    if ((v = env_get(lookup, ctx, "PROVIDER"))) {
        if (!strcmp(v, "openai_compatible")) cfg->provider = I4_MP_PROVIDER_OPENAI;
        else if (!strcmp(v, "llama_cpp") || !strcmp(v, "llama-cpp") || !strcmp(v, "llamacpp"))
            cfg->provider = I4_MP_PROVIDER_LLAMA_CPP;
        else return i4_error(I4_MP_ENV "PROVIDER: unknown provider '%s' (expected openai_compatible or llama_cpp)", v);
    } else {
        cfg->provider = local ? I4_MP_PROVIDER_LLAMA_CPP : I4_MP_PROVIDER_OPENAI;
    }
    if ((v = env_get(lookup, ctx, "PROMPT_PROFILE"))) {
        if (!strcmp(v, "ideogram_official")) cfg->profile = I4_MP_PROFILE_OFFICIAL;
        else if (!strcmp(v, "compact_json")) cfg->profile = I4_MP_PROFILE_COMPACT;
        else if (!strcmp(v, "gemma4")) cfg->profile = I4_MP_PROFILE_GEMMA4;
        else return i4_error(I4_MP_ENV "PROMPT_PROFILE: unknown profile '%s' (expected ideogram_official, compact_json or gemma4)", v);
    } else {
        cfg->profile = cfg->provider == I4_MP_PROVIDER_LLAMA_CPP ? I4_MP_PROFILE_COMPACT : I4_MP_PROFILE_OFFICIAL;
    }
    if ((v = env_get(lookup, ctx, "RESPONSE_FORMAT"))) {
        if (!strcmp(v, "off")) cfg->response_format_json = 0;
        else if (!strcmp(v, "json_object")) cfg->response_format_json = 1;
        else return i4_error(I4_MP_ENV "RESPONSE_FORMAT: invalid value '%s' (expected off or json_object)", v);
    }
    if ((v = env_get(lookup, ctx, "TOKEN_PARAM"))) {
        if (strcmp(v, "max_tokens") && strcmp(v, "max_completion_tokens"))
            return i4_error(I4_MP_ENV "TOKEN_PARAM: invalid value '%s' (expected max_tokens or max_completion_tokens)", v);
        snprintf(cfg->token_param, sizeof cfg->token_param, "%s", v);
    }
    double d;
    d = cfg->timeout_seconds;
    if (env_double(env_get(lookup, ctx, "TIMEOUT"), "TIMEOUT", 0.001, 86400.0, &d)) return -1;
    cfg->timeout_seconds = d;
    d = (double)cfg->max_tokens;
    if (env_double(env_get(lookup, ctx, "MAX_TOKENS"), "MAX_TOKENS", 1, 1e9, &d)) return -1;
    cfg->max_tokens = (long)d;
    d = cfg->temperature;
    if (env_double(env_get(lookup, ctx, "TEMPERATURE"), "TEMPERATURE", 0.0, 10.0, &d)) return -1;
    cfg->temperature = d;
    d = (double)cfg->max_chars;
    if (env_double(env_get(lookup, ctx, "MAX_CHARS"), "MAX_CHARS", 1, 1e9, &d)) return -1;
    cfg->max_chars = (size_t)d;
    d = (double)cfg->max_images;
    if (env_double(env_get(lookup, ctx, "MAX_IMAGES"), "MAX_IMAGES", 0, 1e6, &d)) return -1;
    cfg->max_images = (size_t)d;
    d = (double)cfg->max_image_bytes;
    if (env_double(env_get(lookup, ctx, "MAX_IMAGE_BYTES"), "MAX_IMAGE_BYTES", 1, 1e12, &d)) return -1;
    cfg->max_image_bytes = (size_t)d;

    /* [06-17] llama.cpp with a known context: budget capped at max(512, 0.55 ctx). */
    const char *ctx_env = env_get(lookup, ctx, "LOCAL_LLAMA_CTX");
    if (cfg->provider == I4_MP_PROVIDER_LLAMA_CPP && (local || ctx_env)) {
        double c = 8192;
        if (env_double(ctx_env, "LOCAL_LLAMA_CTX", 1, 1e9, &c)) return -1;
        long cap = (long)(0.55 * c);
        if (cap < 512) cap = 512;
        if (cfg->max_tokens > cap) cfg->max_tokens = cap;
    }
    return 0;
}

static const char *process_getenv(const char *name, void *ctx) {
    (void)ctx;
    return getenv(name);
}

int i4_magic_prompt_config_from_env(i4_magic_prompt_config *cfg) {
    return i4_magic_prompt_config_load(cfg, process_getenv, NULL);
}

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

static int gcd_int(int a, int b) {
    while (b) {
        int t = a % b;
        a = b;
        b = t;
    }
    return a;
}

int i4_mp_aspect_ratio(int width, int height, char *buf, size_t size) {
    if (width <= 0 || height <= 0) return -1;
    int g = gcd_int(width, height);
    snprintf(buf, size, "%d:%d", width / g, height / g);
    return 0;
}

/* First n bytes of s as a printable excerpt (newlines kept; cut on a UTF-8
 * boundary). */
static void excerpt(char *dst, size_t size, const char *s, size_t n) {
    size_t len = i4_utf8_prefix(s, strlen(s), n < size - 1 ? n : size - 1);
    memcpy(dst, s, len);
    dst[len] = '\0';
}

static void set_result(i4_magic_prompt_result *r, i4_mp_error kind, const char *fmt, ...) I4_PRINTF(3, 4);
static void set_result(i4_magic_prompt_result *r, i4_mp_error kind, const char *fmt, ...) {
    r->kind = kind;
    va_list ap;
    va_start(ap, fmt);
    i4_utf8_vformat(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
}

static size_t utf8_count(const char *s) {
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) n++;
    return n;
}

/* ------------------------------------------------------------------ */
/* Images                                                              */

static int b64_val(int c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

char *i4_mp_normalize_image(const char *image, size_t max_bytes, char *err, size_t err_size) {
    const char *payload = image;
    if (!strncmp(image, "data:", 5)) {
        const char *comma = strchr(image, ',');
        const char *b64 = strstr(image, ";base64,");
        if (!comma || !b64 || b64 + 7 != comma) {
            snprintf(err, err_size, "image payload must be valid base64");
            return NULL;
        }
        size_t mlen = (size_t)(b64 - (image + 5));
        const char *mime = image + 5;
        static const char *const ok[] = {"image/png", "image/jpeg", "image/jpg", "image/webp", "image/gif"};
        int good = mlen == 0;
        for (size_t i = 0; !good && i < sizeof ok / sizeof ok[0]; i++)
            good = strlen(ok[i]) == mlen && !strncasecmp(mime, ok[i], mlen);
        if (!good) {
            /* The MIME is client text: cut at a character boundary. */
            i4_utf8_format(err, err_size, "unsupported image type: %.*s", (int)i4_utf8_prefix(mime, mlen, 64), mime);
            return NULL;
        }
        payload = comma + 1;
    }
    size_t len = strlen(payload);
    size_t pad = 0;
    if (len == 0 || len % 4) goto bad;
    if (payload[len - 1] == '=') pad++;
    if (pad && payload[len - 2] == '=') pad++;
    for (size_t i = 0; i < len - pad; i++)
        if (b64_val((unsigned char)payload[i]) < 0) goto bad;
    size_t decoded = len / 4 * 3 - pad;
    if (decoded > max_bytes) {
        snprintf(err, err_size, "each image must be %.1f MB or smaller", (double)max_bytes / (1024.0 * 1024.0));
        return NULL;
    }
    /* sniff the MIME type from the first 12 decoded bytes */
    unsigned char head[12] = {0};
    size_t nh = 0;
    for (size_t i = 0; i + 4 <= len && nh < 12; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++) v[k] = payload[i + k] == '=' ? 0 : b64_val((unsigned char)payload[i + k]);
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        for (int k = 0; k < 3 && nh < 12; k++) head[nh++] = (unsigned char)(w >> (16 - 8 * k));
    }
    const char *mime = "image/jpeg";
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (decoded >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF) mime = "image/jpeg";
    else if (decoded >= 8 && !memcmp(head, png_sig, 8)) mime = "image/png";
    else if (decoded >= 12 && !memcmp(head, "RIFF", 4) && !memcmp(head + 8, "WEBP", 4)) mime = "image/webp";
    else if (decoded >= 6 && (!memcmp(head, "GIF87a", 6) || !memcmp(head, "GIF89a", 6))) mime = "image/gif";
    size_t n = strlen(mime) + len + 16;
    char *out = malloc(n);
    if (!out) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    snprintf(out, n, "data:%s;base64,%s", mime, payload);
    return out;
bad:
    snprintf(err, err_size, "image payload must be valid base64");
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Prompts (own text, from the docs/APP.md §7.5 summary)                    */

static const char SYS_OFFICIAL[] =
    "You convert an image idea and a target aspect ratio into a structured caption for a "
    "text-to-image model.\n"
    "Output exactly one single-line minified JSON object and nothing else: no markdown, no code "
    "fences, no commentary. Keep non-ASCII characters literal. Use single quotes for quoted text "
    "inside prose.\n"
    "Top-level keys, in this order: aspect_ratio, high_level_description, style_description, "
    "compositional_deconstruction.\n"
    "Schema: {\"aspect_ratio\":\"W:H\",\"high_level_description\":\"...\",\"style_description\":"
    "{\"aesthetics\":\"...\",\"lighting\":\"...\",\"photo\":\"...\",\"medium\":\"photograph\","
    "\"color_palette\":[\"#RRGGBB\"]},\"compositional_deconstruction\":{\"background\":\"...\","
    "\"elements\":[{\"type\":\"obj\",\"bbox\":[y1,x1,y2,x2],\"desc\":\"...\"},{\"type\":\"text\","
    "\"bbox\":[y1,x1,y2,x2],\"text\":\"...\",\"desc\":\"...\"}]}}\n"
    "Rules:\n"
    "- aspect_ratio: echo the given ratio, or pick a sensible one.\n"
    "- high_level_description: one (at most two) sentence(s), at most 50 words, starting with the "
    "subject.\n"
    "- Every element is type obj or text with a bbox [y1, x1, y2, x2] of integers in 0-1000 "
    "(origin top-left, y first). Boxes respect the frame's aspect ratio and are spread over the "
    "frame.\n"
    "- At least 14 elements (20+ for busy scenes). One coherent subject is one element; separate "
    "objects are separate elements.\n"
    "- Element descriptions: 30-60 words, identity first; no shadows, camera language or "
    "impression words.\n"
    "- background is the scene shell (sky, walls, floor; the ground is always background); "
    "objects fixed to the shell are mentioned in the background and also emitted first as "
    "elements.\n"
    "- Commit to concrete values: no hedging, no 'A or B' choices.\n"
    "- Every enumerable item and every quoted string of the idea must appear; quoted text goes "
    "verbatim into text elements, with \\n for line breaks.\n"
    "- Descriptive text is in English whatever the language of the idea.\n"
    "- Default to a photograph with a neutral phone-snapshot look (no warm grading); populate "
    "sparse scenes unless the idea asks for emptiness.\n"
    "\n"
    "style_description rules:\n"
    "- Emit it as the second caption key (after high_level_description).\n"
    "- medium is exactly one of photograph, illustration, 3d_render, painting, graphic_design.\n"
    "- aesthetics and lighting are short phrases.\n"
    "- Exactly one of photo (photographs only: camera, lens, framing) or art_style (all other "
    "media).\n"
    "- color_palette lists 3-8 upper-case #RRGGBB colours.\n"
    "- No other keys. Style detail belongs here, not in high_level_description.\n"
    "\n"
    "Transparent background rule:\n"
    "- Only when the idea explicitly asks for it (transparent, cutout, isolated, alpha, no "
    "background, sticker) describe a transparent background; otherwise the background must "
    "describe a concrete scene.\n";

static const char SYS_COMPACT[] =
    "Turn the user's image idea into a structured caption. Return only one JSON object, with "
    "exactly these four top-level keys in this order: aspect_ratio, high_level_description, "
    "style_description, compositional_deconstruction.\n"
    "style_description keys: aesthetics, lighting, then photo and medium (photographs) or medium "
    "and art_style (other media), then color_palette. Exactly one of photo or art_style; photo "
    "only for photographs. medium is one of photograph, illustration, 3d_render, painting, "
    "graphic_design. color_palette: 3-8 upper-case #RRGGBB colours.\n"
    "compositional_deconstruction: {\"background\": \"...\", \"elements\": [...]}. Each element "
    "has type obj or text, then desc; text elements also carry text (the literal characters) "
    "before desc. No bbox unless the user asks for exact placement.\n"
    "The background is a concrete scene unless transparency is requested. Make the subject an "
    "adult when age is ambiguous. Output valid JSON without trailing commas.\n";

static const char SYS_GEMMA_IMAGES[] =
    "Attached images are the primary visual guidance: mirror their subject, palette and "
    "composition unless the text overrides them. Keep values short. Do not output tags or "
    "channel tokens.\n";

char *i4_mp_build_request(const i4_magic_prompt_config *cfg, const char *idea, const char *aspect,
                          const char *const *image_urls, size_t n_images) {
    i4_mp_profile profile = cfg->profile;
    if (profile == I4_MP_PROFILE_GEMMA4 && n_images == 0) profile = I4_MP_PROFILE_COMPACT;

    char *system = NULL, *user = NULL;
    if (profile == I4_MP_PROFILE_OFFICIAL) {
        system = strdup(SYS_OFFICIAL);
        if (asprintf(&user, "TARGET IMAGE ASPECT RATIO: %s (width:height).\n\n%s", aspect, idea) < 0) user = NULL;
    } else {
        if (profile == I4_MP_PROFILE_GEMMA4) {
            if (asprintf(&system, "%s%s", SYS_COMPACT, SYS_GEMMA_IMAGES) < 0) system = NULL;
        } else {
            system = strdup(SYS_COMPACT);
        }
        if (asprintf(&user, "TARGET IMAGE ASPECT RATIO: %s (width:height).\n\nUSER IDEA:\n%s", aspect, idea) < 0)
            user = NULL;
    }
    char *text = NULL;
    json_t *body = json_object(), *messages = json_array(), *sys = json_object(), *usr = json_object();
    if (!system || !user || !body || !messages || !sys || !usr) goto done;

    json_object_set_new(sys, "role", json_string("system"));
    json_object_set_new(sys, "content", json_string(system));
    json_object_set_new(usr, "role", json_string("user"));
    if (n_images == 0) {
        json_object_set_new(usr, "content", json_string(user));
    } else {
        json_t *parts = json_array();
        json_array_append_new(parts, json_pack("{s:s, s:s}", "type", "text", "text", user));
        for (size_t i = 0; i < n_images; i++)
            json_array_append_new(parts, json_pack("{s:s, s:{s:s}}", "type", "image_url", "image_url", "url",
                                                   image_urls[i]));
        json_object_set_new(usr, "content", parts);
    }
    json_array_append(messages, sys);
    json_array_append(messages, usr);

    json_object_set_new(body, "model", json_string(cfg->model));
    json_object_set(body, "messages", messages);
    json_object_set_new(body, "temperature", json_real(cfg->temperature));
    json_object_set_new(body, cfg->token_param, json_integer(cfg->max_tokens));
    if (cfg->response_format_json)
        json_object_set_new(body, "response_format", json_pack("{s:s}", "type", "json_object"));
    if (cfg->provider == I4_MP_PROVIDER_LLAMA_CPP) {
        json_object_set_new(body, "chat_template_kwargs", json_pack("{s:b}", "enable_thinking", 0));
        json_object_set_new(body, "reasoning_format", json_string("none"));
    }
    text = json_dumps(body, JSON_COMPACT);
done:
    json_decref(body);
    json_decref(messages);
    json_decref(sys);
    json_decref(usr);
    free(system);
    free(user);
    return text;
}

/* ------------------------------------------------------------------ */
/* Reply extraction (§7.7 steps 1-2)                                   */

char *i4_mp_extract_json_object(const char *reply, char *err, size_t err_size) {
    const char *s = reply, *e = reply + strlen(reply);
    while (s < e && isspace((unsigned char)*s)) s++;
    while (e > s && isspace((unsigned char)e[-1])) e--;
    if (e - s >= 3 && !strncmp(s, "```", 3)) {
        /* drop the opening fence line */
        const char *nl = memchr(s, '\n', (size_t)(e - s));
        s = nl ? nl + 1 : e;
        /* drop a closing fence line (the last line starting with ```) */
        const char *p = e;
        while (p > s) {
            const char *ls = p;
            while (ls > s && ls[-1] != '\n') ls--;
            const char *t = ls;
            while (t < p && (*t == ' ' || *t == '\t')) t++;
            if (p - t >= 3 && !strncmp(t, "```", 3)) {
                e = ls;
                break;
            }
            /* only whitespace-only lines may follow the fence */
            int blank = 1;
            for (const char *q = ls; q < p; q++) blank &= isspace((unsigned char)*q) != 0;
            if (!blank || ls == s) break;
            p = ls - 1;
        }
    }
    char ex[I4_MP_EXCERPT + 4];
    const char *open = memchr(s, '{', (size_t)(e - s));
    if (!open) {
        excerpt(ex, sizeof ex, reply, I4_MP_EXCERPT);
        snprintf(err, err_size, "No JSON object found in response: %s", ex);
        return NULL;
    }
    int depth = 0, in_str = 0, esc = 0;
    for (const char *p = open; p < e; p++) {
        char c = *p;
        if (in_str) {
            if (esc) esc = 0;
            else if (c == '\\') esc = 1;
            else if (c == '"') in_str = 0;
            continue;
        }
        if (c == '"') in_str = 1;
        else if (c == '{') depth++;
        else if (c == '}' && --depth == 0) {
            size_t n = (size_t)(p - open + 1);
            char *out = malloc(n + 1);
            if (!out) {
                snprintf(err, err_size, "out of memory");
                return NULL;
            }
            memcpy(out, open, n);
            out[n] = '\0';
            return out;
        }
    }
    excerpt(ex, sizeof ex, open, I4_MP_EXCERPT);
    snprintf(err, err_size, "Unclosed JSON object in response: %s", ex);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Normalisation (§7.7 steps 3-6)                                      */

static void rename_alias(json_t *obj, const char *canon, const char *const *aliases) {
    if (json_object_get(obj, canon)) return;
    for (; *aliases; aliases++) {
        json_t *v = json_object_get(obj, *aliases);
        if (v) {
            json_object_set(obj, canon, v);
            json_object_del(obj, *aliases);
            return;
        }
    }
}

/* New object with `order` keys first (those present), then the rest in their
 * original order. */
static json_t *reordered(json_t *obj, const char *const *order) {
    json_t *out = json_object();
    if (!out) return NULL;
    for (const char *const *k = order; *k; k++) {
        json_t *v = json_object_get(obj, *k);
        if (v) json_object_set(out, *k, v);
    }
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        if (!json_object_get(out, key)) json_object_set(out, key, v);
    }
    return out;
}

static void upper_ascii(char *s) {
    for (; *s; s++) *s = (char)toupper((unsigned char)*s);
}

static void normalize_style(json_t *style) {
    static const char *const photo_al[] = {"Photo", "camera", "Camera", "camera_lens", "lens", NULL};
    static const char *const art_al[] = {"Art Style", "art style", "artStyle", "style", NULL};
    static const char *const pal_al[] = {"Color Palette", "color palette", "palette", NULL};
    rename_alias(style, "photo", photo_al);
    rename_alias(style, "art_style", art_al);
    rename_alias(style, "color_palette", pal_al);

    json_t *medium = json_object_get(style, "medium");
    if (json_is_string(medium)) {
        const char *m = json_string_value(medium);
        while (isspace((unsigned char)*m)) m++;
        size_t n = strlen(m);
        while (n > 0 && isspace((unsigned char)m[n - 1])) n--;
        char *buf = malloc(n + 1);
        if (buf) {
            for (size_t i = 0; i < n; i++) buf[i] = m[i] == ' ' ? '_' : (char)tolower((unsigned char)m[i]);
            buf[n] = '\0';
            json_object_set_new(style, "medium", json_string(buf));
            free(buf);
        }
    }
    json_t *pal = json_object_get(style, "color_palette");
    if (json_is_string(pal)) {
        json_t *arr = json_array();
        char *copy = strdup(json_string_value(pal));
        if (arr && copy) {
            char *save = NULL;
            for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                while (isspace((unsigned char)*tok)) tok++;
                size_t n = strlen(tok);
                while (n > 0 && isspace((unsigned char)tok[n - 1])) tok[--n] = '\0';
                if (n) json_array_append_new(arr, json_string(tok));
            }
            json_object_set(style, "color_palette", arr);
        }
        json_decref(arr);
        free(copy);
        pal = json_object_get(style, "color_palette");
    }
    if (json_is_array(pal)) {
        size_t i;
        json_t *c;
        json_array_foreach(pal, i, c) {
            if (!json_is_string(c)) continue;
            char *u = strdup(json_string_value(c));
            if (!u) continue;
            upper_ascii(u);
            json_array_set_new(pal, i, json_string(u));
            free(u);
        }
    }
}

char *i4_mp_normalize_caption(const char *json_text, char *err, size_t err_size) {
    json_error_t je;
    json_t *root = json_loads(json_text, 0, &je);
    if (!root) {
        snprintf(err, err_size, "Invalid JSON in response: %s (line %d, column %d)", je.text, je.line, je.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        snprintf(err, err_size, "Response JSON is not an object");
        return NULL;
    }
    /* step 3: no aspect_ratio, no element bboxes */
    json_object_del(root, "aspect_ratio");
    json_t *comp = json_object_get(root, "compositional_deconstruction");
    json_t *elements = json_is_object(comp) ? json_object_get(comp, "elements") : NULL;
    if (json_is_array(elements)) {
        size_t i;
        json_t *el;
        json_array_foreach(elements, i, el) {
            if (json_is_object(el)) json_object_del(el, "bbox");
        }
    }
    /* step 5 */
    json_t *style = json_object_get(root, "style_description");
    if (json_is_object(style)) normalize_style(style);

    /* step 6: canonical order */
    static const char *const top_order[] = {"high_level_description", "style_description",
                                            "compositional_deconstruction", NULL};
    static const char *const photo_order[] = {"aesthetics", "lighting", "photo", "medium", "color_palette", NULL};
    static const char *const art_order[] = {"aesthetics", "lighting", "medium", "art_style", "color_palette", NULL};
    static const char *const comp_order[] = {"background", "elements", NULL};
    static const char *const obj_order[] = {"type", "bbox", "desc", "color_palette", NULL};
    static const char *const text_order[] = {"type", "bbox", "text", "desc", "color_palette", NULL};
    if (json_is_object(style)) {
        int has_photo = json_object_get(style, "photo") != NULL;
        int has_art = json_object_get(style, "art_style") != NULL;
        if (has_photo != has_art) {
            json_t *r = reordered(style, has_photo ? photo_order : art_order);
            if (r) json_object_set_new(root, "style_description", r);
        }
    }
    if (json_is_object(comp)) {
        if (json_is_array(elements)) {
            size_t i;
            json_t *el;
            json_array_foreach(elements, i, el) {
                if (!json_is_object(el)) continue;
                const char *type = json_string_value(json_object_get(el, "type"));
                if (!type || (strcmp(type, "obj") && strcmp(type, "text"))) continue;
                json_t *r = reordered(el, !strcmp(type, "obj") ? obj_order : text_order);
                if (r) json_array_set_new(elements, i, r);
            }
        }
        json_t *r = reordered(comp, comp_order);
        if (r) json_object_set_new(root, "compositional_deconstruction", r);
    }
    json_t *top = reordered(root, top_order);
    char *out = top ? json_dumps(top, JSON_COMPACT) : NULL;
    if (!out) snprintf(err, err_size, "out of memory");
    json_decref(top);
    json_decref(root);
    return out;
}

/* ------------------------------------------------------------------ */
/* HTTP                                                                */


/* Keeps the reason phrase of the last status line ("HTTP/1.1 500 Internal Server Error"). */
static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud) {
    char *reason = ud;
    size_t n = size * nmemb;
    if (n > 5 && !strncmp(ptr, "HTTP/", 5)) {
        const char *p = memchr(ptr, ' ', n);
        if (p) p = memchr(p + 1, ' ', n - (size_t)(p + 1 - ptr));
        reason[0] = '\0';
        if (p) {
            size_t rl = n - (size_t)(p + 1 - ptr);
            while (rl > 0 && (p[1 + rl - 1] == '\r' || p[1 + rl - 1] == '\n')) rl--;
            if (rl > 127) rl = 127;
            memcpy(reason, p + 1, rl);
            reason[rl] = '\0';
        }
    }
    return n;
}

/* Reply text from a chat-completions body; sets out on failure. malloc'd. */
static char *reply_content(const char *body, i4_magic_prompt_result *out) {
    char ex[I4_MP_EXCERPT + 4];
    excerpt(ex, sizeof ex, body, I4_MP_EXCERPT);
    json_error_t je;
    json_t *root = json_loads(body, 0, &je);
    if (!json_is_object(root)) {
        json_decref(root);
        set_result(out, I4_MP_BAD_REPLY, "LLM reply is not a JSON object: %s", ex);
        return NULL;
    }
    json_t *choices = json_object_get(root, "choices");
    if (!json_is_array(choices) || json_array_size(choices) == 0) {
        json_decref(root);
        set_result(out, I4_MP_BAD_REPLY, "No choices in response: %s", ex);
        return NULL;
    }
    json_t *msg = json_object_get(json_array_get(choices, 0), "message");
    char *text = NULL;
    const char *fields[] = {"content", "reasoning_content"};
    for (int f = 0; f < 2 && !text; f++) {
        json_t *c = json_object_get(msg, fields[f]);
        if (json_is_string(c) && json_string_length(c) > 0) {
            text = strdup(json_string_value(c));
        } else if (json_is_array(c)) { /* content parts: concatenate the text parts */
            size_t total = 1, i;
            json_t *part;
            json_array_foreach(c, i, part) total += strlen(json_string_value(json_object_get(part, "text")) ?: "");
            if (total > 1 && (text = calloc(1, total))) {
                json_array_foreach(c, i, part) strcat(text, json_string_value(json_object_get(part, "text")) ?: "");
            }
        }
    }
    json_decref(root);
    if (!text) set_result(out, I4_MP_BAD_REPLY, "Empty message in response: %s", ex);
    return text;
}

int i4_mp_parse_reply(const char *body, i4_magic_prompt_result *out) {
    char err[1024] = "";
    char *reply = reply_content(body, out);
    if (!reply) return -1;
    char *obj = i4_mp_extract_json_object(reply, err, sizeof err);
    free(reply);
    if (!obj) {
        set_result(out, I4_MP_BAD_REPLY, "%s", err);
        return -1;
    }
    out->caption_json = i4_mp_normalize_caption(obj, err, sizeof err);
    free(obj);
    if (!out->caption_json) {
        set_result(out, I4_MP_BAD_REPLY, "%s", err);
        return -1;
    }
    json_t *cap = json_loads(out->caption_json, 0, NULL);
    if (!cap || i4_caption_verify_json(cap, &out->issues)) {
        json_decref(cap);
        set_result(out, I4_MP_INTERNAL, "caption verification failed: %s", i4_last_error());
        return -1;
    }
    json_decref(cap);
    if (out->issues.count) {
        size_t used = (size_t)snprintf(out->message, sizeof out->message, "Magic prompt produced an invalid caption: ");
        for (size_t i = 0; i < out->issues.count && used < sizeof out->message; i++)
            used += (size_t)snprintf(out->message + used, sizeof out->message - used, "%s%s", i ? "; " : "",
                                     out->issues.items[i]);
        out->kind = I4_MP_INVALID_CAPTION;
        return -1;
    }
    out->kind = I4_MP_OK;
    return 0;
}

static int is_http_url(const char *u) { return !strncmp(u, "http://", 7) || !strncmp(u, "https://", 8); }

static int on_transfer_progress(void *cancel, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                                curl_off_t ulnow) {
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return __atomic_load_n((const int *)cancel, __ATOMIC_RELAXED) != 0;
}

int i4_magic_prompt_run(const i4_magic_prompt_config *cfg, const char *user_text,
                        const char *const *images, size_t n_images, int width, int height,
                        i4_magic_prompt_result *out) {
    memset(out, 0, sizeof *out);
    char err[1024] = "";
    char aspect[64];
    char **urls = NULL;
    char *body = NULL;
    i4_growbuf resp = {.limit = I4_MP_REPLY_CAP};
    CURL *curl = NULL;
    struct curl_slist *headers = NULL;

    /* configuration */
    if (!cfg->base_url[0] || !cfg->model[0]) {
        set_result(out, I4_MP_NOT_CONFIGURED, "Magic prompt is not configured: %s is not set",
                   !cfg->base_url[0] ? I4_MP_ENV "BASE_URL" : I4_MP_ENV "MODEL");
        goto done;
    }
    if (!is_http_url(cfg->base_url)) {
        set_result(out, I4_MP_NOT_CONFIGURED, "Magic prompt is not configured: base URL must start with http:// or https://");
        goto done;
    }
    /* request validation (§7.2) */
    const char *idea = user_text ? user_text : "";
    const char *t = idea;
    while (isspace((unsigned char)*t)) t++;
    if (!*t && n_images == 0) {
        set_result(out, I4_MP_INVALID_INPUT, "prompt or at least one image is required");
        goto done;
    }
    if (utf8_count(idea) > cfg->max_chars) {
        set_result(out, I4_MP_INVALID_INPUT, "prompt must be at most %zu characters", cfg->max_chars);
        goto done;
    }
    if (n_images > cfg->max_images) {
        set_result(out, I4_MP_INVALID_INPUT, "at most %zu images are allowed", cfg->max_images);
        goto done;
    }
    if (!*t) idea = "Describe this image in detail.";
    if (i4_mp_aspect_ratio(width, height, aspect, sizeof aspect)) {
        set_result(out, I4_MP_INVALID_INPUT, "width and height must be positive");
        goto done;
    }
    if (n_images) {
        urls = calloc(n_images, sizeof *urls);
        if (!urls) goto oom;
        for (size_t i = 0; i < n_images; i++) {
            if (!images[i] || !(urls[i] = i4_mp_normalize_image(images[i], cfg->max_image_bytes, err, sizeof err))) {
                set_result(out, I4_MP_INVALID_INPUT, "%s", images[i] ? err : "image payload must be valid base64");
                goto done;
            }
        }
    }
    body = i4_mp_build_request(cfg, idea, aspect, (const char *const *)urls, n_images);
    if (!body) goto oom;
    /* The request body holds the images now: drop the normalised copies
     * before the (possibly long) wait for the LLM. */
    for (size_t i = 0; urls && i < n_images; i++) {
        free(urls[i]);
        urls[i] = NULL;
    }

    /* the call (§7.6) */
    if (i4_magic_prompt_global_init()) {
        set_result(out, I4_MP_INTERNAL, "%s", i4_last_error());
        goto done;
    }
    curl = curl_easy_init();
    if (!curl) goto oom;
    char url[1200];
    snprintf(url, sizeof url, "%s/chat/completions", cfg->base_url);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Accept: application/json");
    if (cfg->api_key[0]) {
        char auth[1100];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", cfg->api_key);
        headers = curl_slist_append(headers, auth);
    }
    char reason[128] = "";
    char curl_err[CURL_ERROR_SIZE] = "";
    long timeout_ms = (long)(cfg->timeout_seconds * 1000.0);
    if (timeout_ms < 1) timeout_ms = 1;
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, i4_growbuf_curl_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, reason);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L); /* thread-safe timeouts */
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    if (cfg->cancel) { /* the server stops: abort instead of waiting out the timeout */
        curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_transfer_progress);
        curl_easy_setopt(curl, CURLOPT_XFERINFODATA, (void *)cfg->cancel);
        curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    }
    CURLcode rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->http_status);
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        set_result(out, I4_MP_TIMEOUT, "LLM request timed out after %g s", cfg->timeout_seconds);
        goto done;
    }
    if (rc == CURLE_WRITE_ERROR && resp.overflow) {
        set_result(out, I4_MP_BAD_REPLY, "LLM reply is larger than %u bytes", I4_MP_REPLY_CAP);
        goto done;
    }
    if (rc != CURLE_OK) {
        set_result(out, I4_MP_UNREACHABLE, "LLM request to %s failed: %s", url, curl_err[0] ? curl_err : curl_easy_strerror(rc));
        goto done;
    }
    const char *rbody = resp.data ? resp.data : "";
    if (out->http_status < 200 || out->http_status >= 300) {
        char ex[204];
        excerpt(ex, sizeof ex, rbody, 200);
        set_result(out, I4_MP_HTTP_ERROR, "LLM request failed: HTTP %ld%s%s: %s", out->http_status,
                   reason[0] ? " " : "", reason, ex);
        goto done;
    }
    /* reply → caption (§7.7) */
    i4_mp_parse_reply(rbody, out);
    goto done;
oom:
    set_result(out, I4_MP_INTERNAL, "out of memory");
done:
    if (curl) curl_easy_cleanup(curl);
    curl_slist_free_all(headers);
    if (urls)
        for (size_t i = 0; i < n_images; i++) free(urls[i]);
    free(urls);
    free(body);
    free(resp.data);
    return out->kind == I4_MP_OK ? 0 : -1;
}

void i4_magic_prompt_result_free(i4_magic_prompt_result *r) {
    if (!r) return;
    free(r->caption_json);
    r->caption_json = NULL;
    i4_caption_issues_free(&r->issues);
}
