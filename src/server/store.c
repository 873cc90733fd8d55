/*
 * store.c — SQLite persistence for the server (docs/APP.md §4); see store.h.
 *
 * No math here. Invariants: one sqlite3 connection per store, every public
 * function takes the store mutex for its whole database work; every SQL text
 * is a constant (user data only through sqlite3_bind_*); multi-statement
 * changes run inside BEGIN IMMEDIATE … COMMIT and roll back on any error.
 */
#include "server/store.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/utf8.h"

struct i4_store {
    sqlite3 *db;
    pthread_mutex_t mu;
};

#define ISO_NOW "strftime('%Y-%m-%dT%H:%M:%SZ','now')"
#define DEFAULT_LIMIT 50

/* ---- small helpers ------------------------------------------------------ */

static int db_fail(i4_store *s, const char *what) {
    return i4_error("store: %s: %s", what, sqlite3_errmsg(s->db));
}

static int prep(i4_store *s, const char *sql, sqlite3_stmt **st) {
    *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK) {
        *st = NULL;
        return db_fail(s, "prepare");
    }
    return 0;
}

static int exec(i4_store *s, const char *sql) {
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        i4_error("store: %s: %s", sql, msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static void rollback(i4_store *s) {
    if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static int bind_text(sqlite3_stmt *st, int i, const char *v) {
    if (!v) return sqlite3_bind_null(st, i);
    return sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

static int not_found(const char *what, int64_t id) {
    i4_error("store: %s %lld not found", what, (long long)id);
    return I4_STORE_NOT_FOUND;
}

static int check_json(const char *text) {
    if (!text) return i4_error("store: form_json is missing");
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (!j) return i4_error("store: form_json is not valid JSON: %s (line %d)", jerr.text, jerr.line);
    json_decref(j);
    return 0;
}

static const char *base_name(const char *p) {
    const char *b = p;
    for (const char *c = p; *c; c++)
        if (*c == '/' || *c == '\\') b = c + 1;
    return b;
}

int i4_store_is_bare_name(const char *name) {
    if (!name || !*name || !strcmp(name, ".") || !strcmp(name, "..")) return 0;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++)
        if (*c == '/' || *c == '\\' || *c < 0x20 || *c == 0x7f) return 0;
    return 1;
}

int i4_store_is_generated_name(const char *name) {
    if (!name) return 0;
    for (int i = 0; i < 32; i++)
        if (!isxdigit((unsigned char)name[i])) return 0;
    const char *ext = name + 32;
    return !strcmp(ext, ".png") || !strcmp(ext, ".webp") || !strcmp(ext, ".jpg") ||
           !strcmp(ext, ".jpeg");
}

/* Column → JSON, keeping SQL NULL as JSON null. */
static json_t *col_text(sqlite3_stmt *st, int c) {
    if (sqlite3_column_type(st, c) == SQLITE_NULL) return json_null();
    const char *t = (const char *)sqlite3_column_text(st, c);
    int n = sqlite3_column_bytes(st, c);
    if (!t) return json_string("");
    if (i4_utf8_valid(t, (size_t)n) && !memchr(t, 0, (size_t)n)) return json_stringn(t, (size_t)n);
    /* A row written before text was cut at character boundaries (or by
     * another program) may hold invalid UTF-8: show it repaired rather
     * than failing every listing that includes the row. */
    char *fixed = i4_utf8_sanitized(t, (size_t)n);
    json_t *j = fixed ? json_string(fixed) : NULL;
    free(fixed);
    return j;
}
static json_t *col_int(sqlite3_stmt *st, int c) {
    if (sqlite3_column_type(st, c) == SQLITE_NULL) return json_null();
    return json_integer((json_int_t)sqlite3_column_int64(st, c));
}
static json_t *col_real(sqlite3_stmt *st, int c) {
    if (sqlite3_column_type(st, c) == SQLITE_NULL) return json_null();
    return json_real(sqlite3_column_double(st, c));
}
/* file_path as the API shows it: the bare name, or "" when not a valid one. */
static json_t *col_file(sqlite3_stmt *st, int c, int null_if_absent) {
    if (sqlite3_column_type(st, c) == SQLITE_NULL) return null_if_absent ? json_null() : json_string("");
    const char *t = (const char *)sqlite3_column_text(st, c);
    return json_string(t && i4_store_is_bare_name(t) ? t : "");
}

/* ---- schema ------------------------------------------------------------- */

static int user_version(i4_store *s, int *v) {
    sqlite3_stmt *st;
    if (prep(s, "PRAGMA user_version", &st)) return -1;
    int rc = sqlite3_step(st);
    *v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : db_fail(s, "user_version");
}

static int has_column(i4_store *s, const char *table, const char *col, int *has) {
    sqlite3_stmt *st;
    *has = 0;
    if (prep(s, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2", &st)) return -1;
    bind_text(st, 1, table);
    bind_text(st, 2, col);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) *has = 1;
    else if (rc != SQLITE_DONE) return db_fail(s, "table_info");
    return 0;
}

static const struct {
    const char *name, *sql;
} k_image_columns[] = {
    {"prompt_id", "ALTER TABLE images ADD COLUMN prompt_id INTEGER"},
    {"lora_name", "ALTER TABLE images ADD COLUMN lora_name TEXT"},
    {"lora_strength", "ALTER TABLE images ADD COLUMN lora_strength REAL"},
    {"generation_seconds", "ALTER TABLE images ADD COLUMN generation_seconds REAL"},
    {"format", "ALTER TABLE images ADD COLUMN format TEXT"},
    {"steps", "ALTER TABLE images ADD COLUMN steps INTEGER"},
};

/* Reduce stored absolute paths (reference app before 06-16) to bare names. */
static int migrate_paths(i4_store *s) {
    sqlite3_stmt *sel, *upd;
    if (prep(s, "SELECT id, file_path FROM images WHERE instr(file_path, '/') > 0 "
                "OR instr(file_path, char(92)) > 0",
             &sel))
        return -1;
    if (prep(s, "UPDATE images SET file_path = ?2 WHERE id = ?1", &upd)) {
        sqlite3_finalize(sel);
        return -1;
    }
    /* Collect first, update after, so the scan never sees its own updates. */
    int64_t *ids = NULL;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc, err = 0;
    while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            int64_t *ni = realloc(ids, cap * sizeof *ids);
            if (ni) ids = ni;
            char **nn = realloc(names, cap * sizeof *names);
            if (nn) names = nn;
            if (!ni || !nn) { err = i4_error("store: out of memory"); break; }
        }
        ids[n] = sqlite3_column_int64(sel, 0);
        names[n] = strdup(base_name((const char *)sqlite3_column_text(sel, 1)));
        if (!names[n]) { err = i4_error("store: out of memory"); break; }
        n++;
    }
    if (!err && rc != SQLITE_DONE) err = db_fail(s, "reading file paths");
    for (size_t i = 0; i < n && !err; i++) {
        sqlite3_bind_int64(upd, 1, ids[i]);
        bind_text(upd, 2, names[i]);
        if (sqlite3_step(upd) != SQLITE_DONE) err = db_fail(s, "updating file path");
        sqlite3_reset(upd);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    free(ids);
    sqlite3_finalize(sel);
    sqlite3_finalize(upd);
    return err ? -1 : 0;
}

static int migrate_to_1(i4_store *s) {
    static const char *create[] = {
        "CREATE TABLE IF NOT EXISTS images ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " created_at TEXT NOT NULL DEFAULT (" ISO_NOW "),"
        " hld TEXT NOT NULL DEFAULT '',"
        " width INTEGER NOT NULL DEFAULT 1024,"
        " height INTEGER NOT NULL DEFAULT 1024,"
        " preset TEXT NOT NULL DEFAULT 'V4_QUALITY_48',"
        " seed INTEGER NOT NULL DEFAULT 0,"
        " file_path TEXT NOT NULL,"
        " prompt_id INTEGER NULL,"
        " lora_name TEXT NULL,"
        " lora_strength REAL NULL,"
        " generation_seconds REAL NULL,"
        " format TEXT NULL,"
        " steps INTEGER NULL)",
        "CREATE TABLE IF NOT EXISTS prompts ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " saved_at TEXT NOT NULL DEFAULT (" ISO_NOW "),"
        " hld TEXT NOT NULL DEFAULT '',"
        " form_json TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS last_form (id INTEGER PRIMARY KEY CHECK (id = 1), form_json TEXT)",
    };
    for (size_t i = 0; i < sizeof create / sizeof *create; i++)
        if (exec(s, create[i])) return -1;
    for (size_t i = 0; i < sizeof k_image_columns / sizeof *k_image_columns; i++) {
        int has;
        if (has_column(s, "images", k_image_columns[i].name, &has)) return -1;
        if (!has && exec(s, k_image_columns[i].sql)) return -1;
    }
    if (exec(s, "CREATE INDEX IF NOT EXISTS idx_images_prompt_id ON images(prompt_id)") ||
        exec(s, "CREATE INDEX IF NOT EXISTS idx_images_created_at ON images(created_at)"))
        return -1;
    /* Zone-less "YYYY-MM-DD HH:MM:SS" UTC (reference) → ISO-8601 with Z. */
    if (exec(s, "UPDATE images SET created_at = substr(created_at, 1, 10) || 'T' || "
                "substr(created_at, 12, 8) || 'Z' WHERE created_at GLOB "
                "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]'") ||
        exec(s, "UPDATE prompts SET saved_at = substr(saved_at, 1, 10) || 'T' || "
                "substr(saved_at, 12, 8) || 'Z' WHERE saved_at GLOB "
                "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]'"))
        return -1;
    if (migrate_paths(s)) return -1;
    return exec(s, "PRAGMA user_version = 1");
}

static int migrate(i4_store *s) {
    int v;
    if (user_version(s, &v)) return -1;
    if (v > I4_STORE_SCHEMA_VERSION)
        return i4_error("store: database schema version %d is newer than this build supports (%d)",
                        v, I4_STORE_SCHEMA_VERSION);
    if (v == I4_STORE_SCHEMA_VERSION) return 0;
    if (exec(s, "BEGIN IMMEDIATE")) return -1;
    /* Re-read inside the write lock: another process may have migrated. */
    if (user_version(s, &v)) goto fail;
    if (v < 1 && migrate_to_1(s)) goto fail;
    if (exec(s, "COMMIT")) goto fail;
    return 0;
fail:
    rollback(s);
    return i4_error_prefix("store: migrating schema: ");
}

/* ---- open / close ------------------------------------------------------- */

int i4_store_open(const char *path, i4_store **out) {
    *out = NULL;
    if (!path || !*path) return i4_error("store: empty database path");
    i4_store *s = calloc(1, sizeof *s);
    if (!s) return i4_error("store: out of memory");
    if (pthread_mutex_init(&s->mu, NULL)) {
        free(s);
        return i4_error("store: mutex init failed");
    }
    int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        i4_error("store: cannot open %s: %s", path, s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 5000);
    sqlite3_extended_result_codes(s->db, 1);
    if (exec(s, "PRAGMA journal_mode = WAL") || exec(s, "PRAGMA foreign_keys = ON") ||
        exec(s, "PRAGMA synchronous = NORMAL") || migrate(s)) {
        i4_error_prefix("%s: ", path);
        goto fail;
    }
    *out = s;
    return 0;
fail:
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->mu);
    free(s);
    return -1;
}

void i4_store_close(i4_store *s) {
    if (!s) return;
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

#define LOCK(s) pthread_mutex_lock(&(s)->mu)
#define UNLOCK(s) pthread_mutex_unlock(&(s)->mu)

int i4_store_schema_version(i4_store *s, int *version) {
    LOCK(s);
    int rc = user_version(s, version);
    UNLOCK(s);
    return rc;
}

int i4_store_journal_mode(i4_store *s, char *buf, size_t size) {
    sqlite3_stmt *st;
    int err = 0;
    if (size) buf[0] = 0;
    LOCK(s);
    if (prep(s, "PRAGMA journal_mode", &st)) err = -1;
    else {
        if (sqlite3_step(st) == SQLITE_ROW && size)
            snprintf(buf, size, "%s", (const char *)sqlite3_column_text(st, 0));
        else err = db_fail(s, "journal_mode");
        sqlite3_finalize(st);
    }
    UNLOCK(s);
    return err;
}

/* ---- prompts ------------------------------------------------------------ */

int i4_store_prompt_insert(i4_store *s, const char *form_json, const char *hld, int64_t *id) {
    if (check_json(form_json)) return -1;
    sqlite3_stmt *st;
    int err = 0;
    LOCK(s);
    if (prep(s, "INSERT INTO prompts (saved_at, hld, form_json) VALUES (" ISO_NOW ", ?1, ?2)", &st)) {
        UNLOCK(s);
        return -1;
    }
    bind_text(st, 1, hld ? hld : "");
    bind_text(st, 2, form_json);
    if (sqlite3_step(st) != SQLITE_DONE) err = db_fail(s, "inserting prompt");
    else if (id) *id = sqlite3_last_insert_rowid(s->db);
    sqlite3_finalize(st);
    UNLOCK(s);
    return err;
}

int i4_store_prompt_get(i4_store *s, int64_t id, json_t **out) {
    *out = NULL;
    sqlite3_stmt *st;
    int err = 0;
    LOCK(s);
    if (prep(s, "SELECT id, saved_at, hld, form_json, "
                "(SELECT COUNT(*) FROM images i WHERE i.prompt_id = p.id) "
                "FROM prompts p WHERE id = ?1",
             &st)) {
        UNLOCK(s);
        return -1;
    }
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = json_pack("{s:o s:o s:o s:o s:o}", "id", col_int(st, 0), "saved_at", col_text(st, 1),
                         "hld", col_text(st, 2), "form_json", col_text(st, 3), "image_count",
                         col_int(st, 4));
        if (!*out) err = i4_error("store: out of memory");
    } else if (rc == SQLITE_DONE) err = not_found("prompt", id);
    else err = db_fail(s, "reading prompt");
    sqlite3_finalize(st);
    UNLOCK(s);
    return err;
}

/* "%<search with % _ \ escaped>%" for LIKE … ESCAPE '\'. */
static char *like_pattern(const char *search) {
    size_t n = strlen(search);
    char *p = malloc(2 * n + 3), *o = p;
    if (!p) return NULL;
    *o++ = '%';
    for (const char *c = search; *c; c++) {
        if (*c == '%' || *c == '_' || *c == '\\') *o++ = '\\';
        *o++ = *c;
    }
    *o++ = '%';
    *o = 0;
    return p;
}

int i4_store_prompt_list(i4_store *s, int limit, int offset, const char *search, int with_form,
                         json_t **out) {
    *out = NULL;
    char *pat = NULL;
    if (search && *search && !(pat = like_pattern(search))) return i4_error("store: out of memory");
    json_t *arr = json_array();
    if (!arr) {
        free(pat);
        return i4_error("store: out of memory");
    }
    sqlite3_stmt *st;
    int err = 0;
    LOCK(s);
    if (prep(s, "SELECT p.id, p.saved_at, p.hld, "
                "(SELECT COUNT(*) FROM images i WHERE i.prompt_id = p.id), "
                "(SELECT i.id FROM images i WHERE i.prompt_id = p.id ORDER BY i.id DESC LIMIT 1), "
                "(SELECT i.file_path FROM images i WHERE i.prompt_id = p.id ORDER BY i.id DESC LIMIT 1), "
                "CASE WHEN ?4 THEN p.form_json END "
                "FROM prompts p WHERE (?1 IS NULL OR p.hld LIKE ?1 ESCAPE '\\') "
                "ORDER BY p.id DESC LIMIT ?2 OFFSET ?3",
             &st)) {
        err = -1;
        goto done;
    }
    bind_text(st, 1, pat);
    sqlite3_bind_int(st, 2, limit > 0 ? limit : DEFAULT_LIMIT);
    sqlite3_bind_int(st, 3, offset > 0 ? offset : 0);
    sqlite3_bind_int(st, 4, with_form ? 1 : 0);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *o = json_pack("{s:o s:o s:o s:o s:o s:o}", "id", col_int(st, 0), "saved_at",
                              col_text(st, 1), "hld", col_text(st, 2), "image_count", col_int(st, 3),
                              "thumb_image_id", col_int(st, 4), "thumb_file", col_file(st, 5, 1));
        if (o && with_form) json_object_set_new(o, "form_json", col_text(st, 6));
        if (!o || json_array_append_new(arr, o)) {
            err = i4_error("store: out of memory");
            break;
        }
    }
    if (!err && rc != SQLITE_DONE) err = db_fail(s, "listing prompts");
    sqlite3_finalize(st);
done:
    UNLOCK(s);
    free(pat);
    if (err) json_decref(arr);
    else *out = arr;
    return err;
}

/* Append the file_path column of every row of a prepared SELECT to arr. */
static int collect_files(i4_store *s, sqlite3_stmt *st, json_t *arr) {
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        if (arr && json_array_append_new(arr, json_string(t ? (const char *)t : "")))
            return i4_error("store: out of memory");
    }
    return rc == SQLITE_DONE ? 0 : db_fail(s, "reading file names");
}

