/*
 * cmd_make_tiny_model.c — `ideogram4 make-tiny-model DIR [--seed N] [--tokenizer DIR]`
 * and, with --full-size, the random checkpoint of the real dimensions
 * (model/fullsize.h): [--layers N] cuts both transformers to N blocks (the
 * text encoder keeps its 36: its taps need them), --dry-run prints the files
 * and tensors without writing, --shard-size S splits every component into
 * shards of at most S bytes of tensor data (default: one file each, as the
 * official FP8 repo). Progress (bytes written / total) goes to stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/io.h"
#include "cli/commands.h"
#include "ideogram4.h"
#include "model/fullsize.h"

static void usage(void) {
    fprintf(stderr, "usage: ideogram4 make-tiny-model DIR [--seed N] [--tokenizer DIR]\n"
                    "       ideogram4 make-tiny-model DIR --full-size [--layers N] [--dry-run] [--shard-size S]\n"
                    "                                     [--seed N] [--tokenizer DIR]\n"
                    "  --full-size      real dimensions, dtypes and layout, random weights (~27 GB; 34 layers)\n"
                    "  --layers N       transformer blocks of both transformers, 1-34 (default 34)\n"
                    "  --dry-run        print the files and tensors (shape, dtype, bytes) and the total; write nothing\n"
                    "  --shard-size S   shards of at most S bytes of tensor data (suffix K, M, G: powers of 1000)\n");
}

/* "5G", "500M", "1234": a positive byte count (K, M, G, optionally followed by B). */
static int parse_size(const char *v, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || end == v || v[0] == '-' || x == 0) return -1;
    uint64_t mul = 1;
    if (*end == 'K' || *end == 'k') mul = 1000ull, end++;
    else if (*end == 'M' || *end == 'm') mul = 1000000ull, end++;
    else if (*end == 'G' || *end == 'g') mul = 1000000000ull, end++;
    if (mul > 1 && (*end == 'B' || *end == 'b')) end++;
    if (*end || x > UINT64_MAX / mul) return -1;
    *out = (uint64_t)x * mul;
    return 0;
}

typedef struct {
    int tty, finished;
    double start, last;
    int last_pct;
} progress_state;

static void on_progress(void *user, uint64_t done, uint64_t total) {
    progress_state *ps = user;
    double now = i4_now_seconds();
    int pct = total ? (int)(100.0 * (double)done / (double)total) : 100;
    /* A terminal line twice a second; in a log, a line every 5 %. */
    if (ps->finished || (done < total && (ps->tty ? now - ps->last < 0.5 : pct / 5 == ps->last_pct / 5))) return;
    ps->finished = done >= total;
    ps->last = now;
    ps->last_pct = pct;
    double el = now - ps->start, rate = el > 0 ? (double)done / el : 0;
    double eta = rate > 0 ? (double)(total - done) / rate : 0;
    fprintf(stderr, "%swriting %.2f / %.2f GB (%d%%)  %.0f MB/s  ETA %.0f s%s", ps->tty ? "\r" : "",
            (double)done / 1e9, (double)total / 1e9, pct, rate / 1e6, eta, ps->tty && !ps->finished ? " " : "\n");
    fflush(stderr);
}

int i4_cmd_make_tiny_model(int argc, char **argv) {
    const char *dir = NULL, *tok = NULL;
    unsigned long long seed = 0;
    int full = 0, dry = 0;
    long layers = 0;
    uint64_t shard = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            char *end;
            errno = 0;
            seed = strtoull(argv[++i], &end, 10);
            if (errno || *end || argv[i][0] == '-') {
                fprintf(stderr, "make-tiny-model: --seed needs a non-negative integer, got '%s'\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--tokenizer") && i + 1 < argc) {
            tok = argv[++i];
        } else if (!strcmp(argv[i], "--full-size")) {
            full = 1;
        } else if (!strcmp(argv[i], "--dry-run")) {
            dry = 1;
        } else if (!strcmp(argv[i], "--layers") && i + 1 < argc) {
            char *end;
            errno = 0;
            layers = strtol(argv[++i], &end, 10);
            if (errno || *end || end == argv[i] || layers < 1 || layers > 34) {
                fprintf(stderr, "make-tiny-model: --layers needs an integer in [1, 34], got '%s'\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--shard-size") && i + 1 < argc) {
            if (parse_size(argv[++i], &shard) != 0) {
                fprintf(stderr, "make-tiny-model: --shard-size needs a positive byte count (e.g. 5G), got '%s'\n",
                        argv[i]);
                return 2;
            }
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "make-tiny-model: unknown option '%s'\n", argv[i]);
            usage();
            return 2;
        } else if (!dir) {
            dir = argv[i];
        } else {
            fprintf(stderr, "make-tiny-model: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!dir) {
        usage();
        return 2;
    }
    if (!full && (dry || layers || shard)) {
        fprintf(stderr, "make-tiny-model: --layers, --dry-run and --shard-size need --full-size\n");
        return 2;
    }
    if (!full) {
        if (i4_make_tiny_model(dir, (uint64_t)seed, tok) != 0) {
            fprintf(stderr, "make-tiny-model: %s\n", i4_last_error());
            return 1;
        }
        printf("wrote tiny model to %s (seed %llu)\n", dir, seed);
        return 0;
    }

    i4_fullsize_dims d;
    i4_fullsize_dims_real(&d);
    if (layers) d.dit.n_layers = layers;
    progress_state ps = {.tty = isatty(2), .start = i4_now_seconds()};
    i4_fullsize_options o = {
        .seed = seed, .tokenizer_dir = tok, .shard_bytes = shard, .plan = dry ? stdout : NULL,
        .progress = on_progress, .user = &ps,
    };
    uint64_t total = 0;
    if (i4_make_fullsize_model(dir, &d, &o, &total) != 0) {
        if (ps.tty) fputc('\n', stderr);
        fprintf(stderr, "make-tiny-model: %s\n", i4_last_error());
        return 1;
    }
    if (!dry)
        printf("wrote full-size random model to %s (seed %llu, %lld transformer layers): %llu bytes (%.2f GB) in "
               "%.0f s\n",
               dir, seed, (long long)d.dit.n_layers, (unsigned long long)total, (double)total / 1e9,
               i4_now_seconds() - ps.start);
    return 0;
}
