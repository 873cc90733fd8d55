/*
 * test_store.c — SQLite persistence (src/server/store.c, docs/APP.md §4): schema
 * creation/reopen, migration of a reference-app database, CRUD round trips,
 * ordering/paging/search, prompt deletion, unknown ids, orphan cleanup,
 * verbatim storage of SQL-looking strings, WAL mode.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ideogram4.h"
#include "server/store.h"
#include "test.h"

/* A fresh sub-folder of the runner's temp dir for each call. */
static const char *fresh_dir(char *buf, size_t size, const char *tag) {
    static int counter;
    snprintf(buf, size, "%s/store-%s-%d", i4_test_tmpdir(), tag, counter++);
    mkdir(buf, 0755);
    return buf;
}

static int write_file(const char *dir, const char *name) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f) return -1;
    fputs("x", f);
    fclose(f);
    return 0;
}

static int file_exists(const char *dir, const char *name) {
    char p[512];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &sb) == 0;
}

static i4_store_image make_image(const char *file, int64_t prompt_id) {
    i4_store_image im = {0};
    im.file_name = file;
    im.width = 1024;
    im.height = 768;
    im.seed = 42;
    im.steps = 48;
    im.generation_seconds = -1;
    im.prompt_id = prompt_id;
    im.hld = "a cat";
    return im;
}

static int iso_z(const char *t) {
    /* YYYY-MM-DDTHH:MM:SSZ */
    return t && strlen(t) == 20 && t[4] == '-' && t[10] == 'T' && t[13] == ':' && t[19] == 'Z';
}

I4_TEST(store_schema_create_reopen_wal) {
    char dir[400], path[512];
    fresh_dir(dir, sizeof dir, "schema");
    snprintf(path, sizeof path, "%s/app.db", dir);
    i4_store *s = NULL;
    REQUIRE(i4_store_open(path, &s) == 0);
    int v = -1;
    CHECK(i4_store_schema_version(s, &v) == 0 && v == I4_STORE_SCHEMA_VERSION);
    char mode[16];
    CHECK(i4_store_journal_mode(s, mode, sizeof mode) == 0 && !strcmp(mode, "wal"));
    int64_t pid = 0;
    CHECK(i4_store_prompt_insert(s, "{\"hld\":\"x\"}", "x", &pid) == 0 && pid > 0);
    i4_store_close(s);

    s = NULL;
    REQUIRE(i4_store_open(path, &s) == 0);
    v = -1;
    CHECK(i4_store_schema_version(s, &v) == 0 && v == 1);
    json_t *p = NULL;
    CHECK(i4_store_prompt_get(s, pid, &p) == 0);
    CHECK(p && !strcmp(json_string_value(json_object_get(p, "hld")), "x"));
    json_decref(p);
    i4_store_close(s);

    /* A database from a newer build is refused, not corrupted. */
    sqlite3 *db;
    REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "PRAGMA user_version = 7", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    s = NULL;
    CHECK(i4_store_open(path, &s) == -1 && s == NULL);
    CHECK(strstr(i4_last_error(), "newer") != NULL);

    /* Missing parent folder → clean error. */
    snprintf(path, sizeof path, "%s/no/such/dir/app.db", dir);
    CHECK(i4_store_open(path, &s) == -1 && s == NULL);
}

