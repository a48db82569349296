/* pl-live-run.h: one run started from the window, as a child process.
 *
 * A PlLiveRun owns a `paramlab-cli run EXP.ini --events` child (GSubprocess) and
 * turns its JSON-lines event stream into state: the run id, progress, metric
 * curves, the log. Nothing here trains: the window only reads the child's stdout
 * and stderr asynchronously (the main loop never waits for it) and writes pause,
 * resume and stop lines to its stdin.
 *
 * A child that ends without a "finished" or "failed" event (killed, crashed, a
 * config error) ends the run as failed, with the reason: the signal, or the exit
 * status and the last line it wrote on stderr. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
  PL_LIVE_RUN_QUEUED,
  PL_LIVE_RUN_STARTING,    /* child started, no "started" event yet */
  PL_LIVE_RUN_RUNNING,
  PL_LIVE_RUN_PAUSED,
  PL_LIVE_RUN_FINISHED,
  PL_LIVE_RUN_STOPPED,
  PL_LIVE_RUN_FAILED,
} PlLiveRunState;

#define PL_TYPE_LIVE_RUN (pl_live_run_get_type ())
G_DECLARE_FINAL_TYPE (PlLiveRun, pl_live_run, PL, LIVE_RUN, GObject)

/* (transfer full): a queued run of the experiment @experiment_text (a complete
 * .ini text), shown as @name until the child reports its own. @parent_run is the
 * run this one runs again, or 0. */
PlLiveRun     *pl_live_run_new             (const char *name,
                                            const char *experiment_text,
                                            gint64      parent_run);

/* (transfer full): a queued run that continues stored run @run_id from its
 * training-state checkpoint (`paramlab-cli resume`), under the same id.
 * @experiment_text is the run's stored experiment. */
PlLiveRun     *pl_live_run_new_resume      (const char *name,
                                            gint64      run_id,
                                            const char *experiment_text);

/* Writes the experiment to a temporary file and starts
 * `@cli_path run FILE --events [--db @db_path] [--threads @threads]`, or for a
 * resume `@cli_path resume ID --events [--db @db_path] [--threads @threads]`.
 * Returns FALSE with an error (and the run failed) when the child cannot be
 * spawned. "ended" is emitted once when the child has exited and both of its
 * output streams are read. */
gboolean       pl_live_run_start           (PlLiveRun   *self,
                                            const char  *cli_path,
                                            const char  *db_path,
                                            int          threads,
                                            GError     **error);

/* Send a command line to the child; ignored when it is not running. Stopping a
 * queued run ends it at once as stopped. */
void           pl_live_run_pause           (PlLiveRun *self);
void           pl_live_run_resume          (PlLiveRun *self);
void           pl_live_run_stop            (PlLiveRun *self);
/* Kills the child with SIGKILL (the run then ends failed). */
void           pl_live_run_force_exit      (PlLiveRun *self);

PlLiveRunState pl_live_run_get_state       (PlLiveRun *self);
/* TRUE while queued, starting, running or paused. */
gboolean       pl_live_run_is_active       (PlLiveRun *self);
/* The store's id from the "started" event; 0 before. */
gint64         pl_live_run_get_id          (PlLiveRun *self);
gint64         pl_live_run_get_parent_run  (PlLiveRun *self);
/* TRUE for a run made by pl_live_run_new_resume(). */
gboolean       pl_live_run_is_resume       (PlLiveRun *self);
/* The step the child started training at: 0, or for a resume the step of its
 * training state (known from the "started" event). */
gint64         pl_live_run_get_start_step  (PlLiveRun *self);
/* The child's pid while it runs, 0 otherwise. */
GPid           pl_live_run_get_pid         (PlLiveRun *self);
const char    *pl_live_run_get_name        (PlLiveRun *self);
const char    *pl_live_run_get_dataset     (PlLiveRun *self);
const char    *pl_live_run_get_architecture (PlLiveRun *self);
const char    *pl_live_run_get_experiment_text (PlLiveRun *self);
/* Why the run failed, or NULL. */
const char    *pl_live_run_get_error       (PlLiveRun *self);
gint64         pl_live_run_get_step        (PlLiveRun *self);
gint64         pl_live_run_get_total_steps (PlLiveRun *self);
int            pl_live_run_get_epoch       (PlLiveRun *self);
int            pl_live_run_get_epochs      (PlLiveRun *self);
gint64         pl_live_run_get_parameters  (PlLiveRun *self);
/* step / total steps in [0, 1]. */
double         pl_live_run_get_progress    (PlLiveRun *self);
/* Seconds of training so far, pauses excluded. */
double         pl_live_run_get_elapsed     (PlLiveRun *self);
/* Estimated seconds left from the pace so far, NAN when unknown. */
double         pl_live_run_get_eta         (PlLiveRun *self);
/* Unix time the child reported the start, NAN before. */
double         pl_live_run_get_started_at  (PlLiveRun *self);
/* Largest val/acc and last sparsity/total so far, NAN when none. */
double         pl_live_run_get_best_val_acc   (PlLiveRun *self);
double         pl_live_run_get_final_sparsity (PlLiveRun *self);
/* Events read from the child so far (every kind). */
guint64        pl_live_run_get_n_events    (PlLiveRun *self);

/* Metric curves, keys in order of first appearance. The arrays stay valid until
 * the next point arrives (read them in the same main-loop iteration). */
guint          pl_live_run_get_n_keys      (PlLiveRun *self);
const char    *pl_live_run_get_key         (PlLiveRun *self, guint index);
gsize          pl_live_run_get_series      (PlLiveRun     *self,
                                            const char    *key,
                                            const double **steps,
                                            const double **values);

/* The log: the child's stderr and the window's notes, one line each.
 * (transfer none) */
const char    *pl_live_run_get_log         (PlLiveRun *self);

/* "queued", "running", ... as the run store spells them (starting is "running"). */
const char    *pl_live_run_state_to_status (PlLiveRunState state);

G_END_DECLS
