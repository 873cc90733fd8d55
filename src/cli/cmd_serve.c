/*
 * cmd_serve.c — `ideogram4 serve [--host H] [--port P] [--model DIR | --repo
 * ORG/NAME | --demo] [--output DIR] [--db FILE] [--lora-dir DIR]
 * [--log-dir DIR] [--webui DIR] [--queue N] [--load] [--precision f32|bf16]
 * [--threads N] [--backend auto|cpu|vulkan]`.
 *
 * Settings come from `.env` in the working directory (never overriding the
 * environment), then the IDEOGRAM4_* variables (docs/APP.md §10.1), then these
 * flags. With --demo the built-in tiny model is written once under
 * <output>/.tiny-model and served. Runs until SIGINT/SIGTERM.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "ideogram4.h"
#include "server/server.h"

static volatile sig_atomic_t stop_requested; /* set by SIGINT/SIGTERM */

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static int parse_int(const char *flag, const char *v, int lo, int hi, int *out) {
    char *end;
    long x = strtol(v, &end, 10);
    if (!*v || *end || x < lo || x > hi) {
        fprintf(stderr, "serve: %s expects an integer from %d to %d, got '%s'\n", flag, lo, hi, v);
        return -1;
    }
    *out = (int)x;
    return 0;
}

int i4_cmd_serve(int argc, char **argv) {
    if (i4_dotenv_load(".env") != 0) {
        fprintf(stderr, "serve: %s\n", i4_last_error());
        return 2;
    }
    i4_server_options o;
    if (i4_server_options_from_env(&o) != 0) {
        fprintf(stderr, "serve: %s\n", i4_last_error());
        return 2;
    }
    int threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--demo")) { o.demo = 1; continue; }
        if (!strcmp(a, "--load")) { o.autoload = 1; continue; }
        if (!strcmp(a, "--offload")) { o.offload = 1; continue; }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: ideogram4 serve [--host H] [--port P] [--model DIR | --repo ORG/NAME | --demo]\n"
                   "                       [--output DIR] [--db FILE] [--lora-dir DIR] [--log-dir DIR]\n"
                   "                       [--webui DIR] [--queue N] [--load] [--precision f32|bf16] [--threads N]\n"
                   "                       [--backend auto|cpu|vulkan] [--device N] [--offload]\n"
                   "Settings also come from .env and IDEOGRAM4_* variables (see README).\n");
            return 0;
        }
        if (!v) { fprintf(stderr, "serve: option '%s' needs a value (or is unknown)\n", a); return 2; }
        i++;
        if (!strcmp(a, "--host")) o.host = v;
        else if (!strcmp(a, "--port")) { if (parse_int(a, v, 0, 65535, &o.port)) return 2; }
        else if (!strcmp(a, "--model")) o.model_dir = v;
        else if (!strcmp(a, "--repo")) o.repo = v;
        else if (!strcmp(a, "--output")) o.output_dir = v;
        else if (!strcmp(a, "--db")) o.db_path = v;
        else if (!strcmp(a, "--lora-dir")) o.lora_dir = v;
        else if (!strcmp(a, "--log-dir")) o.log_dir = v;
        else if (!strcmp(a, "--webui")) o.webui_dir = v;
        else if (!strcmp(a, "--queue")) { if (parse_int(a, v, 0, 1000, &o.queue_size)) return 2; }
        else if (!strcmp(a, "--threads")) { if (parse_int(a, v, 0, 1024, &threads)) return 2; }
        else if (!strcmp(a, "--backend")) {
            if (!i4_backend_name_ok(v)) { fprintf(stderr, "serve: unknown backend '%s' (auto, cpu or vulkan)\n", v); return 2; }
            o.backend = v;
        }
        else if (!strcmp(a, "--device")) {
            if (!i4_device_index_ok(v)) { fprintf(stderr, "serve: --device needs a device index (see `ideogram4 devices`), got '%s'\n", v); return 2; }
            o.device = v;
        }
        else if (!strcmp(a, "--precision")) {
            if (i4_precision_parse(v, &o.precision) != 0) { fprintf(stderr, "serve: %s\n", i4_last_error()); return 2; }
        } else { fprintf(stderr, "serve: unknown option '%s'\n", a); return 2; }
    }
    char demo_dir[PATH_MAX];
    if (o.demo) {
        snprintf(demo_dir, sizeof demo_dir, "%s/.tiny-model", o.output_dir);
        struct stat st;
        char probe[PATH_MAX + 32];
        snprintf(probe, sizeof probe, "%s/model_index.json", demo_dir);
        if (stat(probe, &st) != 0 && i4_make_tiny_model(demo_dir, 1, NULL) != 0) {
            fprintf(stderr, "serve: %s\n", i4_last_error());
            return 1;
        }
        o.model_dir = demo_dir;
    }
    o.threads = threads;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    i4_server *s = NULL;
    if (i4_server_start(&s, &o) != 0) {
        fprintf(stderr, "serve: %s\n", i4_last_error());
        return 1;
    }
    fprintf(stderr, "ideogram4 %s serving on http://%s:%d/ (%s)\n", I4_VERSION, o.host, i4_server_port(s),
            o.demo ? "demo: built-in tiny model" : (o.model_dir ? o.model_dir : "weights from the Hugging Face cache"));
    while (!stop_requested) pause();
    fprintf(stderr, "stopping...\n");
    i4_server_stop(s);
    return 0;
}
