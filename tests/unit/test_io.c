/* test_io.c — base/io.h: files written whole or not at all. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"
#include "base/io.h"
#include "ideogram4.h"
#include "test.h"

static int put_text(FILE *f, void *ctx) { return fputs(ctx, f) >= 0 ? 0 : -1; }

static int fail_midway(FILE *f, void *ctx) {
    (void)ctx;
    fputs("half", f);
    return i4_error("the encoder gave up");
}

static int file_is(const char *path, const char *want) {
    char buf[64] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    return n == strlen(want) && !memcmp(buf, want, n);
}

I4_TEST(io_write_file_atomic) {
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    struct stat st;
    snprintf(path, sizeof path, "%s/atomic.txt", i4_test_tmpdir());
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    REQUIRE(i4_write_file_atomic(path, put_text, "first") == 0);
    CHECK(file_is(path, "first"));
    CHECK(stat(tmp, &st) != 0);

    /* A failed write keeps the old file and leaves no temporary behind. */
    CHECK(i4_write_file_atomic(path, fail_midway, NULL) != 0);
    CHECK(strstr(i4_last_error(), path) && strstr(i4_last_error(), "the encoder gave up"));
    CHECK(file_is(path, "first"));
    CHECK(stat(tmp, &st) != 0);

    CHECK(i4_write_file_atomic("/nonexistent-dir/x.txt", put_text, "x") != 0);
    CHECK(strstr(i4_last_error(), "cannot create /nonexistent-dir/x.txt.tmp") != NULL);

    json_t *j = json_pack("{s:i}", "a", 1);
    REQUIRE(i4_write_json_file(path, j, JSON_COMPACT) == 0);
    json_decref(j);
    CHECK(file_is(path, "{\"a\":1}"));
}

I4_TEST(io_write_failed_says_disk_full) {
    i4_write_failed(ENOSPC, "write failed");
    CHECK(!strcmp(i4_last_error(), "disk full (no space left on device)"));
    i4_write_failed(0, "write failed");
    CHECK(!strcmp(i4_last_error(), "write failed"));
}
