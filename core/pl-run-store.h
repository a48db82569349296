/* pl-run-store.h: the SQLite run store.
 *
 * Every training run's configuration, metrics, events and checkpoints are recorded
 * in one SQLite database (docs/schema.md documents the tables for the sqlite3
 * shell). The CLI and the window read history from it.
 *
 * Threads. A PlRunStore owns two connections to the file:
 *  - the main connection, used by every function below except log_metric. It is
 *    opened SQLITE_OPEN_NOMUTEX: use it from one thread at a time (any thread, but
 *    not two at once). SQLite's own mutex would not make interleaved bind/step/
 *    reset sequences safe anyway.
 *  - the writer connection, opened NOMUTEX by a writer thread that is started by
 *    the first pl_run_store_log_metric() and used by that thread only.
 *    pl_run_store_log_metric() may be called from any thread, even while the main
 *    connection is in use elsewhere: it only appends to a buffer under a mutex.
 * The database is in WAL mode, so readers (other PlRunStores, other processes,
 * the sqlite3 shell) read while the writer writes.
 *
 * Times are unix seconds as double (REAL in SQL); a time or metric that is not
 * set reads as NAN. Ids are > 0; functions returning an id return 0 on error. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* The schema version this code writes (PRAGMA user_version). A database with a
 * larger version is refused; a smaller one is migrated on open. */
#define PL_RUN_STORE_SCHEMA_VERSION 3

/* ---- records read from the store ---------------------------------------------- */

/* One row of the run list. The strings are never NULL except experiment and error,
 * which only pl_run_store_get_run() fills (list_runs leaves them NULL; error is
 * also NULL for a run that did not fail). The summary fields are NAN (last_step
 * -1) until pl_run_store_update_summary() has been called for the run. */
typedef struct {
  gint64 id;
  char *name;
  char *status;            /* "queued", "running", "finished", "failed", "stopped",
                            * "interrupted" (its process died), "diverged" (NaN/Inf) */
  double created_at;
  double started_at;       /* first time it was set "running" */
  double finished_at;      /* last time it was set finished/failed/stopped */
  guint64 seed;
  char *dataset;
  char *architecture;
  char **tags;             /* NULL-terminated, possibly empty */
  gint64 parent_run;       /* the run this one runs again, or 0 */
  gboolean deleted;        /* soft-deleted (undoable until purged) */
  gint64 last_step;        /* largest step of any metric, -1 if none */
  double best_val_acc;     /* max of val/acc */
  double final_val_acc;    /* val/acc at its last step */
  double best_val_loss;    /* min of val/loss */
  double final_val_loss;
  double final_sparsity;   /* sparsity/total at its last step */
  char *experiment;        /* the experiment file's text */
  char *error;             /* why the run failed */
} PlRunInfo;

GType      pl_run_info_get_type (void) G_GNUC_CONST;
#define PL_TYPE_RUN_INFO (pl_run_info_get_type ())
PlRunInfo *pl_run_info_copy     (const PlRunInfo *info);
void       pl_run_info_free     (PlRunInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PlRunInfo, pl_run_info_free)

/* A plugin a run used, with its options as a JSON object text. */
typedef struct {
  char *slot;
  char *plugin_id;
  char *version;
  char *options_json;
} PlRunPlugin;

void pl_run_plugin_free (PlRunPlugin *plugin);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PlRunPlugin, pl_run_plugin_free)

/* An event of a run; seq counts 1, 2, ... per run. payload_json may be NULL. */
typedef struct {
  gint64 seq;
  double time;
  char *kind;
  char *payload_json;
} PlRunEvent;

void pl_run_event_free (PlRunEvent *event);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PlRunEvent, pl_run_event_free)

typedef struct {
  gint64 id;
  gint64 run_id;
  gint64 step;
  char *path;
  char *kind;              /* "last", "best", "export", ... */
  char *format;            /* "fp32", "int8" or "sparse" */
  gint64 size_bytes;       /* -1 if unknown */
  char *metric_key;        /* the metric a "best" checkpoint was chosen by, or NULL */
  double metric_value;     /* NAN without metric_key */
  double created_at;
} PlCheckpointInfo;

