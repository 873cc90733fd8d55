/*
 * config.h — a model component's config.json (transformer/, text_encoder/,
 * vae/ ...), parsed once and read through typed getters.
 *
 * Keys are dotted paths into nested objects ("text_config.rope_theta"). A key
 * that is absent, or JSON null (Hugging Face configs write null for "use the
 * default"), gives the caller's default. A value of the wrong type is an
 * error naming the file and the key: a config that says something the code
 * would silently ignore is worse than one that fails to load.
 */
#ifndef I4_MODEL_CONFIG_H
#define I4_MODEL_CONFIG_H

#include <jansson.h>
#include <limits.h>
#include <stdint.h>

typedef struct {
    json_t *root;          /* NULL: optional file not there, every getter gives its default */
    char path[PATH_MAX];   /* for messages */
} i4_config;

/* Parse component_dir/config.json. required = 0: a missing file is an empty
 * config (the transformer's is optional). Invalid JSON, or a top level that
 * is not an object, is always an error. */
int i4_config_load(i4_config *c, const char *component_dir, int required);
void i4_config_free(i4_config *c);

/* The raw value, or NULL when absent / null (no error). -1 when a path
 * component is not an object. */
int i4_config_find(const i4_config *c, const char *key, json_t **out);

int i4_config_number(const i4_config *c, const char *key, double fallback, double *out);
int i4_config_int(const i4_config *c, const char *key, int64_t fallback, int64_t *out);
int i4_config_bool(const i4_config *c, const char *key, int fallback, int *out);
/* *out points into the config (valid until i4_config_free). */
int i4_config_string(const i4_config *c, const char *key, const char *fallback, const char **out);
/* A list of 1..max integers, each >= min, into out; a lone integer counts as
 * a list of one (diffusers accepts `patch_size: 2`). Returns the count, 0
 * when absent, -1 on error. */
int i4_config_int_list(const i4_config *c, const char *key, int64_t min, int64_t *out, int max);

#endif
