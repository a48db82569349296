/* pl-run-store.c: the SQLite run store (see pl-run-store.h and docs/schema.md).
 *
 * Two connections per store. The main one serves the API on the caller's thread.
 * Metrics take another road: pl_run_store_log_metric() appends points to chunks of
 * PL_CHUNK_POINTS in memory under self->lock; a writer thread with its own
 * connection takes the full chunks (and the partly filled one after ~100 ms, or
 * when someone flushes) and stores them in transactions of up to
 * PL_COMMIT_POINTS points: grouped by (run, key), so that consecutive rows land
 * in the same B-tree leaf, and inserted PL_INSERT_ROWS at a time by one
 * prepared multi-row INSERT OR REPLACE. Counters of points logged and points
 * done let pl_run_store_flush() wait for exactly what was logged before it. */
#include "pl-run-store.h"

#include "pl-error.h"
#include "pl-json.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <glib/gstdio.h>

#define PL_APPLICATION_ID 1347174722 /* 'PLAB', PRAGMA application_id */
#define PL_BUSY_TIMEOUT_MS 5000
#define PL_CHUNK_POINTS 4096
/* The writer's transactions: up to 65,536 points each (about 64 ms of work at
 * 1 M points/s, so the ~100 ms latency holds), rows bound 64 to a statement
 * (320 parameters, under SQLite's limit of 32,766). */
#define PL_COMMIT_POINTS 65536
#define PL_INSERT_ROWS 64
#define PL_MAX_FREE_CHUNKS 32
#define PL_WRITER_LATENCY (100 * G_TIME_SPAN_MILLISECOND)

/* ---- schema --------------------------------------------------------------------- */

/* migrations[v] takes a database from user_version v to v + 1, inside one
 * transaction, and ends by setting user_version. Append only: a released step is
 * never edited. The large columns of runs come last, so that list queries read
 * the summary columns without following overflow pages. */
static const char *const migrations[] = {
  /* 0 -> 1 */
  "CREATE TABLE runs ("
  "  id             INTEGER PRIMARY KEY,"
  "  name           TEXT NOT NULL DEFAULT '',"
  "  status         TEXT NOT NULL DEFAULT 'queued'"
  "                 CHECK (status IN ('queued', 'running', 'finished', 'failed', 'stopped')),"
  "  created_at     REAL NOT NULL,"
  "  started_at     REAL,"
  "  finished_at    REAL,"
  "  seed           INTEGER NOT NULL DEFAULT 0,"
  "  dataset        TEXT NOT NULL DEFAULT '',"
  "  architecture   TEXT NOT NULL DEFAULT '',"
  "  tags           TEXT NOT NULL DEFAULT '',"
  "  parent_run     INTEGER REFERENCES runs (id) ON DELETE SET NULL,"
  "  deleted        INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),"
  "  last_step      INTEGER,"
  "  best_val_acc   REAL,"
  "  final_val_acc  REAL,"
  "  best_val_loss  REAL,"
  "  final_val_loss REAL,"
  "  final_sparsity REAL,"
  "  error          TEXT,"
  "  experiment     TEXT NOT NULL DEFAULT ''"
  ");"
  "CREATE INDEX runs_parent_run ON runs (parent_run);"
  "CREATE TABLE run_plugins ("
  "  run_id    INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
  "  slot      TEXT NOT NULL,"
  "  plugin_id TEXT NOT NULL,"
  "  version   TEXT NOT NULL DEFAULT '',"
  "  options   TEXT NOT NULL DEFAULT '{}' CONSTRAINT options_is_json_object"
  "            CHECK (CASE WHEN json_valid (options)"
  "                   THEN json_type (options) = 'object' ELSE 0 END)"
  ");"
  "CREATE INDEX run_plugins_run ON run_plugins (run_id);"
  "CREATE TABLE metric_keys ("
  "  id   INTEGER PRIMARY KEY,"
  "  name TEXT NOT NULL UNIQUE CHECK (name <> '')"
  ");"
  "CREATE TABLE metrics ("
  "  run_id    INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
  "  key_id    INTEGER NOT NULL REFERENCES metric_keys (id),"
  "  step      INTEGER NOT NULL,"
  "  value     REAL,"
  "  wall_time REAL NOT NULL,"
  "  PRIMARY KEY (run_id, key_id, step)"
  ") WITHOUT ROWID;"
  "CREATE TABLE run_summary ("
  "  run_id     INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
  "  key_id     INTEGER NOT NULL REFERENCES metric_keys (id),"
  "  n          INTEGER NOT NULL,"
  "  last_step  INTEGER NOT NULL,"
  "  last_value REAL,"
  "  best_step  INTEGER,"
  "  best_value REAL,"
  "  PRIMARY KEY (run_id, key_id)"
  ") WITHOUT ROWID;"
  "CREATE TABLE events ("
  "  run_id  INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
  "  seq     INTEGER NOT NULL,"
  "  time    REAL NOT NULL,"
  "  kind    TEXT NOT NULL,"
  "  payload TEXT CONSTRAINT payload_is_json CHECK (payload IS NULL OR json_valid (payload)),"
  "  PRIMARY KEY (run_id, seq)"
  ") WITHOUT ROWID;"
  "CREATE TABLE checkpoints ("
  "  id           INTEGER PRIMARY KEY,"
  "  run_id       INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
  "  step         INTEGER NOT NULL,"
  "  path         TEXT NOT NULL,"
  "  kind         TEXT NOT NULL CHECK (kind <> ''),"
  "  format       TEXT NOT NULL CHECK (format IN ('fp32', 'int8')),"
  "  size_bytes   INTEGER,"
  "  metric_key   TEXT,"
  "  metric_value REAL,"
  "  created_at   REAL NOT NULL"
  ");"
  "CREATE INDEX checkpoints_run ON checkpoints (run_id, step);"
  "PRAGMA application_id = 1347174722;"
  "PRAGMA user_version = 1;",

  /* 1 -> 2: the statuses 'interrupted' (its process died while it ran) and
   * 'diverged' (the loss or a parameter became NaN or Inf), and the run's owner,
   * the process that runs it (see reconcile ()). SQLite cannot change a CHECK
   * constraint in place, so runs is rebuilt: new table, copy, drop, rename. This
   * runs with foreign keys off (see migrate ()), so dropping the old table
   * deletes nothing in the tables that refer to it, and they refer to the new
   * one by name after the rename; migrate () runs foreign_key_check before the
   * commit. The owner columns go before error and experiment, the large ones. */
  "CREATE TABLE runs_v2 ("
  "  id             INTEGER PRIMARY KEY,"
  "  name           TEXT NOT NULL DEFAULT '',"
  "  status         TEXT NOT NULL DEFAULT 'queued'"
  "                 CHECK (status IN ('queued', 'running', 'finished', 'failed', 'stopped',"
  "                                   'interrupted', 'diverged')),"
  "  created_at     REAL NOT NULL,"
  "  started_at     REAL,"
  "  finished_at    REAL,"
  "  seed           INTEGER NOT NULL DEFAULT 0,"
  "  dataset        TEXT NOT NULL DEFAULT '',"
  "  architecture   TEXT NOT NULL DEFAULT '',"
  "  tags           TEXT NOT NULL DEFAULT '',"
  "  parent_run     INTEGER REFERENCES runs (id) ON DELETE SET NULL,"
  "  deleted        INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),"
  "  last_step      INTEGER,"
  "  best_val_acc   REAL,"
  "  final_val_acc  REAL,"
  "  best_val_loss  REAL,"
  "  final_val_loss REAL,"
  "  final_sparsity REAL,"
  "  owner_host     TEXT,"
  "  owner_pid      INTEGER,"
  "  owner_start    TEXT,"
  "  error          TEXT,"
  "  experiment     TEXT NOT NULL DEFAULT ''"
  ");"
  "INSERT INTO runs_v2 (id, name, status, created_at, started_at, finished_at, seed,"
  "                     dataset, architecture, tags, parent_run, deleted, last_step,"
  "                     best_val_acc, final_val_acc, best_val_loss, final_val_loss,"
  "                     final_sparsity, error, experiment)"
  "  SELECT id, name, status, created_at, started_at, finished_at, seed, dataset,"
  "         architecture, tags, parent_run, deleted, last_step, best_val_acc,"
  "         final_val_acc, best_val_loss, final_val_loss, final_sparsity, error,"
  "         experiment"
  "  FROM runs;"
  "DROP TABLE runs;"
  "ALTER TABLE runs_v2 RENAME TO runs;"
  "CREATE INDEX runs_parent_run ON runs (parent_run);"
  /* the runs reconcile () looks at: a handful, whatever the size of the table */
  "CREATE INDEX runs_live ON runs (id) WHERE status IN ('queued', 'running');"
  "PRAGMA user_version = 2;",

  /* 2 -> 3: checkpoints may be 'sparse' (paramlab-cli export --format sparse: the
   * fp32 weights with the 2-D ones in CSR form). The format CHECK changes, so
   * checkpoints is rebuilt like runs in step 2; no table refers to it, and its
   * index goes with the old table and is made again. */
  "CREATE TABLE checkpoints_v3 ("
  "  id           INTEGER PRIMARY KEY,"
  "  run_id       INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
  "  step         INTEGER NOT NULL,"
  "  path         TEXT NOT NULL,"
  "  kind         TEXT NOT NULL CHECK (kind <> ''),"
  "  format       TEXT NOT NULL CHECK (format IN ('fp32', 'int8', 'sparse')),"
  "  size_bytes   INTEGER,"
  "  metric_key   TEXT,"
  "  metric_value REAL,"
  "  created_at   REAL NOT NULL"
  ");"
  "INSERT INTO checkpoints_v3 (id, run_id, step, path, kind, format, size_bytes,"
  "                            metric_key, metric_value, created_at)"
  "  SELECT id, run_id, step, path, kind, format, size_bytes, metric_key, metric_value,"
  "         created_at"
  "  FROM checkpoints;"
  "DROP TABLE checkpoints;"
  "ALTER TABLE checkpoints_v3 RENAME TO checkpoints;"
  "CREATE INDEX checkpoints_run ON checkpoints (run_id, step);"
  "PRAGMA user_version = 3;",
};

G_STATIC_ASSERT (G_N_ELEMENTS (migrations) == PL_RUN_STORE_SCHEMA_VERSION);

#define RUN_COLUMNS                                                                  \
  "id, name, status, created_at, started_at, finished_at, seed, dataset, "           \
  "architecture, tags, parent_run, deleted, last_step, best_val_acc, final_val_acc, " \
  "best_val_loss, final_val_loss, final_sparsity"

/* ---- the object ------------------------------------------------------------------ */

typedef struct {
  gint64 run_id;
  gint64 step;
  double value;
  double wall_time;
  guint32 key; /* index into key_names */
} PlPoint;

/* A point as the writer stores it: key index resolved to its metric_keys id. */
typedef struct {
  gint64 run_id;
  gint64 key_id;
  gint64 step;
  double value;
  double wall_time;
  guint32 key;
} PlRow;

/* The points of one (run, key) in a transaction. */
typedef struct {
  gint64 run_id;
  gint64 key_id;
  guint32 count;
  guint32 next;  /* where its next row goes in the sorted rows */
} PlRowGroup;

/* The groups of one run: key index -> group index + 1 (0: none yet). */
typedef struct {
  gint64 run_id;
  GArray *key_group; /* guint32 */
} PlRunGroups;

typedef struct _PlChunk PlChunk;
struct _PlChunk {
  PlChunk *next;
  guint n;
  PlPoint points[PL_CHUNK_POINTS];
};

struct _PlRunStore {
  GObject parent_instance;

  char *path;
  sqlite3 *db; /* the main connection; NULL once closed */

  /* this process, the owner of the runs it creates or sets running (see
   * "run owners" below); owner_start is NULL without /proc */
  char *owner_host;
  gint64 owner_pid;
  char *owner_start;

  /* The logging path: everything here is under lock. */
  GMutex lock;
  GCond wake_writer;   /* a chunk is full, the first point of a chunk, flush, quit */
  GCond points_done;   /* n_done grew */
  PlChunk *cur;        /* being filled; NULL until the writer starts */
  gint64 cur_since;    /* monotonic time of cur's first point */
  PlChunk *full_head, *full_tail;
  PlChunk *free_chunks;
  guint n_free;
  GHashTable *key_index; /* key name (owned by key_names) -> index + 1 */
  GPtrArray *key_names;
  guint64 n_logged;    /* points accepted by log_metric */
  guint64 n_done;      /* of those, committed or given up by the writer */
  guint n_flushers;    /* threads waiting for n_done */
  gboolean quit;
  gboolean closed;
  GThread *writer;
  GError *writer_error; /* the first since a flush collected one */
  guint64 n_lost;       /* points not stored since then */

  /* The writer thread's own. */
  sqlite3 *wdb;
  sqlite3_stmt *w_insert;      /* one row */
  sqlite3_stmt *w_insert_many; /* PL_INSERT_ROWS rows */
  sqlite3_stmt *w_key_insert;
  sqlite3_stmt *w_key_select;
  sqlite3_stmt *w_run_check;
  GArray *w_key_ids;     /* metric_keys.id per key index, 0 = not looked up */
  GPtrArray *w_key_names;
  GArray *w_rows;        /* PlRow: the transaction being stored, reused */
  GArray *w_groups;      /* PlRowGroup of that transaction, reused */
  GArray *w_point_group; /* guint32: each point's group, G_MAXUINT32 if not stored */
};

