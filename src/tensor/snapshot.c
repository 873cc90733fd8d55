/*
 * snapshot.c — find a model snapshot folder: either given (--model DIR) or
 * resolved in the Hugging Face hub cache (docs/MODEL.md §1.1):
 *   <hub>/models--ORG--NAME/refs/main  -> revision id
 *   <hub>/models--ORG--NAME/snapshots/<revision>/
 * hub = $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub.
 * Without refs/main, a single folder under snapshots/ is accepted.
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"
#include "ideogram4.h"

#define DEFAULT_REPO "ideogram-ai/ideogram-4-fp8"

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Also the Hub client's cache folder (hub/hub.h). */
void i4_hf_hub_dir(char *out, size_t size);
void i4_hf_hub_dir(char *out, size_t size) {
    const char *hub = getenv("HF_HUB_CACHE");
    const char *home = getenv("HF_HOME");
    if (hub && *hub) snprintf(out, size, "%s", hub);
    else if (home && *home) snprintf(out, size, "%s/hub", home);
    else snprintf(out, size, "%s/.cache/huggingface/hub", getenv("HOME") ? getenv("HOME") : "");
}

static int check_snapshot(const char *dir) {
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/transformer", dir);
    if (!is_dir(p))
        return i4_error("%s does not look like an Ideogram 4 snapshot (no transformer/ folder inside)", dir);
    return 0;
}

static int missing(const char *repo, const char *where) {
    return i4_error("model %s not found (looked in %s).\n"
                    "To get the weights: accept the licence at https://huggingface.co/%s, then run\n"
                    "  hf auth login        (or set HF_TOKEN)\n"
                    "  ideogram4 download --repo %s   (or: hf download %s)\n"
                    "or pass --model DIR with a snapshot folder (or --demo for the built-in tiny model).",
                    repo, where, repo, repo, repo);
}

int i4_resolve_snapshot(const char *model_dir, const char *repo, char *out, size_t out_size) {
    if (model_dir && *model_dir) {
        if (!is_dir(model_dir)) return i4_error("--model %s: no such folder", model_dir);
        if (check_snapshot(model_dir) != 0) return -1;
        if ((size_t)snprintf(out, out_size, "%s", model_dir) >= out_size) return i4_error("path too long");
        return 0;
    }
    if (!repo || !*repo) repo = DEFAULT_REPO;
    const char *slash = strchr(repo, '/');
    if (!slash || slash == repo || !slash[1] || strchr(slash + 1, '/') || strstr(repo, ".."))
        return i4_error("--repo '%s' is not of the form ORG/NAME", repo);
    char hub[PATH_MAX / 2], base[PATH_MAX];
    i4_hf_hub_dir(hub, sizeof hub);
    snprintf(base, sizeof base, "%s/models--%.*s--%s", hub, (int)(slash - repo), repo, slash + 1);
    char refs[PATH_MAX];
    snprintf(refs, sizeof refs, "%s/refs/main", base);
    char rev[128] = "";
    FILE *f = fopen(refs, "r");
    if (f) {
        if (fgets(rev, sizeof rev, f)) rev[strcspn(rev, "\r\n \t")] = 0;
        fclose(f);
    }
    char snaps[PATH_MAX];
    snprintf(snaps, sizeof snaps, "%s/snapshots", base);
    if (rev[0]) {
        if (strchr(rev, '/') || strstr(rev, "..")) return i4_error("%s: invalid revision '%s'", refs, rev);
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/%s", snaps, rev);
        if (!is_dir(dir)) return missing(repo, dir);
        if (check_snapshot(dir) != 0) return -1;
        if ((size_t)snprintf(out, out_size, "%s", dir) >= out_size) return i4_error("path too long");
        return 0;
    }
    DIR *d = opendir(snaps);
    if (!d) return missing(repo, snaps);
    char found[PATH_MAX] = "";
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/%s", snaps, e->d_name);
        if (is_dir(dir)) {
            count++;
            snprintf(found, sizeof found, "%s", dir);
        }
    }
    closedir(d);
    if (count == 0) return missing(repo, snaps);
    if (count > 1) return i4_error("%s: no refs/main and %d revisions under snapshots/; pass --model DIR", base, count);
    if (check_snapshot(found) != 0) return -1;
    if ((size_t)snprintf(out, out_size, "%s", found) >= out_size) return i4_error("path too long");
    return 0;
}
