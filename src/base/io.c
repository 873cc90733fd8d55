/* io.c — see io.h. */
#include "base/io.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"

char *i4_read_stream(FILE *f, size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    for (;;) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

int i4_write_failed(int err, const char *what) {
    /* Said in plain words: codecs and users see "disk full", not errno 28. */
    if (err == ENOSPC || err == EDQUOT) return i4_error("disk full (no space left on device)");
    return err ? i4_error("%s: %s", what, strerror(err)) : i4_error("%s", what);
}

/* fsync the folder holding path, so a rename into it survives a crash. */
static int sync_parent_dir(const char *path) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) slash[1] = 0;
    else *slash = 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

int i4_write_file_atomic(const char *path, i4_write_fn fill, void *ctx) {
    char tmp[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) return i4_error("path too long: %s", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return errno == ENOSPC ? i4_write_failed(ENOSPC, "")
                                   : i4_error("cannot create %s: %s", tmp, strerror(errno));
    errno = 0;
    int rc = fill(f, ctx);
    /* Buffered bytes fail only when flushed, and the data reaches the disk
     * before the name does: after a crash the final name holds a whole file. */
    if (rc == 0 && (fflush(f) != 0 || ferror(f))) rc = i4_write_failed(errno, "write failed");
    if (rc == 0 && fsync(fileno(f)) != 0) rc = i4_write_failed(errno, "fsync failed");
    if (fclose(f) != 0 && rc == 0) rc = i4_write_failed(errno, "close failed");
    if (rc == 0 && rename(tmp, path) != 0) rc = i4_error("cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (rc == 0 && sync_parent_dir(path) != 0) rc = i4_error("cannot sync the folder of %s: %s", path, strerror(errno));
    if (rc != 0) {
        remove(tmp);
        return i4_error_prefix("%s", path);
    }
    return 0;
}

typedef struct {
    const json_t *root;
    size_t flags;
} json_job;

static int dump_json(FILE *f, void *ctx) {
    const json_job *j = ctx;
    return json_dumpf(j->root, f, j->flags) == 0 ? 0 : i4_write_failed(errno, "cannot write JSON");
}

int i4_write_json_file(const char *path, const json_t *root, size_t flags) {
    json_job j = {root, flags};
    return i4_write_file_atomic(path, dump_json, &j);
}

int i4_check_free_space(const char *dir, uint64_t need) {
    struct statvfs sv;
    if (statvfs(dir, &sv) != 0) return i4_error("cannot check the free space in %s: %s", dir, strerror(errno));
    uint64_t avail = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
    if (avail >= need) return 0;
    return i4_error("not enough free space in %s: the files need %.2f GB, %.2f GB are free", dir, (double)need / 1e9,
                    (double)avail / 1e9);
}

int i4_mkdirs(const char *path) {
    char buf[PATH_MAX];
    if ((size_t)snprintf(buf, sizeof buf, "%s", path) >= sizeof buf) return i4_error("path too long: %s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) return i4_error("cannot create %s: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) return i4_error("cannot create %s: %s", buf, strerror(errno));
    return 0;
}

int i4_write_text_file(const char *dir, const char *name, const char *text) {
    char path[PATH_MAX];
    if (i4_mkdirs(dir) != 0) return -1;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return i4_error("cannot create %s: %s", path, strerror(errno));
    size_t n = strlen(text);
    int ok = fwrite(text, 1, n, f) == n;
    if (fclose(f) != 0) ok = 0;
    return ok ? 0 : i4_error("cannot write %s", path);
}

double i4_now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