G_DEFINE_FINAL_TYPE (PlRunStore, pl_run_store, G_TYPE_OBJECT)

/* ---- SQLite helpers ------------------------------------------------------------- */

static void
stmt_finalize (sqlite3_stmt *stmt)
{
  /* sqlite3_finalize () repeats the code of the last step, already checked */
  (void) sqlite3_finalize (stmt);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt, stmt_finalize)

static const char *
sqlite_message (sqlite3 *db, int rc)
{
  return db ? sqlite3_errmsg (db) : sqlite3_errstr (rc);
}

/* SQLite says only "disk I/O error" when a write fails, and keeps no errno for
 * it; say what the likely causes are. "" for other errors. */
static const char *
write_hint (int rc)
{
  if (rc == SQLITE_IOERR_WRITE || rc == SQLITE_IOERR_FSYNC || rc == SQLITE_IOERR_TRUNCATE)
    return " while writing the database or its write-ahead log (is the disk full, the "
           "file size limit reached, or the disk failing?)";
  return "";
}

/* "<SQLite's message> (run store '<path>')"; callers prefix what they were doing */
static void
db_error (const char *path, sqlite3 *db, int rc, GError **error)
{
  g_set_error (error, PL_ERROR, PL_ERROR_STORE, "%s%s (run store '%s')",
               sqlite_message (db, rc), write_hint (rc), path);
}

/* Binds the arguments described by types to parameters 1, 2, ..., one character
 * each: 'i' gint64; 'o' gint64 where a negative value binds NULL; 'd' double (NaN
 * binds NULL); 's' const char * (NULL binds NULL). Returns SQLite's code of the
 * first failure, or SQLITE_OK. */
static int
bind_va (sqlite3_stmt *stmt, const char *types, va_list ap)
{
  for (int i = 0; types[i]; i++)
    {
      int rc = SQLITE_OK;
      switch (types[i])
        {
        case 'i':
          rc = sqlite3_bind_int64 (stmt, i + 1, va_arg (ap, gint64));
          break;
        case 'o':
          {
            gint64 v = va_arg (ap, gint64);
            rc = v < 0 ? sqlite3_bind_null (stmt, i + 1) : sqlite3_bind_int64 (stmt, i + 1, v);
          }
          break;
        case 'd':
          rc = sqlite3_bind_double (stmt, i + 1, va_arg (ap, double));
          break;
        case 's':
          {
            const char *s = va_arg (ap, const char *);
            rc = s ? sqlite3_bind_text (stmt, i + 1, s, -1, SQLITE_TRANSIENT)
                   : sqlite3_bind_null (stmt, i + 1);
          }
          break;
        default:
          g_assert_not_reached ();
        }
      if (rc != SQLITE_OK)
        return rc;
    }
  return SQLITE_OK;
}

/* Prepares sql on the main connection and binds the arguments (see bind_va).
 * Returns the statement, or NULL with error. (transfer full) */
static sqlite3_stmt *
prepare (PlRunStore *self, const char *sql, GError **error, const char *types, ...)
{
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2 (self->db, sql, -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    {
      db_error (self->path, self->db, rc, error);
      return NULL;
    }
  va_list ap;
  va_start (ap, types);
  rc = bind_va (stmt, types, ap);
  va_end (ap);
  if (rc != SQLITE_OK)
    {
      db_error (self->path, self->db, rc, error);
      stmt_finalize (stmt);
      return NULL;
    }
  return stmt;
}

/* Steps a statement that returns no row. Returns SQLITE_DONE, or SQLite's error
 * code with error set. */
static int
step_done (PlRunStore *self, sqlite3_stmt *stmt, GError **error)
{
  int rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    rc = SQLITE_MISUSE;
  if (rc != SQLITE_DONE)
    db_error (self->path, self->db, rc, error);
  return rc;
}

/* Runs fixed SQL without values (pragmas, DDL, transaction control). */
static gboolean
exec_sql (const char *path, sqlite3 *db, const char *sql, GError **error)
{
  char *message = NULL;
  int rc = sqlite3_exec (db, sql, NULL, NULL, &message);
  if (rc != SQLITE_OK)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_STORE, "%s%s (run store '%s')",
                   message ? message : sqlite3_errstr (rc), write_hint (rc), path);
      sqlite3_free (message);
      return FALSE;
    }
  return TRUE;
}

/* Rolls back the open transaction, if SQLite has not already done so. */
static void
rollback (const char *path, sqlite3 *db)
{
  if (sqlite3_get_autocommit (db))
    return;
  int rc = sqlite3_exec (db, "ROLLBACK", NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    g_warning ("run store '%s': could not roll back: %s", path, sqlite3_errmsg (db));
}

/* Reads the one integer a fixed query returns into out. Returns SQLite's code. */
static int
query_int (sqlite3 *db, const char *sql, gint64 *out)
{
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    return rc;
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    {
      *out = sqlite3_column_int64 (stmt, 0);
      rc = SQLITE_OK;
    }
  else if (rc == SQLITE_DONE)
    rc = SQLITE_MISUSE;
  stmt_finalize (stmt);
  return rc;
}

static char *
column_strdup (sqlite3_stmt *stmt, int col)
{
  const unsigned char *text = sqlite3_column_text (stmt, col);
  return g_strdup (text ? (const char *) text : NULL);
}

static char *
column_strdup0 (sqlite3_stmt *stmt, int col)
{
  const unsigned char *text = sqlite3_column_text (stmt, col);
  return g_strdup (text ? (const char *) text : "");
}

static double
column_double (sqlite3_stmt *stmt, int col)
{
  if (sqlite3_column_type (stmt, col) == SQLITE_NULL)
    return NAN;
  return sqlite3_column_double (stmt, col);
}

static gint64
column_int_or (sqlite3_stmt *stmt, int col, gint64 fallback)
{
  if (sqlite3_column_type (stmt, col) == SQLITE_NULL)
    return fallback;
  return sqlite3_column_int64 (stmt, col);
}

static double
now_seconds (void)
{
  return g_get_real_time () / (double) G_USEC_PER_SEC;
}

/* Opens a connection with the settings both connections share: NOMUTEX (each
 * connection is used by one thread at a time), extended result codes, busy
 * timeout. The message of an error names the path. */
static sqlite3 *
open_connection (const char *path, int flags, GError **error)
{
  sqlite3 *db = NULL;
  int rc = sqlite3_open_v2 (path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_extended_result_codes (db, 1);
  if (rc == SQLITE_OK)
    rc = sqlite3_busy_timeout (db, PL_BUSY_TIMEOUT_MS);
  if (rc != SQLITE_OK)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_STORE, "Could not open run store '%s': %s",
                   path, sqlite_message (db, rc));
      if (db && sqlite3_close (db) != SQLITE_OK)
        g_warning ("run store '%s': could not close a failed connection", path);
      return NULL;
    }
  return db;
}

/* Closes a connection whose statements are all finalized. */
static gboolean
close_connection (const char *path, sqlite3 *db, GError **error)
{
  int rc = sqlite3_close (db);
  if (rc != SQLITE_OK)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_STORE, "Could not close run store '%s': %s",
                   path, sqlite3_errstr (rc));
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_open (PlRunStore *self, GError **error)
{
  if (self->db)
    return TRUE;
  g_set_error (error, PL_ERROR, PL_ERROR_STORE, "Run store '%s' is closed", self->path);
  return FALSE;
}

/* PL_ERROR_NOT_FOUND unless the run exists (soft-deleted runs exist). */
static gboolean
require_run (PlRunStore *self, gint64 run_id, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = prepare (self, "SELECT 1 FROM runs WHERE id = ?1", error,
                                           "i", run_id);
  if (!stmt)
    return FALSE;
  int rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return TRUE;
  if (rc == SQLITE_DONE)
    g_set_error (error, PL_ERROR, PL_ERROR_NOT_FOUND, "Run store '%s' has no run %" G_GINT64_FORMAT,
                 self->path, run_id);
  else
    db_error (self->path, self->db, rc, error);
  return FALSE;
}

/* After an UPDATE of one run: PL_ERROR_NOT_FOUND if it matched no row. */
static gboolean
changed_run (PlRunStore *self, gint64 run_id, GError **error)
{
  if (sqlite3_changes (self->db) > 0)
    return TRUE;
  g_set_error (error, PL_ERROR, PL_ERROR_NOT_FOUND, "Run store '%s' has no run %" G_GINT64_FORMAT,
               self->path, run_id);
  return FALSE;
}

/* ---- records -------------------------------------------------------------------- */

static char **
tags_split (const char *text)
{
  g_auto (GStrv) parts = g_strsplit (text ? text : "", ",", -1);
  GPtrArray *tags = g_ptr_array_new ();
  for (int i = 0; parts[i]; i++)
    if (parts[i][0])
      g_ptr_array_add (tags, g_strdup (parts[i]));
  g_ptr_array_add (tags, NULL);
  return (char **) g_ptr_array_free (tags, FALSE);
}

PlRunInfo *
pl_run_info_copy (const PlRunInfo *info)
{
  g_return_val_if_fail (info != NULL, NULL);
  PlRunInfo *copy = g_memdup2 (info, sizeof *info);
  copy->name = g_strdup (info->name);
  copy->status = g_strdup (info->status);
  copy->dataset = g_strdup (info->dataset);
  copy->architecture = g_strdup (info->architecture);
  copy->tags = g_strdupv (info->tags);
  copy->experiment = g_strdup (info->experiment);
  copy->error = g_strdup (info->error);
  return copy;
}

void
pl_run_info_free (PlRunInfo *info)
{
  if (!info)
    return;
  g_free (info->name);
  g_free (info->status);
  g_free (info->dataset);
  g_free (info->architecture);
  g_strfreev (info->tags);
  g_free (info->experiment);
  g_free (info->error);
  g_free (info);
}

G_DEFINE_BOXED_TYPE (PlRunInfo, pl_run_info, pl_run_info_copy, pl_run_info_free)

void
pl_run_plugin_free (PlRunPlugin *plugin)
{
  if (!plugin)
    return;
  g_free (plugin->slot);
  g_free (plugin->plugin_id);
  g_free (plugin->version);
  g_free (plugin->options_json);
  g_free (plugin);
}

void
pl_run_event_free (PlRunEvent *event)
{
  if (!event)
    return;
  g_free (event->kind);
  g_free (event->payload_json);
  g_free (event);
}

void
pl_checkpoint_info_free (PlCheckpointInfo *info)
{
  if (!info)
    return;
  g_free (info->path);
  g_free (info->kind);
  g_free (info->format);
  g_free (info->metric_key);
  g_free (info);
}

static PlSeries *
series_new (gint64 run_id, const char *key, guint reserve)
{
  PlSeries *series = g_new0 (PlSeries, 1);
  series->run_id = run_id;
  series->key = g_strdup (key);
  series->steps = g_array_sized_new (FALSE, FALSE, sizeof (gint64), reserve);
  series->values = g_array_sized_new (FALSE, FALSE, sizeof (double), reserve);
  series->wall_times = g_array_sized_new (FALSE, FALSE, sizeof (double), reserve);
  return series;
}

static void
series_append_row (PlSeries *series, sqlite3_stmt *stmt, int col)
{
  gint64 step = sqlite3_column_int64 (stmt, col);
  double value = column_double (stmt, col + 1);
  double wall_time = column_double (stmt, col + 2);
  g_array_append_val (series->steps, step);
  g_array_append_val (series->values, value);
  g_array_append_val (series->wall_times, wall_time);
}

PlSeries *
pl_series_copy (const PlSeries *series)
{
  g_return_val_if_fail (series != NULL, NULL);
  PlSeries *copy = series_new (series->run_id, series->key, series->steps->len);
  g_array_append_vals (copy->steps, series->steps->data, series->steps->len);
  g_array_append_vals (copy->values, series->values->data, series->values->len);
  g_array_append_vals (copy->wall_times, series->wall_times->data, series->wall_times->len);
  return copy;
}

void
pl_series_free (PlSeries *series)
{
  if (!series)
    return;
  g_free (series->key);
  g_array_unref (series->steps);
  g_array_unref (series->values);
  g_array_unref (series->wall_times);
  g_free (series);
}

G_DEFINE_BOXED_TYPE (PlSeries, pl_series, pl_series_copy, pl_series_free)

void
pl_metric_summary_free (PlMetricSummary *summary)
{
  if (!summary)
    return;
  g_free (summary->key);
  g_free (summary);
}

gboolean
pl_run_status_is_valid (const char *status)
{
  static const char *const valid[] = { "queued", "running", "finished", "failed", "stopped",
                                       "interrupted", "diverged" };
  for (guint i = 0; status && i < G_N_ELEMENTS (valid); i++)
    if (strcmp (status, valid[i]) == 0)
      return TRUE;
  return FALSE;
}

