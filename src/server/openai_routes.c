/*
 * openai_routes.c — the OpenAI-compatible image API (docs/APP.md §3.3.13):
 * POST /v1/images/generations and GET /v1/models, so OpenAI client libraries
 * and tools that speak that API can use this server as their base URL.
 *
 * A request becomes an ordinary generation job (generate_routes.c) on the one
 * queue, so it shows in /api/queue and history like any other; the reply is
 * deferred (its own thread, mhd.c) until the job ends. The prompt is either a
 * structured caption (a JSON object as text) or plain text, wrapped into a
 * minimal caption {"high_level_description": text, "compositional_deconstruction":
 * {"background": "", "elements": []}}. Every field is checked and errors come
 * in OpenAI's shape {"error": {"message", "type", "param", "code"}}.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/io.h"
#include "base/utf8.h"
#include "server/server_internal.h"

#define MODEL_ID "ideogram-4"
#define WAIT_SECONDS (6 * 3600.0) /* a reply waits this long for its job at most */

/* Names OpenAI clients send by default, served by the one model here. */
static const char *const model_aliases[] = {MODEL_ID, "ideogram4", "dall-e-2", "dall-e-3", "gpt-image-1", NULL};
/* Fields of OpenAI's request this server accepts and ignores. */
static const char *const ignored_fields[] = {"user", "style", "moderation", "background", "output_compression", NULL};
static const char *const known_fields[] = {"prompt", "model", "n", "size", "quality", "response_format", "output_format",
                                           "seed", "steps", "preset", "lora", NULL};

static int in_set(const char *const *set, const char *s) {
    for (; *set; set++)
        if (!strcmp(*set, s)) return 1;
    return 0;
}

static void models(srv_req *r) {
    json_t *m = json_pack("{s:s,s:s,s:i,s:s}", "id", MODEL_ID, "object", "model", "created", 0, "owned_by", "ideogram4.c");
    srv_json(r, 200, json_pack("{s:s,s:[o]}", "object", "list", "data", m));
}

/* "WxH" with both numbers inside the server's limits, or "auto" (1024x1024). */
static int parse_size(srv_req *r, const char *text, int *w, int *h) {
    const i4_server_options *o = &r->s->opt;
    if (!strcmp(text, "auto")) {
        *w = *h = 1024;
        return 0;
    }
    long v[2] = {0, 0};
    const char *p = text;
    for (int i = 0; i < 2; i++) {
        if (!isdigit((unsigned char)*p)) goto bad;
        int digits = 0;
        while (isdigit((unsigned char)*p)) {
            if (++digits > 6) goto bad;
            v[i] = v[i] * 10 + (*p++ - '0');
        }
        if (i == 0 && *p++ != 'x') goto bad;
    }
    if (*p) goto bad;
    for (int i = 0; i < 2; i++) {
        if (v[i] < o->min_size || v[i] > o->max_size) {
            srv_openai_error(r, 400, "size", "invalid_size", "size %s: width and height must be between %d and %d", text,
                             o->min_size, o->max_size);
            return -1;
        }
        if (v[i] % o->size_multiple) {
            srv_openai_error(r, 400, "size", "invalid_size", "size %s: width and height must be multiples of %d", text,
                             o->size_multiple);
            return -1;
        }
    }
    *w = (int)v[0];
    *h = (int)v[1];
    return 0;
bad:
    srv_openai_error(r, 400, "size", "invalid_size", "size must be \"WIDTHxHEIGHT\" (e.g. \"1024x1024\") or \"auto\"");
    return -1;
}

/* The requested LoRA stack must be the one applied: LoRAs are merged into
 * the model, changed with POST /api/lora/apply, not per request. */