int i4_store_prompt_delete(i4_store *s, int64_t id, json_t **files) {
    if (files) *files = NULL;
    json_t *arr = json_array();
    if (!arr) return i4_error("store: out of memory");
    sqlite3_stmt *sel = NULL, *di = NULL, *dp = NULL;
    int err = 0, changed = 0;
    LOCK(s);
    if (exec(s, "BEGIN IMMEDIATE")) {
        err = -1;
        goto done;
    }
    if (prep(s, "SELECT file_path FROM images WHERE prompt_id = ?1 ORDER BY id DESC", &sel) ||
        prep(s, "DELETE FROM images WHERE prompt_id = ?1", &di) ||
        prep(s, "DELETE FROM prompts WHERE id = ?1", &dp)) {
        err = -1;
        goto done;
    }
    sqlite3_bind_int64(sel, 1, id);
    sqlite3_bind_int64(di, 1, id);
    sqlite3_bind_int64(dp, 1, id);
    if (collect_files(s, sel, arr)) {
        err = -1;
        goto done;
    }
    if (sqlite3_step(di) != SQLITE_DONE) {
        err = db_fail(s, "deleting images");
        goto done;
    }
    changed += sqlite3_changes(s->db);
    if (sqlite3_step(dp) != SQLITE_DONE) {
        err = db_fail(s, "deleting prompt");
        goto done;
    }
    changed += sqlite3_changes(s->db);
    if (exec(s, "COMMIT")) err = -1;
done:
    if (err) rollback(s);
    sqlite3_finalize(sel);
    sqlite3_finalize(di);
    sqlite3_finalize(dp);
    UNLOCK(s);
    if (!err && !changed) err = not_found("prompt", id);
    if (!err && files) *files = arr;
    else json_decref(arr);
    return err;
}