gboolean
pl_run_store_metric_minimizes (const char *key)
{
  g_return_val_if_fail (key != NULL, FALSE);
  const char *leaf = strrchr (key, '/');
  return g_str_has_prefix (leaf ? leaf + 1 : key, "loss");
}

/* ---- life cycle ----------------------------------------------------------------- */

static void
chunks_free (PlChunk *chunk)
{
  while (chunk)
    {
      PlChunk *next = chunk->next;
      g_free (chunk);
      chunk = next;
    }
}

static void
pl_run_store_finalize (GObject *object)
{
  PlRunStore *self = PL_RUN_STORE (object);
  g_autoptr (GError) error = NULL;

  if (!pl_run_store_close (self, &error))
    g_warning ("%s", error->message);

  chunks_free (self->cur);
  chunks_free (self->full_head);
  chunks_free (self->free_chunks);
  g_hash_table_unref (self->key_index);
  g_ptr_array_unref (self->key_names);
  g_clear_error (&self->writer_error);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->wake_writer);
  g_cond_clear (&self->points_done);
  g_free (self->path);
  g_free (self->owner_host);
  g_free (self->owner_start);

  G_OBJECT_CLASS (pl_run_store_parent_class)->finalize (object);
}

static void
pl_run_store_class_init (PlRunStoreClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pl_run_store_finalize;
}

static void
pl_run_store_init (PlRunStore *self)
{
  g_mutex_init (&self->lock);
  g_cond_init (&self->wake_writer);
  g_cond_init (&self->points_done);
  self->key_names = g_ptr_array_new_with_free_func (g_free);
  self->key_index = g_hash_table_new (g_str_hash, g_str_equal);
}

char *
pl_run_store_default_path (void)
{
  const char *env = g_getenv ("PARAMLAB_DB");
  if (env && *env)
    return g_strdup (env);
  return g_build_filename (g_get_user_data_dir (), "paramlab", "runs.db", NULL);
}

/* ---- run owners ------------------------------------------------------------------ */

/* A run left 'queued' or 'running' by a process that died (kill -9, a crash, a
 * power cut) would say so for ever. So every run records its owner, the process
 * that created it or last set it running: owner_host (the host name), owner_pid
 * and owner_start, "<boot id>/<start time>", the kernel's boot id and the
 * process's start time in clock ticks since boot (/proc/<pid>/stat, field 22).
 * The three name one process for ever: a pid reused by a later process has
 * another start time, and after a reboot the boot id differs. reconcile () turns
 * the live runs of owners that are gone into 'interrupted'; it runs when a store
 * is opened and before each list_runs.
 *
 * Why not a lock held by the owner (flock, a lock file)? It would need a file
 * per run beside the database and breaks on network file systems just as pids
 * do; the owner columns need nothing outside the database and say in the shell
 * who ran what. Limits: a run owned by another host is never reconciled (its
 * process cannot be seen from here); without /proc only the pid is checked. */

static char *
read_boot_id (void)
{
  g_autofree char *text = NULL;
  if (!g_file_get_contents ("/proc/sys/kernel/random/boot_id", &text, NULL, NULL))
    return NULL;
  return g_strdup (g_strstrip (text));
}

/* "<boot id>/<start ticks>" of process pid, or NULL if it does not exist (or
 * there is no /proc). *state gets its state letter ('Z' for a zombie). */
static char *
process_identity (const char *boot_id, gint64 pid, char *state)
{
  g_autofree char *path = g_strdup_printf ("/proc/%" G_GINT64_FORMAT "/stat", pid);
  g_autofree char *text = NULL;
  if (!boot_id || !g_file_get_contents (path, &text, NULL, NULL))
    return NULL;
  /* the command name (field 2) may hold spaces and parentheses: skip to the last ')' */
  const char *p = strrchr (text, ')');
  if (!p || p[1] != ' ')
    return NULL;
  g_auto (GStrv) fields = g_strsplit (p + 2, " ", 21);
  /* fields[0] is field 3 (state), so field 22 (start time) is fields[19] */
  if (g_strv_length (fields) < 20)
    return NULL;
  if (state)
    *state = fields[0][0];
  return g_strdup_printf ("%s/%s", boot_id, fields[19]);
}

static void
owner_init (PlRunStore *self)
{
  g_autofree char *boot_id = read_boot_id ();
  self->owner_host = g_strdup (g_get_host_name ());
  self->owner_pid = getpid ();
  self->owner_start = process_identity (boot_id, self->owner_pid, NULL);
}

/* TRUE when the process a run's owner columns name certainly no longer exists.
 * Owners on other hosts, and rows without an owner, are never gone. */
static gboolean
owner_is_gone (PlRunStore *self, const char *host, gint64 pid, const char *start)
{
  if (pid <= 0 || g_strcmp0 (host, self->owner_host) != 0)
    return FALSE;
  if (pid == self->owner_pid && g_strcmp0 (start, self->owner_start) == 0)
    return FALSE;
  if (start && self->owner_start)
    {
      const char *slash = strchr (self->owner_start, '/');
      g_autofree char *boot_id = g_strndup (self->owner_start, slash - self->owner_start);
      char state = 0;
      g_autofree char *now = process_identity (boot_id, pid, &state);
      /* no such process, another process with its pid, another boot, a zombie */
      return !now || strcmp (now, start) != 0 || state == 'Z' || state == 'X';
    }
  return kill ((pid_t) pid, 0) != 0 && errno == ESRCH;
}

typedef struct {
  gint64 id;
  char *status;
  char *host;
  gint64 pid;
  char *start;
} LiveRun;

static void
live_run_clear (gpointer data)
{
  LiveRun *r = data;
  g_free (r->status);
  g_free (r->host);
  g_free (r->start);
}

/* Marks one run interrupted if it still has the owner that was found gone, and
 * records an 'interrupted' event; FALSE with error if the store failed. Its
 * finished_at is the time of its last metric point, the last sign of life. */
static gboolean
mark_interrupted (PlRunStore *self, const LiveRun *r, gboolean *changed, GError **error)
{
  g_autofree char *message =
    g_strdup_printf ("interrupted: process %" G_GINT64_FORMAT " on %s ended while the run "
                     "was %s; what it stored up to then is kept", r->pid, r->host, r->status);
  g_autoptr (GString) payload = g_string_new ("{\"event\":\"interrupted\",\"error\":");
  pl_json_append_string (payload, message);
  g_string_append_c (payload, '}');

  *changed = FALSE;
  if (!exec_sql (self->path, self->db, "BEGIN IMMEDIATE", error))
    return FALSE;
  g_autoptr (sqlite3_stmt) stmt =
    prepare (self,
             "UPDATE runs SET status = 'interrupted', error = ?5,"
             " finished_at = coalesce ((SELECT max (wall_time) FROM metrics"
             "                          WHERE run_id = ?1), ?6) "
             "WHERE id = ?1 AND status IN ('queued', 'running') AND owner_pid = ?2"
             " AND owner_host IS ?3 AND owner_start IS ?4",
             error, "iisssd", r->id, r->pid, r->host, r->start, message, now_seconds ());
  if (!stmt || step_done (self, stmt, error) != SQLITE_DONE)
    goto failed;
  *changed = sqlite3_changes (self->db) > 0;
  if (*changed && !pl_run_store_add_event (self, r->id, "interrupted", payload->str, error))
    goto failed;
  if (!exec_sql (self->path, self->db, "COMMIT", error))
    goto failed;
  return TRUE;

failed:
  rollback (self->path, self->db);
  *changed = FALSE;
  return FALSE;
}

gint64
pl_run_store_reconcile (PlRunStore *self, GError **error)
{
  g_return_val_if_fail (PL_IS_RUN_STORE (self), -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  if (!check_open (self, error))
    return -1;
  g_autoptr (GArray) gone = g_array_new (FALSE, TRUE, sizeof (LiveRun));
  g_array_set_clear_func (gone, live_run_clear);
  {
    g_autoptr (sqlite3_stmt) stmt =
      prepare (self,
               "SELECT id, status, owner_host, owner_pid, owner_start FROM runs "
               "WHERE status IN ('queued', 'running') AND owner_pid IS NOT NULL",
               error, "");
    if (!stmt)
      goto failed;
    int rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
      {
        LiveRun r = { sqlite3_column_int64 (stmt, 0), column_strdup0 (stmt, 1),
                      column_strdup (stmt, 2), sqlite3_column_int64 (stmt, 3),
                      column_strdup (stmt, 4) };
        if (owner_is_gone (self, r.host, r.pid, r.start))
          g_array_append_val (gone, r);
        else
          live_run_clear (&r);
      }
    if (rc != SQLITE_DONE)
      {
        db_error (self->path, self->db, rc, error);
        goto failed;
      }
  }
  gint64 n = 0;
  for (guint i = 0; i < gone->len; i++)
    {
      gboolean changed;
      LiveRun *r = &g_array_index (gone, LiveRun, i);
      if (!mark_interrupted (self, r, &changed, error))
        goto failed;
      if (!changed)
        continue;
      n++;
      /* the summary columns the list shows; a failure here loses nothing */
      g_autoptr (GError) summary_error = NULL;
      if (!pl_run_store_update_summary (self, r->id, &summary_error))
        g_debug ("%s", summary_error->message);
    }
  return n;

failed:
  g_prefix_error (error, "Could not look for interrupted runs: ");
  return -1;
}

static gboolean
open_failed (PlRunStore *self, int rc, GError **error)
{
  g_set_error (error, PL_ERROR, PL_ERROR_STORE, "Could not open run store '%s': %s",
               self->path, sqlite_message (self->db, rc));
  return FALSE;
}

static gboolean
newer_schema (PlRunStore *self, gint64 version, GError **error)
{
  g_set_error (error, PL_ERROR, PL_ERROR_STORE,
               "Run store '%s' has schema version %" G_GINT64_FORMAT
               ", newer than the version %d this Paramlab knows; open it with a newer Paramlab",
               self->path, version, PL_RUN_STORE_SCHEMA_VERSION);
  return FALSE;
}

/* SQLITE_DONE when PRAGMA foreign_key_check finds nothing; else SQLITE_CONSTRAINT
 * with error naming the first row that refers to nothing, or SQLite's error. */
static int
check_foreign_keys (PlRunStore *self, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = prepare (self, "PRAGMA foreign_key_check", error, "");
  if (!stmt)
    return SQLITE_ERROR;
  int rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_STORE,
                   "row %" G_GINT64_FORMAT " of table '%s' refers to a missing row of '%s' "
                   "(run store '%s')", (gint64) sqlite3_column_int64 (stmt, 1),
                   (const char *) sqlite3_column_text (stmt, 0),
                   (const char *) sqlite3_column_text (stmt, 2), self->path);
      return SQLITE_CONSTRAINT;
    }
  if (rc != SQLITE_DONE)
    db_error (self->path, self->db, rc, error);
  return rc;
}

/* Applies migrations[version..] one transaction each. Another process may migrate
 * at the same time: the version is read again inside each transaction. */
static gboolean
migrate_steps (PlRunStore *self, GError **error)
{
  for (;;)
    {
      g_autoptr (GError) local = NULL;
      gint64 version = 0;
      int rc;

      if (!exec_sql (self->path, self->db, "BEGIN IMMEDIATE", &local))
        goto failed;
      if ((rc = query_int (self->db, "PRAGMA user_version", &version)) != SQLITE_OK)
        {
          db_error (self->path, self->db, rc, &local);
          goto failed;
        }
      if (version > PL_RUN_STORE_SCHEMA_VERSION)
        {
          rollback (self->path, self->db);
          return newer_schema (self, version, error);
        }
      if (version == PL_RUN_STORE_SCHEMA_VERSION)
        {
          if (!exec_sql (self->path, self->db, "COMMIT", &local))
            goto failed;
          return TRUE;
        }
      if (!exec_sql (self->path, self->db, migrations[version], &local)
          || check_foreign_keys (self, &local) != SQLITE_DONE
          || !exec_sql (self->path, self->db, "COMMIT", &local))
        goto failed;
      continue;

    failed:
      rollback (self->path, self->db);
      g_set_error (error, PL_ERROR, PL_ERROR_STORE,
                   "Could not migrate run store '%s' from schema version %" G_GINT64_FORMAT
                   " to %d: %s", self->path, version, PL_RUN_STORE_SCHEMA_VERSION,
                   local->message);
      return FALSE;
    }
}

/* Migrates with foreign keys off: a step that rebuilds a table drops the old one,
 * which with foreign keys on would delete (ON DELETE CASCADE) every row that
 * refers to it. The pragma is a no-op inside a transaction, hence out here; each
 * step checks the foreign keys itself before it commits. */
static gboolean
migrate (PlRunStore *self, GError **error)
{
  if (!exec_sql (self->path, self->db, "PRAGMA foreign_keys = OFF", error))
    return FALSE;
  gboolean ok = migrate_steps (self, error);
  if (!exec_sql (self->path, self->db, "PRAGMA foreign_keys = ON", ok ? error : NULL))
    ok = FALSE;
  return ok;
}

/* Checks that the file is a Paramlab store (or empty), sets the connection's
 * pragmas and migrates. */
