/*
 * store.h — SQLite persistence for the HTTP server (docs/APP.md §4): generated
 * images, saved prompts (one per Generate click) and the single last-form row.
 *
 * One connection per store object, guarded by a mutex, so one store may be
 * shared by all server threads. The connection runs in WAL mode with a busy
 * timeout and foreign-key enforcement on (no foreign keys are declared; the
 * images.prompt_id → prompts.id link is logical, §4.4).
 *
 * Schema versioning uses PRAGMA user_version. Version 1 = the §4.2 tables
 * (images, prompts, last_form) plus the indexes images(prompt_id) and
 * images(created_at) and the nullable images columns generation_seconds,
 * format and steps. Opening a database written by the reference app (version
 * 0: images without prompt_id/lora_name/lora_strength, zone-less timestamps,
 * possibly absolute file paths) migrates it in one transaction: missing
 * columns are added, timestamps rewritten as ISO-8601 "YYYY-MM-DDTHH:MM:SSZ",
 * absolute file paths reduced to their bare file name. Migrations are
 * idempotent (columns are added only when absent).
 *
 * Every function returns 0 on success, -1 on error (message via i4_error /
 * i4_last_error) or I4_STORE_NOT_FOUND (-3) for an unknown id, so the server
 * can answer 404. Returned JSON values (jansson) and strings are owned by the
 * caller (json_decref / free). All SQL uses bound parameters.
 */
#ifndef I4_STORE_H
#define I4_STORE_H

#include <jansson.h>
#include <stdint.h>

#define I4_STORE_NOT_FOUND (-3)
#define I4_STORE_SCHEMA_VERSION 1

typedef struct i4_store i4_store;

/* Open (creating if needed) the database at `path` and bring its schema up to
 * I4_STORE_SCHEMA_VERSION. The parent folder must exist. */
int i4_store_open(const char *path, i4_store **out);
void i4_store_close(i4_store *s);
/* The schema version recorded in the database (PRAGMA user_version). */
int i4_store_schema_version(i4_store *s, int *version);
/* The current journal mode ("wal" expected), copied into buf. */
int i4_store_journal_mode(i4_store *s, char *buf, size_t size);

/* ---- prompts ---------------------------------------------------------- */

/* Insert a prompt row; form_json must parse as JSON. *id receives the row id. */
int i4_store_prompt_insert(i4_store *s, const char *form_json, const char *hld, int64_t *id);
/* {"id", "saved_at", "hld", "form_json": "<text>", "image_count"}. */
int i4_store_prompt_get(i4_store *s, int64_t id, json_t **out);
/* Newest first. limit <= 0 → 50. search: NULL/"" = all, otherwise a
 * case-insensitive (ASCII) substring of hld, matched literally (% _ \ are not
 * wildcards). Each element: {"id", "saved_at", "hld", "image_count",
 * "thumb_image_id": int|null, "thumb_file": str|null (newest image)} plus
 * "form_json" when with_form is non-zero. */
int i4_store_prompt_list(i4_store *s, int limit, int offset, const char *search, int with_form,
                         json_t **out);
/* Delete the prompt and every image row linked to it, in one transaction.
 * *files (optional) receives a JSON array of the deleted rows' file names
 * (stored values; the caller deletes the files, confined to the output
 * folder). NOT_FOUND when neither a prompt row nor linked images existed. */
int i4_store_prompt_delete(i4_store *s, int64_t id, json_t **files);

/* ---- images ----------------------------------------------------------- */

typedef struct {
    const char *file_name;     /* bare name in the output folder (required) */
    const char *format;        /* "png"/"webp"/"jpeg"; NULL → from the extension */
    int width, height;
    int64_t seed;
    const char *preset;        /* NULL → "V4_QUALITY_48" */
    int steps;                 /* <= 0 → NULL */
    double generation_seconds; /* < 0 → NULL */
    const char *lora_name;     /* NULL → no LoRA (lora_strength stored NULL) */
    double lora_strength;      /* single strength; 0.0 for a stack */
    int64_t prompt_id;         /* <= 0 → NULL (image without prompt) */
    const char *hld;           /* NULL → "" */
} i4_store_image;

int i4_store_image_insert(i4_store *s, const i4_store_image *img, int64_t *id);
/* {"id", "created_at", "hld", "width", "height", "preset", "seed",
 *  "file_path" (bare valid file name or ""), "prompt_id", "lora_name",
 *  "lora_strength", "format", "steps", "generation_seconds"} (nullable ones
 *  as JSON null). */
int i4_store_image_get(i4_store *s, int64_t id, json_t **out);
/* Newest first; limit <= 0 → 50; prompt_id <= 0 → all images. */
int i4_store_image_list(i4_store *s, int limit, int offset, int64_t prompt_id, json_t **out);
/* Delete the row; *file_name (optional, malloc'd) receives its stored file. */
int i4_store_image_delete(i4_store *s, int64_t id, char **file_name);
/* Delete every image row; *files (optional) gets the array of file names. */
int i4_store_image_delete_all(i4_store *s, json_t **files);

/* ---- last form -------------------------------------------------------- */

/* Upsert the single last_form row (form_json must parse as JSON). */
int i4_store_form_save(i4_store *s, const char *form_json);
/* *out = malloc'd text, or NULL when nothing was saved yet (returns 0). */
int i4_store_form_load(i4_store *s, char **out);

/* ---- maintenance ------------------------------------------------------ */

/* 1 when name is a file name the engine generates: 32 hex digits followed by
 * .png, .webp, .jpg or .jpeg. */
int i4_store_is_generated_name(const char *name);
/* 1 when name is a safe bare file name (no path separators, not "." / "..",
 * not empty, no control characters). */
int i4_store_is_bare_name(const char *name);

typedef struct {
    int files_deleted;   /* generated-pattern files no image row referenced */
    int files_failed;    /* such files that could not be removed */
    int files_kept_new;  /* unreferenced but younger than min_age_s (kept) */
    int rows_missing;    /* image rows whose file is absent (reported only) */
} i4_store_cleanup_result;

/* Delete files in out_dir that match the generated-name pattern, are not
 * referenced by any image row and are at least min_age_s seconds old (so a
 * file written just before its row is inserted is not lost). Rows whose file
 * is missing are counted and, when missing is non-NULL, listed as
 * [{"id", "file_path"}]; they are never deleted. */
int i4_store_cleanup_orphans(i4_store *s, const char *out_dir, double min_age_s,
                             i4_store_cleanup_result *res, json_t **missing);

#endif