void pl_checkpoint_info_free (PlCheckpointInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PlCheckpointInfo, pl_checkpoint_info_free)

/* One metric curve of one run, in step order. steps is a GArray of gint64, values
 * and wall_times GArrays of double (values NAN where NAN was logged: SQLite stores
 * NaN as NULL). All three have the same length. */
typedef struct {
  gint64 run_id;
  char *key;
  GArray *steps;
  GArray *values;
  GArray *wall_times;
} PlSeries;

GType     pl_series_get_type (void) G_GNUC_CONST;
#define PL_TYPE_SERIES (pl_series_get_type ())
PlSeries *pl_series_copy     (const PlSeries *series);
void      pl_series_free     (PlSeries *series);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PlSeries, pl_series_free)

/* Last and best value of one metric of one run. best is the minimum for keys that
 * minimize (see pl_run_store_metric_minimizes()), the maximum otherwise; NaN
 * points count in n and may be last, but are never best (best is NAN and
 * best_step -1 when all points are NaN). */
typedef struct {
  char *key;
  gint64 n;
  gint64 last_step;
  double last;
  gint64 best_step;
  double best;
  gboolean minimize;
} PlMetricSummary;

void pl_metric_summary_free (PlMetricSummary *summary);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PlMetricSummary, pl_metric_summary_free)

/* TRUE for the run statuses the schema allows. */
gboolean pl_run_status_is_valid (const char *status);

/* TRUE when a smaller value of this metric is better: the last '/'-separated part
 * of the key starts with "loss" ("train/loss", "val/loss", "loss_kd"). */
gboolean pl_run_store_metric_minimizes (const char *key);

/* ---- the store ------------------------------------------------------------------ */

#define PL_TYPE_RUN_STORE (pl_run_store_get_type ())
G_DECLARE_FINAL_TYPE (PlRunStore, pl_run_store, PL, RUN_STORE, GObject)

/* $PARAMLAB_DB if set and not empty, else $XDG_DATA_HOME/paramlab/runs.db.
 * (transfer full) */
char       *pl_run_store_default_path (void);

/* Opens (creating it and its parent directories if needed) the run store at path
 * and migrates its schema to PL_RUN_STORE_SCHEMA_VERSION. A directory, a file that
 * is not a SQLite database or not a Paramlab one, an unreadable file or a schema
 * newer than this code gives NULL and a PL_ERROR_STORE error naming the path.
 * Then marks the runs whose process died 'interrupted' (pl_run_store_reconcile();
 * a failure there is not an error of open). Waits up to 5 s for other processes
 * that hold the database's lock, also while it converts a new file to WAL.
 * (transfer full) */
PlRunStore *pl_run_store_open     (const char *path, GError **error);

/* Flushes logged metrics, stops the writer thread and closes both connections.
 * Returns FALSE with the writer's or SQLite's error if something was lost. Later
 * calls on the store fail with an error (log_metric returns FALSE). Finalizing an
 * open store closes it too, with a warning if that fails. */
gboolean    pl_run_store_close    (PlRunStore *self, GError **error);

/* (transfer none) */
const char *pl_run_store_get_path (PlRunStore *self);

/* Sets the runs still 'queued' or 'running' whose owner (the process that created
 * the run or last set it running, recorded with it) no longer exists to
 * 'interrupted', with an error saying which process ended, an 'interrupted'
 * event and their summary. Owners on other hosts are left alone. Called by
 * pl_run_store_open() and pl_run_store_list_runs(), so callers rarely need it.
 * Returns how many runs it marked, or -1 with error. */
gint64      pl_run_store_reconcile (PlRunStore *self, GError **error);

/* ---- runs ---------------------------------------------------------------------- */

/* Records a new run, status "queued", created now. dataset and architecture may be
 * NULL (stored as ''). Returns its id, or 0 with error. */
gint64      pl_run_store_create_run   (PlRunStore *self, const char *name, guint64 seed,
                                       const char *experiment, const char *dataset,
                                       const char *architecture, GError **error);

