/*
 * config.c — server options from the environment (docs/APP.md §10.1) and the
 * `.env` reader. Every value is checked here so that a typo stops the server
 * at start with the variable's name instead of misbehaving later.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/error.h"
#include "base/log.h"
#include "server/server.h"

static const char *env(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static int env_long(const char *name, long long lo, long long hi, long long *out) {
    const char *v = env(name);
    if (!v) return 0;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    while (isspace((unsigned char)*end)) end++;
    if (errno || *end || end == v || x < lo || x > hi)
        return i4_error("%s='%s': expected an integer from %lld to %lld", name, v, lo, hi);
    *out = x;
    return 0;
}

static int env_int(const char *name, int lo, int hi, int *out) {
    long long x = *out;
    if (env_long(name, lo, hi, &x) != 0) return -1;
    *out = (int)x;
    return 0;
}

static int env_flag(const char *name, int *out) {
    const char *v = env(name);
    if (!v) return 0;
    if (!strcasecmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on")) *out = 1;
    else if (!strcasecmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off")) *out = 0;
    else return i4_error("%s='%s': expected 1/true/yes/on or 0/false/no/off", name, v);
    return 0;
}

int i4_host_is_loopback(const char *host) {
    return host && (!strncmp(host, "127.", 4) || !strcmp(host, "localhost"));
}

int i4_server_options_from_env(i4_server_options *o) {
    memset(o, 0, sizeof *o);
    o->host = env("IDEOGRAM4_SERVER_HOST") ? env("IDEOGRAM4_SERVER_HOST") : "127.0.0.1";
    o->port = 8000;
    o->repo = env("IDEOGRAM4_MODEL_REPO");
    o->revision = env("IDEOGRAM4_MODEL_REVISION");
    o->output_dir = env("IDEOGRAM4_OUTPUT_DIR") ? env("IDEOGRAM4_OUTPUT_DIR") : "server/output";
    o->db_path = env("IDEOGRAM4_DB_PATH") ? env("IDEOGRAM4_DB_PATH") : "server/data/ideogram4.db";
    o->lora_dir = env("IDEOGRAM4_LORA_DIR") ? env("IDEOGRAM4_LORA_DIR") : "models/loras";
    o->log_dir = env("IDEOGRAM4_LOG_DIR") ? env("IDEOGRAM4_LOG_DIR") : "logs";
    o->webui_dir = env("IDEOGRAM4_WEBUI_DIR");
    o->api_token = env("IDEOGRAM4_API_TOKEN");
    o->cors_origins = env("IDEOGRAM4_CORS_ORIGINS");
    o->default_preset = env("IDEOGRAM4_DEFAULT_PRESET") ? env("IDEOGRAM4_DEFAULT_PRESET") : "V4_QUALITY_48";
    o->default_format = env("IDEOGRAM4_DEFAULT_FORMAT") ? env("IDEOGRAM4_DEFAULT_FORMAT") : "webp";
    o->default_seed = 20260608;
    o->quality_webp = 90;
    o->quality_jpeg = 95;
    o->min_size = 128;
    o->max_size = 2048;
    o->size_multiple = 16;
    o->max_caption_bytes = 262144;
    o->max_form_bytes = 1048576;
    o->lora_strength = 0.6;
    o->warmup_size = 64;
    o->warmup_steps = 2;
    o->query_limit = 50;
    o->log_level = I4_LOG_INFO;
    o->queue_size = 16;
    o->allowed_hosts = env("IDEOGRAM4_ALLOWED_HOSTS");
    o->max_connections = 4000;
    o->per_ip_connections = 64;
    o->http_threads = 4;
    o->header_timeout = 30;
    o->body_timeout = 120;
    o->max_inflight_bytes = 64ll << 20;
    o->magic_concurrency = 2;

    long long x;
    if (env_int("IDEOGRAM4_SERVER_PORT", 0, 65535, &o->port)) return -1;
    x = o->default_seed;
    if (env_long("IDEOGRAM4_DEFAULT_SEED", 0, 0xFFFFFFFFll, &x)) return -1;
    o->default_seed = x;
    if (env_int("IDEOGRAM4_IMAGE_QUALITY_WEBP", 1, 100, &o->quality_webp) ||
        env_int("IDEOGRAM4_IMAGE_QUALITY_JPEG", 1, 100, &o->quality_jpeg) ||
        env_int("IDEOGRAM4_MIN_IMAGE_SIZE", 16, 8192, &o->min_size) ||
        env_int("IDEOGRAM4_MAX_IMAGE_SIZE", 16, 8192, &o->max_size) ||
        env_int("IDEOGRAM4_IMAGE_SIZE_MULTIPLE", 16, 1024, &o->size_multiple) ||
        env_int("IDEOGRAM4_WARMUP_SIZE", 16, 2048, &o->warmup_size) ||
        env_int("IDEOGRAM4_WARMUP_STEPS", 0, 100, &o->warmup_steps) ||
        env_int("IDEOGRAM4_DB_QUERY_LIMIT", 1, 10000, &o->query_limit) ||
        env_int("IDEOGRAM4_QUEUE_SIZE", 0, 1000, &o->queue_size) ||
        env_flag("IDEOGRAM4_CORS_ALLOW_CREDENTIALS", &o->cors_credentials) ||
        env_flag("IDEOGRAM4_AUTOLOAD", &o->autoload) ||
        env_int("IDEOGRAM4_MAX_CONNECTIONS", 16, 1000000, &o->max_connections) ||
        env_int("IDEOGRAM4_PER_IP_CONNECTIONS", 1, 1000000, &o->per_ip_connections) ||
        env_int("IDEOGRAM4_HTTP_THREADS", 1, 64, &o->http_threads) ||
        env_int("IDEOGRAM4_HEADER_TIMEOUT", 1, 3600, &o->header_timeout) ||
        env_int("IDEOGRAM4_BODY_TIMEOUT", 1, 3600, &o->body_timeout) ||
        env_int("IDEOGRAM4_MAGIC_PROMPT_CONCURRENCY", 1, 64, &o->magic_concurrency) ||
        env_long("IDEOGRAM4_MAX_INFLIGHT_BODY_BYTES", 1 << 20, 1ll << 40, &o->max_inflight_bytes))
        return -1;
    if (o->size_multiple % 16) return i4_error("IDEOGRAM4_IMAGE_SIZE_MULTIPLE must be a multiple of 16 (the latent patch)");
    if (o->min_size > o->max_size) return i4_error("IDEOGRAM4_MIN_IMAGE_SIZE is larger than IDEOGRAM4_MAX_IMAGE_SIZE");
    if (o->warmup_size % 16) return i4_error("IDEOGRAM4_WARMUP_SIZE must be a multiple of 16");
    x = o->max_caption_bytes;
    if (env_long("IDEOGRAM4_MAX_CAPTION_JSON_BYTES", 2, 1 << 24, &x)) return -1;
    o->max_caption_bytes = (long)x;
    x = o->max_form_bytes;
    if (env_long("IDEOGRAM4_MAX_FORM_JSON_BYTES", 2, 1 << 24, &x)) return -1;
    o->max_form_bytes = (long)x;
    const char *v = env("IDEOGRAM4_LORA_STRENGTH");
    if (v) {
        char *end;
        o->lora_strength = strtod(v, &end);
        if (*end || end == v || !(o->lora_strength >= -4 && o->lora_strength <= 4))
            return i4_error("IDEOGRAM4_LORA_STRENGTH='%s': expected a number from -4 to 4", v);
    }
    if ((v = env("IDEOGRAM4_SERVER_LOG_LEVEL"))) {
        int lvl = i4_log_level_parse(v);
        if (lvl < 0) return i4_error("IDEOGRAM4_SERVER_LOG_LEVEL='%s': expected debug, info, warning or error", v);
        o->log_level = lvl;
    }
    if (!i4_preset_steps(o->default_preset))
        return i4_error("IDEOGRAM4_DEFAULT_PRESET='%s': expected V4_QUALITY_48, V4_DEFAULT_20 or V4_TURBO_12",
                        o->default_preset);
    i4_image_format f;
    if (i4_image_format_parse(o->default_format, &f) != 0)
        return i4_error("IDEOGRAM4_DEFAULT_FORMAT='%s': expected png, webp or jpeg", o->default_format);
    if ((v = env("IDEOGRAM4_BACKEND"))) {
        if (!i4_backend_name_ok(v)) return i4_error("IDEOGRAM4_BACKEND=%s: unknown backend (auto, cpu or vulkan)", v);
        o->backend = v;
    }
    if ((v = env("IDEOGRAM4_DEVICE"))) {
        if (!i4_device_index_ok(v)) return i4_error("IDEOGRAM4_DEVICE=%s: not a device index (see `ideogram4 devices`)", v);
        o->device = v;
    }
    if ((v = env("IDEOGRAM4_OFFLOAD"))) o->offload = strcmp(v, "0") != 0 && *v;
    if ((v = env("IDEOGRAM4_PRECISION")) && i4_precision_parse(v, &o->precision) != 0)
        return i4_error("IDEOGRAM4_PRECISION: %s", i4_last_error());
    return 0;
}

/* ------------------------------------------------------------ .env */

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

int i4_dotenv_load(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return errno == ENOENT ? 0 : i4_error("cannot read %s: %s", path, strerror(errno));
    char line[8192];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#') continue;
        if (!strncmp(s, "export ", 7)) s = trim(s + 7);
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = i4_error("%s:%d: expected KEY=VALUE", path, lineno);
            break;
        }
        *eq = 0;
        char *key = trim(s), *val = trim(eq + 1);
        int ok = *key && (isalpha((unsigned char)*key) || *key == '_');
        for (char *k = key; *k && ok; k++) ok = isalnum((unsigned char)*k) || *k == '_';
        if (!ok) {
            rc = i4_error("%s:%d: invalid variable name '%s'", path, lineno, key);
            break;
        }
        size_t n = strlen(val);
        if (n >= 2 && (val[0] == '"' || val[0] == '\'') && val[n - 1] == val[0]) {
            val[n - 1] = 0;
            val++;
        } else {
            /* An unquoted value ends at an inline " #" comment. */
            char *hash = strstr(val, " #");
            if (hash) *hash = 0;
            val = trim(val);
        }
        if (!getenv(key)) setenv(key, val, 0);
    }
    fclose(f);
    return rc;
}
