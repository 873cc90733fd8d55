/* cmd_verify.c — `ideogram4 verify FILE|-`: check a structured caption with
 * the caption verifier (docs/APP.md §8.5).
 *
 * Output (stdout): "ok" when the caption passes every check; otherwise one
 * line per problem, each starting with its JSON path ("elements[1].bbox: ...").
 * Exit status: 0 valid (or plain text, see below), 1 problems found, 2 usage
 * error or unreadable input.
 * Plain-text prompts (text that is not JSON and does not start like JSON,
 * i.e. its first non-blank character is none of { [ ") are accepted with one
 * warning line, exit 0, as generation accepts them (docs/APP.md §2.1). Text that
 * starts like JSON but does not parse reports "invalid JSON: ..." and exits 1. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/io.h"
#include "cli/commands.h"
#include "ideogram4.h"

static const char USAGE[] = "usage: ideogram4 verify FILE|-   (- reads the caption from stdin)\n";

static int looks_like_plain_text(const char *text, size_t len) {
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) i++;
    if (i == len) return 0; /* empty: not a prompt at all */
    return text[i] != '{' && text[i] != '[' && text[i] != '"';
}

int i4_cmd_verify(int argc, char **argv) {
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(USAGE, stdout);
            return 0;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "verify: unknown option '%s'\n%s", argv[i], USAGE);
            return 2;
        }
        if (path) {
            fprintf(stderr, "verify: unexpected argument '%s'\n%s", argv[i], USAGE);
            return 2;
        }
        path = argv[i];
    }
    if (!path) {
        fputs(USAGE, stderr);
        return 2;
    }

    int from_stdin = !strcmp(path, "-");
    FILE *f = from_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "verify: cannot open '%s': %s\n", path, strerror(errno));
        return 2;
    }
    size_t len = 0;
    char *text = i4_read_stream(f, &len);
    int read_errno = errno;
    if (!from_stdin) fclose(f);
    if (!text) {
        fprintf(stderr, "verify: cannot read '%s': %s\n", from_stdin ? "stdin" : path, strerror(read_errno));
        return 2;
    }

    i4_caption_issues issues;
    if (i4_caption_verify(text, len, &issues) != 0) {
        fprintf(stderr, "verify: %s\n", i4_last_error());
        free(text);
        return 2;
    }
    int rc;
    if (issues.not_json && looks_like_plain_text(text, len)) {
        printf("warning: %s (plain-text prompts are accepted with a warning)\n",
               i4_caption_kind_warning(I4_CAPTION_NOT_JSON));
        rc = 0;
    } else if (issues.count == 0) {
        printf("ok\n");
        rc = 0;
    } else {
        for (size_t i = 0; i < issues.count; i++) printf("%s\n", issues.items[i]);
        rc = 1;
    }
    i4_caption_issues_free(&issues);
    free(text);
    return rc;
}
