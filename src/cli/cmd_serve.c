/*
 * cmd_serve.c — `ideogram4 serve [--host H] [--port P] [--model DIR | --repo
 * ORG/NAME | --demo] [--output DIR] [--precision f32|bf16]`. Environment:
 * IDEOGRAM4_SERVER_HOST, IDEOGRAM4_SERVER_PORT, IDEOGRAM4_OUTPUT_DIR. With
 * --demo the built-in tiny model is written (once) and served. Runs until
 * SIGINT/SIGTERM.
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

static const char *env_or(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

int i4_cmd_serve(int argc, char **argv) {
    i4_server_options o = {
        .host = env_or("IDEOGRAM4_SERVER_HOST", "127.0.0.1"),
        .port = atoi(env_or("IDEOGRAM4_SERVER_PORT", "8000")),
        .output_dir = env_or("IDEOGRAM4_OUTPUT_DIR", "outputs"),
        .repo = env_or("IDEOGRAM4_MODEL_REPO", NULL),
    };
    int threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--demo")) { o.demo = 1; continue; }
        if (!v) { fprintf(stderr, "serve: option '%s' needs a value (or is unknown)\n", a); return 2; }
        i++;
        if (!strcmp(a, "--host")) o.host = v;
        else if (!strcmp(a, "--port")) o.port = atoi(v);
        else if (!strcmp(a, "--model")) o.model_dir = v;
        else if (!strcmp(a, "--repo")) o.repo = v;
        else if (!strcmp(a, "--output")) o.output_dir = v;
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--precision")) {
            if (i4_precision_parse(v, &o.precision) != 0) { fprintf(stderr, "serve: %s\n", i4_last_error()); return 2; }
        } else { fprintf(stderr, "serve: unknown option '%s'\n", a); return 2; }
    }
    if (o.port <= 0 || o.port > 65535) { fprintf(stderr, "serve: invalid port\n"); return 2; }
    if (strcmp(o.host, "127.0.0.1") != 0)
        fprintf(stderr, "warning: binding %s; this first server cut has no API token yet — keep it on loopback\n", o.host);
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
    i4_set_threads(threads);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    i4_server *s = NULL;
    if (i4_server_start(&s, &o) != 0) {
        fprintf(stderr, "serve: %s\n", i4_last_error());
        return 1;
    }
    fprintf(stderr, "ideogram4 %s serving on http://%s:%d/ (%s)\n", I4_VERSION, o.host, o.port,
            o.demo ? "demo: built-in tiny model" : (o.model_dir ? o.model_dir : "weights from the Hugging Face cache"));
    while (!stop_requested) pause();
    fprintf(stderr, "stopping...\n");
    i4_server_stop(s);
    return 0;
}
