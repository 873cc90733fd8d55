/* cmd_download.c — `ideogram4 download [--repo ORG/NAME] [--revision R]
 * [--include GLOB]...`: fetch a snapshot from the Hugging Face Hub into the
 * cache (hub/hub.h), then print its folder on stdout; `generate --repo` and
 * `serve --repo` find it there. Progress goes to stderr: a bar on a
 * terminal, otherwise a line per file and every 10 s. Exit status: 0 done,
 * 1 failed (the reason on stderr), 2 usage error. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/io.h"
#include "cli/commands.h"
#include "hub/hub.h"
#include "ideogram4.h"

#define MAX_INCLUDE 64

static const char USAGE[] =
    "usage: ideogram4 download [--repo ORG/NAME] [--revision R] [--include GLOB]...\n"
    "  --repo ORG/NAME   repository (default $IDEOGRAM4_MODEL_REPO, else ideogram-ai/ideogram-4-fp8)\n"
    "  --revision R      branch, tag or commit (default $IDEOGRAM4_MODEL_REVISION, else main)\n"
    "  --include GLOB    only files matching GLOB ('*' crosses '/'); repeatable\n"
    "Environment: HF_ENDPOINT, HF_HUB_CACHE / HF_HOME (where the cache is), HF_TOKEN (else the\n"
    "token file $HF_HOME/token that `hf auth login` writes). An interrupted download resumes.\n";

typedef struct {
    int tty;
    double start, last;
    int last_index;
} bar_state;

static void mb(uint64_t b, char *out, size_t size) {
    if (b >= 1000000000ull) snprintf(out, size, "%.2f GB", (double)b / 1e9);
    else snprintf(out, size, "%.1f MB", (double)b / 1e6);
}

static int on_progress(void *user, const i4_hub_progress *p) {
    bar_state *b = user;
    double now = i4_now_seconds();
    uint64_t done = p->done + p->file_done;
    double pct = p->total ? 100.0 * (double)done / (double)p->total : 100.0;
    double rate = now > b->start ? (double)done / (now - b->start) : 0;
    char d[32], t[32], r[32];
    mb(done, d, sizeof d);
    mb(p->total, t, sizeof t);
    mb((uint64_t)rate, r, sizeof r);
    if (b->tty) {
        int width = 30, fill = (int)(pct / 100.0 * width);
        char bar[64];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
        bar[width] = 0;
        fprintf(stderr, "\r[%s] %5.1f%% %s / %s  %s/s  file %d/%d %-40.40s", bar, pct, d, t, r, p->index, p->count,
                p->path ? p->path : "");
        if (p->finished && p->index == p->count) fputc('\n', stderr);
        fflush(stderr);
    } else if (p->finished || now - b->last >= 10.0) {
        fprintf(stderr, "%s %d/%d %s: %.1f%% of all (%s / %s)\n", p->finished ? "done" : "downloading", p->index,
                p->count, p->path ? p->path : "", pct, d, t);
        b->last = now;
    }
    return 0;
}

int i4_cmd_download(int argc, char **argv) {
    const char *repo = getenv("IDEOGRAM4_MODEL_REPO"), *rev = getenv("IDEOGRAM4_MODEL_REVISION");
    const char *include[MAX_INCLUDE];
    int n_include = 0;
    if (!repo || !*repo) repo = "ideogram-ai/ideogram-4-fp8";
    if (rev && !*rev) rev = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(USAGE, stdout);
            return 0;
        }
        if ((!strcmp(a, "--repo") || !strcmp(a, "--revision") || !strcmp(a, "--include")) && i + 1 >= argc) {
            fprintf(stderr, "download: %s needs a value\n%s", a, USAGE);
            return 2;
        }
        if (!strcmp(a, "--repo")) repo = argv[++i];
        else if (!strcmp(a, "--revision")) rev = argv[++i];
        else if (!strcmp(a, "--include")) {
            if (n_include == MAX_INCLUDE) {
                fprintf(stderr, "download: at most %d --include patterns\n", MAX_INCLUDE);
                return 2;
            }
            include[n_include++] = argv[++i];
        } else {
            fprintf(stderr, "download: unknown argument '%s'\n%s", a, USAGE);
            return 2;
        }
    }
    bar_state b = {.tty = isatty(2), .start = i4_now_seconds()};
    b.last = b.start;
    i4_hub_request rq = {.repo = repo, .revision = rev, .include = include, .n_include = n_include,
                         .progress = on_progress, .user = &b};
    fprintf(stderr, "downloading %s@%s\n", repo, rev ? rev : "main");
    char snap[4096];
    if (i4_hub_download_snapshot(&rq, snap, sizeof snap) != 0) {
        if (b.tty) fputc('\n', stderr);
        fprintf(stderr, "download: %s\n", i4_last_error());
        return 1;
    }
    fprintf(stderr, "done in %.1fs\n", i4_now_seconds() - b.start);
    printf("%s\n", snap);
    return 0;
}
