/*
 * history_routes.c — the SQLite-backed history (docs/APP.md §3.3.10–§3.3.12):
 * GET /api/images[?prompt_id=&limit=&offset=], GET|DELETE /api/images/{id},
 * GET /api/images/{id}/file, GET|POST /api/prompts, GET|DELETE
 * /api/prompts/{id}, GET|POST /api/form.
 *
 * Files are only ever reached through a row's stored bare name inside the
 * output folder (docs/APP.md §3.5 rule 4); deleting a row deletes its file after
 * the row is gone, so a failure in between leaves an orphan file (cleaned at
 * the next start), never a row pointing at nothing.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "server/server_internal.h"

void srv_delete_output_file(i4_server *s, const char *stored) {
    if (!stored) return;
    const char *name = strrchr(stored, '/') ? strrchr(stored, '/') + 1 : stored;
    if (!i4_store_is_bare_name(name) || !strcmp(srv_image_content_type(name), "application/octet-stream")) return;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", s->output_dir, name);
    if (unlink(path) != 0) i4_log(&s->log, I4_LOG_WARN, "store", "cannot delete %s", path);
}

/* Optional integer query parameter in [lo, hi]; -1 with the 422 queued. */
static int query_int(srv_req *r, const char *name, long long lo, long long hi, long long *out) {
    const char *v = srv_lookup(r, SRV_QUERY, name);
    if (!v) return 0;
    char *end;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || x < lo || x > hi) {
        char field[64];
        snprintf(field, sizeof field, "query.%s", name);
        srv_invalid(r, field, "must be an integer from %lld to %lld", lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

static int store_failure(srv_req *r, int rc) {
    if (rc == I4_STORE_NOT_FOUND) return srv_json(r, 404, json_pack("{s:s,s:b}", "error", "not found", "ok", 0));
    return srv_error(r, 500, "database error: %s", i4_last_error());
}

/* ------------------------------------------------------------ images */

static int images_list(srv_req *r) {
    long long prompt_id = 0, limit = r->s->opt.query_limit, offset = 0;
    if (query_int(r, "prompt_id", 1, INT64_MAX, &prompt_id) || query_int(r, "limit", 1, 500, &limit) ||
        query_int(r, "offset", 0, 1000000000, &offset))
        return 0;
    json_t *rows = NULL;
    int rc = i4_store_image_list(r->s->store, (int)limit, (int)offset, prompt_id, &rows);
    if (rc) return store_failure(r, rc);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        char url[64];
        snprintf(url, sizeof url, "/api/images/%lld/file", (long long)json_integer_value(json_object_get(row, "id")));
        json_object_set_new(row, "url", json_string(url));
    }
    return srv_json(r, 200, rows);
}

static int image_get(srv_req *r, int64_t id) {
    json_t *row = NULL;
    int rc = i4_store_image_get(r->s->store, id, &row);
    if (rc) return store_failure(r, rc);
    char url[64];
    snprintf(url, sizeof url, "/api/images/%lld/file", (long long)id);
    json_object_set_new(row, "url", json_string(url));
    return srv_json(r, 200, row);
}

static int image_file(srv_req *r, int64_t id) {
    json_t *row = NULL;
    int rc = i4_store_image_get(r->s->store, id, &row);
    if (rc) return store_failure(r, rc);
    const char *name = json_string_value(json_object_get(row, "file_path"));
    int ret;
    if (!name || !*name || !i4_store_is_bare_name(name)) ret = srv_error(r, 404, "not found");
    else ret = srv_file_in(r, r->s->output_dir, name, srv_image_content_type(name), 1);
    json_decref(row);
    return ret;
}

static int image_delete(srv_req *r, int64_t id) {
    char *file = NULL;
    int rc = i4_store_image_delete(r->s->store, id, &file);
    if (rc) return store_failure(r, rc);
    srv_delete_output_file(r->s, file);
    i4_log(&r->s->log, I4_LOG_INFO, "store", "image %lld deleted (%s)", (long long)id, file ? file : "");
    free(file);
    return srv_json(r, 200, json_pack("{s:b}", "ok", 1));
}

/* ------------------------------------------------------------ prompts and form */

static size_t utf8_chars(const char *s) {
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* "form_json" must be a string that parses as JSON, within the size cap. */
static int check_form_json(srv_req *r, json_t *body, const char **out) {
    json_t *v = json_object_get(body, "form_json");
    if (!json_is_string(v)) {
        srv_invalid(r, "form_json", "must be a string holding JSON");
        return -1;
    }
    if ((long)json_string_length(v) > r->s->opt.max_form_bytes) {
        srv_invalid(r, "form_json", "must be %ld KB or smaller", r->s->opt.max_form_bytes / 1024);
        return -1;
    }
    json_error_t e;
    json_t *parsed = json_loadb(json_string_value(v), json_string_length(v), JSON_DECODE_ANY, &e);
    if (!parsed) {
        srv_invalid(r, "form_json", "is not valid JSON (line %d column %d: %s)", e.line, e.column, e.text);
        return -1;
    }
    json_decref(parsed);
    *out = json_string_value(v);
    return 0;
}

static int prompt_create(srv_req *r) {
    json_t *body = srv_body_object(r, 0);
    if (!body) return 0;
    const char *form = NULL, *hld = "";
    json_t *h = json_object_get(body, "hld");
    if (h && !json_is_null(h)) {
        if (!json_is_string(h)) {
            json_decref(body);
            return srv_invalid(r, "hld", "must be a string");
        }
        hld = json_string_value(h);
        if (utf8_chars(hld) > 12000) {
            json_decref(body);
            return srv_invalid(r, "hld", "must be 12000 characters or fewer");
        }
    }
    if (check_form_json(r, body, &form)) {
        json_decref(body);
        return 0;
    }
    int64_t id = 0;
    int rc = i4_store_prompt_insert(r->s->store, form, hld, &id);
    json_decref(body);
    if (rc) return store_failure(r, rc);
    return srv_json(r, 200, json_pack("{s:I}", "id", (json_int_t)id));
}

static int prompts_list(srv_req *r) {
    long long limit = r->s->opt.query_limit, offset = 0;
    if (query_int(r, "limit", 1, 500, &limit) || query_int(r, "offset", 0, 1000000000, &offset))
        return 0;
    const char *search = srv_lookup(r, SRV_QUERY, "search");
    if (search && strlen(search) > 1000) return srv_invalid(r, "query.search", "must be 1000 characters or fewer");
    json_t *rows = NULL;
    int rc = i4_store_prompt_list(r->s->store, (int)limit, (int)offset, search, 1, &rows);
    if (rc) return store_failure(r, rc);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        json_t *thumb = json_object_get(row, "thumb_image_id");
        if (json_is_integer(thumb)) {
            char url[64];
            snprintf(url, sizeof url, "/api/images/%lld/file", (long long)json_integer_value(thumb));
            json_object_set_new(row, "thumb_url", json_string(url));
        } else {
            json_object_set_new(row, "thumb_url", json_null());
        }
    }
    return srv_json(r, 200, rows);
}

static int prompt_get(srv_req *r, int64_t id) {
    json_t *row = NULL;
    int rc = i4_store_prompt_get(r->s->store, id, &row);
    return rc ? store_failure(r, rc) : srv_json(r, 200, row);
}

static int prompt_delete(srv_req *r, int64_t id) {
    json_t *files = NULL;
    int rc = i4_store_prompt_delete(r->s->store, id, &files);
    if (rc) return store_failure(r, rc);
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f) srv_delete_output_file(r->s, json_string_value(f));
    i4_log(&r->s->log, I4_LOG_INFO, "store", "prompt %lld deleted with %zu image(s)", (long long)id,
           json_array_size(files));
    json_t *resp = json_pack("{s:b,s:I}", "ok", 1, "images_deleted", (json_int_t)json_array_size(files));
    json_decref(files);
    return srv_json(r, 200, resp);
}

