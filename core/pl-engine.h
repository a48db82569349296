/* pl-engine.h: the run loop. One code path trains a model, whoever starts it (the
 * CLI, the window through the CLI, a test, later mpirun).
 *
 * pl_run_new() loads the data and builds the model, so a bad experiment fails
 * before anything is recorded. pl_run_execute() trains on the calling thread:
 * epochs of (batch -> forward -> backward -> [gradient reduction] -> optimizer
 * step -> metrics), evaluation, checkpoints, and an event per milestone.
 *
 * Hooks let plugins act at fixed points of every step; they are called on the
 * training thread in the order documented in docs/plugins.md. */
#pragma once

#include <glib.h>

#include "pl-dataset.h"
#include "pl-experiment.h"
#include "pl-metrics.h"
#include "pl-model.h"
#include "pl-optimizer.h"
#include "pl-plugin-selection.h"
#include "pl-run-store.h"
#include "pl-safetensors.h"

G_BEGIN_DECLS

/* Append only. */
typedef enum {
  PL_RUN_EVENT_STARTED,
  PL_RUN_EVENT_METRICS,    /* per step (thinned for long runs) */
  PL_RUN_EVENT_EPOCH,      /* after each evaluation */
  PL_RUN_EVENT_CHECKPOINT,
  PL_RUN_EVENT_PAUSED,
  PL_RUN_EVENT_RESUMED,
  PL_RUN_EVENT_FINISHED,   /* finished or stopped */
  PL_RUN_EVENT_FAILED,
  PL_RUN_EVENT_LOG,
} PlRunEventKind;

/* @json is one line of JSON (no newline) with an "event" member; valid during the
 * call only. */
typedef void (*PlRunEventFunc) (PlRun *run, PlRunEventKind kind, const char *json,
                                gpointer user_data);

/* Hook points, in the order a step meets them. Any may be NULL. A hook that fails
 * sets @error and the run fails with its message. */
typedef struct {
  const char *name;
  gboolean (*run_start)      (PlRun *run, gpointer user_data, GError **error);
  void     (*before_forward) (PlRun *run, gint64 step, gpointer user_data);
  void     (*after_backward) (PlRun *run, gint64 step, gpointer user_data);
  void     (*after_step)     (PlRun *run, gint64 step, gpointer user_data);
  gboolean (*epoch_end)      (PlRun *run, int epoch, gpointer user_data, GError **error);
  gboolean (*export)         (PlRun *run, PlSafetensorsWriter *writer, gpointer user_data,
                              GError **error);
  /* State the hook's owner holds, for a training-state checkpoint (resume):
   * tensors named @prefix + name, @prefix being "state." and the hooks' name with
   * runs of characters other than letters, digits, '-' and '_' made '.'.
   * load_state runs after run_start when a run resumes. See pl-run-state.h. */
  gboolean (*save_state)     (PlRun *run, PlSafetensorsWriter *writer, const char *prefix,
                              gpointer user_data, GError **error);
  gboolean (*load_state)     (PlRun *run, const PlSafetensors *state, const char *prefix,
                              gpointer user_data, GError **error);
} PlRunHooks;

/* The data of a run: train and validation splits, normalized with statistics of
 * the training split. */
typedef struct {
  PlDataset *train;
  PlDataset *val;
  PlNormalizer *normalizer;
} PlRunData;

/* With a dataset plugin in @sel, the plugin makes the splits. */
gboolean  pl_run_data_load  (const PlExperiment *exp, PlPluginSelection *sel,
                             PlRunData *out, GError **error);
void      pl_run_data_clear (PlRunData *data);

/* The model an experiment describes, for a dataset of this shape, default-
 * initialized from the seed (or loaded from [model] init-from). */
PlModel  *pl_model_new_for_experiment (const PlExperiment *exp, PlPluginSelection *sel,
                                       const PlDataset *like, int max_batch,
                                       GError **error);

/* Builds everything; @store may be NULL (nothing recorded, no checkpoints). The run
 * is recorded (status "queued") only when the build succeeded. */
