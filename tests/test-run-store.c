#include "paramlab.h"
#include "pl-test-util.h"

#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

/* A path for a fresh store in a directory of its own (not created yet). */
static char *
store_path (const char *name)
{
  return g_build_filename (pl_test_tmpdir (), name, "sub", "runs.db", NULL);
}

static PlRunStore *
open_store (const char *path)
{
  g_autoptr (GError) error = NULL;
  PlRunStore *store = pl_run_store_open (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (store);
  return store;
}

static gint64
new_run (PlRunStore *store, const char *name, const char *dataset)
{
  g_autoptr (GError) error = NULL;
  gint64 id = pl_run_store_create_run (store, name, 7, "[experiment]\nname = x\n", dataset,
                                       "mlp", &error);
  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);
  return id;
}

/* Runs fixed SQL on the file through a connection of the test's own. */
static void
raw_exec (const char *path, const char *sql)
{
  sqlite3 *db = NULL;
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  char *message = NULL;
  int rc = sqlite3_exec (db, sql, NULL, NULL, &message);
  if (rc != SQLITE_OK)
    g_error ("%s: %s", sql, message);
  g_assert_cmpint (sqlite3_close (db), ==, SQLITE_OK);
}

static gint64
raw_int (const char *path, const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  gint64 v = sqlite3_column_int64 (stmt, 0);
  g_assert_cmpint (sqlite3_finalize (stmt), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_close (db), ==, SQLITE_OK);
  return v;
}

static void
assert_store_error (GError *error, const char *path, const char *fragment)
{
  g_assert_error (error, PL_ERROR, PL_ERROR_STORE);
  if (!strstr (error->message, path))
    g_error ("error '%s' does not name the path '%s'", error->message, path);
  if (fragment && !strstr (error->message, fragment))
    g_error ("error '%s' does not say '%s'", error->message, fragment);
}

/* ---- opening ------------------------------------------------------------------- */

static void
test_open_create (void)
{
  g_autofree char *path = store_path ("create");
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_autoptr (PlRunStore) store = open_store (path);
  g_assert_cmpstr (pl_run_store_get_path (store), ==, path);
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpint (raw_int (path, "PRAGMA user_version"), ==, PL_RUN_STORE_SCHEMA_VERSION);
  g_assert_cmpint (raw_int (path, "SELECT count(*) FROM sqlite_schema WHERE name IN "
                                  "('runs', 'run_plugins', 'metric_keys', 'metrics', "
                                  "'events', 'checkpoints', 'run_summary')"), ==, 7);
  g_assert_cmpint (raw_int (path, "SELECT journal_mode = 'wal' FROM pragma_journal_mode"), ==, 1);
}

static void
test_open_empty_file (void)
{
  g_autofree char *path = store_path ("empty");
  g_autofree char *dir = g_path_get_dirname (path);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (path, "", 0, NULL));

  g_autoptr (PlRunStore) store = open_store (path);
  g_assert_cmpint (raw_int (path, "PRAGMA user_version"), ==, PL_RUN_STORE_SCHEMA_VERSION);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) runs = pl_run_store_list_runs (store, NULL, TRUE, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (runs->len, ==, 0);
}

