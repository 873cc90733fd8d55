/*
 * runner.c — runs every registered test; starts with the machine it was
 * built for and the one it runs on, ends with "N passed, N failed".
 * Built with -DI4_TEST_NO_MODEL (the aarch64 cross build, which links only
 * base/tensor/ops) it has no i4_test_tiny_model.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "ideogram4.h"
#include "test.h"

#define MAX_TESTS 1024

typedef struct {
    const char *name;
    i4_test_fn fn;
} test_entry;

static test_entry tests[MAX_TESTS];
static int test_count;
static char tmp_root[256];

void i4_test_register(const char *name, i4_test_fn fn) {
    if (test_count < MAX_TESTS) tests[test_count++] = (test_entry){name, fn};
}

double i4_test_rel_l2(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * (double)b[i];
    }
    if (den < 1e-30) den = 1e-30;
    return sqrt(num / den);
}

const char *i4_test_tmpdir(void) {
    if (!tmp_root[0]) {
        snprintf(tmp_root, sizeof tmp_root, "/tmp/i4test-XXXXXX");
        if (!mkdtemp(tmp_root)) {
            perror("mkdtemp");
            exit(2);
        }
    }
    return tmp_root;
}

#ifndef I4_TEST_NO_MODEL
const char *i4_test_tiny_model(void) {
    static char dir[320];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/tiny-model", i4_test_tmpdir());
        if (i4_make_tiny_model(dir, I4_TEST_TINY_SEED, NULL) != 0) {
            fprintf(stderr, "cannot write the tiny model: %s\n", i4_last_error());
            exit(2);
        }
    }
    return dir;
}
#endif

const char *i4_test_vector_path(const char *name, char *buf, size_t size) {
    snprintf(buf, size, "tests/vectors/%s", name);
    return buf;
}

/* The architecture this binary was compiled for (a cross build under qemu
 * says aarch64 here and in uname). */
#if defined(__aarch64__)
#define BUILT_FOR "aarch64"
#elif defined(__x86_64__)
#define BUILT_FOR "x86_64"
#else
#define BUILT_FOR "other"
#endif

static int by_name(const void *a, const void *b) {
    return strcmp(((const test_entry *)a)->name, ((const test_entry *)b)->name);
}

int main(int argc, char **argv) {
    const char *filter = argc > 1 ? argv[1] : NULL;
    int passed = 0, failed = 0;
    struct utsname u;
    printf("machine: built for %s, running on %s\n", BUILT_FOR, uname(&u) == 0 ? u.machine : "?");
    qsort(tests, (size_t)test_count, sizeof tests[0], by_name);
    for (int i = 0; i < test_count; i++) {
        if (filter && !strstr(tests[i].name, filter)) continue;
        int failures = 0;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        tests[i].fn(&failures);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
        printf("%s %s (%.0f ms)\n", failures ? "FAIL" : "ok  ", tests[i].name, ms);
        fflush(stdout);
        if (failures) failed++; else passed++;
    }
    if (tmp_root[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp_root);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