/* Sets the status: "running" stamps started_at (the first time only) and makes
 * this process the run's owner; "finished", "failed", "stopped", "interrupted"
 * and "diverged" stamp finished_at. message is stored as the run's error
 * (NULL clears it). An unknown status is a PL_ERROR_FAILED error, an unknown run
 * PL_ERROR_NOT_FOUND. */
gboolean    pl_run_store_set_status   (PlRunStore *self, gint64 run_id, const char *status,
                                       const char *message, GError **error);
gboolean    pl_run_store_rename_run   (PlRunStore *self, gint64 run_id, const char *name,
                                       GError **error);

/* Replaces the tags. Each tag is trimmed; empty ones are dropped, duplicates kept
 * once; a tag with a ',' is an error (tags are stored comma-separated). */
gboolean    pl_run_store_set_tags     (PlRunStore *self, gint64 run_id,
                                       const char *const *tags, GError **error);

/* Marks run_id as a re-run of parent_run (0 clears it). */
gboolean    pl_run_store_set_parent_run (PlRunStore *self, gint64 run_id,
                                         gint64 parent_run, GError **error);

/* Soft delete: the run disappears from list_runs (unless include_deleted) but keeps
 * all its data until pl_run_store_purge_deleted(). */
gboolean    pl_run_store_delete_run   (PlRunStore *self, gint64 run_id, GError **error);
gboolean    pl_run_store_undelete_run (PlRunStore *self, gint64 run_id, GError **error);

/* Removes the soft-deleted runs and everything recorded for them. Returns how many
 * runs were removed, or -1 with error. If checkpoint_paths is not NULL it receives
 * the paths of their checkpoint files (every one recorded, exports included) and
 * then of their training-state files (state.safetensors, not recorded in the
 * store; those that exist, in the run's default checkpoint directory or beside
 * its last/best checkpoints), which the caller may delete: the store never
 * touches files other than its database. (transfer full) */
gint64      pl_run_store_purge_deleted (PlRunStore *self, GPtrArray **checkpoint_paths,
                                        GError **error);

/* The training state (state.safetensors) `paramlab-cli resume` would continue
 * run_id from, if one exists: in the run's default checkpoint directory or beside
 * its last/best checkpoints. NULL without error when there is none; NULL with
 * error when the store cannot be read. (transfer full) */
char       *pl_run_store_find_state_file (PlRunStore *self, gint64 run_id, GError **error);

/* Runs newest first. filter (NULL or "" for all) matches a case-insensitive
 * substring of the name, the tags or the dataset. Returns a GPtrArray of
 * PlRunInfo (without experiment and error), or NULL with error. (transfer full) */
GPtrArray  *pl_run_store_list_runs    (PlRunStore *self, const char *filter,
                                       gboolean include_deleted, GError **error);

/* One run with its experiment text and error; PL_ERROR_NOT_FOUND if there is no
 * such run (a soft-deleted run is still found). (transfer full) */
PlRunInfo  *pl_run_store_get_run      (PlRunStore *self, gint64 run_id, GError **error);

/* ---- plugins, events, checkpoints ------------------------------------------------ */

/* Records a plugin the run uses in slot. options_json must be a JSON object text
 * (NULL means "{}"); anything else is refused by the schema. */
gboolean    pl_run_store_add_plugin   (PlRunStore *self, gint64 run_id, const char *slot,
                                       const char *plugin_id, const char *version,
                                       const char *options_json, GError **error);
/* In the order they were added. (transfer full): GPtrArray of PlRunPlugin */
GPtrArray  *pl_run_store_get_run_plugins (PlRunStore *self, gint64 run_id, GError **error);

/* Appends an event stamped now; payload_json must be valid JSON or NULL. Returns
 * its sequence number in the run, or 0 with error. */
gint64      pl_run_store_add_event    (PlRunStore *self, gint64 run_id, const char *kind,
                                       const char *payload_json, GError **error);
/* In sequence order. (transfer full): GPtrArray of PlRunEvent */
GPtrArray  *pl_run_store_get_events   (PlRunStore *self, gint64 run_id, GError **error);