static gboolean
setup_main_connection (PlRunStore *self, GError **error)
{
  gint64 app_id = 0, version = 0, n_tables = 0;
  int rc;

  /* the first read: a file that is not a database fails here */
  if ((rc = query_int (self->db, "PRAGMA application_id", &app_id)) != SQLITE_OK
      || (rc = query_int (self->db, "PRAGMA user_version", &version)) != SQLITE_OK
      || (rc = query_int (self->db, "SELECT count(*) FROM sqlite_schema", &n_tables)) != SQLITE_OK)
    return open_failed (self, rc, error);

  if (app_id != PL_APPLICATION_ID && (app_id != 0 || version != 0 || n_tables != 0))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_STORE,
                   "Could not open run store '%s': it is a SQLite database of another "
                   "application (application_id %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
                   " tables), not a Paramlab run store", self->path, app_id, n_tables);
      return FALSE;
    }
  if (version > PL_RUN_STORE_SCHEMA_VERSION)
    return newer_schema (self, version, error);

  g_autoptr (GError) local = NULL;
  if (!exec_sql (self->path, self->db, "PRAGMA foreign_keys = ON", &local)
      || !exec_sql (self->path, self->db, "PRAGMA synchronous = NORMAL", &local))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_STORE, "Could not open run store: %s",
                   local->message);
      return FALSE;
    }

  /* Switching a new file to WAL upgrades a read lock to an exclusive one. SQLite
   * does not call the busy handler for that upgrade (it could deadlock) and
   * returns SQLITE_BUSY at once while another process holds a lock, as when
   * several start on a new store together; so wait here, up to the busy timeout. */
  g_autoptr (sqlite3_stmt) stmt = NULL;
  gint64 deadline = g_get_monotonic_time () + PL_BUSY_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
  for (;;)
    {
      rc = sqlite3_prepare_v2 (self->db, "PRAGMA journal_mode = WAL", -1, &stmt, NULL);
      if (rc == SQLITE_OK)
        rc = sqlite3_step (stmt);
      if ((rc & 0xff) != SQLITE_BUSY || g_get_monotonic_time () >= deadline)
        break;
      g_clear_pointer (&stmt, stmt_finalize);
      g_usleep (10 * G_TIME_SPAN_MILLISECOND);
    }
  if (rc != SQLITE_ROW)
    return open_failed (self, rc, error);
  const char *mode = (const char *) sqlite3_column_text (stmt, 0);
  if (!mode || g_ascii_strcasecmp (mode, "wal") != 0)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_STORE,
                   "Could not open run store '%s': it cannot use write-ahead logging "
                   "(journal mode stays '%s'); put it on a local file system",
                   self->path, mode ? mode : "?");
      return FALSE;
    }
  /* an unfinished statement would keep the migrations from committing */
  g_clear_pointer (&stmt, stmt_finalize);

  return migrate (self, error);
}

PlRunStore *
pl_run_store_open (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL && *path != '\0', NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!sqlite3_threadsafe ())
    {
      g_set_error (error, PL_ERROR, PL_ERROR_STORE,
                   "Could not open run store '%s': SQLite was built without thread "
                   "support, which the metric writer thread needs", path);
      return NULL;
    }
  if (strcmp (path, ":memory:") == 0)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_STORE,
                   "Run store '%s' must be a file: the metric writer opens it a second time",
                   path);
      return NULL;
    }
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_STORE,
                   "Could not open run store '%s': it is a directory, not a database file",
                   path);
      return NULL;
    }
  g_autofree char *dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int errsv = errno;
      g_set_error (error, PL_ERROR, PL_ERROR_STORE,
                   "Could not create the directory '%s' for run store '%s': %s", dir, path,
                   g_strerror (errsv));
      return NULL;
    }

  sqlite3 *db = open_connection (path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, error);
  if (!db)
    return NULL;

  g_autoptr (PlRunStore) self = g_object_new (PL_TYPE_RUN_STORE, NULL);
  self->path = g_strdup (path);
  self->db = db;
  owner_init (self);
  if (!setup_main_connection (self, error))
    return NULL;
  /* a store that cannot say which runs were interrupted is still readable */
  g_autoptr (GError) reconcile_error = NULL;
  if (pl_run_store_reconcile (self, &reconcile_error) < 0)
    g_debug ("%s", reconcile_error->message);
  return g_steal_pointer (&self);
}

const char *
pl_run_store_get_path (PlRunStore *self)
{
  g_return_val_if_fail (PL_IS_RUN_STORE (self), NULL);
  return self->path;
}

/* ---- the writer thread ---------------------------------------------------------- */

static void
writer_close (PlRunStore *self)
{
  g_clear_pointer (&self->w_insert, stmt_finalize);
  g_clear_pointer (&self->w_insert_many, stmt_finalize);
  g_clear_pointer (&self->w_key_insert, stmt_finalize);
  g_clear_pointer (&self->w_key_select, stmt_finalize);
  g_clear_pointer (&self->w_run_check, stmt_finalize);
  if (self->wdb)
    {
      g_autoptr (GError) error = NULL;
      if (!close_connection (self->path, self->wdb, &error))
        g_warning ("%s", error->message);
      self->wdb = NULL;
    }
  g_clear_pointer (&self->w_key_ids, g_array_unref);
  g_clear_pointer (&self->w_key_names, g_ptr_array_unref);
  g_clear_pointer (&self->w_rows, g_array_unref);
  g_clear_pointer (&self->w_groups, g_array_unref);
  g_clear_pointer (&self->w_point_group, g_array_unref);
}

static gboolean
writer_open (PlRunStore *self, GError **error)
{
  static const struct {
    const char *sql;
    gsize offset;
  } stmts[] = {
    { "INSERT OR REPLACE INTO metrics (run_id, key_id, step, value, wall_time) "
      "VALUES (?1, ?2, ?3, ?4, ?5)", G_STRUCT_OFFSET (PlRunStore, w_insert) },
    { "INSERT OR IGNORE INTO metric_keys (name) VALUES (?1)",
      G_STRUCT_OFFSET (PlRunStore, w_key_insert) },
    { "SELECT id FROM metric_keys WHERE name = ?1",
      G_STRUCT_OFFSET (PlRunStore, w_key_select) },
    { "SELECT 1 FROM runs WHERE id = ?1", G_STRUCT_OFFSET (PlRunStore, w_run_check) },
  };

  /* the same INSERT with PL_INSERT_ROWS rows: the per-statement work (reset,
   * opening the table's cursor) is paid once per 64 points */
  g_autoptr (GString) many = g_string_new ("INSERT OR REPLACE INTO metrics "
                                           "(run_id, key_id, step, value, wall_time) VALUES ");
  for (guint r = 0; r < PL_INSERT_ROWS; r++)
    g_string_append (many, r ? ",(?,?,?,?,?)" : "(?,?,?,?,?)");

  self->wdb = open_connection (self->path, SQLITE_OPEN_READWRITE, error);
  if (!self->wdb)
    return FALSE;
  /* Foreign keys stay off on this connection: writer_store_group () checks each
   * run once per transaction instead of SQLite checking it at every point (a third
   * of the insert time). That is as safe, because the transaction holds the write
   * lock: no run can be deleted before it commits. Key ids come from metric_keys
   * rows, which are never deleted. */
  if (!exec_sql (self->path, self->wdb, "PRAGMA synchronous = NORMAL", error))
    goto failed;
  for (guint i = 0; i < G_N_ELEMENTS (stmts); i++)
    {
      sqlite3_stmt **slot = G_STRUCT_MEMBER_P (self, stmts[i].offset);
      int rc = sqlite3_prepare_v3 (self->wdb, stmts[i].sql, -1, SQLITE_PREPARE_PERSISTENT,
                                   slot, NULL);
      if (rc != SQLITE_OK)
        {
          db_error (self->path, self->wdb, rc, error);
          goto failed;
        }
    }
  int rc = sqlite3_prepare_v3 (self->wdb, many->str, (int) many->len,
                               SQLITE_PREPARE_PERSISTENT, &self->w_insert_many, NULL);
  if (rc != SQLITE_OK)
    {
      db_error (self->path, self->wdb, rc, error);
      goto failed;
    }
  self->w_key_ids = g_array_new (FALSE, TRUE, sizeof (gint64));
  self->w_key_names = g_ptr_array_new_with_free_func (g_free);
  self->w_rows = g_array_new (FALSE, FALSE, sizeof (PlRow));
  self->w_groups = g_array_new (FALSE, FALSE, sizeof (PlRowGroup));
  self->w_point_group = g_array_new (FALSE, FALSE, sizeof (guint32));
  return TRUE;

failed:
  writer_close (self);
  return FALSE;
}

/* The name of the key with index key, from the writer's copy of key_names. */
static const char *
writer_key_name (PlRunStore *self, guint32 key)
{
  while (self->w_key_names->len <= key)
    {
      g_mutex_lock (&self->lock);
      g_ptr_array_add (self->w_key_names,
                       g_strdup (g_ptr_array_index (self->key_names, self->w_key_names->len)));
      g_mutex_unlock (&self->lock);
    }
  return g_ptr_array_index (self->w_key_names, key);
}

/* The metric_keys id of the key with index key, inserted if new; 0 with error. */
static gint64
writer_key_id (PlRunStore *self, guint32 key, GError **error)
{
  if (key < self->w_key_ids->len && g_array_index (self->w_key_ids, gint64, key) > 0)
    return g_array_index (self->w_key_ids, gint64, key);

  const char *name = writer_key_name (self, key);

  gint64 id = 0;
  int rc = sqlite3_bind_text (self->w_key_insert, 1, name, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = sqlite3_step (self->w_key_insert);
  if (rc == SQLITE_DONE)
    rc = sqlite3_bind_text (self->w_key_select, 1, name, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = sqlite3_step (self->w_key_select);
  if (rc == SQLITE_ROW)
    {
      id = sqlite3_column_int64 (self->w_key_select, 0);
      rc = SQLITE_OK;
    }
  else if (rc == SQLITE_DONE)
    rc = SQLITE_INTERNAL; /* the row INSERT OR IGNORE guaranteed is missing */
  g_autofree char *message = rc != SQLITE_OK ? g_strdup (sqlite_message (self->wdb, rc)) : NULL;
  /* a reset after a failed step repeats that step's error, kept above */
  int rc_insert = sqlite3_reset (self->w_key_insert);
  int rc_select = sqlite3_reset (self->w_key_select);
  if (rc == SQLITE_OK && (rc = rc_insert) == SQLITE_OK)
    rc = rc_select;
  if (rc != SQLITE_OK)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_STORE,
                   "Could not record metric key '%s': %s (run store '%s')", name,
                   message ? message : sqlite_message (self->wdb, rc), self->path);
      return 0;
    }
  if (self->w_key_ids->len <= key)
    g_array_set_size (self->w_key_ids, key + 1);
  g_array_index (self->w_key_ids, gint64, key) = id;
  return id;
}

static void
keep_first_error (GError **first, GError *error)
{
  if (*first)
    g_error_free (error);
  else
    *first = error;
}

/* Keeps the first failure of a transaction: which point, and why. */
static void
writer_point_failed (PlRunStore *self, gint64 run_id, guint32 key, gint64 step,
                     const char *reason, GError **first_error)
{
  if (*first_error)
    return;
  g_set_error (first_error, PL_ERROR, PL_ERROR_STORE,
               "Could not store metric '%s' of run %" G_GINT64_FORMAT " at step %" G_GINT64_FORMAT
               ": %s (run store '%s')",
               writer_key_name (self, key), run_id, step, reason, self->path);
}

/* Whether run_id exists: SQLITE_ROW if it does, SQLITE_DONE if not, or an SQLite
 * error code. The answers are cached in known (gint64 pairs of id, answer) for the
 * current transaction. */
static int
writer_run_exists (PlRunStore *self, gint64 run_id, GArray *known)
{
  for (guint i = 0; i < known->len; i += 2)
    if (g_array_index (known, gint64, i) == run_id)
      return (int) g_array_index (known, gint64, i + 1);

  int rc = sqlite3_bind_int64 (self->w_run_check, 1, run_id);
  if (rc == SQLITE_OK)
    rc = sqlite3_step (self->w_run_check);
  int answer = rc;
  /* after a failed step, reset repeats its error, kept in answer */
  rc = sqlite3_reset (self->w_run_check);
  if ((answer == SQLITE_ROW || answer == SQLITE_DONE) && rc != SQLITE_OK)
    answer = rc;
  if (answer == SQLITE_ROW || answer == SQLITE_DONE)
    {
      gint64 entry[2] = { run_id, answer };
      g_array_append_vals (known, entry, 2);
    }
  return answer;
}

/* Orders groups by (run, key id). */
static int
group_compare (const void *a, const void *b, void *data)
{
  const PlRowGroup *groups = data;
  const PlRowGroup *x = &groups[*(const guint32 *) a], *y = &groups[*(const guint32 *) b];
  if (x->run_id != y->run_id)
    return x->run_id < y->run_id ? -1 : 1;
  return (x->key_id > y->key_id) - (x->key_id < y->key_id);
}

static void
run_groups_clear (gpointer data)
{
  PlRunGroups *rg = data;
  g_array_unref (rg->key_group);
}

/* Binds rows[0..n) to stmt (n rows of 5 parameters), steps and resets it. On
 * failure the first row is named in *first_error and all n count as lost. */
