/*
 * magic_routes.c — POST /api/magic-prompt and GET /api/magic-prompt/status
 * (docs/APP.md §3.3.7–§3.3.8, §7). The LLM call itself lives in magic_prompt.c;
 * this file validates the HTTP request, maps each failure kind to a status
 * code with a JSON {"error", "kind"} body, and probes the provider.
 *
 * Status codes: 422 invalid input (or an unusable size), 503 not configured,
 * 504 the LLM timed out, 502 the LLM was unreachable, answered an HTTP error,
 * or gave a reply without a usable caption (then "warnings" lists the
 * verifier's issues), 500 internal failures.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/io.h"
#include "base/utf8.h"
#include "server/server_internal.h"

static unsigned status_for(i4_mp_error kind) {
    switch (kind) {
    case I4_MP_INVALID_INPUT: return 422;
    case I4_MP_NOT_CONFIGURED: return 503;
    case I4_MP_TIMEOUT: return 504;
    case I4_MP_UNREACHABLE:
    case I4_MP_HTTP_ERROR:
    case I4_MP_BAD_REPLY:
    case I4_MP_INVALID_CAPTION: return 502;
    default: return 500;
    }
}

/* A validated magic-prompt request, run off the event loop. */
typedef struct {
    json_t *body;          /* owns the strings below */
    const char *prompt;
    const char **images;
    size_t n_images;
    int width, height;
} magic_call;

static void magic_call_free(void *p) {
    magic_call *c = p;
    if (!c) return;
    json_decref(c->body);
    free(c->images);
    free(c);
}

static void magic_reply(i4_server *s, void *arg, srv_req *r) {
    magic_call *c = arg;
    i4_magic_prompt_result res;
    double t0 = i4_now_seconds();
    i4_magic_prompt_run(&s->mp, c->prompt, c->images, c->n_images, c->width, c->height, &res);
    i4_log(&s->log, res.kind == I4_MP_OK ? I4_LOG_INFO : I4_LOG_WARN, "magic", "%s model %s, %zu image(s): %s (%.1fs)",
           s->mp.base_url, s->mp.model, c->n_images, res.kind == I4_MP_OK ? "ok" : res.message, i4_now_seconds() - t0);
    if (res.kind == I4_MP_OK) {
        json_t *cap = json_loads(res.caption_json, 0, NULL);
        if (cap) srv_json(r, 200, json_pack("{s:o,s:s}", "caption", cap, "model", s->mp.model));
        else srv_error(r, 500, "internal error: the caption does not parse");
    } else if (res.kind == I4_MP_INVALID_INPUT) {
        srv_invalid(r, c->n_images && strstr(res.message, "image") ? "images_b64" : "prompt", "%s", res.message);
    } else {
        char *msg = i4_utf8_sanitized(res.message, strlen(res.message));
        json_t *j = json_pack("{s:s,s:s}", "error", msg && *msg ? msg : i4_mp_error_name(res.kind), "kind",
                              i4_mp_error_name(res.kind));
        free(msg);
        if (j && res.kind == I4_MP_INVALID_CAPTION) {
            json_t *w = json_array();
            for (size_t i = 0; i < res.issues.count; i++) json_array_append_new(w, json_string(res.issues.items[i]));
            json_object_set_new(j, "warnings", w);
            json_t *cap = res.caption_json ? json_loads(res.caption_json, 0, NULL) : NULL;
            json_object_set_new(j, "caption", cap ? cap : json_null());
        }
        if (j && res.http_status) json_object_set_new(j, "llm_status", json_integer(res.http_status));
        srv_json(r, status_for(res.kind), j);
    }
    i4_magic_prompt_result_free(&res);
}

