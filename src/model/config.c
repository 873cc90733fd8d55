/* config.c — a component's config.json behind typed getters (see config.h). */
#include "model/config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"

int i4_config_load(i4_config *c, const char *component_dir, int required) {
    c->root = NULL;
    if ((size_t)snprintf(c->path, sizeof c->path, "%s/config.json", component_dir) >= sizeof c->path)
        return i4_error("path too long: %s/config.json", component_dir);
    struct stat st;
    if (!required && stat(c->path, &st) != 0 && errno == ENOENT) return 0;
    json_error_t jerr;
    c->root = json_load_file(c->path, 0, &jerr);
    if (!c->root) {
        /* jansson reports a missing file as line -1. */
        if (jerr.line < 0) return i4_error("cannot read %s: %s", c->path, jerr.text);
        return i4_error("%s: invalid JSON (line %d: %s)", c->path, jerr.line, jerr.text);
    }
    if (!json_is_object(c->root)) {
        i4_config_free(c);
        return i4_error("%s: invalid JSON (the top level must be an object)", c->path);
    }
    return 0;
}

void i4_config_free(i4_config *c) {
    json_decref(c->root);
    c->root = NULL;
}

int i4_config_find(const i4_config *c, const char *key, json_t **out) {
    *out = NULL;
    json_t *cur = c->root;
    char part[256];
    const char *p = key;
    while (cur && *p) {
        size_t n = strcspn(p, ".");
        if (n >= sizeof part) return i4_error("%s: key '%s' too long", c->path, key);
        if (!json_is_object(cur))
            return i4_error("%s: '%.*s' must be an object (reading '%s')", c->path, (int)(p - key - 1), key, key);
        memcpy(part, p, n);
        part[n] = 0;
        cur = json_object_get(cur, part);
        p += n + (p[n] == '.');
    }
    *out = json_is_null(cur) ? NULL : cur;
    return 0;
}

int i4_config_number(const i4_config *c, const char *key, double fallback, double *out) {
    json_t *v;
    *out = fallback;
    if (i4_config_find(c, key, &v) != 0) return -1;
    if (!v) return 0;
    if (!json_is_number(v)) return i4_error("%s: '%s' must be a number", c->path, key);
    *out = json_number_value(v);
    return 0;
}

int i4_config_int(const i4_config *c, const char *key, int64_t fallback, int64_t *out) {
    json_t *v;
    *out = fallback;
    if (i4_config_find(c, key, &v) != 0) return -1;
    if (!v) return 0;
    if (!json_is_integer(v)) return i4_error("%s: '%s' must be an integer", c->path, key);
    *out = json_integer_value(v);
    return 0;
}

int i4_config_bool(const i4_config *c, const char *key, int fallback, int *out) {
    json_t *v;
    *out = fallback;
    if (i4_config_find(c, key, &v) != 0) return -1;
    if (!v) return 0;
    if (!json_is_boolean(v)) return i4_error("%s: '%s' must be true or false", c->path, key);
    *out = json_is_true(v);
    return 0;
}

int i4_config_string(const i4_config *c, const char *key, const char *fallback, const char **out) {
    json_t *v;
    *out = fallback;
    if (i4_config_find(c, key, &v) != 0) return -1;
    if (!v) return 0;
    if (!json_is_string(v)) return i4_error("%s: '%s' must be a string", c->path, key);
    *out = json_string_value(v);
    return 0;
}

int i4_config_int_list(const i4_config *c, const char *key, int64_t min, int64_t *out, int max) {
    json_t *v;
    if (i4_config_find(c, key, &v) != 0) return -1;
    if (!v) return 0;
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    if ((!json_is_array(v) && !json_is_integer(v)) || n == 0 || n > (size_t)max)
        return i4_error("%s: '%s' must be a list of 1..%d integers", c->path, key, max);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
        if (!json_is_integer(e) || json_integer_value(e) < min)
            return i4_error("%s: '%s' must hold integers >= %lld", c->path, key, (long long)min);
        out[i] = json_integer_value(e);
    }
    return (int)n;
}