static int check_lora(srv_req *r, json_t *v) {
    json_t *want = json_array();
    int bad = 0;
    if (json_is_string(v)) {
        json_array_append_new(want, json_pack("{s:s,s:n}", "name", json_string_value(v), "strength"));
    } else if (json_is_array(v)) {
        size_t i;
        json_t *it;
        json_array_foreach(v, i, it) {
            json_t *name = json_is_string(it) ? it : json_object_get(it, "name");
            json_t *st = json_is_object(it) ? json_object_get(it, "strength") : NULL;
            if (!json_is_string(name) || (st && !json_is_number(st) && !json_is_null(st))) bad = 1;
            else json_array_append_new(want, json_pack("{s:O,s:O}", "name", name, "strength", st ? st : json_null()));
        }
    } else if (!json_is_null(v)) {
        bad = 1;
    }
    if (bad) {
        json_decref(want);
        srv_openai_error(r, 400, "lora", NULL,
                         "lora must be a LoRA file name, or a list of names or {\"name\", \"strength\"} objects");
        return -1;
    }
    i4_server *s = r->s;
    pthread_mutex_lock(&s->lock);
    json_t *applied = json_deep_copy(s->applied_loras);
    pthread_mutex_unlock(&s->lock);
    int same = json_array_size(applied) == json_array_size(want);
    for (size_t i = 0; same && i < json_array_size(want); i++) {
        json_t *a = json_array_get(applied, i), *w = json_array_get(want, i);
        json_t *ws = json_object_get(w, "strength");
        same = json_equal(json_object_get(a, "name"), json_object_get(w, "name")) &&
               (json_is_null(ws) || json_number_value(ws) == json_number_value(json_object_get(a, "strength")));
    }
    char *label = json_array_size(applied) ? srv_lora_label(applied) : NULL;
    json_decref(applied);
    json_decref(want);
    if (!same) {
        srv_openai_error(r, 400, "lora", "lora_not_applied",
                         "the requested LoRA stack is not the one applied (%s); apply it first with POST /api/lora/apply",
                         label ? label : "none applied");
        free(label);
        return -1;
    }
    free(label);
    return 0;
}

typedef struct {
    char id[33];
    int b64;              /* response_format b64_json (else url) */
    char base_url[300];   /* "http://host:port" from the Host header, "" when none */
    char *revised_prompt; /* the caption the model got */
} gen_wait;

static void gen_wait_free(void *p) {
    gen_wait *w = p;
    if (w) free(w->revised_prompt);
    free(w);
}

static char *base64(const unsigned char *in, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
    if (!out) return NULL;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
        *o++ = tab[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0);
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o = 0;
    return out;
}

/* A file of the output folder by its stored (bare) name, base64. */
static char *file_b64(i4_server *s, const char *name) {
    if (!i4_store_is_bare_name(name)) return NULL;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", s->output_dir, name);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return NULL;
    }
    size_t n = 0;
    char *data = i4_read_stream(f, &n);
    fclose(f);
    char *out = data ? base64((const unsigned char *)data, n) : NULL;
    free(data);
    return out;
}

/* On its own thread: wait for the job, then answer with its images. */
static void generation_reply(i4_server *s, void *arg, srv_req *out) {
    gen_wait *w = arg;
    out->openai = 1;
    double until = i4_now_seconds() + WAIT_SECONDS;
    while (!srv_job_wait(s, w->id, 60.0)) {
        if (__atomic_load_n(&s->stopping, __ATOMIC_RELAXED) || i4_now_seconds() > until) break;
    }
    int status = -1;
    char msg[600] = "";
    json_t *images = NULL;
    if (srv_generation_result(s, w->id, &status, msg, sizeof msg, &images) != 0) {
        srv_openai_error(out, 500, NULL, NULL, "the generation job was lost (server stopping?)");
        return;
    }
    const char *why = !strncmp(msg, "Error: ", 7) ? msg + 7 : msg;
    if (status == JOB_ERROR) {
        json_decref(images);
        int not_loaded = strstr(why, "Model not loaded") != NULL;
        srv_openai_error(out, not_loaded ? 503 : 500, NULL, not_loaded ? "model_not_loaded" : NULL, "%s%s", why,
                         not_loaded ? " Load it with POST /api/model/load (or start the server with autoload)." : "");
        return;
    }
    if (status == JOB_CANCELLED || status != JOB_DONE) {
        json_decref(images);
        srv_openai_error(out, status == JOB_CANCELLED ? 409 : 504, NULL, status == JOB_CANCELLED ? "cancelled" : "timeout",
                         "%s", status == JOB_CANCELLED ? why : "the generation did not finish in time");
        return;
    }
    json_t *data = json_array();
    size_t i;
    json_t *img;
    json_array_foreach(images, i, img) {
        json_t *d = json_object();
        if (w->b64) {
            char *b = file_b64(s, json_string_value(json_object_get(img, "file_name")));
            if (!b) {
                json_decref(d);
                json_decref(data);
                json_decref(images);
                srv_openai_error(out, 500, NULL, NULL, "cannot read back image %zu of the batch", i + 1);
                return;
            }
            json_object_set_new(d, "b64_json", json_string(b));
            free(b);
        } else {
            char url[400];
            snprintf(url, sizeof url, "%s%s", w->base_url, json_string_value(json_object_get(img, "url")));
            json_object_set_new(d, "url", json_string(url));
        }
        json_object_set_new(d, "revised_prompt", json_string(w->revised_prompt));
        json_object_set(d, "seed", json_object_get(img, "seed"));
        json_object_set(d, "image_id", json_object_get(img, "id"));
        json_array_append_new(data, d);
    }
    json_decref(images);
    srv_json(out, 200, json_pack("{s:I,s:o}", "created", (json_int_t)time(NULL), "data", data));
}

