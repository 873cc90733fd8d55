/* cmd_make_tiny_model.c — `ideogram4 make-tiny-model DIR [--seed N] [--tokenizer DIR]`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "ideogram4.h"

int i4_cmd_make_tiny_model(int argc, char **argv) {
    const char *dir = NULL, *tok = NULL;
    unsigned long long seed = 0;
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
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "make-tiny-model: unknown option '%s'\n", argv[i]);
            return 2;
        } else if (!dir) {
            dir = argv[i];
        } else {
            fprintf(stderr, "make-tiny-model: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!dir) {
        fprintf(stderr, "usage: ideogram4 make-tiny-model DIR [--seed N] [--tokenizer DIR]\n");
        return 2;
    }
    if (i4_make_tiny_model(dir, (uint64_t)seed, tok) != 0) {
        fprintf(stderr, "make-tiny-model: %s\n", i4_last_error());
        return 1;
    }
    printf("wrote tiny model to %s (seed %llu)\n", dir, seed);
    return 0;
}