/* ---- images ------------------------------------------------------------- */

static const char *format_from_ext(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot) return NULL;
    if (!strcasecmp(dot, ".png")) return "png";
    if (!strcasecmp(dot, ".webp")) return "webp";
    if (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg")) return "jpeg";
    return NULL;
}

int i4_store_image_insert(i4_store *s, const i4_store_image *img, int64_t *id) {
    if (!img || !img->file_name || !*img->file_name)
        return i4_error("store: image insert needs a file name");
    sqlite3_stmt *st;
    int err = 0;
    LOCK(s);
    if (prep(s, "INSERT INTO images (created_at, hld, width, height, preset, seed, file_path, "
                "prompt_id, lora_name, lora_strength, generation_seconds, format, steps) VALUES "
                "(" ISO_NOW ", ?1, ?2, ?3, ?4, ?5, ?6, (SELECT id FROM prompts WHERE id = ?7), ?8, ?9, ?10, ?11, ?12)",
             &st)) {
        UNLOCK(s);
        return -1;
    }
    bind_text(st, 1, img->hld ? img->hld : "");
    sqlite3_bind_int(st, 2, img->width);
    sqlite3_bind_int(st, 3, img->height);
    bind_text(st, 4, img->preset ? img->preset : "V4_QUALITY_48");
    sqlite3_bind_int64(st, 5, img->seed);
    bind_text(st, 6, img->file_name);
    if (img->prompt_id > 0) sqlite3_bind_int64(st, 7, img->prompt_id);
    else sqlite3_bind_null(st, 7);
    bind_text(st, 8, img->lora_name);
    if (img->lora_name) sqlite3_bind_double(st, 9, img->lora_strength);
    else sqlite3_bind_null(st, 9);
    if (img->generation_seconds >= 0) sqlite3_bind_double(st, 10, img->generation_seconds);
    else sqlite3_bind_null(st, 10);
    bind_text(st, 11, img->format ? img->format : format_from_ext(img->file_name));
    if (img->steps > 0) sqlite3_bind_int(st, 12, img->steps);
    else sqlite3_bind_null(st, 12);
    if (sqlite3_step(st) != SQLITE_DONE) err = db_fail(s, "inserting image");
    else if (id) *id = sqlite3_last_insert_rowid(s->db);
    sqlite3_finalize(st);
    UNLOCK(s);
    return err;
}

