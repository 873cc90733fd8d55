/*
 * cmd_info.c — `ideogram4 info IMAGE...`: print the generation parameters an
 * image carries (written by `generate` and the server: PNG text chunks,
 * WebP/JPEG XMP; ideogram4.h i4_image_read_meta). The JSON by default,
 * AUTOMATIC1111's `parameters` text with --parameters. Exit 1 when a file
 * holds none, 2 on usage errors.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "ideogram4.h"

static void usage(FILE *f) {
    fprintf(f, "usage: ideogram4 info [--parameters] IMAGE...\n"
               "  prints the parameters stored in a PNG, WebP or JPEG written by ideogram4 (JSON);\n"
               "  --parameters prints the AUTOMATIC1111-style text instead\n");
}

int i4_cmd_info(int argc, char **argv) {
    int text = 0, n_files = 0, rc = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { usage(stdout); return 0; }
        if (!strcmp(argv[i], "--parameters")) text = 1;
        else if (argv[i][0] == '-' && argv[i][1]) { fprintf(stderr, "info: unknown option '%s'\n", argv[i]); usage(stderr); return 2; }
        else n_files++;
    }
    if (!n_files) { usage(stderr); return 2; }
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1]) continue;
        char *json = NULL, *params = NULL;
        i4_image_format fmt;
        if (i4_image_read_meta(argv[i], &fmt, &json, &params) != 0) {
            fprintf(stderr, "info: %s\n", i4_last_error());
            rc = 1;
            continue;
        }
        if (n_files > 1) printf("%s%s:\n", i > 1 ? "\n" : "", argv[i]);
        if (text ? !params : !json) {
            fprintf(stderr, "info: %s: no ideogram4 %s in this %s file\n", argv[i], text ? "parameters" : "metadata",
                    i4_image_format_name(fmt));
            rc = 1;
        } else if (text) {
            printf("%s\n", params);
        } else {
            /* Pretty-printed when it parses; as stored otherwise. */
            json_t *j = json_loads(json, 0, NULL);
            char *pretty = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) : NULL;
            printf("%s\n", pretty ? pretty : json);
            free(pretty);
            json_decref(j);
        }
        free(json);
        free(params);
    }
    return rc;
}
