/*
 * fuzz_util.h — helpers shared by the libFuzzer harnesses (header-only: each
 * harness is one translation unit linked alone against the library).
 *
 * Harnesses whose parser reads a file write each input into one private temp
 * folder, made on first use under $TMPDIR (tests/fuzz/run.sh points that at
 * its scratch folder) and removed at exit, so nothing is written anywhere
 * else. FUZZ_CHECK is for the harness's own invariants: a failed one aborts,
 * which libFuzzer reports as a crash with the input saved.
 */
#ifndef I4_FUZZ_UTIL_H
#define I4_FUZZ_UTIL_H

#include <dirent.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_CHECK(cond)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

static char fuzz_tmp[PATH_MAX];

/* Removes the temp folder's files (it holds no sub-folders) and the folder. */
static inline void fuzz_tmp_remove(void) {
    if (!fuzz_tmp[0]) return;
    DIR *d = opendir(fuzz_tmp);
    if (d) {
        struct dirent *e;
        char p[PATH_MAX + 256];
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                snprintf(p, sizeof p, "%s/%s", fuzz_tmp, e->d_name);
                unlink(p);
            }
        closedir(d);
    }
    rmdir(fuzz_tmp);
    fuzz_tmp[0] = 0;
}

/* The harness's private temp folder (created on first call; aborts when it
 * cannot be, since the harness could not run at all). */
static inline const char *fuzz_tmpdir(void) {
    if (fuzz_tmp[0]) return fuzz_tmp;
    const char *base = getenv("TMPDIR");
    snprintf(fuzz_tmp, sizeof fuzz_tmp, "%s/i4fuzz.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(fuzz_tmp)) {
        perror("fuzz: mkdtemp");
        abort();
    }
    atexit(fuzz_tmp_remove);
    return fuzz_tmp;
}

/* Writes data to <tmpdir>/name; returns the path (static buffer). */
static inline const char *fuzz_write_file(const char *name, const void *data, size_t size) {
    static char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", fuzz_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(size == 0 || fwrite(data, 1, size, f) == size);
    FUZZ_CHECK(fclose(f) == 0);
    return path;
}

/* A NUL-terminated copy of the input (for APIs that take C strings). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    FUZZ_CHECK(s != NULL);
    if (size) memcpy(s, data, size);
    s[size] = 0;
    return s;
}

#endif