#define IMAGE_COLS                                                                            \
    "id, created_at, hld, width, height, preset, seed, file_path, prompt_id, lora_name, "     \
    "lora_strength, format, steps, generation_seconds"

static json_t *image_row(sqlite3_stmt *st) {
    return json_pack("{s:o s:o s:o s:o s:o s:o s:o s:o s:o s:o s:o s:o s:o s:o}", "id",
                     col_int(st, 0), "created_at", col_text(st, 1), "hld", col_text(st, 2), "width",
                     col_int(st, 3), "height", col_int(st, 4), "preset", col_text(st, 5), "seed",
                     col_int(st, 6), "file_path", col_file(st, 7, 0), "prompt_id", col_int(st, 8),
                     "lora_name", col_text(st, 9), "lora_strength", col_real(st, 10), "format",
                     col_text(st, 11), "steps", col_int(st, 12), "generation_seconds",
                     col_real(st, 13));
}

int i4_store_image_get(i4_store *s, int64_t id, json_t **out) {
    *out = NULL;
    sqlite3_stmt *st;
    int err = 0;
    LOCK(s);
    if (prep(s, "SELECT " IMAGE_COLS " FROM images WHERE id = ?1", &st)) {
        UNLOCK(s);
        return -1;
    }
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (!(*out = image_row(st))) err = i4_error("store: out of memory");
    } else if (rc == SQLITE_DONE) err = not_found("image", id);
    else err = db_fail(s, "reading image");
    sqlite3_finalize(st);
    UNLOCK(s);
    return err;
}