/* Records a checkpoint file written for the run, stamped now. format is "fp32",
 * "int8" or "sparse" (anything else is a PL_ERROR_FAILED error naming the path);
 * size_bytes -1 if unknown; metric_key may be NULL. Returns its id, or 0. */
gint64      pl_run_store_add_checkpoint (PlRunStore *self, gint64 run_id, gint64 step,
                                         const char *path, const char *kind,
                                         const char *format, gint64 size_bytes,
                                         const char *metric_key, double metric_value,
                                         GError **error);
/* By step, then in the order added. (transfer full): GPtrArray of PlCheckpointInfo */
GPtrArray  *pl_run_store_list_checkpoints (PlRunStore *self, gint64 run_id, GError **error);

/* ---- metrics ------------------------------------------------------------------- */

/* Logs value of key at step for run_id, stamped with the wall time now. Never
 * touches the disk and never waits for it: the point is appended to an in-memory
 * buffer under a mutex (no allocation except on the first call, which starts the
 * writer thread, for a key not seen before, and when a 4096-point chunk fills while
 * the writer thread is behind) and the writer thread
 * stores it within ~100 ms, in batched transactions. Logging the same (run, key,
 * step) twice keeps the last value. A point that cannot be stored (no such run,
 * disk full) is reported by the next pl_run_store_flush(). Callable from any
 * thread. Returns FALSE when the point was not accepted (store closed) or when the
 * writer has an error that no flush has collected yet. */
gboolean    pl_run_store_log_metric   (PlRunStore *self, gint64 run_id, const char *key,
                                       gint64 step, double value);

/* Blocks until every point logged (by any thread) before the call is committed to
 * the database, and returns FALSE with the writer's first error since the last
 * flush if some point was not stored (the error is then cleared). Committed means
 * visible to every reader and safe from a crash of this process; with
 * synchronous=NORMAL the last transactions may be lost on power failure. */
gboolean    pl_run_store_flush        (PlRunStore *self, GError **error);

/* Like pl_run_store_flush() without the wait: FALSE with the writer's first error
 * if it has failed since the last flush (the error is then cleared), TRUE
 * otherwise. One mutex, no disk: a training loop may call it every step to stop
 * as soon as the store cannot keep its metrics (a full disk, a file too large). */
gboolean    pl_run_store_check_writer (PlRunStore *self, GError **error);

/* Metric keys the run has points for, sorted. (transfer full) */
char      **pl_run_store_get_metric_keys (PlRunStore *self, gint64 run_id, GError **error);

/* The curve of key for run_id (empty if it has no points). Points still in the
 * logging buffer are not seen: flush first for a run this store is logging.
 * (transfer full) */
PlSeries   *pl_run_store_get_metric   (PlRunStore *self, gint64 run_id, const char *key,
                                       GError **error);

/* The curves of key for n_runs runs in one query: a GPtrArray of n_runs PlSeries,
 * in the order of run_ids (empty series for runs without points). (transfer full) */
GPtrArray  *pl_run_store_get_metrics_for_runs (PlRunStore *self, const gint64 *run_ids,
                                               guint n_runs, const char *key,
                                               GError **error);

/* Last and best value of every key of the run, computed from its points now,
 * sorted by key. (transfer full): GPtrArray of PlMetricSummary */
GPtrArray  *pl_run_store_get_summary  (PlRunStore *self, gint64 run_id, GError **error);

/* Waits for the writer to store the points logged so far (without collecting its
 * error: see pl_run_store_flush()), then writes the run's summary: the run_summary
 * rows of every key and the summary columns of runs (last_step, best/final
 * val/acc and val/loss, final sparsity/total) that list_runs returns. Call when a
 * run ends; calling it again recomputes. */
gboolean    pl_run_store_update_summary (PlRunStore *self, gint64 run_id, GError **error);

/* For a run that resumes from a training-state checkpoint of step @step: deletes
 * its metric points at steps >= @step (the resumed run logs them again) and its
 * checkpoint records at steps >= @step or of kind last or best (the resumed run
 * writes those files again when it ends). One transaction. */
gboolean    pl_run_store_rewind_run   (PlRunStore *self, gint64 run_id, gint64 step,
                                       GError **error);

G_END_DECLS