static guint64
writer_insert_rows (PlRunStore *self, sqlite3_stmt *stmt, const PlRow *rows, guint n,
                    GError **first_error)
{
  int rc = SQLITE_OK;
  for (guint r = 0; r < n && rc == SQLITE_OK; r++)
    {
      const PlRow *row = &rows[r];
      int b = (int) r * 5;
      if ((rc = sqlite3_bind_int64 (stmt, b + 1, row->run_id)) == SQLITE_OK
          && (rc = sqlite3_bind_int64 (stmt, b + 2, row->key_id)) == SQLITE_OK
          && (rc = sqlite3_bind_int64 (stmt, b + 3, row->step)) == SQLITE_OK
          && (rc = sqlite3_bind_double (stmt, b + 4, row->value)) == SQLITE_OK)
        rc = sqlite3_bind_double (stmt, b + 5, row->wall_time);
    }
  if (rc == SQLITE_OK)
    rc = sqlite3_step (stmt);
  if (rc != SQLITE_DONE)
    writer_point_failed (self, rows[0].run_id, rows[0].key, rows[0].step,
                         sqlite_message (self->wdb, rc), first_error);
  /* after a failed step, reset repeats its error, counted above */
  int rc_reset = sqlite3_reset (stmt);
  if (rc == SQLITE_DONE && rc_reset != SQLITE_OK)
    writer_point_failed (self, rows[0].run_id, rows[0].key, rows[0].step,
                         sqlite_message (self->wdb, rc_reset), first_error);
  return rc == SQLITE_DONE && rc_reset == SQLITE_OK ? 0 : n;
}

/* Stores the points of the chunks from first up to (not including) end in one
 * transaction. Returns how many could not be stored; the first reason goes to
 * *first_error. The points are checked (run exists, key id known), grouped by
 * (run, key) in that order, so that each insert lands next to the previous one in
 * the metrics B-tree (a stable counting sort: a run logs each key's steps in
 * order, so a group is in step order already), and inserted PL_INSERT_ROWS per
 * statement. */
static guint64
writer_store_group (PlRunStore *self, PlChunk *first, PlChunk *end, guint64 n_points,
                    GError **first_error)
{
  GError *error = NULL;
  guint64 n_failed = 0;

  if (!self->wdb && !writer_open (self, &error))
    {
      keep_first_error (first_error, error);
      return n_points;
    }
  if (!exec_sql (self->path, self->wdb, "BEGIN IMMEDIATE", &error))
    {
      g_prefix_error (&error, "Could not store %" G_GUINT64_FORMAT " metric points: ", n_points);
      keep_first_error (first_error, error);
      return n_points;
    }

  /* 1. check each point and put it in the group of its (run, key) */
  GArray *groups = self->w_groups;
  g_array_set_size (groups, 0);
  GArray *point_group = self->w_point_group;
  g_array_set_size (point_group, n_points);
  guint32 *group_of = (guint32 *) (void *) point_group->data;
  g_autoptr (GArray) known_runs = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GArray) run_groups = g_array_new (FALSE, FALSE, sizeof (PlRunGroups));
  g_array_set_clear_func (run_groups, run_groups_clear);
  GArray *key_group = NULL; /* of the current run */
  gint64 last_run = 0;
  guint64 k = 0;
  for (PlChunk *c = first; c != end; c = c->next)
    for (guint i = 0; i < c->n; i++, k++)
      {
        const PlPoint *p = &c->points[i];
        group_of[k] = G_MAXUINT32;
        if (p->run_id != last_run)
          {
            int exists = writer_run_exists (self, p->run_id, known_runs);
            if (exists != SQLITE_ROW)
              {
                writer_point_failed (self, p->run_id, p->key, p->step,
                                     exists == SQLITE_DONE ? "no such run"
                                                           : sqlite_message (self->wdb, exists),
                                     first_error);
                n_failed++;
                continue;
              }
            last_run = p->run_id;
            key_group = NULL;
            for (guint r = 0; r < run_groups->len && !key_group; r++)
              if (g_array_index (run_groups, PlRunGroups, r).run_id == p->run_id)
                key_group = g_array_index (run_groups, PlRunGroups, r).key_group;
            if (!key_group)
              {
                PlRunGroups rg = { p->run_id, g_array_new (FALSE, TRUE, sizeof (guint32)) };
                g_array_append_val (run_groups, rg);
                key_group = rg.key_group;
              }
          }
        gint64 key_id = writer_key_id (self, p->key, &error);
        if (!key_id)
          {
            keep_first_error (first_error, g_steal_pointer (&error));
            n_failed++;
            continue;
          }
        if (key_group->len <= p->key)
          g_array_set_size (key_group, p->key + 1);
        guint32 *slot = &g_array_index (key_group, guint32, p->key);
        if (*slot == 0)
          {
            PlRowGroup g = { p->run_id, key_id, 0, 0 };
            g_array_append_val (groups, g);
            *slot = groups->len;
          }
        group_of[k] = *slot - 1;
        g_array_index (groups, PlRowGroup, *slot - 1).count++;
      }

  /* 2. lay the groups out in (run, key) order and copy each point to its place:
   * each group's points stay in logging order, so the last of equal points is
   * inserted last and INSERT OR REPLACE keeps it */
  PlRowGroup *g = (PlRowGroup *) (void *) groups->data;
  g_autofree guint32 *order = g_new (guint32, MAX (groups->len, 1));
  for (guint j = 0; j < groups->len; j++)
    order[j] = j;
  g_qsort_with_data (order, (gint) groups->len, sizeof (guint32), group_compare, g);
  guint32 n_rows = 0;
  for (guint j = 0; j < groups->len; j++)
    {
      g[order[j]].next = n_rows;
      n_rows += g[order[j]].count;
    }
  GArray *rows = self->w_rows;
  g_array_set_size (rows, n_rows);
  PlRow *r = (PlRow *) (void *) rows->data;
  k = 0;
  for (PlChunk *c = first; c != end; c = c->next)
    for (guint i = 0; i < c->n; i++, k++)
      if (group_of[k] != G_MAXUINT32)
        {
          const PlPoint *p = &c->points[i];
          PlRowGroup *grp = &g[group_of[k]];
          r[grp->next++] = (PlRow) { p->run_id, grp->key_id, p->step, p->value,
                                     p->wall_time, p->key };
        }

  /* 3. insert, PL_INSERT_ROWS per statement */
  guint i = 0;
  for (; i + PL_INSERT_ROWS <= n_rows; i += PL_INSERT_ROWS)
    n_failed += writer_insert_rows (self, self->w_insert_many, r + i, PL_INSERT_ROWS,
                                    first_error);
  for (; i < n_rows; i++)
    n_failed += writer_insert_rows (self, self->w_insert, r + i, 1, first_error);

  if (!exec_sql (self->path, self->wdb, "COMMIT", &error))
    {
      rollback (self->path, self->wdb);
      /* key ids inserted in the transaction are gone with it */
      if (self->w_key_ids->len)
        memset (self->w_key_ids->data, 0, self->w_key_ids->len * sizeof (gint64));
      g_prefix_error (&error, "Could not store %" G_GUINT64_FORMAT " metric points: ", n_points);
      g_clear_error (first_error);
      *first_error = error;
      return n_points;
    }
  return n_failed;
}

/* An empty chunk from the free list, or a new one. */
static PlChunk *
chunk_take_locked (PlRunStore *self)
{
  PlChunk *chunk = self->free_chunks;
  if (chunk)
    {
      self->free_chunks = chunk->next;
      self->n_free--;
    }
  else
    chunk = g_new (PlChunk, 1);
  chunk->next = NULL;
  chunk->n = 0;
  return chunk;
}

/* Takes the full chunks and the partly filled one, in logging order. */
static PlChunk *
take_pending_locked (PlRunStore *self)
{
  PlChunk *batch = self->full_head;
  PlChunk *tail = self->full_tail;
  self->full_head = self->full_tail = NULL;
  if (self->cur->n > 0)
    {
      PlChunk *cur = self->cur;
      cur->next = NULL;
      if (tail)
        tail->next = cur;
      else
        batch = cur;
      self->cur = chunk_take_locked (self);
    }
  return batch;
}

static gboolean
writer_has_work_locked (PlRunStore *self)
{
  if (self->full_head || self->quit)
    return TRUE;
  if (self->cur->n == 0)
    return FALSE;
  return self->n_flushers > 0 || g_get_monotonic_time () >= self->cur_since + PL_WRITER_LATENCY;
}

static gpointer
writer_main (gpointer data)
{
  PlRunStore *self = data; /* alive until pl_run_store_close () joins this thread */

  g_mutex_lock (&self->lock);
  for (;;)
    {
      while (!writer_has_work_locked (self))
        {
          if (self->cur->n == 0)
            g_cond_wait (&self->wake_writer, &self->lock);
          else
            g_cond_wait_until (&self->wake_writer, &self->lock,
                               self->cur_since + PL_WRITER_LATENCY);
        }
      PlChunk *batch = take_pending_locked (self);
      if (!batch)
        {
          if (self->quit)
            break;
          continue;
        }
      g_mutex_unlock (&self->lock);

      PlChunk *group = batch;
      while (group)
        {
          PlChunk *end = group;
          guint64 n_points = 0;
          while (end && n_points < PL_COMMIT_POINTS)
            {
              n_points += end->n;
              end = end->next;
            }
          GError *error = NULL;
          guint64 n_failed = writer_store_group (self, group, end, n_points, &error);

          g_mutex_lock (&self->lock);
          self->n_done += n_points;
          self->n_lost += n_failed;
          if (error)
            keep_first_error (&self->writer_error, error);
          while (group != end)
            {
              PlChunk *next = group->next;
              if (self->n_free < PL_MAX_FREE_CHUNKS)
                {
                  group->n = 0;
                  group->next = self->free_chunks;
                  self->free_chunks = group;
                  self->n_free++;
                }
              else
                g_free (group);
              group = next;
            }
          g_cond_broadcast (&self->points_done);
          g_mutex_unlock (&self->lock);
        }
      g_mutex_lock (&self->lock);
    }
  g_mutex_unlock (&self->lock);

  writer_close (self);
  return NULL;
}

/* Starts the writer thread, or records why it could not start. */
static gboolean
start_writer_locked (PlRunStore *self)
{
  GError *error = NULL;
  if (!self->cur)
    self->cur = chunk_take_locked (self);
  self->writer = g_thread_try_new ("pl-run-store", writer_main, self, &error);
  if (self->writer)
    return TRUE;
  g_prefix_error (&error, "Could not start the metric writer of run store '%s': ", self->path);
  keep_first_error (&self->writer_error, error);
  return FALSE;
}

gboolean
pl_run_store_log_metric (PlRunStore *self, gint64 run_id, const char *key, gint64 step,
                         double value)
{
  g_return_val_if_fail (PL_IS_RUN_STORE (self), FALSE);
  g_return_val_if_fail (key != NULL && *key != '\0', FALSE);

  double wall_time = now_seconds ();

  g_mutex_lock (&self->lock);
  if (G_UNLIKELY (self->closed))
    {
      g_mutex_unlock (&self->lock);
      return FALSE;
    }
  if (G_UNLIKELY (!self->writer) && !start_writer_locked (self))
    {
      self->n_lost++;
      g_mutex_unlock (&self->lock);
      return FALSE;
    }

  gpointer index = g_hash_table_lookup (self->key_index, key);
  if (G_UNLIKELY (!index))
    {
      char *name = g_strdup (key);
      g_ptr_array_add (self->key_names, name);
      index = GUINT_TO_POINTER (self->key_names->len);
      g_hash_table_insert (self->key_index, name, index);
    }

  PlChunk *c = self->cur;
  if (c->n == 0)
    {
      self->cur_since = g_get_monotonic_time ();
      g_cond_signal (&self->wake_writer);
    }
  PlPoint *p = &c->points[c->n++];
  p->run_id = run_id;
  p->key = GPOINTER_TO_UINT (index) - 1;
  p->step = step;
  p->value = value;
  p->wall_time = wall_time;
  self->n_logged++;

  if (c->n == PL_CHUNK_POINTS)
    {
      c->next = NULL;
      if (self->full_tail)
        self->full_tail->next = c;
      else
        self->full_head = c;
      self->full_tail = c;
      self->cur = chunk_take_locked (self);
      g_cond_signal (&self->wake_writer);
    }

  gboolean ok = self->writer_error == NULL;
  g_mutex_unlock (&self->lock);
  return ok;
}

/* Waits until the writer is done with every point logged before the call. */
static void
drain (PlRunStore *self)
{
  g_mutex_lock (&self->lock);
  guint64 target = self->n_logged;
  if (self->writer && self->n_done < target)
    {
      self->n_flushers++;
      g_cond_signal (&self->wake_writer);
      while (self->n_done < target)
        g_cond_wait (&self->points_done, &self->lock);
      self->n_flushers--;
    }
  g_mutex_unlock (&self->lock);
}