static int form_get(srv_req *r) {
    char *form = NULL;
    if (i4_store_form_load(r->s->store, &form) != 0) return store_failure(r, -1);
    json_t *j = json_pack("{s:o}", "form_json", form ? json_string(form) : json_null());
    free(form);
    return srv_json(r, 200, j);
}

static int form_save(srv_req *r) {
    json_t *body = srv_body_object(r, 0);
    if (!body) return 0;
    const char *form;
    if (check_form_json(r, body, &form)) {
        json_decref(body);
        return 0;
    }
    int rc = i4_store_form_save(r->s->store, form);
    json_decref(body);
    return rc ? store_failure(r, rc) : srv_json(r, 200, json_pack("{s:b}", "ok", 1));
}

/* ------------------------------------------------------------ dispatch */

static int route(srv_req *r, const char *path);

void srv_route_history(srv_req *r, const char *path) {
    route(r, path);
}

static int route(srv_req *r, const char *path) {
    int get = !strcmp(r->method, "GET"), post = !strcmp(r->method, "POST"), del = !strcmp(r->method, "DELETE");
    if (!strcmp(path, "/form")) return get ? form_get(r) : post ? form_save(r) : srv_method_not_allowed(r, "GET, POST");
    if (!strcmp(path, "/images")) return get ? images_list(r) : srv_method_not_allowed(r, "GET");
    if (!strcmp(path, "/prompts"))
        return get ? prompts_list(r) : post ? prompt_create(r) : srv_method_not_allowed(r, "GET, POST");
    int images = !strncmp(path, "/images/", 8);
    if (!images && strncmp(path, "/prompts/", 9)) return srv_error(r, 404, "not found");
    const char *rest = path + (images ? 8 : 9);
    const char *slash = strchr(rest, '/');
    char idtext[32];
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    if (n >= sizeof idtext) return srv_error(r, 404, "not found");
    memcpy(idtext, rest, n);
    idtext[n] = 0;
    int64_t id = srv_parse_id(idtext);
    if (id <= 0) return srv_error(r, 404, "not found");
    if (slash) {
        if (!images || strcmp(slash, "/file")) return srv_error(r, 404, "not found");
        return get ? image_file(r, id) : srv_method_not_allowed(r, "GET");
    }
    if (images) return get ? image_get(r, id) : del ? image_delete(r, id) : srv_method_not_allowed(r, "GET, DELETE");
    return get ? prompt_get(r, id) : del ? prompt_delete(r, id) : srv_method_not_allowed(r, "GET, DELETE");
}