static void magic_prompt(srv_req *r) {
    i4_server *s = r->s;
    if (!s->mp_config_ok) {
        srv_json(r, 503, json_pack("{s:s,s:s}", "error", s->mp_config_error, "kind", "not_configured"));
        return;
    }
    json_t *body = srv_body_object(r, 0);
    if (!body) return;
    magic_call *c = calloc(1, sizeof *c);
    if (!c) {
        json_decref(body);
        srv_error(r, 500, "out of memory");
        return;
    }
    c->body = body;
    c->width = c->height = 1024;
    json_t *prompt = json_object_get(body, "prompt");
    if (prompt && !json_is_null(prompt) && !json_is_string(prompt)) {
        srv_invalid(r, "prompt", "must be a string");
        goto bad;
    }
    c->prompt = json_is_string(prompt) ? json_string_value(prompt) : NULL;
    int *dims[2] = {&c->width, &c->height};
    const char *names[2] = {"width", "height"};
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(body, names[i]);
        if (!v || json_is_null(v)) continue;
        if (!json_is_integer(v) || json_integer_value(v) < s->opt.min_size || json_integer_value(v) > s->opt.max_size) {
            srv_invalid(r, names[i], "must be an integer between %d and %d", s->opt.min_size, s->opt.max_size);
            goto bad;
        }
        *dims[i] = (int)json_integer_value(v);
    }
    json_t *imgs = json_object_get(body, "images_b64");
    if (imgs && !json_is_null(imgs)) {
        if (!json_is_array(imgs)) {
            srv_invalid(r, "images_b64", "must be a list of data URLs or base64 strings");
            goto bad;
        }
        c->n_images = json_array_size(imgs);
        c->images = calloc(c->n_images ? c->n_images : 1, sizeof *c->images);
        if (!c->images) {
            srv_error(r, 500, "out of memory");
            goto bad;
        }
        for (size_t i = 0; i < c->n_images; i++) {
            json_t *it = json_array_get(imgs, i);
            if (!json_is_string(it)) {
                srv_invalid(r, "images_b64", "item %zu must be a string", i);
                goto bad;
            }
            c->images[i] = json_string_value(it);
        }
    }
    srv_defer(r, magic_reply, c, magic_call_free);
    return;
bad:
    magic_call_free(c);
}

static size_t discard(char *p, size_t size, size_t n, void *u) {
    (void)p;
    (void)u;
    return size * n;
}

/* GET url; 0 with *status on an answer, -1 with err on a transport failure. */
static int probe(const char *url, const char *key, long timeout_s, long *status, char *err, size_t err_size) {
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(err, err_size, "curl init failed");
        return -1;
    }
    struct curl_slist *h = NULL;
    char auth[1100];
    if (key && *key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        h = curl_slist_append(h, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    else snprintf(err, err_size, "%s: %s", url, curl_easy_strerror(rc));
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return rc == CURLE_OK ? 0 : -1;
}

static void magic_status_reply(i4_server *s, void *arg, srv_req *r) {
    (void)arg;
    const i4_magic_prompt_config *c = &s->mp;
    if (!s->mp_config_ok)
    {
        srv_json(r, 200, json_pack("{s:b,s:s,s:[],s:b,s:s}", "configured", 0, "config_error", s->mp_config_error,
                                   "missing_env", "llm_reachable", 0, "llm_error", s->mp_config_error));
        return;
    }
    i4_magic_prompt_global_init();
    char url[1200], err[600] = "";
    long status = 0;
    int loopback = strstr(c->base_url, "://127.") || strstr(c->base_url, "://localhost");
    int reachable;
    if (c->provider == I4_MP_PROVIDER_LLAMA_CPP || loopback) {
        snprintf(url, sizeof url, "%s", c->base_url);
        size_t n = strlen(url);
        while (n && url[n - 1] == '/') url[--n] = 0;
        if (n >= 3 && !strcmp(url + n - 3, "/v1")) url[n - 3] = 0;
        strncat(url, "/health", sizeof url - strlen(url) - 1);
        reachable = probe(url, NULL, 3, &status, err, sizeof err) == 0 && status == 200;
    } else {
        snprintf(url, sizeof url, "%s/models", c->base_url);
        reachable = probe(url, c->api_key, 5, &status, err, sizeof err) == 0 && status < 500;
    }
    if (!reachable && !err[0]) snprintf(err, sizeof err, "%s answered HTTP %ld", url, status);
    json_t *j = json_pack("{s:b,s:s,s:s,s:s,s:b,s:[],s:b,s:o}", "configured", reachable, "provider",
                          c->provider == I4_MP_PROVIDER_LLAMA_CPP ? "llama_cpp" : "openai_compatible", "model", c->model,
                          "base_url", c->base_url, "auth_configured", c->api_key[0] != 0, "missing_env",
                          "llm_reachable", reachable, "llm_error", reachable ? json_null() : json_string(err));
    srv_json(r, 200, j);
}

void srv_route_magic(srv_req *r, const char *path) {
    if (!strcmp(path, "/magic-prompt")) !strcmp(r->method, "POST") ? magic_prompt(r) : (void)srv_method_not_allowed(r, "POST");
    else if (!strcmp(path, "/magic-prompt/status")) {
        if (strcmp(r->method, "GET")) srv_method_not_allowed(r, "GET");
        else srv_defer(r, magic_status_reply, NULL, NULL); /* the probe may take seconds */
    } else srv_error(r, 404, "not found");
}