int i4_store_image_list(i4_store *s, int limit, int offset, int64_t prompt_id, json_t **out) {
    *out = NULL;
    json_t *arr = json_array();
    if (!arr) return i4_error("store: out of memory");
    sqlite3_stmt *st;
    int err = 0;
    LOCK(s);
    if (prep(s, "SELECT " IMAGE_COLS " FROM images WHERE (?1 <= 0 OR prompt_id = ?1) "
                "ORDER BY id DESC LIMIT ?2 OFFSET ?3",
             &st)) {
        err = -1;
        goto done;
    }
    sqlite3_bind_int64(st, 1, prompt_id);
    sqlite3_bind_int(st, 2, limit > 0 ? limit : DEFAULT_LIMIT);
    sqlite3_bind_int(st, 3, offset > 0 ? offset : 0);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *o = image_row(st);
        if (!o || json_array_append_new(arr, o)) {
            err = i4_error("store: out of memory");
            break;
        }
    }
    if (!err && rc != SQLITE_DONE) err = db_fail(s, "listing images");
    sqlite3_finalize(st);
done:
    UNLOCK(s);
    if (err) json_decref(arr);
    else *out = arr;
    return err;
}

int i4_store_image_delete(i4_store *s, int64_t id, char **file_name) {
    if (file_name) *file_name = NULL;
    sqlite3_stmt *sel = NULL, *del = NULL;
    char *name = NULL;
    int err = 0;
    LOCK(s);
    if (exec(s, "BEGIN IMMEDIATE")) {
        err = -1;
        goto done;
    }
    if (prep(s, "SELECT file_path FROM images WHERE id = ?1", &sel) ||
        prep(s, "DELETE FROM images WHERE id = ?1", &del)) {
        err = -1;
        goto done;
    }
    sqlite3_bind_int64(sel, 1, id);
    sqlite3_bind_int64(del, 1, id);
    int rc = sqlite3_step(sel);
    if (rc == SQLITE_DONE) {
        err = not_found("image", id);
        goto done;
    }
    if (rc != SQLITE_ROW) {
        err = db_fail(s, "reading image");
        goto done;
    }
    const unsigned char *t = sqlite3_column_text(sel, 0);
    if (!(name = strdup(t ? (const char *)t : ""))) {
        err = i4_error("store: out of memory");
        goto done;
    }
    if (sqlite3_step(del) != SQLITE_DONE) {
        err = db_fail(s, "deleting image");
        goto done;
    }
    if (exec(s, "COMMIT")) err = -1;
done:
    if (err) rollback(s);
    sqlite3_finalize(sel);
    sqlite3_finalize(del);
    UNLOCK(s);
    if (!err && file_name) *file_name = name;
    else free(name);
    return err;
}

