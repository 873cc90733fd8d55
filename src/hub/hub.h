/*
 * hub.h — a Hugging Face Hub client (libcurl): fetch a model snapshot into
 * the standard cache layout, or one file of a repository into a folder.
 *
 * The cache layout (the one huggingface_hub, hf-hub and llama.cpp share):
 *   <hub>/models--ORG--NAME/blobs/<etag>              file contents; etag = sha256 (LFS) or git blob sha1
 *   <hub>/models--ORG--NAME/blobs/<etag>.incomplete   a download in progress (resumed with Range)
 *   <hub>/models--ORG--NAME/snapshots/<commit>/<path> relative link to ../../blobs/<etag>
 *   <hub>/models--ORG--NAME/refs/<revision>           the commit the revision pointed at
 * hub = $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub (as
 * i4_resolve_snapshot reads it). Endpoint $HF_ENDPOINT (default
 * https://huggingface.co); token $HF_TOKEN, else the file $HF_HOME/token
 * (default ~/.cache/huggingface/token), sent as "Authorization: Bearer".
 *
 * Everything the Hub answers is treated as untrusted: repository file names
 * that are absolute, hold "..", "." or empty segments, backslashes or control
 * characters are refused; etags must be 40 or 64 lowercase hex digits; commit
 * ids 40; the listing is capped in size; a file may not grow past the size
 * the Hub announced; nothing is written through a symlink.
 */
#ifndef I4_HUB_H
#define I4_HUB_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *path;      /* the file being fetched (path in the repository) */
    int index, count;      /* 1-based file index, number of files */
    uint64_t file_done, file_size;
    uint64_t done, total;  /* bytes over all files (already present ones count as done) */
    int finished;          /* 1 on the last call for a file */
} i4_hub_progress;

/* Called often (at most ~10 times a second per file, plus once per file at
 * its end); a nonzero return cancels the download. */
typedef int (*i4_hub_progress_fn)(void *user, const i4_hub_progress *p);

typedef struct {
    const char *repo;          /* ORG/NAME */
    const char *revision;      /* branch, tag or commit; NULL = "main" */
    const char *const *include;/* fnmatch patterns ("*" crosses "/"); NULL/0 = every file */
    int n_include;
    i4_hub_progress_fn progress;
    void *user;
} i4_hub_request;

/* Fetch the snapshot of repo@revision into the cache; the snapshot folder
 * goes to out. Files already in the cache are not fetched again; an
 * interrupted file resumes where it stopped. */
int i4_hub_download_snapshot(const i4_hub_request *rq, char *out, size_t out_size);

/* Fetch one file of repo@revision to dest (a full path), through
 * <dir of dest>/.<name of dest>.incomplete (resumed when present);
 * check(tmp_path, user), when given, must return 0 before the file is
 * renamed into place (else the temporary file is removed). */
int i4_hub_download_file(const i4_hub_request *rq, const char *path_in_repo, const char *dest,
                         int (*check)(const char *tmp_path, void *user), void *check_user);

/* Is s a commit id (40 lowercase hex digits)? */
int i4_hub_is_commit(const char *s);

/* The commit repo@revision points at now (40 hex digits into commit, size
 * >= 41); a revision that is already a commit is returned as it is. */
int i4_hub_resolve_commit(const i4_hub_request *rq, char *commit, size_t size);

/* The hub cache folder (see above); implemented in tensor/snapshot.c. */
void i4_hf_hub_dir(char *out, size_t size);

/* Name checks (exported for the tests). 1 when acceptable. */
int i4_hub_valid_repo(const char *repo);
int i4_hub_valid_revision(const char *rev);
int i4_hub_valid_repo_path(const char *path);

#endif