PlRun    *pl_run_new          (PlExperiment *exp, PlRunStore *store, GError **error);
/* The same with the experiment's plugins (@sel may be NULL). */
PlRun    *pl_run_new_with_plugins (PlExperiment *exp, PlRunStore *store,
                                   PlPluginSelection *sel, GError **error);
void      pl_run_free         (PlRun *run);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PlRun, pl_run_free)

void      pl_run_set_event_func (PlRun *run, PlRunEventFunc func, gpointer user_data);
void      pl_run_add_hooks    (PlRun *run, const PlRunHooks *hooks, gpointer user_data,
                               GDestroyNotify destroy);
/* For hooks that cannot return an error: the run fails with @message after the
 * current step. */
void      pl_run_fail_soon    (PlRun *run, const char *message);
/* Where checkpoints go; default: <store dir>/checkpoints/run-<id>/. */
void      pl_run_set_checkpoint_dir (PlRun *run, const char *dir);

/* Rebuilds run @run_id of @store to continue it from its training-state checkpoint
 * @state_path (NULL: <checkpoint dir>/state.safetensors): builds as
 * pl_run_new_with_plugins() does but records nothing new, and checks the
 * checkpoint against the model (every tensor with its shape) and the stored
 * experiment. pl_run_execute() then restores the state after the run_start hooks,
 * forgets the metric points the run logged after the checkpoint's step, and
 * trains on under the same id. (transfer full) */
PlRun    *pl_run_new_resumed  (PlExperiment *exp, PlRunStore *store, PlPluginSelection *sel,
                               gint64 run_id, const char *state_path, GError **error);
/* The step a resumed run continues from, -1 for a run that starts afresh. */
gint64    pl_run_get_resume_step (PlRun *run);
/* Where the run writes its training state: <checkpoint dir>/state.safetensors,
 * NULL without a store or checkpoint dir. (transfer full) */
char     *pl_run_get_state_path (PlRun *run);

/* Trains to the end. Returns TRUE when the run finished or was stopped by the
 * user (see pl_run_get_status), FALSE with an error when it failed (diverged, a
 * hook failed, the store failed). */
gboolean  pl_run_execute      (PlRun *run, GError **error);

/* Thread-safe controls, for a reader of stdin or a signal handler's thread. */
void      pl_run_pause        (PlRun *run);
void      pl_run_resume       (PlRun *run);
void      pl_run_stop         (PlRun *run);

gint64        pl_run_get_id          (PlRun *run);
const char   *pl_run_get_status      (PlRun *run);
PlModel      *pl_run_get_model       (PlRun *run);
PlOptimizer  *pl_run_get_optimizer   (PlRun *run);
PlExperiment *pl_run_get_experiment  (PlRun *run);
PlRunStore   *pl_run_get_store       (PlRun *run);
double        pl_run_get_best_val_acc (PlRun *run);
const PlRunData *pl_run_get_data     (PlRun *run);
gint64        pl_run_get_step        (PlRun *run);
gint64        pl_run_get_total_steps (PlRun *run);
int           pl_run_get_epoch       (PlRun *run);
double        pl_run_get_lr          (PlRun *run);
/* The last logged value of a metric, NAN when none yet. */
double        pl_run_get_metric      (PlRun *run, const char *key);
/* Log a metric at the current step: it goes to the store, the next metrics event
 * and pl_run_get_metric. For plugins (sparsity/total, gate/active, ...). */
void          pl_run_log_metric      (PlRun *run, const char *key, double value);

/* Evaluates the current model on @ds in eval mode: mean loss and accuracy, and for
 * two classes the binary metrics. */
typedef struct {
  double loss;
  double acc;
  gboolean binary;
  PlBinaryMetrics bm;
} PlEvalResult;

gboolean  pl_model_evaluate   (PlModel *model, const PlDataset *ds, PlEvalResult *out,
                               GError **error);

G_END_DECLS