int i4_store_image_delete_all(i4_store *s, json_t **files) {
    if (files) *files = NULL;
    json_t *arr = json_array();
    if (!arr) return i4_error("store: out of memory");
    sqlite3_stmt *sel = NULL;
    int err = 0;
    LOCK(s);
    if (exec(s, "BEGIN IMMEDIATE")) {
        err = -1;
        goto done;
    }
    if (prep(s, "SELECT file_path FROM images ORDER BY id DESC", &sel) || collect_files(s, sel, arr) ||
        exec(s, "DELETE FROM images") || exec(s, "COMMIT"))
        err = -1;
done:
    if (err) rollback(s);
    sqlite3_finalize(sel);
    UNLOCK(s);
    if (!err && files) *files = arr;
    else json_decref(arr);
    return err;
}

/* ---- last form ---------------------------------------------------------- */

int i4_store_form_save(i4_store *s, const char *form_json) {
    if (check_json(form_json)) return -1;
    sqlite3_stmt *st;
    int err = 0;
    LOCK(s);
    if (prep(s, "INSERT OR REPLACE INTO last_form (id, form_json) VALUES (1, ?1)", &st)) {
        UNLOCK(s);
        return -1;
    }
    bind_text(st, 1, form_json);
    if (sqlite3_step(st) != SQLITE_DONE) err = db_fail(s, "saving form");
    sqlite3_finalize(st);
    UNLOCK(s);
    return err;
}