/* Moves the writer's error, if any, to error (clearing it) and returns FALSE. */
static gboolean
collect_writer_error (PlRunStore *self, GError **error)
{
  g_mutex_lock (&self->lock);
  GError *writer_error = g_steal_pointer (&self->writer_error);
  guint64 n_lost = self->n_lost;
  self->n_lost = 0;
  g_mutex_unlock (&self->lock);

  if (!writer_error)
    return TRUE;
  if (n_lost > 0)
    {
      char *message = g_strdup_printf ("%s; %" G_GUINT64_FORMAT " metric point%s not stored",
                                       writer_error->message, n_lost, n_lost == 1 ? "" : "s");
      g_free (writer_error->message);
      writer_error->message = message;
    }
  g_propagate_error (error, writer_error);
  return FALSE;
}

gboolean
pl_run_store_flush (PlRunStore *self, GError **error)
{
  g_return_val_if_fail (PL_IS_RUN_STORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_open (self, error))
    return FALSE;
  drain (self);
  return collect_writer_error (self, error);
}

gboolean
pl_run_store_check_writer (PlRunStore *self, GError **error)
{
  g_return_val_if_fail (PL_IS_RUN_STORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_mutex_lock (&self->lock);
  gboolean failed = self->writer_error != NULL;
  g_mutex_unlock (&self->lock);
  return !failed || collect_writer_error (self, error);
}

gboolean
pl_run_store_close (PlRunStore *self, GError **error)
{
  g_return_val_if_fail (PL_IS_RUN_STORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_mutex_lock (&self->lock);
  if (self->closed)
    {
      g_mutex_unlock (&self->lock);
      return TRUE;
    }
  self->closed = TRUE;
  self->quit = TRUE;
  GThread *writer = g_steal_pointer (&self->writer);
  g_cond_signal (&self->wake_writer);
  g_mutex_unlock (&self->lock);

  /* the writer stores everything pending before it exits */
  if (writer)
    g_thread_join (writer);

  gboolean ok = collect_writer_error (self, error);
  if (self->db)
    {
      if (!close_connection (self->path, self->db, ok ? error : NULL))
        ok = FALSE;
      self->db = NULL;
    }
  return ok;
}

/* ---- runs ---------------------------------------------------------------------- */

gint64
pl_run_store_create_run (PlRunStore *self, const char *name, guint64 seed,
                         const char *experiment, const char *dataset,
                         const char *architecture, GError **error)
{
  g_return_val_if_fail (PL_IS_RUN_STORE (self), 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);

  if (!check_open (self, error))
    return 0;
  g_autoptr (sqlite3_stmt) stmt =
    prepare (self,
             "INSERT INTO runs (name, created_at, seed, experiment, dataset, architecture,"
             " owner_host, owner_pid, owner_start) "
             "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
             error, "sdissssis", name ? name : "", now_seconds (),
             (gint64) seed, experiment ? experiment : "", dataset ? dataset : "",
             architecture ? architecture : "", self->owner_host, self->owner_pid,
             self->owner_start);
  if (!stmt || step_done (self, stmt, error) != SQLITE_DONE)
    {
      g_prefix_error (error, "Could not record run '%s': ", name ? name : "");
      return 0;
    }
  return sqlite3_last_insert_rowid (self->db);
}

gboolean
pl_run_store_set_status (PlRunStore *self, gint64 run_id, const char *status,
                         const char *message, GError **error)
{
  g_return_val_if_fail (PL_IS_RUN_STORE (self), FALSE);
  g_return_val_if_fail (status != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_open (self, error))
    return FALSE;
  if (!pl_run_status_is_valid (status))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FAILED,
                   "Unknown status '%s' for run %" G_GINT64_FORMAT
                   ": expected queued, running, finished, failed, stopped, interrupted or "
                   "diverged", status, run_id);
      return FALSE;
    }
  /* the process that sets a run running owns it from then on (a resumed run too) */
  g_autoptr (sqlite3_stmt) stmt =
    prepare (self,
             "UPDATE runs SET status = ?2, error = ?3,"
             " started_at = CASE WHEN ?2 = 'running' THEN coalesce (started_at, ?4)"
             "              ELSE started_at END,"
             " finished_at = CASE WHEN ?2 IN ('finished', 'failed', 'stopped', 'interrupted',"
             "                                'diverged') THEN ?4"
             "               ELSE finished_at END,"
             " owner_host = CASE WHEN ?2 = 'running' THEN ?5 ELSE owner_host END,"
             " owner_pid = CASE WHEN ?2 = 'running' THEN ?6 ELSE owner_pid END,"
             " owner_start = CASE WHEN ?2 = 'running' THEN ?7 ELSE owner_start END "
             "WHERE id = ?1",
             error, "issdsis", run_id, status, message, now_seconds (), self->owner_host,
             self->owner_pid, self->owner_start);
  g_autoptr (GError) local = NULL;
  int rc = stmt ? step_done (self, stmt, &local) : SQLITE_ERROR;
  /* Out of space (a full disk, a file size limit): the write-ahead log may be what
   * filled it. A checkpoint that empties it can make room for this one small
   * transaction, so that a run that failed for lack of space still says so. */
  if (stmt && ((rc & 0xff) == SQLITE_FULL || (rc & 0xff) == SQLITE_IOERR)
      && sqlite3_wal_checkpoint_v2 (self->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL)
         == SQLITE_OK)
    {
      (void) sqlite3_reset (stmt); /* repeats the error handled here */
      g_clear_error (&local);
      rc = step_done (self, stmt, &local);
    }
  if (!stmt || rc != SQLITE_DONE)
    {
      if (local)
        g_propagate_error (error, g_steal_pointer (&local));
      g_prefix_error (error, "Could not set the status of run %" G_GINT64_FORMAT " to %s: ",
                      run_id, status);
      return FALSE;
    }
  return changed_run (self, run_id, error);
}

/* Runs an UPDATE of one run: ?1 is run_id, ?2 (if types has a second character)
 * text for 's', number for 'i' or 'o'. */
static gboolean
update_run (PlRunStore *self, gint64 run_id, const char *what, const char *sql,
            const char *types, const char *text, gint64 number, GError **error)
{
  if (!check_open (self, error))
    return FALSE;
  g_autoptr (sqlite3_stmt) stmt = NULL;
  if (types[1] == 's')
    stmt = prepare (self, sql, error, types, run_id, text);
  else
    stmt = prepare (self, sql, error, types, run_id, number);
  if (!stmt || step_done (self, stmt, error) != SQLITE_DONE)
    {
      g_prefix_error (error, "Could not %s run %" G_GINT64_FORMAT ": ", what, run_id);
      return FALSE;
    }
  return changed_run (self, run_id, error);
}

