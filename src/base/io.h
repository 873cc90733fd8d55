/* io.h — small I/O and clock helpers shared by the CLI, pipeline and server. */
#ifndef I4_IO_H
#define I4_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Read all of f into a NUL-terminated malloc'd buffer (the text may itself
 * contain NUL bytes; *len, if non-NULL, gets the byte count). NULL on error
 * or out of memory. */
char *i4_read_stream(FILE *f, size_t *len);

/* Writes through the callback; returns 0, or -1 with an i4_error message. */
typedef int (*i4_write_fn)(FILE *f, void *ctx);

/*
 * Write path so that it is either the old file or the whole new one, never a
 * prefix, even across a crash or a full disk: write "<path>.tmp" through
 * fill(f, ctx), flush and fsync it, rename it to path, then fsync the folder
 * so the rename itself is on disk. On failure the temporary file is removed
 * and path is untouched. The ".tmp" name is part of the contract: the
 * server's store sweeps "<generated name>.tmp" files left by a killed write.
 * Messages: "cannot create <path>.tmp: <reason>" when the file cannot be
 * opened, otherwise "<path>: <reason>"; a full disk always reads
 * "disk full (no space left on device)".
 */
int i4_write_file_atomic(const char *path, i4_write_fn fill, void *ctx);

/* root dumped with jansson's flags (JSON_INDENT(2) | ...), written as above. */
struct json_t;
int i4_write_json_file(const char *path, const struct json_t *root, size_t flags);

/* Record why a write failed (err = errno): "disk full (no space left on
 * device)" for ENOSPC / EDQUOT, else "<what>: <strerror(err)>", or just
 * "<what>" when err is 0. Returns -1. */
int i4_write_failed(int err, const char *what);

/* 0 when the file system holding dir has at least `need` bytes free for
 * this user, else -1 with "not enough free space in DIR: the files need
 * X GB, Y GB are free". */
int i4_check_free_space(const char *dir, uint64_t need);

/* mkdir -p: every missing folder of path (mode 0755). */
int i4_mkdirs(const char *path);

/* Write text to dir/name, creating dir first (small files the tiny model and
 * the tests write; not atomic). */
int i4_write_text_file(const char *dir, const char *name, const char *text);

/* Monotonic clock in seconds (for durations). */
double i4_now_seconds(void);

#endif