I4_TEST(store_migrates_reference_schema) {
    char dir[400], path[512];
    fresh_dir(dir, sizeof dir, "migrate");
    snprintf(path, sizeof path, "%s/ref.db", dir);
    sqlite3 *db;
    REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
    const char *ref =
        "CREATE TABLE images (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " created_at TEXT NOT NULL DEFAULT (datetime('now')), hld TEXT NOT NULL DEFAULT '',"
        " width INTEGER NOT NULL DEFAULT 1024, height INTEGER NOT NULL DEFAULT 1024,"
        " preset TEXT NOT NULL DEFAULT 'V4_QUALITY_48', seed INTEGER NOT NULL DEFAULT 0,"
        " file_path TEXT NOT NULL);"
        "CREATE TABLE prompts (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " saved_at TEXT NOT NULL DEFAULT (datetime('now')), hld TEXT NOT NULL DEFAULT '',"
        " form_json TEXT NOT NULL);"
        "CREATE TABLE last_form (id INTEGER PRIMARY KEY CHECK (id = 1), form_json TEXT);"
        "INSERT INTO prompts (saved_at, hld, form_json) VALUES ('2026-06-10 08:09:10', 'old', '{}');"
        "INSERT INTO images (created_at, hld, seed, file_path) VALUES"
        " ('2026-06-10 08:09:11', 'old', 7, '/home/u/outputs/0123456789abcdef0123456789abcdef.png');"
        "INSERT INTO last_form (id, form_json) VALUES (1, '{\"w\":1024}');";
    REQUIRE(sqlite3_exec(db, ref, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);

    for (int round = 0; round < 2; round++) { /* second open: idempotent */
        i4_store *s = NULL;
        REQUIRE(i4_store_open(path, &s) == 0);
        int v = -1;
        CHECK(i4_store_schema_version(s, &v) == 0 && v == 1);
        json_t *im = NULL;
        REQUIRE(i4_store_image_get(s, 1, &im) == 0);
        CHECK(!strcmp(json_string_value(json_object_get(im, "created_at")), "2026-06-10T08:09:11Z"));
        CHECK(!strcmp(json_string_value(json_object_get(im, "file_path")),
                      "0123456789abcdef0123456789abcdef.png"));
        CHECK(json_is_null(json_object_get(im, "prompt_id")));
        CHECK(json_is_null(json_object_get(im, "lora_name")));
        CHECK(json_is_null(json_object_get(im, "steps")));
        CHECK(json_integer_value(json_object_get(im, "seed")) == 7);
        json_decref(im);
        json_t *p = NULL;
        REQUIRE(i4_store_prompt_get(s, 1, &p) == 0);
        CHECK(!strcmp(json_string_value(json_object_get(p, "saved_at")), "2026-06-10T08:09:10Z"));
        json_decref(p);
        char *form = NULL;
        CHECK(i4_store_form_load(s, &form) == 0 && form && !strcmp(form, "{\"w\":1024}"));
        free(form);
        /* New columns usable after migration. */
        i4_store_image ni = make_image("ffffffffffffffffffffffffffffffff.webp", 1);
        ni.lora_name = "a.safetensors";
        ni.lora_strength = 0.75;
        ni.generation_seconds = 3.5;
        int64_t id = 0;
        CHECK(i4_store_image_insert(s, &ni, &id) == 0 && id > 1);
        i4_store_close(s);
    }
    /* Indexes exist. */
    REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
    sqlite3_stmt *st;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM sqlite_master WHERE type='index' AND name IN"
                                   " ('idx_images_prompt_id','idx_images_created_at')",
                               -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 2);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

I4_TEST(store_crud_roundtrip) {
    char dir[400], path[512];
    fresh_dir(dir, sizeof dir, "crud");
    snprintf(path, sizeof path, "%s/app.db", dir);
    i4_store *s = NULL;
    REQUIRE(i4_store_open(path, &s) == 0);

    int64_t pid = 0;
    const char *form = "{\"hld\":\"a cat\",\"w\":1024,\"rawJson\":\"{\\n  \\\"a\\\": 1\\n}\"}";
    REQUIRE(i4_store_prompt_insert(s, form, "a cat", &pid) == 0);
    CHECK(i4_store_prompt_insert(s, "{not json", "x", NULL) == -1);

    i4_store_image im = make_image("0123456789abcdef0123456789abcdef.png", pid);
    im.preset = "V4_TURBO_12";
    im.seed = 4294967295LL;
    im.steps = 12;
    im.generation_seconds = 12.25;
    im.lora_name = "a + b";
    im.lora_strength = 0.0;
    int64_t iid = 0;
    REQUIRE(i4_store_image_insert(s, &im, &iid) == 0);

    json_t *o = NULL;
    REQUIRE(i4_store_image_get(s, iid, &o) == 0);
    CHECK(json_integer_value(json_object_get(o, "id")) == iid);
    CHECK(iso_z(json_string_value(json_object_get(o, "created_at"))));
    CHECK(!strcmp(json_string_value(json_object_get(o, "hld")), "a cat"));
    CHECK(json_integer_value(json_object_get(o, "width")) == 1024);
    CHECK(json_integer_value(json_object_get(o, "height")) == 768);
    CHECK(!strcmp(json_string_value(json_object_get(o, "preset")), "V4_TURBO_12"));
    CHECK(json_integer_value(json_object_get(o, "seed")) == 4294967295LL);
    CHECK(!strcmp(json_string_value(json_object_get(o, "file_path")), im.file_name));
    CHECK(json_integer_value(json_object_get(o, "prompt_id")) == pid);
    CHECK(!strcmp(json_string_value(json_object_get(o, "lora_name")), "a + b"));
    CHECK(json_is_real(json_object_get(o, "lora_strength")) &&
          json_real_value(json_object_get(o, "lora_strength")) == 0.0);
    CHECK(!strcmp(json_string_value(json_object_get(o, "format")), "png"));
    CHECK(json_integer_value(json_object_get(o, "steps")) == 12);
    CHECK(json_real_value(json_object_get(o, "generation_seconds")) == 12.25);
    json_decref(o);

    /* No LoRA, no prompt: NULLs; invalid stored path shown as "". */
    i4_store_image bare = make_image("../evil.png", 0);
    REQUIRE(i4_store_image_insert(s, &bare, &iid) == 0);
    REQUIRE(i4_store_image_get(s, iid, &o) == 0);
    CHECK(json_is_null(json_object_get(o, "prompt_id")));
    CHECK(json_is_null(json_object_get(o, "lora_name")));
    CHECK(json_is_null(json_object_get(o, "lora_strength")));
    CHECK(json_is_null(json_object_get(o, "generation_seconds")));
    CHECK(!strcmp(json_string_value(json_object_get(o, "file_path")), ""));
    json_decref(o);

    REQUIRE(i4_store_prompt_get(s, pid, &o) == 0);
    CHECK(!strcmp(json_string_value(json_object_get(o, "form_json")), form));
    CHECK(iso_z(json_string_value(json_object_get(o, "saved_at"))));
    CHECK(json_integer_value(json_object_get(o, "image_count")) == 1);
    json_decref(o);

    /* Form: NULL before any save, upsert keeps one row. */
    char *f = (char *)1;
    CHECK(i4_store_form_load(s, &f) == 0 && f == NULL);
    CHECK(i4_store_form_save(s, "{\"a\":1}") == 0);
    CHECK(i4_store_form_save(s, "{\"a\":2}") == 0);
    CHECK(i4_store_form_save(s, "nope") == -1);
    CHECK(i4_store_form_load(s, &f) == 0 && f && !strcmp(f, "{\"a\":2}"));
    free(f);

    /* Image delete returns the file; second delete is NOT_FOUND. */
    char *name = NULL;
    CHECK(i4_store_image_delete(s, iid, &name) == 0 && name && !strcmp(name, "../evil.png"));
    free(name);
    name = NULL;
    CHECK(i4_store_image_delete(s, iid, &name) == I4_STORE_NOT_FOUND && name == NULL);
    i4_store_close(s);
}

I4_TEST(store_unknown_ids) {
    char dir[400], path[512];
    fresh_dir(dir, sizeof dir, "unknown");
    snprintf(path, sizeof path, "%s/app.db", dir);
    i4_store *s = NULL;
    REQUIRE(i4_store_open(path, &s) == 0);
    json_t *o = (json_t *)1;
    CHECK(i4_store_prompt_get(s, 999, &o) == I4_STORE_NOT_FOUND && o == NULL);
    CHECK(strstr(i4_last_error(), "not found") != NULL);
    o = (json_t *)1;
    CHECK(i4_store_image_get(s, -5, &o) == I4_STORE_NOT_FOUND && o == NULL);
    CHECK(i4_store_image_get(s, INT64_MAX, &o) == I4_STORE_NOT_FOUND);
    CHECK(i4_store_image_delete(s, 0, NULL) == I4_STORE_NOT_FOUND);
    json_t *files = (json_t *)1;
    CHECK(i4_store_prompt_delete(s, 12345, &files) == I4_STORE_NOT_FOUND && files == NULL);
    CHECK(i4_store_image_list(s, 10, 0, 777, &o) == 0 && json_array_size(o) == 0);
    json_decref(o);
    i4_store_close(s);
}

I4_TEST(store_list_order_paging_search) {
    char dir[400], path[512];
    fresh_dir(dir, sizeof dir, "list");
    snprintf(path, sizeof path, "%s/app.db", dir);
    i4_store *s = NULL;
    REQUIRE(i4_store_open(path, &s) == 0);
    int64_t pids[5];
    const char *hlds[5] = {"Red apple", "green pear", "50% off_sale", "red car", "blue sky"};
    for (int i = 0; i < 5; i++) REQUIRE(i4_store_prompt_insert(s, "{}", hlds[i], &pids[i]) == 0);
    /* Prompt 0 gets two images, prompt 3 one, plus one image without prompt. */
    char fn[64];
    int64_t last_p0 = 0;
    for (int i = 0; i < 4; i++) {
        snprintf(fn, sizeof fn, "%032x.png", i + 1);
        int64_t p = i < 2 ? pids[0] : i == 2 ? pids[3] : 0;
        i4_store_image im = make_image(fn, p);
        int64_t id;
        REQUIRE(i4_store_image_insert(s, &im, &id) == 0);
        if (i == 1) last_p0 = id;
    }

    json_t *a = NULL;
    REQUIRE(i4_store_prompt_list(s, 0, 0, NULL, 0, &a) == 0);
    REQUIRE(json_array_size(a) == 5);
    for (int i = 0; i < 5; i++)
        CHECK(json_integer_value(json_object_get(json_array_get(a, i), "id")) == pids[4 - i]);
    json_t *p0 = json_array_get(a, 4);
    CHECK(json_integer_value(json_object_get(p0, "image_count")) == 2);
    CHECK(json_integer_value(json_object_get(p0, "thumb_image_id")) == last_p0);
    CHECK(!strcmp(json_string_value(json_object_get(p0, "thumb_file")), "00000000000000000000000000000002.png"));
    CHECK(json_is_null(json_object_get(json_array_get(a, 0), "thumb_image_id")));
    CHECK(json_object_get(p0, "form_json") == NULL);
    json_decref(a);

    REQUIRE(i4_store_prompt_list(s, 2, 1, NULL, 1, &a) == 0);
    CHECK(json_array_size(a) == 2);
    CHECK(json_integer_value(json_object_get(json_array_get(a, 0), "id")) == pids[3]);
    CHECK(json_integer_value(json_object_get(json_array_get(a, 1), "id")) == pids[2]);
    CHECK(!strcmp(json_string_value(json_object_get(json_array_get(a, 0), "form_json")), "{}"));
    json_decref(a);

    /* Case-insensitive substring; % and _ are literal. */
    REQUIRE(i4_store_prompt_list(s, 10, 0, "red", 0, &a) == 0);
    CHECK(json_array_size(a) == 2);
    json_decref(a);
    REQUIRE(i4_store_prompt_list(s, 10, 0, "0% off_", 0, &a) == 0);
    CHECK(json_array_size(a) == 1);
    json_decref(a);
    REQUIRE(i4_store_prompt_list(s, 10, 0, "%", 0, &a) == 0);
    CHECK(json_array_size(a) == 1);
    json_decref(a);
    REQUIRE(i4_store_prompt_list(s, 10, 0, "r_d", 0, &a) == 0);
    CHECK(json_array_size(a) == 0);
    json_decref(a);

    REQUIRE(i4_store_image_list(s, 0, 0, 0, &a) == 0);
    CHECK(json_array_size(a) == 4);
    CHECK(!strcmp(json_string_value(json_object_get(json_array_get(a, 0), "file_path")),
                  "00000000000000000000000000000004.png"));
    json_decref(a);
    REQUIRE(i4_store_image_list(s, 1, 1, pids[0], &a) == 0);
    CHECK(json_array_size(a) == 1);
    CHECK(!strcmp(json_string_value(json_object_get(json_array_get(a, 0), "file_path")),
                  "00000000000000000000000000000001.png"));
    json_decref(a);
    REQUIRE(i4_store_image_list(s, 10, 100, 0, &a) == 0);
    CHECK(json_array_size(a) == 0);
    json_decref(a);
    i4_store_close(s);
}

I4_TEST(store_prompt_delete_returns_files) {
    char dir[400], path[512];
    fresh_dir(dir, sizeof dir, "pdel");
    snprintf(path, sizeof path, "%s/app.db", dir);
    i4_store *s = NULL;
    REQUIRE(i4_store_open(path, &s) == 0);
    int64_t pa, pb;
    REQUIRE(i4_store_prompt_insert(s, "{}", "a", &pa) == 0);
    REQUIRE(i4_store_prompt_insert(s, "{}", "b", &pb) == 0);
    const char *fa[2] = {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1.png", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2.webp"};
    for (int i = 0; i < 2; i++) {
        i4_store_image im = make_image(fa[i], pa);
        REQUIRE(i4_store_image_insert(s, &im, NULL) == 0);
    }
    i4_store_image ib = make_image("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.jpg", pb);
    REQUIRE(i4_store_image_insert(s, &ib, NULL) == 0);

    json_t *files = NULL;
    REQUIRE(i4_store_prompt_delete(s, pa, &files) == 0);
    REQUIRE(json_array_size(files) == 2);
    CHECK(!strcmp(json_string_value(json_array_get(files, 0)), fa[1]));
    CHECK(!strcmp(json_string_value(json_array_get(files, 1)), fa[0]));
    json_decref(files);
    json_t *o = NULL;
    CHECK(i4_store_prompt_get(s, pa, &o) == I4_STORE_NOT_FOUND);
    REQUIRE(i4_store_image_list(s, 0, 0, pa, &o) == 0);
    CHECK(json_array_size(o) == 0);
    json_decref(o);
    REQUIRE(i4_store_image_list(s, 0, 0, 0, &o) == 0);
    CHECK(json_array_size(o) == 1);
    json_decref(o);
    CHECK(i4_store_prompt_delete(s, pa, NULL) == I4_STORE_NOT_FOUND);
    /* A prompt without images deletes fine with an empty list. */
    int64_t pc;
    REQUIRE(i4_store_prompt_insert(s, "{}", "c", &pc) == 0);
    REQUIRE(i4_store_prompt_delete(s, pc, &files) == 0);
    CHECK(json_array_size(files) == 0);
    json_decref(files);
    /* delete_all */
    REQUIRE(i4_store_image_delete_all(s, &files) == 0);
    CHECK(json_array_size(files) == 1);
    json_decref(files);
    REQUIRE(i4_store_image_list(s, 0, 0, 0, &o) == 0);
    CHECK(json_array_size(o) == 0);
    json_decref(o);
    i4_store_close(s);
}

I4_TEST(store_sql_injection_verbatim) {
    char dir[400], path[512];
    fresh_dir(dir, sizeof dir, "inject");
    snprintf(path, sizeof path, "%s/app.db", dir);
    i4_store *s = NULL;
    REQUIRE(i4_store_open(path, &s) == 0);
    const char *evil = "x'); DROP TABLE prompts; -- \" OR 1=1 ; \xc3\xa9\xe2\x9c\x93";
    json_t *js = json_pack("{s:s}", "hld", evil);
    char *form = json_dumps(js, JSON_COMPACT);
    json_decref(js);
    int64_t pid;
    REQUIRE(i4_store_prompt_insert(s, form, evil, &pid) == 0);
    i4_store_image im = make_image("cccccccccccccccccccccccccccccccc.png", pid);
    im.hld = evil;
    im.preset = evil;
    im.lora_name = evil;
    int64_t iid;
    REQUIRE(i4_store_image_insert(s, &im, &iid) == 0);
    json_t *o = NULL;
    REQUIRE(i4_store_prompt_get(s, pid, &o) == 0);
    CHECK(!strcmp(json_string_value(json_object_get(o, "hld")), evil));
    CHECK(!strcmp(json_string_value(json_object_get(o, "form_json")), form));
    json_decref(o);
    REQUIRE(i4_store_image_get(s, iid, &o) == 0);
    CHECK(!strcmp(json_string_value(json_object_get(o, "preset")), evil));
    CHECK(!strcmp(json_string_value(json_object_get(o, "lora_name")), evil));
    json_decref(o);
    REQUIRE(i4_store_prompt_list(s, 0, 0, "DROP TABLE prompts; --", 0, &o) == 0);
    CHECK(json_array_size(o) == 1);
    json_decref(o);
    REQUIRE(i4_store_prompt_list(s, 0, 0, "' OR '1'='1", 0, &o) == 0);
    CHECK(json_array_size(o) == 0);
    json_decref(o);
    CHECK(i4_store_form_save(s, form) == 0);
    char *back = NULL;
    CHECK(i4_store_form_load(s, &back) == 0 && back && !strcmp(back, form));
    free(back);
    free(form);
    i4_store_close(s);
}

I4_TEST(store_cleanup_orphans) {
    char dir[400], out[400], path[512];
    fresh_dir(dir, sizeof dir, "orph");
    snprintf(out, sizeof out, "%s/outputs", dir);
    mkdir(out, 0755);
    snprintf(path, sizeof path, "%s/app.db", dir);
    i4_store *s = NULL;
    REQUIRE(i4_store_open(path, &s) == 0);
    const char *kept = "0123456789abcdef0123456789abcdef.png";
    const char *orph1 = "fedcba9876543210fedcba9876543210.webp";
    const char *orph2 = "ABCDEF0123456789ABCDEF0123456789.jpg";
    const char *other[] = {"notes.txt", "0123456789abcdef0123456789abcde.png",
                           "0123456789abcdef0123456789abcdeg.png", "0123456789abcdef0123456789abcdef.png.bak",
                           "my.png"};
    REQUIRE(write_file(out, kept) == 0);
    REQUIRE(write_file(out, orph1) == 0);
    REQUIRE(write_file(out, orph2) == 0);
    const char *interrupted = "0123456789abcdef0123456789abcdef.png.tmp"; /* write cut before rename */
    REQUIRE(write_file(out, interrupted) == 0);
    for (int i = 0; i < 5; i++) REQUIRE(write_file(out, other[i]) == 0);
    char sub[512];
    snprintf(sub, sizeof sub, "%s/11111111111111111111111111111111.png", out);
    mkdir(sub, 0755); /* a directory with a generated-looking name is left alone */

    i4_store_image a = make_image(kept, 0);
    i4_store_image b = make_image("99999999999999999999999999999999.png", 0); /* file missing */
    int64_t bid;
    REQUIRE(i4_store_image_insert(s, &a, NULL) == 0);
    REQUIRE(i4_store_image_insert(s, &b, &bid) == 0);

    /* Young files are kept with a large min age. */
    i4_store_cleanup_result r;
    json_t *miss = NULL;
    REQUIRE(i4_store_cleanup_orphans(s, out, 3600, &r, NULL) == 0);
    CHECK(r.files_deleted == 0 && r.files_kept_new == 3 && r.rows_missing == 1);
    CHECK(file_exists(out, orph1) && file_exists(out, orph2));

    REQUIRE(i4_store_cleanup_orphans(s, out, 0, &r, &miss) == 0);
    CHECK(r.files_deleted == 3 && r.files_failed == 0 && r.files_kept_new == 0);
    CHECK(!file_exists(out, interrupted));
    CHECK(r.rows_missing == 1);
    REQUIRE(json_array_size(miss) == 1);
    CHECK(json_integer_value(json_object_get(json_array_get(miss, 0), "id")) == bid);
    json_decref(miss);
    CHECK(file_exists(out, kept));
    CHECK(!file_exists(out, orph1) && !file_exists(out, orph2));
    for (int i = 0; i < 5; i++) CHECK(file_exists(out, other[i]));
    CHECK(file_exists(out, "11111111111111111111111111111111.png"));
    /* Missing rows are reported, never deleted. */
    json_t *o = NULL;
    CHECK(i4_store_image_get(s, bid, &o) == 0);
    json_decref(o);

    CHECK(i4_store_cleanup_orphans(s, "/nonexistent/i4/dir", 0, &r, NULL) == -1);
    CHECK(i4_store_is_generated_name(kept) && !i4_store_is_generated_name("x.png"));
    CHECK(!i4_store_is_bare_name("..") && !i4_store_is_bare_name("a/b") && i4_store_is_bare_name("a.png"));
    i4_store_close(s);
}

/* Several threads share one store (the server's usage). */
typedef struct {
    i4_store *s;
    int tid, errors;
} store_thread_arg;

static void *store_thread(void *p) {
    store_thread_arg *a = p;
    char fn[64];
    for (int i = 0; i < 25; i++) {
        int64_t pid, iid;
        json_t *o = NULL;
        snprintf(fn, sizeof fn, "%016x%016x.png", a->tid, i);
        if (i4_store_prompt_insert(a->s, "{}", "t", &pid)) a->errors++;
        i4_store_image im = make_image(fn, pid);
        if (i4_store_image_insert(a->s, &im, &iid)) a->errors++;
        if (i4_store_image_list(a->s, 5, 0, 0, &o)) a->errors++;
        json_decref(o);
        if (i % 2 && i4_store_prompt_delete(a->s, pid, NULL)) a->errors++;
    }
    return NULL;
}

I4_TEST(store_threads_share_one_store) {
    char dir[400], path[512];
    fresh_dir(dir, sizeof dir, "threads");
    snprintf(path, sizeof path, "%s/app.db", dir);
    i4_store *s = NULL;
    REQUIRE(i4_store_open(path, &s) == 0);
    pthread_t th[4];
    store_thread_arg args[4];
    for (int t = 0; t < 4; t++) {
        args[t] = (store_thread_arg){s, t, 0};
        REQUIRE(pthread_create(&th[t], NULL, store_thread, &args[t]) == 0);
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
        CHECK(args[t].errors == 0);
    }
    json_t *o = NULL;
    REQUIRE(i4_store_image_list(s, 1000, 0, 0, &o) == 0);
    CHECK(json_array_size(o) == 4 * 13); /* even i kept: 0,2,..,24 */
    json_decref(o);
    i4_store_close(s);
}

/* D2: a row holding invalid UTF-8 (written by an older version, which cut
 * text inside a character) must not break reading the history. */
I4_TEST(store_invalid_utf8_row_is_repaired_D2) {
    char dir[400], path[512];
    fresh_dir(dir, sizeof dir, "badutf8");
    snprintf(path, sizeof path, "%s/app.db", dir);
    i4_store *s = NULL;
    REQUIRE(i4_store_open(path, &s) == 0);
    i4_store_image im = make_image("0123456789abcdef0123456789abcdef.png", 0);
    im.hld = "aaa\xc3"; /* "é" cut after its first byte */
    int64_t id = 0;
    REQUIRE(i4_store_image_insert(s, &im, &id) == 0);
    json_t *row = NULL, *rows = NULL;
    CHECK(i4_store_image_get(s, id, &row) == 0 && row);
    CHECK(row && !strcmp(json_string_value(json_object_get(row, "hld")), "aaa\xef\xbf\xbd"));
    CHECK(i4_store_image_list(s, 10, 0, 0, &rows) == 0 && json_array_size(rows) == 1);
    json_decref(row);
    json_decref(rows);
    i4_store_close(s);
}

/* D10: an image whose prompt was deleted while it was generating is kept,
 * without a prompt, instead of pointing at a row that no longer exists. */
I4_TEST(store_image_of_deleted_prompt_has_no_prompt_D10) {
    char dir[400], path[512];
    fresh_dir(dir, sizeof dir, "deletedprompt");
    snprintf(path, sizeof path, "%s/app.db", dir);
    i4_store *s = NULL;
    REQUIRE(i4_store_open(path, &s) == 0);
    int64_t pid = 0, id = 0;
    REQUIRE(i4_store_prompt_insert(s, "{}", "p", &pid) == 0);
    json_t *files = NULL;
    REQUIRE(i4_store_prompt_delete(s, pid, &files) == 0);
    json_decref(files);
    i4_store_image im = make_image("00000000000000000000000000000001.png", pid);
    REQUIRE(i4_store_image_insert(s, &im, &id) == 0);
    json_t *row = NULL;
    CHECK(i4_store_image_get(s, id, &row) == 0 && row && json_is_null(json_object_get(row, "prompt_id")));
    json_decref(row);
    i4_store_close(s);
}