gboolean
pl_run_store_rename_run (PlRunStore *self, gint64 run_id, const char *name, GError **error)
{
  g_return_val_if_fail (PL_IS_RUN_STORE (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return update_run (self, run_id, "rename", "UPDATE runs SET name = ?2 WHERE id = ?1", "is",
                     name, 0, error);
}

gboolean
pl_run_store_set_tags (PlRunStore *self, gint64 run_id, const char *const *tags,
                       GError **error)
{
  g_return_val_if_fail (PL_IS_RUN_STORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_autoptr (GPtrArray) kept = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; tags && tags[i]; i++)
    {
      g_autofree char *tag = g_strstrip (g_strdup (tags[i]));
      if (strchr (tag, ','))
        {
          g_set_error (error, PL_ERROR, PL_ERROR_FAILED,
                       "Tag '%s' of run %" G_GINT64_FORMAT " contains a comma", tag, run_id);
          return FALSE;
        }
      gboolean seen = tag[0] == '\0';
      for (guint j = 0; !seen && j < kept->len; j++)
        seen = strcmp (g_ptr_array_index (kept, j), tag) == 0;
      if (!seen)
        g_ptr_array_add (kept, g_steal_pointer (&tag));
    }
  g_ptr_array_add (kept, NULL);
  g_autofree char *joined = g_strjoinv (",", (char **) kept->pdata);
  return update_run (self, run_id, "set the tags of", "UPDATE runs SET tags = ?2 WHERE id = ?1",
                     "is", joined, 0, error);
}

gboolean
pl_run_store_set_parent_run (PlRunStore *self, gint64 run_id, gint64 parent_run,
                             GError **error)
{
  g_return_val_if_fail (PL_IS_RUN_STORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_open (self, error))
    return FALSE;
  if (parent_run > 0 && !require_run (self, parent_run, error))
    {
      g_prefix_error (error, "Could not set the parent of run %" G_GINT64_FORMAT ": ", run_id);
      return FALSE;
    }
  return update_run (self, run_id, "set the parent of",
                     "UPDATE runs SET parent_run = ?2 WHERE id = ?1", "io", NULL,
                     parent_run > 0 ? parent_run : -1, error);
}

gboolean
pl_run_store_delete_run (PlRunStore *self, gint64 run_id, GError **error)
{
  g_return_val_if_fail (PL_IS_RUN_STORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return update_run (self, run_id, "delete", "UPDATE runs SET deleted = 1 WHERE id = ?1", "i",
                     NULL, 0, error);
}

gboolean
pl_run_store_undelete_run (PlRunStore *self, gint64 run_id, GError **error)
{
  g_return_val_if_fail (PL_IS_RUN_STORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return update_run (self, run_id, "undelete", "UPDATE runs SET deleted = 0 WHERE id = ?1",
                     "i", NULL, 0, error);
}

/* The training state (resume) of a run is not recorded in checkpoints: the engine
 * writes it as STATE_LEAF in the run's checkpoint directory, by default
 * <store dir>/checkpoints/run-<id>/ (pl_run_get_state_path () in pl-engine.c),
 * otherwise the directory its last and best checkpoints are in. Adds to paths
 * (once each) the state files of the soft-deleted runs found in either place. */
#define STATE_LEAF "state.safetensors"

/* Adds to paths (once each, per seen) the state files of run_id that exist. */
static gboolean
add_run_state_paths (PlRunStore *self, gint64 run_id, GPtrArray *paths, GHashTable *seen,
                     GError **error)
{
  g_autoptr (sqlite3_stmt) stmt =
    prepare (self,
             "SELECT path FROM checkpoints WHERE run_id = ?1 AND kind IN ('last', 'best') "
             "ORDER BY id", error, "i", run_id);
  if (!stmt)
    return FALSE;
  g_autofree char *db_dir = g_path_get_dirname (self->path);
  g_autofree char *leaf = g_strdup_printf ("run-%" G_GINT64_FORMAT, run_id);
  g_autoptr (GPtrArray) candidates = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (candidates, g_build_filename (db_dir, "checkpoints", leaf, STATE_LEAF, NULL));
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      g_autofree char *dir = g_path_get_dirname ((const char *) sqlite3_column_text (stmt, 0));
      g_ptr_array_add (candidates, g_build_filename (dir, STATE_LEAF, NULL));
    }
  if (rc != SQLITE_DONE)
    {
      db_error (self->path, self->db, rc, error);
      return FALSE;
    }
  for (guint i = 0; i < candidates->len; i++)
    {
      const char *c = candidates->pdata[i];
      if (!g_hash_table_contains (seen, c) && g_file_test (c, G_FILE_TEST_IS_REGULAR))
        {
          g_ptr_array_add (paths, g_strdup (c));
          g_hash_table_add (seen, g_strdup (c));
        }
    }
  return TRUE;
}

static gboolean
add_state_paths (PlRunStore *self, GPtrArray *paths, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt =
    prepare (self, "SELECT id FROM runs WHERE deleted = 1 ORDER BY id", error, "");
  if (!stmt)
    return FALSE;
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (stmt, 0);
      g_array_append_val (ids, id);
    }
  if (rc != SQLITE_DONE)
    {
      db_error (self->path, self->db, rc, error);
      return FALSE;
    }
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < ids->len; i++)
    if (!add_run_state_paths (self, g_array_index (ids, gint64, i), paths, seen, error))
      return FALSE;
  return TRUE;
}

char *
pl_run_store_find_state_file (PlRunStore *self, gint64 run_id, GError **error)
{
  g_return_val_if_fail (PL_IS_RUN_STORE (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_open (self, error))
    return NULL;
  g_autoptr (GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  if (!add_run_state_paths (self, run_id, paths, seen, error))
    return NULL;
  return paths->len ? g_strdup (paths->pdata[0]) : NULL;
}

gint64
pl_run_store_purge_deleted (PlRunStore *self, GPtrArray **checkpoint_paths, GError **error)
{
  g_return_val_if_fail (PL_IS_RUN_STORE (self), -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  if (!check_open (self, error))
    return -1;

  g_autoptr (GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (sqlite3_stmt) stmt = NULL;
  g_autoptr (sqlite3_stmt) del = NULL;
  if (!exec_sql (self->path, self->db, "BEGIN IMMEDIATE", error))
    goto failed;
  if (checkpoint_paths)
    {
      stmt =
        prepare (self,
                 "SELECT c.path FROM checkpoints AS c JOIN runs AS r ON r.id = c.run_id "
                 "WHERE r.deleted = 1 ORDER BY c.id", error, "");
      if (!stmt)
        goto failed;
      int rc;
      while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
        g_ptr_array_add (paths, column_strdup0 (stmt, 0));
      if (rc != SQLITE_DONE)
        {
          db_error (self->path, self->db, rc, error);
          goto failed;
        }
      g_clear_pointer (&stmt, stmt_finalize);
      if (!add_state_paths (self, paths, error))
        goto failed;
    }

  del = prepare (self, "DELETE FROM runs WHERE deleted = 1", error, "");
  if (!del || step_done (self, del, error) != SQLITE_DONE)
    goto failed;
  gint64 n = sqlite3_changes (self->db);
  if (!exec_sql (self->path, self->db, "COMMIT", error))
    goto failed;
  if (checkpoint_paths)
    *checkpoint_paths = g_steal_pointer (&paths);
  return n;

failed:
  rollback (self->path, self->db);
  g_prefix_error (error, "Could not purge deleted runs: ");
  return -1;
}

/* Reads the RUN_COLUMNS of the current row. */
static PlRunInfo *
run_info_from_row (sqlite3_stmt *stmt)
{
  PlRunInfo *info = g_new0 (PlRunInfo, 1);
  info->id = sqlite3_column_int64 (stmt, 0);
  info->name = column_strdup0 (stmt, 1);
  info->status = column_strdup0 (stmt, 2);
  info->created_at = column_double (stmt, 3);
  info->started_at = column_double (stmt, 4);
  info->finished_at = column_double (stmt, 5);
  info->seed = (guint64) sqlite3_column_int64 (stmt, 6);
  info->dataset = column_strdup0 (stmt, 7);
  info->architecture = column_strdup0 (stmt, 8);
  info->tags = tags_split ((const char *) sqlite3_column_text (stmt, 9));
  info->parent_run = column_int_or (stmt, 10, 0);
  info->deleted = sqlite3_column_int64 (stmt, 11) != 0;
  info->last_step = column_int_or (stmt, 12, -1);
  info->best_val_acc = column_double (stmt, 13);
  info->final_val_acc = column_double (stmt, 14);
  info->best_val_loss = column_double (stmt, 15);
  info->final_val_loss = column_double (stmt, 16);
  info->final_sparsity = column_double (stmt, 17);
  return info;
}

GPtrArray *
pl_run_store_list_runs (PlRunStore *self, const char *filter, gboolean include_deleted,
                        GError **error)
{
  g_return_val_if_fail (PL_IS_RUN_STORE (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_open (self, error))
    return NULL;
  /* runs whose process died show as interrupted; a failure hides nothing */
  g_autoptr (GError) reconcile_error = NULL;
  if (pl_run_store_reconcile (self, &reconcile_error) < 0)
    g_debug ("%s", reconcile_error->message);

  /* a LIKE pattern matching filter as a substring: %, _ and \ escaped */
  g_autofree char *pattern = NULL;
  if (filter && *filter)
    {
      GString *p = g_string_new ("%");
      for (const char *c = filter; *c; c++)
        {
          if (*c == '%' || *c == '_' || *c == '\\')
            g_string_append_c (p, '\\');
          g_string_append_c (p, *c);
        }
      g_string_append_c (p, '%');
      pattern = g_string_free (p, FALSE);
    }

  g_autoptr (sqlite3_stmt) stmt =
    prepare (self,
             "SELECT " RUN_COLUMNS " FROM runs "
             "WHERE (?1 OR deleted = 0)"
             " AND (?2 IS NULL OR name LIKE ?2 ESCAPE '\\' OR tags LIKE ?2 ESCAPE '\\'"
             "      OR dataset LIKE ?2 ESCAPE '\\') "
             "ORDER BY id DESC",
             error, "is", (gint64) (include_deleted != FALSE), pattern);
  if (!stmt)
    {
      g_prefix_error (error, "Could not list runs: ");
      return NULL;
    }
  g_autoptr (GPtrArray) runs = g_ptr_array_new_with_free_func ((GDestroyNotify) pl_run_info_free);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (runs, run_info_from_row (stmt));
  if (rc != SQLITE_DONE)
    {
      db_error (self->path, self->db, rc, error);
      g_prefix_error (error, "Could not list runs: ");
      return NULL;
    }
  return g_steal_pointer (&runs);
}

PlRunInfo *
pl_run_store_get_run (PlRunStore *self, gint64 run_id, GError **error)
{
  g_return_val_if_fail (PL_IS_RUN_STORE (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_open (self, error))
    return NULL;
  g_autoptr (sqlite3_stmt) stmt =
    prepare (self, "SELECT " RUN_COLUMNS ", experiment, error FROM runs WHERE id = ?1", error,
             "i", run_id);
  if (!stmt)
    {
      g_prefix_error (error, "Could not read run %" G_GINT64_FORMAT ": ", run_id);
      return NULL;
    }
  int rc = sqlite3_step (stmt);
  if (rc == SQLITE_DONE)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_NOT_FOUND,
                   "Run store '%s' has no run %" G_GINT64_FORMAT, self->path, run_id);
      return NULL;
    }
  if (rc != SQLITE_ROW)
    {
      db_error (self->path, self->db, rc, error);
      g_prefix_error (error, "Could not read run %" G_GINT64_FORMAT ": ", run_id);
      return NULL;
    }
  PlRunInfo *info = run_info_from_row (stmt);
  info->experiment = column_strdup0 (stmt, 18);
  info->error = column_strdup (stmt, 19);
  return info;
}

/* ---- plugins, events, checkpoints ------------------------------------------------ */

gboolean
pl_run_store_add_plugin (PlRunStore *self, gint64 run_id, const char *slot,
                         const char *plugin_id, const char *version, const char *options_json,
                         GError **error)
{
  g_return_val_if_fail (PL_IS_RUN_STORE (self), FALSE);
  g_return_val_if_fail (slot != NULL && plugin_id != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_open (self, error))
    return FALSE;
  g_autoptr (sqlite3_stmt) stmt = NULL;
  int rc = SQLITE_ERROR;
  if (require_run (self, run_id, error))
    {
      stmt = prepare (self,
                      "INSERT INTO run_plugins (run_id, slot, plugin_id, version, options) "
                      "VALUES (?1, ?2, ?3, ?4, ?5)",
                      error, "issss", run_id, slot, plugin_id, version ? version : "",
                      options_json ? options_json : "{}");
      if (stmt)
        rc = step_done (self, stmt, error);
    }
  if (rc != SQLITE_DONE)
    {
      g_prefix_error (error, "Could not record plugin '%s' (slot %s) of run %" G_GINT64_FORMAT
                      ": %s", plugin_id, slot, run_id,
                      rc == SQLITE_CONSTRAINT_CHECK ? "its options are not a JSON object: " : "");
      return FALSE;
    }
  return TRUE;
}

GPtrArray *
pl_run_store_get_run_plugins (PlRunStore *self, gint64 run_id, GError **error)
{
  g_return_val_if_fail (PL_IS_RUN_STORE (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_open (self, error))
    return NULL;
  g_autoptr (sqlite3_stmt) stmt =
    prepare (self,
             "SELECT slot, plugin_id, version, options FROM run_plugins "
             "WHERE run_id = ?1 ORDER BY rowid", error, "i", run_id);
  g_autoptr (GPtrArray) plugins =
    g_ptr_array_new_with_free_func ((GDestroyNotify) pl_run_plugin_free);
  int rc = SQLITE_ERROR;
  if (stmt)
    {
      while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
        {
          PlRunPlugin *plugin = g_new0 (PlRunPlugin, 1);
          plugin->slot = column_strdup0 (stmt, 0);
          plugin->plugin_id = column_strdup0 (stmt, 1);
          plugin->version = column_strdup0 (stmt, 2);
          plugin->options_json = column_strdup0 (stmt, 3);
          g_ptr_array_add (plugins, plugin);
        }
      if (rc != SQLITE_DONE)
        db_error (self->path, self->db, rc, error);
    }
  if (rc != SQLITE_DONE)
    {
      g_prefix_error (error, "Could not read the plugins of run %" G_GINT64_FORMAT ": ", run_id);
      return NULL;
    }
  return g_steal_pointer (&plugins);
}

gint64
pl_run_store_add_event (PlRunStore *self, gint64 run_id, const char *kind,
                        const char *payload_json, GError **error)
{
  g_return_val_if_fail (PL_IS_RUN_STORE (self), 0);
  g_return_val_if_fail (kind != NULL, 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);

  if (!check_open (self, error))
    return 0;
  gint64 seq = 0;
  int rc = SQLITE_ERROR;
  g_autoptr (sqlite3_stmt) stmt = NULL;
  if (require_run (self, run_id, error))
    stmt = prepare (self,
                    "INSERT INTO events (run_id, seq, time, kind, payload) VALUES (?1,"
                    " (SELECT coalesce (max (seq), 0) + 1 FROM events WHERE run_id = ?1),"
                    " ?2, ?3, ?4) RETURNING seq",
                    error, "idss", run_id, now_seconds (), kind, payload_json);
  if (stmt)
    {
      rc = sqlite3_step (stmt);
      if (rc == SQLITE_ROW)
        {
          seq = sqlite3_column_int64 (stmt, 0);
          rc = sqlite3_step (stmt);
        }
      if (rc != SQLITE_DONE)
        db_error (self->path, self->db, rc, error);
    }
  if (rc != SQLITE_DONE)
    {
      g_prefix_error (error, "Could not record event '%s' of run %" G_GINT64_FORMAT ": %s",
                      kind, run_id,
                      rc == SQLITE_CONSTRAINT_CHECK ? "its payload is not valid JSON: " : "");
      return 0;
    }
  return seq;
}

GPtrArray *
pl_run_store_get_events (PlRunStore *self, gint64 run_id, GError **error)
{
  g_return_val_if_fail (PL_IS_RUN_STORE (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_open (self, error))
    return NULL;
  g_autoptr (sqlite3_stmt) stmt =
    prepare (self, "SELECT seq, time, kind, payload FROM events WHERE run_id = ?1 ORDER BY seq",
             error, "i", run_id);
  g_autoptr (GPtrArray) events = g_ptr_array_new_with_free_func ((GDestroyNotify) pl_run_event_free);
  int rc = SQLITE_ERROR;
  if (stmt)
    {
      while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
        {
          PlRunEvent *event = g_new0 (PlRunEvent, 1);
          event->seq = sqlite3_column_int64 (stmt, 0);
          event->time = column_double (stmt, 1);
          event->kind = column_strdup0 (stmt, 2);
          event->payload_json = column_strdup (stmt, 3);
          g_ptr_array_add (events, event);
        }
      if (rc != SQLITE_DONE)
        db_error (self->path, self->db, rc, error);
    }
  if (rc != SQLITE_DONE)
    {
      g_prefix_error (error, "Could not read the events of run %" G_GINT64_FORMAT ": ", run_id);
      return NULL;
    }
  return g_steal_pointer (&events);
}

gint64
pl_run_store_add_checkpoint (PlRunStore *self, gint64 run_id, gint64 step, const char *path,
                             const char *kind, const char *format, gint64 size_bytes,
                             const char *metric_key, double metric_value, GError **error)
{
  g_return_val_if_fail (PL_IS_RUN_STORE (self), 0);
  g_return_val_if_fail (path != NULL && kind != NULL && format != NULL, 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);

  if (!check_open (self, error))
    return 0;
  if (strcmp (format, "fp32") != 0 && strcmp (format, "int8") != 0
      && strcmp (format, "sparse") != 0)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FAILED,
                   "Could not record checkpoint '%s' of run %" G_GINT64_FORMAT
                   ": format '%s' is not 'fp32', 'int8' or 'sparse'", path, run_id, format);
      return 0;
    }
  g_autoptr (sqlite3_stmt) stmt = NULL;
  if (require_run (self, run_id, error))
    stmt = prepare (self,
                    "INSERT INTO checkpoints (run_id, step, path, kind, format, size_bytes,"
                    " metric_key, metric_value, created_at) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    error, "iisssosdd", run_id, step, path, kind, format, size_bytes,
                    metric_key, metric_key ? metric_value : NAN, now_seconds ());
  if (!stmt || step_done (self, stmt, error) != SQLITE_DONE)
    {
      g_prefix_error (error, "Could not record checkpoint '%s' of run %" G_GINT64_FORMAT ": ",
                      path, run_id);
      return 0;
    }
  return sqlite3_last_insert_rowid (self->db);
}

GPtrArray *
pl_run_store_list_checkpoints (PlRunStore *self, gint64 run_id, GError **error)
{
  g_return_val_if_fail (PL_IS_RUN_STORE (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_open (self, error))
    return NULL;
  g_autoptr (sqlite3_stmt) stmt =
    prepare (self,
             "SELECT id, run_id, step, path, kind, format, size_bytes, metric_key,"
             " metric_value, created_at FROM checkpoints WHERE run_id = ?1 ORDER BY step, id",
             error, "i", run_id);
  g_autoptr (GPtrArray) list =
    g_ptr_array_new_with_free_func ((GDestroyNotify) pl_checkpoint_info_free);
  int rc = SQLITE_ERROR;
  if (stmt)
    {
      while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
        {
          PlCheckpointInfo *info = g_new0 (PlCheckpointInfo, 1);
          info->id = sqlite3_column_int64 (stmt, 0);
          info->run_id = sqlite3_column_int64 (stmt, 1);
          info->step = sqlite3_column_int64 (stmt, 2);
          info->path = column_strdup0 (stmt, 3);
          info->kind = column_strdup0 (stmt, 4);
          info->format = column_strdup0 (stmt, 5);
          info->size_bytes = column_int_or (stmt, 6, -1);
          info->metric_key = column_strdup (stmt, 7);
          info->metric_value = column_double (stmt, 8);
          info->created_at = column_double (stmt, 9);
          g_ptr_array_add (list, info);
        }
      if (rc != SQLITE_DONE)
        db_error (self->path, self->db, rc, error);
    }
  if (rc != SQLITE_DONE)
    {
      g_prefix_error (error, "Could not read the checkpoints of run %" G_GINT64_FORMAT ": ",
                      run_id);
      return NULL;
    }
  return g_steal_pointer (&list);
}

/* ---- metrics ------------------------------------------------------------------- */

char **
pl_run_store_get_metric_keys (PlRunStore *self, gint64 run_id, GError **error)
{
  g_return_val_if_fail (PL_IS_RUN_STORE (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_open (self, error))
    return NULL;
  /* walks the distinct key ids of the run through the primary key, one seek each */
  g_autoptr (sqlite3_stmt) stmt =
    prepare (self,
             "WITH RECURSIVE k (id) AS ("
             "  SELECT (SELECT min (key_id) FROM metrics WHERE run_id = ?1)"
             "  UNION ALL"
             "  SELECT (SELECT min (key_id) FROM metrics WHERE run_id = ?1 AND key_id > k.id)"
             "  FROM k WHERE k.id IS NOT NULL) "
             "SELECT name FROM metric_keys JOIN k ON metric_keys.id = k.id ORDER BY name",
             error, "i", run_id);
  g_autoptr (GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
  int rc = SQLITE_ERROR;
  if (stmt)
    {
      while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
        g_ptr_array_add (keys, column_strdup0 (stmt, 0));
      if (rc != SQLITE_DONE)
        db_error (self->path, self->db, rc, error);
    }
  if (rc != SQLITE_DONE)
    {
      g_prefix_error (error, "Could not read the metric keys of run %" G_GINT64_FORMAT ": ",
                      run_id);
      return NULL;
    }
  g_ptr_array_add (keys, NULL);
  g_ptr_array_set_free_func (keys, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&keys), FALSE);
}

PlSeries *
pl_run_store_get_metric (PlRunStore *self, gint64 run_id, const char *key, GError **error)
{
  g_return_val_if_fail (PL_IS_RUN_STORE (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_open (self, error))
    return NULL;
  g_autoptr (sqlite3_stmt) stmt =
    prepare (self,
             "SELECT step, value, wall_time FROM metrics "
             "WHERE run_id = ?1 AND key_id = (SELECT id FROM metric_keys WHERE name = ?2) "
             "ORDER BY step",
             error, "is", run_id, key);
  g_autoptr (PlSeries) series = series_new (run_id, key, 0);
  int rc = SQLITE_ERROR;
  if (stmt)
    {
      while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
        series_append_row (series, stmt, 0);
      if (rc != SQLITE_DONE)
        db_error (self->path, self->db, rc, error);
    }
  if (rc != SQLITE_DONE)
    {
      g_prefix_error (error, "Could not read metric '%s' of run %" G_GINT64_FORMAT ": ", key,
                      run_id);
      return NULL;
    }
  return g_steal_pointer (&series);
}

GPtrArray *
pl_run_store_get_metrics_for_runs (PlRunStore *self, const gint64 *run_ids, guint n_runs,
                                   const char *key, GError **error)
{
  g_return_val_if_fail (PL_IS_RUN_STORE (self), NULL);
  g_return_val_if_fail (run_ids != NULL || n_runs == 0, NULL);
  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_open (self, error))
    return NULL;

  g_autoptr (GPtrArray) result = g_ptr_array_new_full (n_runs, (GDestroyNotify) pl_series_free);
  g_autoptr (GHashTable) slot_of = g_hash_table_new (g_int64_hash, g_int64_equal);
  /* the ids go in as one bound JSON array, read back with json_each */
  g_autoptr (GString) ids = g_string_new ("[");
  for (guint i = 0; i < n_runs; i++)
    {
      g_ptr_array_add (result, series_new (run_ids[i], key, 0));
      if (!g_hash_table_contains (slot_of, &run_ids[i]))
        g_hash_table_insert (slot_of, (gpointer) &run_ids[i], GUINT_TO_POINTER (i));
      g_string_append_printf (ids, "%s%" G_GINT64_FORMAT, i ? "," : "", run_ids[i]);
    }
  g_string_append_c (ids, ']');
  if (n_runs == 0)
    return g_steal_pointer (&result);

  g_autoptr (sqlite3_stmt) stmt =
    prepare (self,
             "SELECT run_id, step, value, wall_time FROM metrics "
             "WHERE key_id = (SELECT id FROM metric_keys WHERE name = ?2)"
             " AND run_id IN (SELECT value FROM json_each (?1)) "
             "ORDER BY run_id, step",
             error, "ss", ids->str, key);
  int rc = SQLITE_ERROR;
  if (stmt)
    {
      PlSeries *series = NULL;
      while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
        {
          gint64 run_id = sqlite3_column_int64 (stmt, 0);
          if (!series || series->run_id != run_id)
            series = g_ptr_array_index (result,
                                        GPOINTER_TO_UINT (g_hash_table_lookup (slot_of, &run_id)));
          series_append_row (series, stmt, 1);
        }
      if (rc != SQLITE_DONE)
        db_error (self->path, self->db, rc, error);
    }
  if (rc != SQLITE_DONE)
    {
      g_prefix_error (error, "Could not read metric '%s' of %u runs: ", key, n_runs);
      return NULL;
    }
  /* a run listed twice gets a copy of its curve in each place */
  for (guint i = 0; i < n_runs; i++)
    {
      guint first = GPOINTER_TO_UINT (g_hash_table_lookup (slot_of, &run_ids[i]));
      if (first != i)
        {
          pl_series_free (g_ptr_array_index (result, i));
          g_ptr_array_index (result, i) = pl_series_copy (g_ptr_array_index (result, first));
        }
    }
  return g_steal_pointer (&result);
}

/* The summary of every key of the run from its stored points, in key id order,
 * with the key ids in key_ids (gint64). */
static GPtrArray *
compute_summary (PlRunStore *self, gint64 run_id, GArray *key_ids, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt =
    prepare (self,
             "SELECT m.key_id, k.name, m.step, m.value FROM metrics AS m"
             " JOIN metric_keys AS k ON k.id = m.key_id "
             "WHERE m.run_id = ?1 ORDER BY m.key_id, m.step",
             error, "i", run_id);
  if (!stmt)
    return NULL;
  g_autoptr (GPtrArray) rows =
    g_ptr_array_new_with_free_func ((GDestroyNotify) pl_metric_summary_free);
  PlMetricSummary *s = NULL;
  gint64 key_id = 0;
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      if (!s || sqlite3_column_int64 (stmt, 0) != key_id)
        {
          key_id = sqlite3_column_int64 (stmt, 0);
          g_array_append_val (key_ids, key_id);
          s = g_new0 (PlMetricSummary, 1);
          s->key = column_strdup0 (stmt, 1);
          s->minimize = pl_run_store_metric_minimizes (s->key);
          s->best = NAN;
          s->best_step = -1;
          g_ptr_array_add (rows, s);
        }
      gint64 step = sqlite3_column_int64 (stmt, 2);
      double v = column_double (stmt, 3);
      s->n++;
      s->last_step = step;
      s->last = v;
      /* best: min for keys that minimize, max otherwise; the first of ties; never NaN */
      if (!isnan (v) && (isnan (s->best) || (s->minimize ? v < s->best : v > s->best)))
        {
          s->best = v;
          s->best_step = step;
        }
    }
  if (rc != SQLITE_DONE)
    {
      db_error (self->path, self->db, rc, error);
      return NULL;
    }
  return g_steal_pointer (&rows);
}

static int
summary_compare (gconstpointer a, gconstpointer b)
{
  const PlMetricSummary *x = *(PlMetricSummary *const *) a;
  const PlMetricSummary *y = *(PlMetricSummary *const *) b;
  return strcmp (x->key, y->key);
}

GPtrArray *
pl_run_store_get_summary (PlRunStore *self, gint64 run_id, GError **error)
{
  g_return_val_if_fail (PL_IS_RUN_STORE (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_open (self, error))
    return NULL;
  g_autoptr (GArray) key_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  GPtrArray *rows = compute_summary (self, run_id, key_ids, error);
  if (!rows)
    {
      g_prefix_error (error, "Could not summarize the metrics of run %" G_GINT64_FORMAT ": ",
                      run_id);
      return NULL;
    }
  g_ptr_array_sort (rows, summary_compare);
  return rows;
}

gboolean
pl_run_store_update_summary (PlRunStore *self, gint64 run_id, GError **error)
{
  g_return_val_if_fail (PL_IS_RUN_STORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_open (self, error))
    return FALSE;
  drain (self);

  g_autoptr (GArray) key_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GPtrArray) rows = NULL;
  g_autoptr (sqlite3_stmt) del = NULL;
  g_autoptr (sqlite3_stmt) ins = NULL;
  g_autoptr (sqlite3_stmt) upd = NULL;

  if (!exec_sql (self->path, self->db, "BEGIN IMMEDIATE", error))
    goto failed;
  if (!(rows = compute_summary (self, run_id, key_ids, error)))
    goto failed;

  del = prepare (self, "DELETE FROM run_summary WHERE run_id = ?1", error, "i", run_id);
  if (!del || step_done (self, del, error) != SQLITE_DONE)
    goto failed;

  gint64 last_step = -1;
  double best_val_acc = NAN, final_val_acc = NAN, best_val_loss = NAN, final_val_loss = NAN;
  double final_sparsity = NAN;
  for (guint i = 0; i < rows->len; i++)
    {
      const PlMetricSummary *s = g_ptr_array_index (rows, i);
      g_clear_pointer (&ins, stmt_finalize);
      ins = prepare (self,
                     "INSERT INTO run_summary (run_id, key_id, n, last_step, last_value,"
                     " best_step, best_value) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                     error, "iiiidod", run_id, g_array_index (key_ids, gint64, i), s->n,
                     s->last_step, s->last, s->best_step, s->best);
      if (!ins || step_done (self, ins, error) != SQLITE_DONE)
        goto failed;
      last_step = MAX (last_step, s->last_step);
      if (strcmp (s->key, "val/acc") == 0)
        {
          best_val_acc = s->best;
          final_val_acc = s->last;
        }
      else if (strcmp (s->key, "val/loss") == 0)
        {
          best_val_loss = s->best;
          final_val_loss = s->last;
        }
      else if (strcmp (s->key, "sparsity/total") == 0)
        final_sparsity = s->last;
    }

  upd = prepare (self,
                 "UPDATE runs SET last_step = ?2, best_val_acc = ?3, final_val_acc = ?4,"
                 " best_val_loss = ?5, final_val_loss = ?6, final_sparsity = ?7 "
                 "WHERE id = ?1",
                 error, "ioddddd", run_id, last_step, best_val_acc, final_val_acc,
                 best_val_loss, final_val_loss, final_sparsity);
  if (!upd || step_done (self, upd, error) != SQLITE_DONE)
    goto failed;
  if (sqlite3_changes (self->db) == 0)
    {
      rollback (self->path, self->db);
      return changed_run (self, run_id, error);
    }
  if (!exec_sql (self->path, self->db, "COMMIT", error))
    goto failed;
  return TRUE;

failed:
  rollback (self->path, self->db);
  g_prefix_error (error, "Could not write the summary of run %" G_GINT64_FORMAT ": ", run_id);
  return FALSE;
}

/* ---- resume (issue 6) ---------------------------------------------------------- */

gboolean
pl_run_store_rewind_run (PlRunStore *self, gint64 run_id, gint64 step, GError **error)
{
  g_return_val_if_fail (PL_IS_RUN_STORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_open (self, error))
    return FALSE;
  /* points still queued for the writer must land before they are deleted */
  drain (self);
  if (!collect_writer_error (self, error))
    return FALSE;
  g_autoptr (sqlite3_stmt) metrics = NULL;
  g_autoptr (sqlite3_stmt) checkpoints = NULL;
  if (!require_run (self, run_id, error)
      || !exec_sql (self->path, self->db, "BEGIN IMMEDIATE", error))
    goto failed;
  metrics = prepare (self, "DELETE FROM metrics WHERE run_id = ?1 AND step >= ?2", error,
                     "ii", run_id, step);
  if (!metrics || step_done (self, metrics, error) != SQLITE_DONE)
    goto failed;
  checkpoints = prepare (self,
                         "DELETE FROM checkpoints WHERE run_id = ?1"
                         " AND (step >= ?2 OR kind IN ('last', 'best'))",
                         error, "ii", run_id, step);
  if (!checkpoints || step_done (self, checkpoints, error) != SQLITE_DONE)
    goto failed;
  if (!exec_sql (self->path, self->db, "COMMIT", error))
    goto failed;
  return TRUE;

failed:
  rollback (self->path, self->db);
  g_prefix_error (error, "Could not rewind run %" G_GINT64_FORMAT " to step %" G_GINT64_FORMAT
                  ": ", run_id, step);
  return FALSE;
}