static void generations(srv_req *r) {
    i4_server *s = r->s;
    const i4_server_options *o = &s->opt;
    json_error_t e;
    json_t *body = r->body_len ? json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &e) : NULL;
    if (!json_is_object(body)) {
        json_decref(body);
        if (!r->body_len) srv_openai_error(r, 400, NULL, NULL, "the request body must be a JSON object");
        else srv_openai_error(r, 400, NULL, NULL, "the request body is not a JSON object (%s)", e.text);
        return;
    }
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v) {
        if (!in_set(known_fields, key) && !in_set(ignored_fields, key)) {
            srv_openai_error(r, 400, key, "unknown_parameter", "Unrecognized request argument supplied: %s", key);
            goto out;
        }
    }
    /* prompt: a caption as JSON text, or plain text wrapped into one. */
    v = json_object_get(body, "prompt");
    if (!json_is_string(v) || !json_string_length(v)) {
        srv_openai_error(r, 400, "prompt", v ? "invalid_value" : "missing_required_parameter",
                         "prompt must be a non-empty string (plain text, or a structured caption as JSON text)");
        goto out;
    }
    if ((long)json_string_length(v) > o->max_caption_bytes) {
        srv_openai_error(r, 400, "prompt", "string_above_max_length", "prompt must be %ld KB or smaller",
                         o->max_caption_bytes / 1024);
        goto out;
    }
    const char *text = json_string_value(v);
    json_t *caption = NULL;
    int kind = i4_caption_kind(text, json_string_length(v));
    const char *first = text + strspn(text, " \t\r\n");
    if (kind == I4_CAPTION_OBJECT) {
        caption = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    } else if (*first == '{') {
        srv_openai_error(r, 400, "prompt", "invalid_value",
                         "prompt starts like a JSON caption but is not valid JSON; send plain text or a JSON object");
        goto out;
    } else {
        caption = json_pack("{s:s,s:{s:s,s:[]}}", "high_level_description", text, "compositional_deconstruction",
                            "background", "", "elements");
    }
    if (!caption) {
        srv_openai_error(r, 500, NULL, NULL, "out of memory");
        goto out;
    }
    srv_gen_request q = {.caption = caption, .width = 1024, .height = 1024, .preset = o->default_preset, .count = 1,
                         .format = I4_IMAGE_PNG};
    int b64 = 1;
    v = json_object_get(body, "model");
    if (v && !json_is_null(v) && (!json_is_string(v) || !in_set(model_aliases, json_string_value(v)))) {
        srv_openai_error(r, 400, "model", "model_not_found", "The model '%s' does not exist; this server has '" MODEL_ID "'",
                         json_is_string(v) ? json_string_value(v) : "?");
        goto out_caption;
    }
    v = json_object_get(body, "n");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > SRV_MAX_BATCH) {
            srv_openai_error(r, 400, "n", "invalid_value", "n must be an integer from 1 to %d", SRV_MAX_BATCH);
            goto out_caption;
        }
        q.count = (int)json_integer_value(v);
    }
    v = json_object_get(body, "size");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v)) {
            srv_openai_error(r, 400, "size", "invalid_size", "size must be a string \"WIDTHxHEIGHT\"");
            goto out_caption;
        }
        if (parse_size(r, json_string_value(v), &q.width, &q.height) != 0) goto out_caption;
    }
    /* quality → preset; an explicit preset wins. */
    v = json_object_get(body, "quality");
    if (v && !json_is_null(v)) {
        const char *qs = json_is_string(v) ? json_string_value(v) : "";
        if (!strcmp(qs, "low")) q.preset = "V4_TURBO_12";
        else if (!strcmp(qs, "medium") || !strcmp(qs, "standard")) q.preset = "V4_DEFAULT_20";
        else if (!strcmp(qs, "high") || !strcmp(qs, "hd")) q.preset = "V4_QUALITY_48";
        else if (strcmp(qs, "auto")) {
            srv_openai_error(r, 400, "quality", "invalid_value",
                             "quality must be one of: low, medium, high, standard, hd, auto");
            goto out_caption;
        }
    }
    v = json_object_get(body, "preset");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v) || !i4_preset_steps(json_string_value(v))) {
            srv_openai_error(r, 400, "preset", "invalid_value",
                             "preset must be one of: V4_QUALITY_48, V4_DEFAULT_20, V4_TURBO_12");
            goto out_caption;
        }
        q.preset = json_string_value(v);
    }
    v = json_object_get(body, "steps");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 200) {
            srv_openai_error(r, 400, "steps", "invalid_value", "steps must be an integer from 1 to 200");
            goto out_caption;
        }
        q.steps = (int)json_integer_value(v);
    }
    v = json_object_get(body, "seed");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            srv_openai_error(r, 400, "seed", "invalid_value", "seed must be a non-negative integer");
            goto out_caption;
        }
        q.seed = (uint64_t)json_integer_value(v);
    } else {
        /* OpenAI clients expect a new image per call: a random seed. */
        pthread_mutex_lock(&s->lock);
        q.seed = i4_rng_next(&s->rng) & 0xffffffffu;
        pthread_mutex_unlock(&s->lock);
    }
    v = json_object_get(body, "response_format");
    if (v && !json_is_null(v)) {
        const char *f = json_is_string(v) ? json_string_value(v) : "";
        if (!strcmp(f, "url")) b64 = 0;
        else if (strcmp(f, "b64_json")) {
            srv_openai_error(r, 400, "response_format", "invalid_value", "response_format must be b64_json or url");
            goto out_caption;
        }
    }
    v = json_object_get(body, "output_format");
    if (v && !json_is_null(v)) {
        const char *f = json_is_string(v) ? json_string_value(v) : "";
        if (!strcmp(f, "jpg") || i4_image_format_parse(f, &q.format) != 0) {
            srv_openai_error(r, 400, "output_format", "invalid_value", "output_format must be png, webp or jpeg");
            goto out_caption;
        }
    }
    v = json_object_get(body, "lora");
    if (v && check_lora(r, v) != 0) goto out_caption;

    gen_wait *w = calloc(1, sizeof *w);
    if (!w || !(w->revised_prompt = json_dumps(caption, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
        gen_wait_free(w);
        srv_openai_error(r, 500, NULL, NULL, "out of memory");
        goto out_caption;
    }
    w->b64 = b64;
    const char *host = srv_lookup(r, SRV_HEADER, "Host");
    /* The Host header passed the precheck's allow-list on loopback binds;
     * only URL-safe host characters are copied. */
    if (host && strlen(host) < 256 && strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") == strlen(host))
        snprintf(w->base_url, sizeof w->base_url, "http://%s", host);
    int position;
    if (srv_generation_submit(r, &q, w->id, &position) != 0) {
        if (r->resp.status == 409) r->resp.status = 429; /* OpenAI's "try later" */
        gen_wait_free(w);
        goto out_caption;
    }
    srv_defer(r, generation_reply, w, gen_wait_free);
out_caption:
    json_decref(caption);
out:
    json_decref(body);
}

void srv_route_openai(srv_req *r, const char *path) {
    int get = !strcmp(r->method, "GET"), post = !strcmp(r->method, "POST");
    if (!strcmp(path, "/models")) get ? models(r) : (void)srv_method_not_allowed(r, "GET");
    else if (!strcmp(path, "/images/generations")) post ? generations(r) : (void)srv_method_not_allowed(r, "POST");
    else srv_openai_error(r, 404, NULL, "unknown_url", "Unknown request URL: %s %s", r->method, r->url);
}