int i4_store_form_load(i4_store *s, char **out) {
    *out = NULL;
    sqlite3_stmt *st;
    int err = 0;
    LOCK(s);
    if (prep(s, "SELECT form_json FROM last_form WHERE id = 1", &st)) {
        UNLOCK(s);
        return -1;
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        if (t && !(*out = strdup((const char *)t))) err = i4_error("store: out of memory");
    } else if (rc != SQLITE_DONE) err = db_fail(s, "loading form");
    sqlite3_finalize(st);
    UNLOCK(s);
    return err;
}

/* ---- orphan cleanup ----------------------------------------------------- */

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int i4_store_cleanup_orphans(i4_store *s, const char *out_dir, double min_age_s,
                             i4_store_cleanup_result *res, json_t **missing) {
    memset(res, 0, sizeof *res);
    if (missing) *missing = NULL;
    json_t *miss = json_array();
    if (!miss) return i4_error("store: out of memory");
    int64_t *ids = NULL;
    char **names = NULL, **sorted = NULL;
    size_t n = 0, cap = 0;
    int err = 0;
    DIR *d = NULL;

    /* 1. Snapshot the referenced names (bare part of each stored value). */
    sqlite3_stmt *st;
    LOCK(s);
    if (prep(s, "SELECT id, file_path FROM images", &st)) err = -1;
    else {
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                int64_t *ni = realloc(ids, cap * sizeof *ids);
                if (ni) ids = ni;
                char **nn = realloc(names, cap * sizeof *names);
                if (nn) names = nn;
                if (!ni || !nn) { err = i4_error("store: out of memory"); break; }
            }
            const unsigned char *t = sqlite3_column_text(st, 1);
            ids[n] = sqlite3_column_int64(st, 0);
            if (!(names[n] = strdup(t ? (const char *)t : ""))) { err = i4_error("store: out of memory"); break; }
            n++;
        }
        if (!err && rc != SQLITE_DONE) err = db_fail(s, "listing image files");
        sqlite3_finalize(st);
    }
    UNLOCK(s);
    if (err) goto done;

    if (!(d = opendir(out_dir))) {
        err = i4_error("store: cannot open output folder %s: %s", out_dir, strerror(errno));
        goto done;
    }
    int dfd = dirfd(d);

    /* 2. Rows whose file is missing: report only. */
    for (size_t i = 0; i < n; i++) {
        struct stat sb;
        const char *b = base_name(names[i]);
        int gone = !i4_store_is_bare_name(b) || fstatat(dfd, b, &sb, 0) != 0;
        if (gone) {
            res->rows_missing++;
            json_array_append_new(miss, json_pack("{s:I s:s}", "id", (json_int_t)ids[i], "file_path", names[i]));
        }
    }

    /* 3. Unreferenced generated files: delete (if old enough). */
    if (n && !(sorted = malloc(n * sizeof *sorted))) {
        err = i4_error("store: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) sorted[i] = (char *)base_name(names[i]);
    if (n) qsort(sorted, n, sizeof *sorted, cmp_str);
    time_t now = time(NULL);
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *nm = e->d_name;
        /* "<generated>.tmp" is an image write interrupted before its rename
         * (i4_write_file_atomic in base/io.c); no row can reference it. */
        char stem[80];
        size_t len = strlen(nm);
        int interrupted = len > 4 && len - 4 < sizeof stem && !strcmp(nm + len - 4, ".tmp");
        if (interrupted) snprintf(stem, sizeof stem, "%.*s", (int)(len - 4), nm);
        if (!i4_store_is_generated_name(interrupted ? stem : nm)) continue;
        if (!interrupted && n && bsearch(&nm, sorted, n, sizeof *sorted, cmp_str)) continue;
        struct stat sb;
        if (fstatat(dfd, nm, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode)) continue;
        if (difftime(now, sb.st_mtime) < min_age_s) {
            res->files_kept_new++;
            continue;
        }
        if (unlinkat(dfd, nm, 0) == 0) res->files_deleted++;
        else res->files_failed++;
    }
done:
    if (d) closedir(d);
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    free(sorted);
    free(ids);
    if (!err && missing) *missing = miss;
    else json_decref(miss);
    return err;
}
