/* cmd_tokenize.c — `ideogram4 tokenize (--model DIR | --tokenizer DIR | --repo ORG/NAME) [--raw] TEXT`:
 * print the token ids of TEXT on one line, separated by spaces. Without --raw
 * TEXT goes through the chat template (docs/MODEL.md §6.3); TEXT "-" reads stdin
 * verbatim (no trimming: a trailing newline is part of the text). Invalid
 * UTF-8 is tokenized as U+FFFD per maximal invalid subpart. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/io.h"
#include "cli/commands.h"
#include "ideogram4.h"

static void usage(FILE *f) {
    fprintf(f, "usage: ideogram4 tokenize (--model DIR | --tokenizer DIR | --repo ORG/NAME) [--raw] TEXT|-\n"
               "  --model DIR      snapshot folder (tokenizer in DIR/tokenizer)\n"
               "  --tokenizer DIR  folder holding tokenizer.json\n"
               "  --repo ORG/NAME  snapshot from the Hugging Face cache\n"
               "  --raw            TEXT alone, without the chat template\n"
               "  TEXT             the caption; '-' reads it from stdin\n");
}

int i4_cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *tok_dir = NULL, *repo = NULL, *text = NULL;
    int raw = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(a, "--tokenizer") && i + 1 < argc) tok_dir = argv[++i];
        else if (!strcmp(a, "--repo") && i + 1 < argc) repo = argv[++i];
        else if (!strcmp(a, "--raw")) raw = 1;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--")) {
            if (i + 2 != argc || text) {
                usage(stderr);
                return 2;
            }
            text = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "tokenize: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (!text) {
            text = a;
        } else {
            fprintf(stderr, "tokenize: unexpected argument '%s' (quote the text)\n", a);
            return 2;
        }
    }
    if (!text || (!!model + !!tok_dir + !!repo) > 1) {
        usage(stderr);
        return 2;
    }
    char dir[4096];
    if (tok_dir) {
        snprintf(dir, sizeof dir, "%s", tok_dir);
    } else if (model) {
        snprintf(dir, sizeof dir, "%s/tokenizer", model);
    } else {
        char snap[4096];
        if (i4_resolve_snapshot(NULL, repo, snap, sizeof snap) != 0) {
            fprintf(stderr, "tokenize: %s\n", i4_last_error());
            return 1;
        }
        snprintf(dir, sizeof dir, "%s/tokenizer", snap);
    }

    size_t len;
    char *owned = NULL;
    if (!strcmp(text, "-")) {
        owned = i4_read_stream(stdin, &len);
        if (!owned) {
            fprintf(stderr, "tokenize: cannot read stdin\n");
            return 1;
        }
        text = owned;
    } else {
        len = strlen(text);
    }

    int64_t *ids;
    size_t n;
    int rc = i4_tokenize(dir, text, len, !raw, &ids, &n);
    free(owned);
    if (rc != 0) {
        fprintf(stderr, "tokenize: %s\n", i4_last_error());
        return 1;
    }
    for (size_t i = 0; i < n; i++) printf(i ? " %lld" : "%lld", (long long)ids[i]);
    printf("\n");
    free(ids);
    return fflush(stdout) == 0 ? 0 : 1;
}