static void
test_open_reopen (void)
{
  g_autofree char *path = store_path ("reopen");
  g_autoptr (GError) error = NULL;
  gint64 id;
  {
    g_autoptr (PlRunStore) store = open_store (path);
    id = new_run (store, "kept", "digits");
    g_assert_true (pl_run_store_log_metric (store, id, "val/acc", 3, 0.75));
    g_assert_true (pl_run_store_close (store, &error));
    g_assert_no_error (error);
  }
  g_autoptr (PlRunStore) store = open_store (path);
  g_autoptr (PlRunInfo) info = pl_run_store_get_run (store, id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (info->name, ==, "kept");
  g_assert_cmpstr (info->dataset, ==, "digits");
  g_assert_cmpstr (info->experiment, ==, "[experiment]\nname = x\n");
  g_assert_cmpuint (info->seed, ==, 7);
  /* closing flushed the metric logged just before */
  g_autoptr (PlSeries) s = pl_run_store_get_metric (store, id, "val/acc", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (s->steps->len, ==, 1);
  g_assert_cmpint (g_array_index (s->steps, gint64, 0), ==, 3);
  g_assert_cmpfloat (g_array_index (s->values, double, 0), ==, 0.75);
}

static void
test_open_newer_version (void)
{
  g_autofree char *path = store_path ("newer");
  {
    g_autoptr (PlRunStore) store = open_store (path);
  }
  raw_exec (path, "PRAGMA user_version = 99");
  g_autoptr (GError) error = NULL;
  g_autoptr (PlRunStore) store = pl_run_store_open (path, &error);
  g_assert_null (store);
  assert_store_error (error, path, "99");
  g_assert_nonnull (strstr (error->message, "newer"));
  /* and the file is left alone */
  g_assert_cmpint (raw_int (path, "PRAGMA user_version"), ==, 99);
}

typedef enum {
  BAD_TEXT_FILE,
  BAD_DIRECTORY,
  BAD_FOREIGN_DB,
  BAD_PARENT_IS_FILE,
  BAD_UNREADABLE,
} BadKind;

static void
test_open_bad_files (void)
{
  static const struct {
    const char *name;
    BadKind kind;
    const char *fragment;
  } cases[] = {
    { "text", BAD_TEXT_FILE, "not a database" },
    { "dir", BAD_DIRECTORY, "directory" },
    { "foreign", BAD_FOREIGN_DB, "another application" },
    { "parent", BAD_PARENT_IS_FILE, "directory" },
    { "unreadable", BAD_UNREADABLE, NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *dir = g_build_filename (pl_test_tmpdir (), "bad", cases[i].name, NULL);
      g_autofree char *path = g_build_filename (dir, "runs.db", NULL);
      g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
      switch (cases[i].kind)
        {
        case BAD_TEXT_FILE:
          {
            g_autofree char *text = g_strnfill (2000, 'x');
            g_assert_true (g_file_set_contents (path, text, -1, NULL));
          }
          break;
        case BAD_DIRECTORY:
          g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
          break;
        case BAD_FOREIGN_DB:
          raw_exec (path, "CREATE TABLE cookies (host TEXT, value TEXT)");
          break;
        case BAD_PARENT_IS_FILE:
          {
            /* path's parent directory would have to be where a file is */
            g_autofree char *file = g_build_filename (dir, "file", NULL);
            g_assert_true (g_file_set_contents (file, "x", -1, NULL));
            g_free (path);
            path = g_build_filename (file, "runs.db", NULL);
          }
          break;
        case BAD_UNREADABLE:
          if (geteuid () == 0)
            {
              g_test_message ("skipping the unreadable file: running as root");
              continue;
            }
          g_assert_true (g_file_set_contents (path, "", 0, NULL));
          g_assert_cmpint (g_chmod (path, 0), ==, 0);
          break;
        }

      g_autoptr (GError) error = NULL;
      g_autoptr (PlRunStore) store = pl_run_store_open (path, &error);
      g_test_message ("%s: %s", cases[i].name, error ? error->message : "(no error)");
      g_assert_null (store);
      assert_store_error (error, path, cases[i].fragment);
    }
}

static void
test_default_path (void)
{
  g_autofree char *saved = g_strdup (g_getenv ("PARAMLAB_DB"));
  g_unsetenv ("PARAMLAB_DB");
  g_autofree char *path = pl_run_store_default_path ();
  g_autofree char *expected = g_build_filename (g_get_user_data_dir (), "paramlab", "runs.db",
                                                NULL);
  g_assert_cmpstr (path, ==, expected);
  g_assert_true (g_str_has_prefix (path, pl_test_tmpdir ()));

  g_setenv ("PARAMLAB_DB", "/somewhere/else.db", TRUE);
  g_autofree char *env_path = pl_run_store_default_path ();
  g_assert_cmpstr (env_path, ==, "/somewhere/else.db");

  if (saved)
    g_setenv ("PARAMLAB_DB", saved, TRUE);
  else
    g_unsetenv ("PARAMLAB_DB");
}

/* ---- runs ---------------------------------------------------------------------- */

static void
test_run_lifecycle (void)
{
  g_autofree char *path = store_path ("lifecycle");
  g_autoptr (PlRunStore) store = open_store (path);
  g_autoptr (GError) error = NULL;

  double t0 = g_get_real_time () / 1e6;
  gint64 id = new_run (store, "life", "digits");
  g_autoptr (PlRunInfo) q = pl_run_store_get_run (store, id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (q->status, ==, "queued");
  g_assert_cmpfloat (q->created_at, >=, t0 - 1);
  g_assert_cmpfloat (q->created_at, <=, t0 + 5);
  g_assert_true (isnan (q->started_at));
  g_assert_true (isnan (q->finished_at));
  g_assert_null (q->error);
  g_assert_cmpint (q->last_step, ==, -1);
  g_assert_true (isnan (q->best_val_acc));

  g_assert_true (pl_run_store_set_status (store, id, "running", NULL, &error));
  g_assert_no_error (error);
  g_autoptr (PlRunInfo) r = pl_run_store_get_run (store, id, &error);
  g_assert_cmpstr (r->status, ==, "running");
  g_assert_cmpfloat (r->started_at, >=, r->created_at);
  g_assert_true (isnan (r->finished_at));

  /* a second "running" (after a pause) keeps the first start */
  g_usleep (20000);
  g_assert_true (pl_run_store_set_status (store, id, "running", NULL, &error));
  g_autoptr (PlRunInfo) r2 = pl_run_store_get_run (store, id, &error);
  g_assert_cmpfloat (r2->started_at, ==, r->started_at);

  g_assert_true (pl_run_store_set_status (store, id, "failed", "loss became NaN at step 12",
                                          &error));
  g_autoptr (PlRunInfo) f = pl_run_store_get_run (store, id, &error);
  g_assert_cmpstr (f->status, ==, "failed");
  g_assert_cmpfloat (f->finished_at, >=, f->started_at);
  g_assert_cmpstr (f->error, ==, "loss became NaN at step 12");

  g_assert_false (pl_run_store_set_status (store, id, "exploded", NULL, &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "exploded"));
  g_clear_error (&error);

  g_assert_false (pl_run_store_set_status (store, id + 100, "running", NULL, &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (pl_run_store_get_run (store, id + 100, &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* re-run */
  gint64 again = new_run (store, "life again", "digits");
  g_assert_true (pl_run_store_set_parent_run (store, again, id, &error));
  g_assert_no_error (error);
  g_autoptr (PlRunInfo) a = pl_run_store_get_run (store, again, &error);
  g_assert_cmpint (a->parent_run, ==, id);
  g_assert_false (pl_run_store_set_parent_run (store, again, id + 100, &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* a seed above 2^63 survives the signed column */
  gint64 big = pl_run_store_create_run (store, "big seed", G_MAXUINT64 - 1, "", NULL, NULL,
                                        &error);
  g_assert_no_error (error);
  g_autoptr (PlRunInfo) b = pl_run_store_get_run (store, big, &error);
  g_assert_cmpuint (b->seed, ==, G_MAXUINT64 - 1);
}

static void
test_plugins_events_checkpoints (void)
{
  g_autofree char *path = store_path ("records");
  g_autoptr (PlRunStore) store = open_store (path);
  g_autoptr (GError) error = NULL;
  gint64 id = new_run (store, "records", "digits");

  g_assert_true (pl_run_store_add_plugin (store, id, "init", "kaiming", "1.0",
                                          "{\"mode\": \"fan_in\"}", &error));
  g_assert_no_error (error);
  g_assert_true (pl_run_store_add_plugin (store, id, "gate", "sigmoid-gate", "0.3", NULL,
                                          &error));
  g_assert_no_error (error);
  /* options must be a JSON object */
  const char *bad_options[] = { "[1, 2]", "{\"a\": ", "3" };
  for (guint i = 0; i < G_N_ELEMENTS (bad_options); i++)
    {
      g_assert_false (pl_run_store_add_plugin (store, id, "prune", "magnitude", "1",
                                               bad_options[i], &error));
      g_assert_error (error, PL_ERROR, PL_ERROR_STORE);
      g_assert_nonnull (strstr (error->message, "JSON object"));
      g_assert_nonnull (strstr (error->message, path));
      g_clear_error (&error);
    }
  g_assert_false (pl_run_store_add_plugin (store, id + 100, "init", "kaiming", "1", NULL,
                                           &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_autoptr (GPtrArray) plugins = pl_run_store_get_run_plugins (store, id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (plugins->len, ==, 2);
  PlRunPlugin *p0 = g_ptr_array_index (plugins, 0), *p1 = g_ptr_array_index (plugins, 1);
  g_assert_cmpstr (p0->slot, ==, "init");
  g_assert_cmpstr (p0->plugin_id, ==, "kaiming");
  g_assert_cmpstr (p0->version, ==, "1.0");
  g_assert_cmpstr (p0->options_json, ==, "{\"mode\": \"fan_in\"}");
  g_assert_cmpstr (p1->slot, ==, "gate");
  g_assert_cmpstr (p1->options_json, ==, "{}");

  g_assert_cmpint (pl_run_store_add_event (store, id, "started", "{\"event\":\"started\"}",
                                           &error), ==, 1);
  g_assert_cmpint (pl_run_store_add_event (store, id, "log", NULL, &error), ==, 2);
  g_assert_cmpint (pl_run_store_add_event (store, id, "epoch", "{\"epoch\":1}", &error), ==, 3);
  g_assert_no_error (error);
  g_assert_cmpint (pl_run_store_add_event (store, id, "epoch", "{epoch:1}", &error), ==, 0);
  g_assert_error (error, PL_ERROR, PL_ERROR_STORE);
  g_assert_nonnull (strstr (error->message, "not valid JSON"));
  g_clear_error (&error);
  /* another run counts its own events */
  gint64 other = new_run (store, "other", "digits");
  g_assert_cmpint (pl_run_store_add_event (store, other, "started", NULL, &error), ==, 1);

  g_autoptr (GPtrArray) events = pl_run_store_get_events (store, id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (events->len, ==, 3);
  for (guint i = 0; i < 3; i++)
    g_assert_cmpint (((PlRunEvent *) g_ptr_array_index (events, i))->seq, ==, i + 1);
  g_assert_cmpstr (((PlRunEvent *) g_ptr_array_index (events, 0))->kind, ==, "started");
  g_assert_cmpstr (((PlRunEvent *) g_ptr_array_index (events, 0))->payload_json, ==,
                   "{\"event\":\"started\"}");
  g_assert_null (((PlRunEvent *) g_ptr_array_index (events, 1))->payload_json);

  gint64 c1 = pl_run_store_add_checkpoint (store, id, 500, "/ck/best.safetensors", "best", "fp32",
                                           1234, "val/acc", 0.93, &error);
  g_assert_no_error (error);
  gint64 c2 = pl_run_store_add_checkpoint (store, id, 100, "/ck/last.safetensors", "last",
                                           "int8", -1, NULL, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpint (c1, >, 0);
  g_assert_cmpint (c2, >, c1);
  g_assert_cmpint (pl_run_store_add_checkpoint (store, id, 1, "/x", "last", "fp16", 1, NULL, 0,
                                                &error), ==, 0);
  g_assert_error (error, PL_ERROR, PL_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "'/x'"));
  g_assert_nonnull (strstr (error->message, "format 'fp16' is not 'fp32', 'int8' or 'sparse'"));
  g_clear_error (&error);
  /* a sparse export (schema version 3) */
  gint64 c3 = pl_run_store_add_checkpoint (store, id, 900, "/out/model-sparse.safetensors",
                                           "export", "sparse", 4321, NULL, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpint (c3, >, c2);

  g_autoptr (GPtrArray) cks = pl_run_store_list_checkpoints (store, id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (cks->len, ==, 3);
  PlCheckpointInfo *k2 = g_ptr_array_index (cks, 2);
  g_assert_cmpint (k2->id, ==, c3);
  g_assert_cmpstr (k2->kind, ==, "export");
  g_assert_cmpstr (k2->format, ==, "sparse");
  g_assert_cmpint (k2->size_bytes, ==, 4321);
  PlCheckpointInfo *k0 = g_ptr_array_index (cks, 0), *k1 = g_ptr_array_index (cks, 1);
  g_assert_cmpint (k0->id, ==, c2); /* by step */
  g_assert_cmpint (k0->step, ==, 100);
  g_assert_cmpstr (k0->format, ==, "int8");
  g_assert_cmpint (k0->size_bytes, ==, -1);
  g_assert_null (k0->metric_key);
  g_assert_true (isnan (k0->metric_value));
  g_assert_cmpint (k1->run_id, ==, id);
  g_assert_cmpstr (k1->path, ==, "/ck/best.safetensors");
  g_assert_cmpstr (k1->kind, ==, "best");
  g_assert_cmpint (k1->size_bytes, ==, 1234);
  g_assert_cmpstr (k1->metric_key, ==, "val/acc");
  g_assert_cmpfloat (k1->metric_value, ==, 0.93);
  g_assert_cmpfloat (k1->created_at, >, 0);
}

static guint
count_listed (PlRunStore *store, const char *filter, gboolean include_deleted)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) runs = pl_run_store_list_runs (store, filter, include_deleted, &error);
  g_assert_no_error (error);
  return runs->len;
}

static void
test_delete_undo_purge (void)
{
  g_autofree char *path = store_path ("delete");
  g_autoptr (PlRunStore) store = open_store (path);
  g_autoptr (GError) error = NULL;
  gint64 keep = new_run (store, "keep", "digits");
  gint64 gone = new_run (store, "gone", "digits");
  g_assert_true (pl_run_store_log_metric (store, gone, "train/loss", 0, 1.0));
  g_assert_true (pl_run_store_flush (store, &error));
  g_assert_cmpint (pl_run_store_add_checkpoint (store, gone, 0, "/ck/gone.safetensors", "last",
                                                "fp32", 10, NULL, 0, &error), >, 0);
  g_assert_cmpint (pl_run_store_add_event (store, gone, "started", NULL, &error), ==, 1);

  g_assert_true (pl_run_store_delete_run (store, gone, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (count_listed (store, NULL, FALSE), ==, 1);
  g_assert_cmpuint (count_listed (store, NULL, TRUE), ==, 2);
  g_autoptr (PlRunInfo) info = pl_run_store_get_run (store, gone, &error);
  g_assert_no_error (error);
  g_assert_true (info->deleted);

  g_assert_true (pl_run_store_undelete_run (store, gone, &error));
  g_assert_cmpuint (count_listed (store, NULL, FALSE), ==, 2);
  g_assert_false (pl_run_store_delete_run (store, gone + 100, &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* training states (resume) are not recorded: the purge finds them where the
   * engine writes them, <store dir>/checkpoints/run-<id>/state.safetensors, and
   * beside the run's last/best checkpoints when those are elsewhere; the state of
   * the run that is kept is not handed out */
  g_autofree char *db_dir = g_path_get_dirname (path);
  g_autofree char *gone_leaf = g_strdup_printf ("run-%" G_GINT64_FORMAT, gone);
  g_autofree char *keep_leaf = g_strdup_printf ("run-%" G_GINT64_FORMAT, keep);
  g_autofree char *gone_state = g_build_filename (db_dir, "checkpoints", gone_leaf,
                                                  "state.safetensors", NULL);
  g_autofree char *keep_state = g_build_filename (db_dir, "checkpoints", keep_leaf,
                                                  "state.safetensors", NULL);
  g_autofree char *other_dir = g_build_filename (db_dir, "elsewhere", NULL);
  g_autofree char *other_last = g_build_filename (other_dir, "last.safetensors", NULL);
  g_autofree char *other_state = g_build_filename (other_dir, "state.safetensors", NULL);
  const char *files[] = { gone_state, keep_state, other_state };
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *dir = g_path_get_dirname (files[i]);
      g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
      g_assert_true (g_file_set_contents (files[i], "state", -1, &error));
    }
  g_assert_cmpint (pl_run_store_add_checkpoint (store, gone, 0, other_last, "last", "fp32", 10,
                                                NULL, 0, &error), >, 0);
  /* an export elsewhere does not make its directory's state.safetensors the run's */
  g_autofree char *export_dir = g_build_filename (db_dir, "exports", NULL);
  g_autofree char *export_state = g_build_filename (export_dir, "state.safetensors", NULL);
  g_autofree char *export_file = g_build_filename (export_dir, "model.safetensors", NULL);
  g_assert_cmpint (g_mkdir_with_parents (export_dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (export_state, "state", -1, &error));
  g_assert_cmpint (pl_run_store_add_checkpoint (store, gone, 0, export_file, "export", "sparse",
                                                10, NULL, 0, &error), >, 0);

  g_assert_true (pl_run_store_delete_run (store, gone, &error));
  GPtrArray *paths = NULL;
  g_assert_cmpint (pl_run_store_purge_deleted (store, &paths, &error), ==, 1);
  g_assert_no_error (error);
  g_assert_cmpuint (paths->len, ==, 5);
  g_assert_cmpstr (g_ptr_array_index (paths, 0), ==, "/ck/gone.safetensors");
  g_assert_cmpstr (g_ptr_array_index (paths, 1), ==, other_last);
  g_assert_cmpstr (g_ptr_array_index (paths, 2), ==, export_file);
  g_assert_cmpstr (g_ptr_array_index (paths, 3), ==, gone_state);
  g_assert_cmpstr (g_ptr_array_index (paths, 4), ==, other_state);
  g_ptr_array_unref (paths);
  g_assert_true (g_file_test (keep_state, G_FILE_TEST_EXISTS)); /* the store deletes no file */

  g_assert_null (pl_run_store_get_run (store, gone, &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_cmpuint (count_listed (store, NULL, TRUE), ==, 1);
  /* everything recorded for it went with it */
  g_assert_cmpint (raw_int (path, "SELECT (SELECT count(*) FROM metrics)"
                                  " + (SELECT count(*) FROM events)"
                                  " + (SELECT count(*) FROM checkpoints)"), ==, 0);
  g_autoptr (PlRunInfo) kept = pl_run_store_get_run (store, keep, &error);
  g_assert_no_error (error);
  g_assert_cmpint (pl_run_store_purge_deleted (store, NULL, &error), ==, 0);
}

static void
test_list_filter (void)
{
  g_autofree char *path = store_path ("filter");
  g_autoptr (PlRunStore) store = open_store (path);
  g_autoptr (GError) error = NULL;
  gint64 a = new_run (store, "Baseline MLP", "digits");
  gint64 b = new_run (store, "pruned 50%", "breast-cancer");
  gint64 c = new_run (store, "qat int8", "digits");
  const char *tags_b[] = { " sweep-3 ", "keep", "", "keep", NULL };
  g_assert_true (pl_run_store_set_tags (store, b, tags_b, &error));
  g_assert_no_error (error);
  const char *bad_tags[] = { "a,b", NULL };
  g_assert_false (pl_run_store_set_tags (store, c, bad_tags, &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_true (pl_run_store_rename_run (store, c, "qat int8 per-channel", &error));

  static const struct {
    const char *filter;
    int expected[3]; /* 1-based indexes into {a, b, c}, newest first, 0 ends */
  } cases[] = {
    { NULL, { 3, 2, 1 } },
    { "", { 3, 2, 1 } },
    { "baseline", { 1 } },          /* name, any case */
    { "SWEEP", { 2 } },             /* tag */
    { "digits", { 3, 1 } },         /* dataset */
    { "50%", { 2 } },               /* % is literal */
    { "5_", { 0 } },                /* _ is literal */
    { "per-channel", { 3 } },       /* the new name */
    { "nothing like it", { 0 } },
  };
  gint64 ids[] = { a, b, c };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GPtrArray) runs = pl_run_store_list_runs (store, cases[i].filter, FALSE, &error);
      g_assert_no_error (error);
      guint n = 0;
      while (n < 3 && cases[i].expected[n])
        n++;
      g_test_message ("filter '%s'", cases[i].filter ? cases[i].filter : "(null)");
      g_assert_cmpuint (runs->len, ==, n);
      for (guint j = 0; j < n; j++)
        g_assert_cmpint (((PlRunInfo *) g_ptr_array_index (runs, j))->id, ==,
                         ids[cases[i].expected[j] - 1]);
    }

  g_autoptr (PlRunInfo) info = pl_run_store_get_run (store, b, &error);
  g_assert_cmpuint (g_strv_length (info->tags), ==, 2);
  g_assert_cmpstr (info->tags[0], ==, "sweep-3");
  g_assert_cmpstr (info->tags[1], ==, "keep");
  g_autoptr (GPtrArray) runs = pl_run_store_list_runs (store, "breast", FALSE, &error);
  PlRunInfo *listed = g_ptr_array_index (runs, 0);
  g_assert_cmpstr (listed->architecture, ==, "mlp");
  g_assert_null (listed->experiment);
  g_assert_cmpstr (listed->tags[0], ==, "sweep-3");
  g_autoptr (PlRunInfo) copy = pl_run_info_copy (listed);
  g_assert_cmpstr (copy->tags[1], ==, "keep");
}

/* ---- metrics ------------------------------------------------------------------- */

static double
point_value (guint key, gint64 step)
{
  return sin (0.001 * step + key) * (key + 1) + 1e-9 * step;
}

/* Points logged again before the writer stored them: the same (run, key, step)
 * three times in one transaction (a few thousand points, all in one chunk), two
 * runs and five keys interleaved, the repeats in reverse step order, so that
 * equal points meet in one multi-row INSERT and across them. The last value
 * logged must win, for every point. */
static double
repeated_value (int round, gint64 run, guint key, gint64 step)
{
  return round * 1000.0 + run * 100.0 + key * 10.0 + step * 1e-3;
}

static void
test_metrics_repeated_points (void)
{
  static const char *keys[] = { "val/acc", "train/loss", "lr", "sparsity/total", "gate/active" };
  const gint64 n_steps = 100;
  g_autofree char *path = store_path ("repeated");
  g_autoptr (PlRunStore) store = open_store (path);
  g_autoptr (GError) error = NULL;
  gint64 runs[2] = { new_run (store, "a", "digits"), new_run (store, "b", "digits") };

  for (gint64 step = 0; step < n_steps; step++)
    for (guint k = 0; k < G_N_ELEMENTS (keys); k++)
      for (guint r = 0; r < 2; r++)
        g_assert_true (pl_run_store_log_metric (store, runs[r], keys[k], step,
                                                repeated_value (1, r, k, step)));
  for (gint64 step = n_steps - 1; step >= 0; step--)
    for (guint r = 0; r < 2; r++)
      for (guint k = G_N_ELEMENTS (keys); k-- > 0;)
        g_assert_true (pl_run_store_log_metric (store, runs[r], keys[k], step,
                                                repeated_value (2, r, k, step)));
  for (gint64 step = 0; step < n_steps; step += 2)
    for (guint k = 0; k < G_N_ELEMENTS (keys); k++)
      for (guint r = 0; r < 2; r++)
        g_assert_true (pl_run_store_log_metric (store, runs[r], keys[k], step,
                                                repeated_value (3, r, k, step)));
  g_assert_true (pl_run_store_flush (store, &error));
  g_assert_no_error (error);

  g_assert_cmpint (raw_int (path, "SELECT count(*) FROM metrics"), ==,
                   2 * G_N_ELEMENTS (keys) * n_steps);
  for (guint r = 0; r < 2; r++)
    for (guint k = 0; k < G_N_ELEMENTS (keys); k++)
      {
        g_autoptr (PlSeries) s = pl_run_store_get_metric (store, runs[r], keys[k], &error);
        g_assert_no_error (error);
        g_assert_cmpuint (s->steps->len, ==, n_steps);
        for (gint64 i = 0; i < n_steps; i++)
          {
            double expected = repeated_value (i % 2 == 0 ? 3 : 2, r, k, i);
            g_assert_cmpint (g_array_index (s->steps, gint64, i), ==, i);
            if (g_array_index (s->values, double, i) != expected)
              g_error ("run %" G_GINT64_FORMAT " %s step %" G_GINT64_FORMAT ": %.17g, expected "
                       "the last value logged, %.17g", runs[r], keys[k], i,
                       g_array_index (s->values, double, i), expected);
          }
      }
}

static void
test_metrics_log_readback (void)
{
  static const char *keys[] = { "train/loss", "train/acc", "lr" };
  const gint64 n_steps = 40000;
  g_autofree char *path = store_path ("metrics");
  g_autoptr (PlRunStore) store = open_store (path);
  g_autoptr (GError) error = NULL;
  gint64 id = new_run (store, "metrics", "digits");
  gint64 other = new_run (store, "other", "digits");

  for (gint64 step = 0; step < n_steps; step++)
    for (guint k = 0; k < G_N_ELEMENTS (keys); k++)
      g_assert_true (pl_run_store_log_metric (store, id, keys[k], step, point_value (k, step)));
  /* a repeated (run, key, step) keeps the last value; NaN comes back as NaN */
  g_assert_true (pl_run_store_log_metric (store, id, "lr", 5, 42.0));
  g_assert_true (pl_run_store_log_metric (store, other, "val/loss", 0, NAN));
  g_assert_true (pl_run_store_log_metric (store, other, "val/loss", 1, INFINITY));
  g_assert_true (pl_run_store_flush (store, &error));
  g_assert_no_error (error);

  for (guint k = 0; k < G_N_ELEMENTS (keys); k++)
    {
      g_autoptr (PlSeries) s = pl_run_store_get_metric (store, id, keys[k], &error);
      g_assert_no_error (error);
      g_assert_cmpint (s->run_id, ==, id);
      g_assert_cmpstr (s->key, ==, keys[k]);
      g_assert_cmpuint (s->steps->len, ==, n_steps);
      g_assert_cmpuint (s->values->len, ==, n_steps);
      g_assert_cmpuint (s->wall_times->len, ==, n_steps);
      for (gint64 i = 0; i < n_steps; i++)
        {
          g_assert_cmpint (g_array_index (s->steps, gint64, i), ==, i);
          double expected = (k == 2 && i == 5) ? 42.0 : point_value (k, i);
          if (g_array_index (s->values, double, i) != expected)
            g_error ("%s step %" G_GINT64_FORMAT ": %.17g != %.17g", keys[k], i,
                     g_array_index (s->values, double, i), expected);
          g_assert_cmpfloat (g_array_index (s->wall_times, double, i), >, 1e9);
        }
    }
  g_auto (GStrv) names = pl_run_store_get_metric_keys (store, id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (names), ==, 3);
  g_assert_cmpstr (names[0], ==, "lr");
  g_assert_cmpstr (names[1], ==, "train/acc");
  g_assert_cmpstr (names[2], ==, "train/loss");

  g_autoptr (PlSeries) nan_series = pl_run_store_get_metric (store, other, "val/loss", &error);
  g_assert_cmpuint (nan_series->values->len, ==, 2);
  g_assert_true (isnan (g_array_index (nan_series->values, double, 0)));
  g_assert_true (isinf (g_array_index (nan_series->values, double, 1)));
  g_autoptr (PlSeries) none = pl_run_store_get_metric (store, id, "no/such", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (none->steps->len, ==, 0);
}

typedef struct {
  PlRunStore *store;
  gint64 run_id;
  int thread;
  gint64 n;
} LoggerArgs;

static gpointer
logger_thread (gpointer data)
{
  LoggerArgs *args = data;
  g_autofree char *key = g_strdup_printf ("thread/%d", args->thread);
  for (gint64 i = 0; i < args->n; i++)
    g_assert_true (pl_run_store_log_metric (args->store, args->run_id, key, i, args->thread + i));
  return NULL;
}

static void
test_metrics_threads (void)
{
  g_autofree char *path = store_path ("threads");
  g_autoptr (PlRunStore) store = open_store (path);
  g_autoptr (GError) error = NULL;
  gint64 id = new_run (store, "threads", "digits");
  LoggerArgs args[4];
  GThread *threads[4];
  for (int t = 0; t < 4; t++)
    {
      args[t] = (LoggerArgs) { store, id, t, 20000 };
      threads[t] = g_thread_new ("logger", logger_thread, &args[t]);
    }
  for (int t = 0; t < 4; t++)
    g_thread_join (threads[t]);
  g_assert_true (pl_run_store_flush (store, &error));
  for (int t = 0; t < 4; t++)
    {
      g_autofree char *key = g_strdup_printf ("thread/%d", t);
      g_autoptr (PlSeries) s = pl_run_store_get_metric (store, id, key, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (s->steps->len, ==, 20000);
      for (guint i = 0; i < s->steps->len; i++)
        g_assert_cmpfloat (g_array_index (s->values, double, i), ==, t + (double) i);
    }
}

static void
test_metrics_visible_without_flush (void)
{
  g_autofree char *path = store_path ("latency");
  g_autoptr (PlRunStore) store = open_store (path);
  g_autoptr (PlRunStore) reader = open_store (path);
  g_autoptr (GError) error = NULL;
  gint64 id = new_run (store, "latency", "digits");
  gint64 t0 = g_get_monotonic_time ();
  g_assert_true (pl_run_store_log_metric (store, id, "val/acc", 1, 0.5));
  guint n = 0;
  while (n == 0 && g_get_monotonic_time () - t0 < 5 * G_USEC_PER_SEC)
    {
      g_usleep (5000);
      g_autoptr (PlSeries) s = pl_run_store_get_metric (reader, id, "val/acc", &error);
      g_assert_no_error (error);
      n = s->steps->len;
    }
  gint64 waited = g_get_monotonic_time () - t0;
  g_test_message ("a lone point became visible after %.0f ms", waited / 1e3);
  g_assert_cmpuint (n, ==, 1);
  g_assert_cmpint (waited, <, G_USEC_PER_SEC);
}

static void
test_metrics_for_runs (void)
{
  g_autofree char *path = store_path ("compare");
  g_autoptr (PlRunStore) store = open_store (path);
  g_autoptr (GError) error = NULL;
  gint64 ids[4];
  for (int r = 0; r < 4; r++)
    {
      ids[r] = new_run (store, "cmp", "digits");
      for (int s = 0; s < 10 * (r + 1); s++)
        {
          pl_run_store_log_metric (store, ids[r], "val/acc", s * 10, r + s / 100.0);
          pl_run_store_log_metric (store, ids[r], "val/loss", s * 10, 1.0);
        }
    }
  g_assert_true (pl_run_store_flush (store, &error));

  gint64 want[] = { ids[2], ids[0], 999999, ids[2], ids[3] };
  g_autoptr (GPtrArray) curves =
    pl_run_store_get_metrics_for_runs (store, want, G_N_ELEMENTS (want), "val/acc", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (curves->len, ==, G_N_ELEMENTS (want));
  static const guint expected_len[] = { 30, 10, 0, 30, 40 };
  static const int expected_r[] = { 2, 0, -1, 2, 3 };
  for (guint i = 0; i < curves->len; i++)
    {
      PlSeries *s = g_ptr_array_index (curves, i);
      g_assert_cmpint (s->run_id, ==, want[i]);
      g_assert_cmpstr (s->key, ==, "val/acc");
      g_assert_cmpuint (s->steps->len, ==, expected_len[i]);
      for (guint j = 0; j < s->steps->len; j++)
        {
          g_assert_cmpint (g_array_index (s->steps, gint64, j), ==, j * 10);
          g_assert_cmpfloat (g_array_index (s->values, double, j), ==,
                             expected_r[i] + j / 100.0);
        }
    }
  g_autoptr (GPtrArray) empty = pl_run_store_get_metrics_for_runs (store, NULL, 0, "val/acc",
                                                                  &error);
  g_assert_no_error (error);
  g_assert_cmpuint (empty->len, ==, 0);
}

static void
test_summary (void)
{
  static const struct {
    const char *key;
    double values[4]; /* at steps 0, 10, 20, 30 */
    double last, best;
    gint64 best_step;
    gboolean minimize;
  } cases[] = {
    { "val/loss", { 3, 1, 2, 1.5 }, 1.5, 1, 10, TRUE },
    { "val/acc", { 0.5, 0.9, 0.7, 0.9 }, 0.9, 0.9, 10, FALSE }, /* first of ties */
    { "train/loss", { 2, 1, 0.5, NAN }, NAN, 0.5, 20, TRUE },   /* NaN last, never best */
    { "sparsity/total", { NAN, NAN, NAN, NAN }, NAN, NAN, -1, FALSE },
    { "loss_kd", { -1, -3, -2, -2.5 }, -2.5, -3, 10, TRUE },
  };
  g_autofree char *path = store_path ("summary");
  g_autoptr (PlRunStore) store = open_store (path);
  g_autoptr (GError) error = NULL;
  gint64 id = new_run (store, "summary", "digits");
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    for (int s = 0; s < 4; s++)
      pl_run_store_log_metric (store, id, cases[c].key, s * 10, cases[c].values[s]);
  g_assert_true (pl_run_store_flush (store, &error));

  g_autoptr (GPtrArray) rows = pl_run_store_get_summary (store, id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rows->len, ==, G_N_ELEMENTS (cases));
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      PlMetricSummary *row = NULL;
      for (guint i = 0; i < rows->len; i++)
        if (strcmp (((PlMetricSummary *) g_ptr_array_index (rows, i))->key, cases[c].key) == 0)
          row = g_ptr_array_index (rows, i);
      g_test_message ("summary of %s", cases[c].key);
      g_assert_nonnull (row);
      g_assert_cmpint (row->n, ==, 4);
      g_assert_cmpint (row->last_step, ==, 30);
      g_assert_cmpint (row->minimize, ==, cases[c].minimize);
      g_assert_cmpint (row->minimize, ==, pl_run_store_metric_minimizes (cases[c].key));
      if (isnan (cases[c].last))
        g_assert_true (isnan (row->last));
      else
        g_assert_cmpfloat (row->last, ==, cases[c].last);
      if (isnan (cases[c].best))
        g_assert_true (isnan (row->best));
      else
        g_assert_cmpfloat (row->best, ==, cases[c].best);
      g_assert_cmpint (row->best_step, ==, cases[c].best_step);
    }
  /* sorted by key */
  for (guint i = 1; i < rows->len; i++)
    g_assert_cmpint (strcmp (((PlMetricSummary *) g_ptr_array_index (rows, i - 1))->key,
                             ((PlMetricSummary *) g_ptr_array_index (rows, i))->key), <, 0);

  /* the list shows the summary once it is written, and then with new points logged
   * just before (update_summary waits for them) */
  g_autoptr (GPtrArray) before = pl_run_store_list_runs (store, NULL, FALSE, &error);
  g_assert_true (isnan (((PlRunInfo *) g_ptr_array_index (before, 0))->best_val_acc));
  pl_run_store_log_metric (store, id, "sparsity/total", 40, 0.6);
  g_assert_true (pl_run_store_update_summary (store, id, &error));
  g_assert_no_error (error);
  g_autoptr (GPtrArray) after = pl_run_store_list_runs (store, NULL, FALSE, &error);
  PlRunInfo *info = g_ptr_array_index (after, 0);
  g_assert_cmpfloat (info->best_val_acc, ==, 0.9);
  g_assert_cmpfloat (info->final_val_acc, ==, 0.9);
  g_assert_cmpfloat (info->best_val_loss, ==, 1);
  g_assert_cmpfloat (info->final_val_loss, ==, 1.5);
  g_assert_cmpfloat (info->final_sparsity, ==, 0.6);
  g_assert_cmpint (info->last_step, ==, 40);
  g_assert_cmpint (raw_int (path, "SELECT count(*) FROM run_summary"), ==, G_N_ELEMENTS (cases));
  /* again: recomputed, not duplicated */
  g_assert_true (pl_run_store_update_summary (store, id, &error));
  g_assert_cmpint (raw_int (path, "SELECT count(*) FROM run_summary"), ==, G_N_ELEMENTS (cases));
  g_assert_false (pl_run_store_update_summary (store, id + 100, &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_NOT_FOUND);
}

typedef struct {
  const char *path;
  gint64 run_id;
  gint64 total;
  gint done;
  gint n_reads;
  guint last_len;
} ReaderArgs;

/* Reads the curve through a store of its own while the main thread logs: every read
 * must succeed and see a prefix of the steps that never shrinks. */
static gpointer
reader_thread (gpointer data)
{
  ReaderArgs *args = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (PlRunStore) reader = pl_run_store_open (args->path, &error);
  g_assert_no_error (error);
  guint last = 0;
  for (;;)
    {
      gboolean finished = g_atomic_int_get (&args->done);
      g_autoptr (PlSeries) s = pl_run_store_get_metric (reader, args->run_id, "train/loss", &error);
      g_assert_no_error (error);
      g_assert_cmpuint (s->steps->len, >=, last);
      for (guint i = 0; i < s->steps->len; i += 997)
        g_assert_cmpint (g_array_index (s->steps, gint64, i), ==, i);
      if (s->steps->len)
        g_assert_cmpint (g_array_index (s->steps, gint64, s->steps->len - 1), ==,
                         s->steps->len - 1);
      last = s->steps->len;
      g_atomic_int_inc (&args->n_reads);
      /* and a write of its own, which waits for the writer's lock */
      g_assert_cmpint (pl_run_store_add_event (reader, args->run_id, "probe", NULL, &error), >, 0);
      g_assert_no_error (error);
      if (finished)
        break;
    }
  args->last_len = last;
  return NULL;
}

static void
test_concurrent_reader (void)
{
  g_autofree char *path = store_path ("concurrent");
  g_autoptr (PlRunStore) store = open_store (path);
  g_autoptr (GError) error = NULL;
  gint64 id = new_run (store, "concurrent", "digits");
  ReaderArgs args = { path, id, 100000, 0, 0, 0 };
  GThread *thread = g_thread_new ("reader", reader_thread, &args);
  const gint64 batch = 10000;
  for (gint64 step = 0; step < args.total; step++)
    {
      pl_run_store_log_metric (store, id, "train/loss", step, 1.0 / (step + 1));
      if (step % batch == batch - 1)
        {
          /* let the reader read between the commits, however busy the machine */
          gint reads = g_atomic_int_get (&args.n_reads);
          g_assert_true (pl_run_store_flush (store, &error));
          g_assert_no_error (error);
          gint64 t0 = g_get_monotonic_time ();
          while (g_atomic_int_get (&args.n_reads) <= reads
                 && g_get_monotonic_time () - t0 < 5 * G_USEC_PER_SEC)
            g_usleep (1000);
        }
    }
  g_assert_true (pl_run_store_flush (store, &error));
  g_atomic_int_set (&args.done, 1);
  g_thread_join (thread);
  g_test_message ("%d reads during the writes", args.n_reads);
  g_assert_cmpint (args.n_reads, >, args.total / batch);
  g_assert_cmpuint (args.last_len, ==, args.total);
  g_autoptr (GPtrArray) events = pl_run_store_get_events (store, id, &error);
  g_assert_cmpuint (events->len, ==, args.n_reads);
}

static void
test_writer_error (void)
{
  g_autofree char *path = store_path ("writer-error");
  g_autoptr (PlRunStore) store = open_store (path);
  g_autoptr (GError) error = NULL;
  gint64 id = new_run (store, "ok", "digits");
  gint64 missing = id + 1000;

  g_assert_true (pl_run_store_log_metric (store, missing, "val/acc", 3, 1.0));
  /* log_metric starts returning FALSE once the writer has failed on that point */
  gint64 step = 0;
  gboolean reported = FALSE;
  gint64 t0 = g_get_monotonic_time ();
  while (!reported && g_get_monotonic_time () - t0 < 5 * G_USEC_PER_SEC)
    {
      reported = !pl_run_store_log_metric (store, id, "val/acc", step++, 0.5);
      g_usleep (2000);
    }
  g_assert_true (reported);
  /* logging after the error goes on; the error waits for a flush */
  g_assert_false (pl_run_store_log_metric (store, id, "val/acc", 1000, 0.25));

  g_assert_false (pl_run_store_flush (store, &error));
  assert_store_error (error, path, "no such run");
  g_autofree char *run_text = g_strdup_printf ("run %" G_GINT64_FORMAT, missing);
  g_assert_nonnull (strstr (error->message, run_text));
  g_assert_nonnull (strstr (error->message, "val/acc"));
  g_assert_nonnull (strstr (error->message, "1 metric point not stored"));
  g_clear_error (&error);

  /* the good points were stored, the error was reported once */
  g_autoptr (PlSeries) s = pl_run_store_get_metric (store, id, "val/acc", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (s->steps->len, ==, step + 1);
  g_assert_cmpint (g_array_index (s->steps, gint64, step), ==, 1000);
  g_assert_true (pl_run_store_flush (store, &error));
  g_assert_no_error (error);
  g_assert_true (pl_run_store_log_metric (store, id, "val/acc", 1001, 0.3));
  g_assert_true (pl_run_store_flush (store, &error));
}

static void
test_close (void)
{
  g_autofree char *path = store_path ("close");
  g_autoptr (PlRunStore) store = open_store (path);
  g_autoptr (GError) error = NULL;
  gint64 id = new_run (store, "close", "digits");
  for (int i = 0; i < 10000; i++)
    pl_run_store_log_metric (store, id, "train/loss", i, i);
  g_assert_true (pl_run_store_close (store, &error));
  g_assert_no_error (error);
  g_assert_true (pl_run_store_close (store, &error));
  /* everything logged before close was stored */
  g_assert_cmpint (raw_int (path, "SELECT count(*) FROM metrics"), ==, 10000);

  g_assert_false (pl_run_store_log_metric (store, id, "train/loss", 0, 0));
  g_assert_false (pl_run_store_flush (store, &error));
  assert_store_error (error, path, "closed");
  g_clear_error (&error);
  g_assert_null (pl_run_store_list_runs (store, NULL, FALSE, &error));
  assert_store_error (error, path, "closed");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  pl_test_tmpdir ();

  g_test_add_func ("/store/run-store/open/create", test_open_create);
  g_test_add_func ("/store/run-store/open/empty-file", test_open_empty_file);
  g_test_add_func ("/store/run-store/open/reopen", test_open_reopen);
  g_test_add_func ("/store/run-store/open/newer-version", test_open_newer_version);
  g_test_add_func ("/store/run-store/open/bad-files", test_open_bad_files);
  g_test_add_func ("/store/run-store/open/default-path", test_default_path);
  g_test_add_func ("/store/run-store/runs/lifecycle", test_run_lifecycle);
  g_test_add_func ("/store/run-store/runs/records", test_plugins_events_checkpoints);
  g_test_add_func ("/store/run-store/runs/delete-undo-purge", test_delete_undo_purge);
  g_test_add_func ("/store/run-store/runs/list-filter", test_list_filter);
  g_test_add_func ("/store/run-store/metrics/log-readback", test_metrics_log_readback);
  g_test_add_func ("/store/run-store/metrics/repeated-points", test_metrics_repeated_points);
  g_test_add_func ("/store/run-store/metrics/threads", test_metrics_threads);
  g_test_add_func ("/store/run-store/metrics/visible-without-flush",
                   test_metrics_visible_without_flush);
  g_test_add_func ("/store/run-store/metrics/for-runs", test_metrics_for_runs);
  g_test_add_func ("/store/run-store/metrics/summary", test_summary);
  g_test_add_func ("/store/run-store/metrics/concurrent-reader", test_concurrent_reader);
  g_test_add_func ("/store/run-store/metrics/writer-error", test_writer_error);
  g_test_add_func ("/store/run-store/close", test_close);
  return g_test_run ();
}
