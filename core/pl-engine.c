#include "pl-engine.h"

#include <cblas.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pl-config.h"
#include "pl-error.h"
#include "pl-file-util.h"
#include "pl-pruner.h"
#include "pl-json.h"
#include "pl-architecture.h"
#include "pl-dataset-source.h"
#include "pl-init-strategy.h"
#include "pl-ops.h"
#include "pl-run-state.h"

typedef struct {
  PlRunHooks hooks;
  gpointer user_data;
  GDestroyNotify destroy;
} HookEntry;

/* The last value of each metric key, and whether it changed since the last
 * metrics event. Entries are created on a key's first use only. */
typedef struct {
  char *key;
  double value;
  gboolean fresh;
  gint64 step;                /* of the last value */
} MetricSlot;

struct _PlRun {
  PlExperiment *exp;
  PlRunStore *store;
  gint64 id;
  char *status;
  PlRunData data;
  PlModel *model;
  PlOptimizer *opt;
  PlBatcher *batcher;
  PlSchedule schedule;
  GArray *hooks;              /* HookEntry */
  PlRunEventFunc event_func;
  gpointer event_data;
  char *checkpoint_dir;

  gint64 step;
  gint64 total_steps;
  int epoch;
  double lr;
  GHashTable *metric_index;   /* key -> index into metrics */
  GPtrArray *metrics;         /* MetricSlot* */
  GString *line;              /* reused for every event */
  gint64 event_every;         /* metrics events every this many steps */

  float *best_params;         /* copy of the parameters at the best val/acc */
  double best_val_acc;
  double best_val_loss;
  gint64 best_step;

  GMutex lock;
  GCond cond;
  gboolean paused;
  gboolean stop_requested;
  char *fail_message;         /* set by pl_run_fail_soon */
  const char *step_hook;      /* name of the step hook being called, or NULL */
  PlPluginSelection *plugins; /* not owned */

  /* resume (pl_run_new_resumed): the state to restore when execution starts */
  PlSafetensors *resume_state;
  char *resume_path;
  gint64 resume_step;         /* -1: a fresh run */
  gboolean mute_store;        /* metrics reach the slots only (resumed run_start) */
};

/* ---- data ------------------------------------------------------------------ */

void
pl_run_data_clear (PlRunData *data)
{
  g_clear_pointer (&data->train, pl_dataset_free);
  g_clear_pointer (&data->val, pl_dataset_free);
  g_clear_pointer (&data->normalizer, pl_normalizer_free);
}

gboolean
pl_run_data_load (const PlExperiment *exp, PlPluginSelection *sel, PlRunData *out,
                  GError **error)
{
  memset (out, 0, sizeof *out);
  g_autoptr (PlDataset) all = NULL;
  g_autoptr (PlDataset) val = NULL;
  GObject *source = pl_plugin_selection_get (sel, PL_SLOT_DATASET);
  if (source)
    {
      if (!pl_dataset_source_load (PL_DATASET_SOURCE (source), exp, &out->train, &out->val,
                                   error))
        return FALSE;
      if (!out->train || !out->val || out->train->n_features != out->val->n_features)
        {
          g_set_error (error, PL_ERROR, PL_ERROR_PLUGIN,
                       "dataset plugin %s returned splits of different shapes",
                       pl_plugin_selection_get_id (sel, PL_SLOT_DATASET));
          pl_run_data_clear (out);
          return FALSE;
        }
      goto normalize;
    }
  switch (exp->data.dataset)
    {
    case PL_DATASET_KIND_DIGITS:
      all = pl_dataset_load_builtin ("digits", error);
      break;
    case PL_DATASET_KIND_BREAST_CANCER:
      all = pl_dataset_load_builtin ("breast-cancer", error);
      break;
    case PL_DATASET_KIND_CSV:
      all = pl_dataset_load_csv (exp->data.train_path, exp->data.label_column, error);
      if (all && exp->data.val_path)
        val = pl_dataset_load_csv (exp->data.val_path, exp->data.label_column, error);
      break;
    case PL_DATASET_KIND_NPY:
      all = g_str_has_suffix (exp->data.train_path, ".npz")
              ? pl_dataset_load_npz (exp->data.train_path, error)
              : pl_dataset_load_npy (exp->data.train_path, NULL, error);
      if (all && exp->data.val_path)
        val = g_str_has_suffix (exp->data.val_path, ".npz")
                ? pl_dataset_load_npz (exp->data.val_path, error)
                : pl_dataset_load_npy (exp->data.val_path, NULL, error);
      break;
    default:
      g_assert_not_reached ();
    }
  if (!all || (exp->data.val_path && !val))
    return FALSE;

  if (val)
    {
      if (val->n_features != all->n_features)
        {
          g_set_error (error, PL_ERROR, PL_ERROR_DATA,
                       "%s has %zu features but the training file %s has %zu",
                       exp->data.val_path, (size_t) val->n_features, exp->data.train_path,
                       (size_t) all->n_features);
          return FALSE;
        }
      val->n_classes = all->n_classes = MAX (val->n_classes, all->n_classes);
      out->train = g_steal_pointer (&all);
      out->val = g_steal_pointer (&val);
    }
  else if (!pl_dataset_split (all, exp->data.val_fraction, exp->experiment.seed,
                              &out->train, &out->val, error))
    return FALSE;

normalize:
  out->normalizer = pl_normalizer_fit (out->train, (PlNormalize) exp->data.normalize);
  pl_normalizer_apply (out->normalizer, out->train);
  pl_normalizer_apply (out->normalizer, out->val);
  return TRUE;
}

/* ---- model ----------------------------------------------------------------- */

PlModel *
pl_model_new_for_experiment (const PlExperiment *exp, PlPluginSelection *sel,
                             const PlDataset *like, int max_batch, GError **error)
{
  PlModelSpec spec = { 0 };
  spec.in_features = (int) like->n_features;
  memcpy (spec.sample_shape, like->sample_shape, sizeof spec.sample_shape);
  spec.n_classes = MAX (like->n_classes, 2);
  spec.max_batch = max_batch;
  spec.seed = exp->experiment.seed;
  spec.activation = (PlActivation) exp->model.activation;
  spec.dropout = (float) exp->model.dropout;
  spec.mse_loss = exp->train.loss == PL_LOSS_KIND_MSE;
  spec.hooks = pl_plugin_selection_get_build_hooks (sel, &spec.n_hooks);

  PlModel *m = NULL;
  GObject *arch = pl_plugin_selection_get (sel, PL_SLOT_ARCH);
  GObject *init = pl_plugin_selection_get (sel, PL_SLOT_INIT);
  if (arch)
    m = pl_architecture_build (PL_ARCHITECTURE (arch), exp, like, &spec, error);
  else switch (exp->model.architecture)
    {
    case PL_ARCHITECTURE_KIND_MLP:
      m = pl_model_new_mlp (&spec, exp->model.hidden, (int) exp->model.n_hidden, error);
      break;
    case PL_ARCHITECTURE_KIND_CNN:
      m = pl_model_new_cnn (&spec, exp->model.channels, (int) exp->model.n_channels,
                            exp->model.kernel_size, error);
      break;
    case PL_ARCHITECTURE_KIND_ATTENTION:
      m = pl_model_new_attention (&spec, exp->model.tokens, exp->model.width,
                                  exp->model.layers, exp->model.heads, error);
      break;
    default:
      g_assert_not_reached ();
    }
  if (!m)
    return NULL;
  if (init)
    {
      if (!pl_init_strategy_init_model (PL_INIT_STRATEGY (init), m, exp->experiment.seed,
                                        error))
        {
          g_prefix_error (error, "init plugin %s: ",
                          pl_plugin_selection_get_id (sel, PL_SLOT_INIT));
          pl_model_free (m);
          return NULL;
        }
      pl_model_apply_masks (m);
    }
  else if (!arch)
    pl_model_init_default (m, exp->experiment.seed);
  if (exp->model.init_from_path
      && !(arch ? pl_architecture_load_init_from (PL_ARCHITECTURE (arch), m,
                                                  exp->model.init_from_path, error)
                : pl_model_load_safetensors (m, exp->model.init_from_path, FALSE, error)))
    {
      g_autofree char *where = pl_experiment_get_location (exp, "model", "init-from");
      g_prefix_error (error, "%s: [model] init-from: ", where);
      pl_model_free (m);
      return NULL;
    }
  if (exp->train.freeze == PL_FREEZE_BASE)
    pl_model_freeze_group (m, PL_GROUP_BASE, TRUE);
  return m;
}

/* ---- evaluation ------------------------------------------------------------ */

gboolean
pl_model_evaluate (PlModel *model, const PlDataset *ds, PlEvalResult *out, GError **error)
{
  PlGraph *g = pl_model_get_graph (model);
  const PlModelSpec *spec = pl_model_get_spec (model);
  int c = spec->n_classes, mb = pl_graph_get_max_batch (g);
  memset (out, 0, sizeof *out);
  if (ds->n_features != (gsize) spec->in_features)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_SHAPE,
                   "dataset %s has %zu features, the model expects %d", ds->name,
                   (size_t) ds->n_features, spec->in_features);
      return FALSE;
    }
  if (ds->n == 0)
    {
      out->loss = out->acc = NAN;
      return TRUE;
    }
  out->binary = c == 2;
  g_autofree float *scores = out->binary ? g_new (float, ds->n) : NULL;
  float *x = pl_model_get_input_buffer (model);
  int32_t *y = pl_model_get_label_buffer (model);
  double loss_sum = 0;
  gsize correct = 0;
  for (gsize start = 0; start < ds->n; start += mb)
    {
      int n = (int) MIN ((gsize) mb, ds->n - start);
      memcpy (x, ds->x + start * ds->n_features, sizeof (float) * n * ds->n_features);
      memcpy (y, ds->y + start, sizeof (int32_t) * n);
      if (spec->mse_loss)
        {
          float *t = pl_graph_targets (g, c);
          memset (t, 0, sizeof (float) * n * c);
          for (int i = 0; i < n; i++)
            t[i * c + y[i]] = 1.0f;
        }
      loss_sum += (double) pl_graph_forward (g, n, FALSE) * n;
      const float *probs = spec->mse_loss ? pl_model_get_logits (model)->data
                                          : pl_graph_get_probs (g);
      correct += pl_metrics_correct (probs, y, n, c);
      if (scores)
        for (int i = 0; i < n; i++)
          scores[start + i] = probs[i * 2 + 1];
    }
  out->loss = loss_sum / (double) ds->n;
  out->acc = (double) correct / (double) ds->n;
  if (scores)
    {
      g_autofree uint32_t *scratch = g_new (uint32_t, ds->n);
      pl_metrics_binary (scores, ds->y, ds->n, scratch, &out->bm);
    }
  return TRUE;
}

/* ---- run ------------------------------------------------------------------- */

static void
metric_slot_free (gpointer p)
{
  MetricSlot *s = p;
  g_free (s->key);
  g_free (s);
}

PlRun *
pl_run_new (PlExperiment *exp, PlRunStore *store, GError **error)
{
  return pl_run_new_with_plugins (exp, store, NULL, error);
}

static gboolean resume_prepare (PlRun *run, const char *state_path, GError **error);

/* @resume_id > 0: rebuild that run of @store to resume it (pl_run_new_resumed) */
static PlRun *
run_new (PlExperiment *exp, PlRunStore *store, PlPluginSelection *sel, gint64 resume_id,
         const char *state_path, GError **error)
{
  g_return_val_if_fail (exp != NULL, NULL);
  if (!pl_experiment_validate (exp, error))
    return NULL;
  g_autoptr (PlRun) run = g_new0 (PlRun, 1);
  run->exp = pl_experiment_ref (exp);
  run->store = store ? g_object_ref (store) : NULL;
  run->status = g_strdup ("queued");
  run->hooks = g_array_new (FALSE, TRUE, sizeof (HookEntry));
  run->metric_index = g_hash_table_new (g_str_hash, g_str_equal);
  run->metrics = g_ptr_array_new_with_free_func (metric_slot_free);
  run->line = g_string_sized_new (4096);
  run->best_val_acc = -1;
  run->best_val_loss = INFINITY;
  run->best_step = -1;
  run->resume_step = -1;
  g_mutex_init (&run->lock);
  g_cond_init (&run->cond);

  run->plugins = sel;
  if (!pl_run_data_load (exp, sel, &run->data, error))
    return NULL;
  if (run->data.train->n == 0)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_DATA, "the training split is empty");
      return NULL;
    }
  int batch = (int) MIN ((gsize) exp->train.batch_size, run->data.train->n);
  run->model = pl_model_new_for_experiment (exp, sel, run->data.train, batch, error);
  if (!run->model)
    return NULL;
  if (run->data.train->n_classes > pl_model_get_spec (run->model)->n_classes)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_DATA, "labels exceed the model's classes");
      return NULL;
    }

  PlOptimizerConfig oc = { 0 };
  oc.algorithm = exp->train.optimizer == PL_OPTIMIZER_KIND_SGD ? PL_OPTIMIZER_SGD
                 : exp->train.optimizer == PL_OPTIMIZER_KIND_ADAM ? PL_OPTIMIZER_ADAM
                                                                  : PL_OPTIMIZER_ADAMW;
  oc.lr = exp->train.lr;
  oc.momentum = exp->train.momentum;
  oc.nesterov = exp->train.nesterov;
  oc.weight_decay = exp->train.weight_decay;
  oc.beta1 = exp->train.beta1;
  oc.beta2 = exp->train.beta2;
  oc.eps = exp->train.eps;
  run->opt = pl_optimizer_new (&oc, run->model, error);
  if (!run->opt)
    return NULL;

  run->batcher = pl_batcher_new (run->data.train, batch, exp->data.shuffle,
                                 exp->experiment.seed);
  gint64 per_epoch = pl_batcher_n_batches (run->batcher);
  run->total_steps = per_epoch * exp->train.epochs;
  if (exp->train.max_steps > 0)
    run->total_steps = MIN (run->total_steps, exp->train.max_steps);
  run->event_every = MAX (1, run->total_steps / 2000);

  run->schedule.kind = exp->train.schedule == PL_SCHEDULE_KIND_STEP     ? PL_SCHEDULE_STEP
                       : exp->train.schedule == PL_SCHEDULE_KIND_COSINE ? PL_SCHEDULE_COSINE
                                                                        : PL_SCHEDULE_CONSTANT;
  run->schedule.base_lr = exp->train.lr;
  run->schedule.step_size = exp->train.step_size;
  run->schedule.gamma = exp->train.gamma;
  run->schedule.warmup_steps = exp->train.warmup_steps;
  run->schedule.total_steps = run->total_steps;
  run->schedule.steps_per_epoch = per_epoch;
  run->lr = pl_schedule_lr (&run->schedule, 0);

  run->best_params = g_new (float, pl_model_get_n_floats (run->model));

  if (resume_id > 0)
    {
      run->id = resume_id;
      if (!resume_prepare (run, state_path, error))
        return NULL;
    }
  else if (store)
    {
      g_autofree char *text = pl_experiment_to_text (exp);
      const char *dataset = pl_experiment_get_raw (exp, "data", "dataset");
      const char *arch = pl_experiment_get_raw (exp, "model", "architecture");
      run->id = pl_run_store_create_run (store, exp->experiment.name,
                                         exp->experiment.seed, text, dataset, arch, error);
      if (run->id <= 0)
        return NULL;
    }
  if (sel && !pl_plugin_selection_attach (sel, run, error))
    {
      if (store && resume_id <= 0)
        pl_run_store_set_status (store, run->id, "failed", (*error)->message, NULL);
      return NULL;
    }
  return g_steal_pointer (&run);
}

PlRun *
pl_run_new_with_plugins (PlExperiment *exp, PlRunStore *store, PlPluginSelection *sel,
                         GError **error)
{
  return run_new (exp, store, sel, 0, NULL, error);
}

PlRun *
pl_run_new_resumed (PlExperiment *exp, PlRunStore *store, PlPluginSelection *sel,
                    gint64 run_id, const char *state_path, GError **error)
{
  g_return_val_if_fail (PL_IS_RUN_STORE (store), NULL);
  g_return_val_if_fail (run_id > 0, NULL);
  return run_new (exp, store, sel, run_id, state_path, error);
}

void
pl_run_free (PlRun *run)
{
  if (!run)
    return;
  g_clear_pointer (&run->exp, pl_experiment_unref);
  g_clear_object (&run->store);
  g_free (run->status);
  pl_run_data_clear (&run->data);
  pl_model_free (run->model);
  pl_optimizer_free (run->opt);
  pl_batcher_free (run->batcher);
  for (guint i = 0; i < run->hooks->len; i++)
    {
      HookEntry *h = &g_array_index (run->hooks, HookEntry, i);
      if (h->destroy)
        h->destroy (h->user_data);
    }
  g_array_unref (run->hooks);
  g_free (run->fail_message);
  g_hash_table_unref (run->metric_index);
  g_ptr_array_unref (run->metrics);
  g_string_free (run->line, TRUE);
  g_free (run->best_params);
  g_free (run->checkpoint_dir);
  g_clear_pointer (&run->resume_state, pl_safetensors_free);
  g_free (run->resume_path);
  g_mutex_clear (&run->lock);
  g_cond_clear (&run->cond);
  g_free (run);
}

void
pl_run_set_event_func (PlRun *run, PlRunEventFunc func, gpointer user_data)
{
  run->event_func = func;
  run->event_data = user_data;
}

void
pl_run_add_hooks (PlRun *run, const PlRunHooks *hooks, gpointer user_data,
                  GDestroyNotify destroy)
{
  HookEntry e = { *hooks, user_data, destroy };
  g_array_append_val (run->hooks, e);
}

void
pl_run_fail_soon (PlRun *run, const char *message)
{
  /* from a step hook: the message says whose (e.g. "init plugin x: ...") */
  if (!run->fail_message)
    run->fail_message = run->step_hook ? g_strdup_printf ("%s: %s", run->step_hook, message)
                                       : g_strdup (message);
}

PlRunStore *
pl_run_get_store (PlRun *run)
{
  return run->store;
}

double
pl_run_get_best_val_acc (PlRun *run)
{
  return run->best_val_acc < 0 ? NAN : run->best_val_acc;
}

void
pl_run_set_checkpoint_dir (PlRun *run, const char *dir)
{
  g_free (run->checkpoint_dir);
  run->checkpoint_dir = g_strdup (dir);
}

gint64 pl_run_get_id (PlRun *run) { return run->id; }
const char *pl_run_get_status (PlRun *run) { return run->status; }
PlModel *pl_run_get_model (PlRun *run) { return run->model; }
PlOptimizer *pl_run_get_optimizer (PlRun *run) { return run->opt; }
PlExperiment *pl_run_get_experiment (PlRun *run) { return run->exp; }
const PlRunData *pl_run_get_data (PlRun *run) { return &run->data; }
gint64 pl_run_get_step (PlRun *run) { return run->step; }
gint64 pl_run_get_total_steps (PlRun *run) { return run->total_steps; }
int pl_run_get_epoch (PlRun *run) { return run->epoch; }
double pl_run_get_lr (PlRun *run) { return run->lr; }

void
pl_run_pause (PlRun *run)
{
  g_mutex_lock (&run->lock);
  run->paused = TRUE;
  g_mutex_unlock (&run->lock);
}

void
pl_run_resume (PlRun *run)
{
  g_mutex_lock (&run->lock);
  run->paused = FALSE;
  g_cond_broadcast (&run->cond);
  g_mutex_unlock (&run->lock);
}

void
pl_run_stop (PlRun *run)
{
  g_mutex_lock (&run->lock);
  run->stop_requested = TRUE;
  run->paused = FALSE;
  g_cond_broadcast (&run->cond);
  g_mutex_unlock (&run->lock);
}

double
pl_run_get_metric (PlRun *run, const char *key)
{
  gpointer idx;
  if (!g_hash_table_lookup_extended (run->metric_index, key, NULL, &idx))
    return NAN;
  return ((MetricSlot *) g_ptr_array_index (run->metrics, GPOINTER_TO_UINT (idx)))->value;
}

void
pl_run_log_metric (PlRun *run, const char *key, double value)
{
  gpointer idx;
  MetricSlot *slot;
  if (g_hash_table_lookup_extended (run->metric_index, key, NULL, &idx))
    slot = g_ptr_array_index (run->metrics, GPOINTER_TO_UINT (idx));
  else
    {
      slot = g_new0 (MetricSlot, 1);
      slot->key = g_strdup (key);
      g_hash_table_insert (run->metric_index, slot->key,
                           GUINT_TO_POINTER (run->metrics->len));
      g_ptr_array_add (run->metrics, slot);
    }
  slot->value = value;
  slot->fresh = TRUE;
  slot->step = run->step;
  if (run->store && !run->mute_store)
    pl_run_store_log_metric (run->store, run->id, key, run->step, value);
}

/* ---- events ---------------------------------------------------------------- */

static void
emit (PlRun *run, PlRunEventKind kind)
{
  if (run->event_func)
    run->event_func (run, kind, run->line->str, run->event_data);
}

static void
line_begin (PlRun *run, const char *event)
{
  char buf[128];
  g_string_truncate (run->line, 0);
  g_string_append (run->line, "{\"event\":");
  pl_json_append_string (run->line, event);
  snprintf (buf, sizeof buf, ",\"run\":%" G_GINT64_FORMAT ",\"step\":%" G_GINT64_FORMAT
            ",\"epoch\":%d", run->id, run->step, run->epoch);
  g_string_append (run->line, buf);
}

static void
line_double (PlRun *run, const char *key, double v)
{
  g_string_append_c (run->line, ',');
  pl_json_append_string (run->line, key);
  g_string_append_c (run->line, ':');
  pl_json_append_double (run->line, v);
}

/* "values": {...} with the metrics updated since the last such event */
static void
line_fresh_metrics (PlRun *run)
{
  g_string_append (run->line, ",\"values\":{");
  gboolean first = TRUE;
  for (guint i = 0; i < run->metrics->len; i++)
    {
      MetricSlot *s = g_ptr_array_index (run->metrics, i);
      if (!s->fresh)
        continue;
      s->fresh = FALSE;
      if (!first)
        g_string_append_c (run->line, ',');
      first = FALSE;
      pl_json_append_string (run->line, s->key);
      g_string_append_c (run->line, ':');
      pl_json_append_double (run->line, s->value);
    }
  g_string_append_c (run->line, '}');
}

static void
record_event (PlRun *run, const char *kind)
{
  if (run->store)
    {
      g_autoptr (GError) error = NULL;
      if (!pl_run_store_add_event (run->store, run->id, kind, run->line->str, &error))
        g_warning ("run %" G_GINT64_FORMAT ": could not record event: %s", run->id,
                   error->message);
    }
}

static void
set_status (PlRun *run, const char *status, const char *message)
{
  g_free (run->status);
  run->status = g_strdup (status);
  if (run->store)
    {
      g_autoptr (GError) error = NULL;
      if (!pl_run_store_set_status (run->store, run->id, status, message, &error))
        g_warning ("run %" G_GINT64_FORMAT ": could not record status %s: %s", run->id,
                   status, error->message);
    }
}

/* ---- the loop -------------------------------------------------------------- */

static gboolean
evaluate (PlRun *run, GError **error)
{
  PlEvalResult r;
  if (!pl_model_evaluate (run->model, run->data.val, &r, error))
    return FALSE;
  pl_run_log_metric (run, "val/loss", r.loss);
  pl_run_log_metric (run, "val/acc", r.acc);
  /* every run, pruned or dense, has a sparsity curve: the same measure the
   * pruner reports, so a point it logged at this step is rewritten unchanged */
  pl_run_log_metric (run, "sparsity/total", pl_model_prunable_sparsity (run->model));
  if (r.binary)
    {
      pl_run_log_metric (run, "val/precision", r.bm.precision);
      pl_run_log_metric (run, "val/recall", r.bm.recall);
      pl_run_log_metric (run, "val/f1", r.bm.f1);
      if (!isnan (r.bm.roc_auc))
        pl_run_log_metric (run, "val/roc_auc", r.bm.roc_auc);
      if (!isnan (r.bm.pr_auc))
        pl_run_log_metric (run, "val/pr_auc", r.bm.pr_auc);
    }
  if (r.acc > run->best_val_acc
      || (r.acc == run->best_val_acc && r.loss < run->best_val_loss))
    {
      run->best_val_acc = r.acc;
      run->best_val_loss = r.loss;
      run->best_step = run->step;
      memcpy (run->best_params, pl_model_get_params (run->model),
              sizeof (float) * pl_model_get_n_floats (run->model));
    }
  line_begin (run, "epoch");
  line_fresh_metrics (run);
  g_string_append_c (run->line, '}');
  emit (run, PL_RUN_EVENT_EPOCH);
  return TRUE;
}

/* Blocks while paused; returns TRUE when a stop was requested. */
static gboolean
wait_if_paused (PlRun *run)
{
  g_mutex_lock (&run->lock);
  if (run->paused)
    {
      g_mutex_unlock (&run->lock);
      line_begin (run, "paused");
      g_string_append_c (run->line, '}');
      emit (run, PL_RUN_EVENT_PAUSED);
      record_event (run, "paused");
      g_mutex_lock (&run->lock);
      while (run->paused && !run->stop_requested)
        g_cond_wait (&run->cond, &run->lock);
      gboolean stop = run->stop_requested;
      g_mutex_unlock (&run->lock);
      if (!stop)
        {
          line_begin (run, "resumed");
          g_string_append_c (run->line, '}');
          emit (run, PL_RUN_EVENT_RESUMED);
          record_event (run, "resumed");
        }
      return stop;
    }
  gboolean stop = run->stop_requested;
  g_mutex_unlock (&run->lock);
  return stop;
}

/* Data-parallel training reduces gradients across processes here (an MPI
 * allreduce, averaged by the number of ranks). With one process it is the
 * identity. */
static void
reduce_gradients (PlRun *run)
{
}

static char *
checkpoint_dir (PlRun *run)
{
  if (run->checkpoint_dir)
    return g_strdup (run->checkpoint_dir);
  if (!run->store)
    return NULL;
  g_autofree char *db_dir = g_path_get_dirname (pl_run_store_get_path (run->store));
  g_autofree char *leaf = g_strdup_printf ("run-%" G_GINT64_FORMAT, run->id);
  return g_build_filename (db_dir, "checkpoints", leaf, NULL);
}

static GHashTable *
checkpoint_metadata (PlRun *run, gint64 step)
{
  GHashTable *md = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  g_hash_table_insert (md, "paramlab.version", g_strdup (PL_VERSION));
  g_hash_table_insert (md, "paramlab.run", g_strdup_printf ("%" G_GINT64_FORMAT, run->id));
  g_hash_table_insert (md, "paramlab.step", g_strdup_printf ("%" G_GINT64_FORMAT, step));
  g_hash_table_insert (md, "paramlab.seed",
                       g_strdup_printf ("%" G_GUINT64_FORMAT, run->exp->experiment.seed));
  g_hash_table_insert (md, "paramlab.experiment", pl_experiment_to_text (run->exp));
  g_hash_table_insert (md, "paramlab.architecture",
                       g_strdup (pl_model_get_architecture (run->model)));
  /* the normalization the model expects on its inputs */
  const PlNormalizer *norm = run->data.normalizer;
  GString *mean = g_string_new (NULL), *scale = g_string_new (NULL);
  for (gsize i = 0; i < pl_normalizer_get_n_features (norm); i++)
    {
      g_string_append_printf (mean, "%s%.9g", i ? "," : "", pl_normalizer_get_mean (norm)[i]);
      g_string_append_printf (scale, "%s%.9g", i ? "," : "",
                              pl_normalizer_get_scale (norm)[i]);
    }
  g_hash_table_insert (md, "paramlab.normalize",
                       g_strdup (pl_normalize_to_string (pl_normalizer_get_kind (norm))));
  g_hash_table_insert (md, "paramlab.normalize.offset", g_string_free (mean, FALSE));
  g_hash_table_insert (md, "paramlab.normalize.scale", g_string_free (scale, FALSE));
  return md;
}

static void emit_checkpoint (PlRun *run, const char *kind, const char *format,
                             const char *path);

/* Plugins with an export hook (a quantizer) write their form of the model into
 * <kind>-int8.safetensors beside the fp32 checkpoint. */
static gboolean
write_export_checkpoint (PlRun *run, const char *dir, const char *kind, gint64 step,
                         GHashTable *md, GError **error)
{
  g_autoptr (PlSafetensorsWriter) w = NULL;
  for (guint i = 0; i < run->hooks->len; i++)
    {
      HookEntry *h = &g_array_index (run->hooks, HookEntry, i);
      if (!h->hooks.export)
        continue;
      if (!w)
        w = pl_safetensors_writer_new ();
      if (!h->hooks.export (run, w, h->user_data, error))
        {
          g_prefix_error (error, "%s: ", h->hooks.name);
          return FALSE;
        }
    }
  if (!w)
    return TRUE;
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, md);
  while (g_hash_table_iter_next (&it, &k, &v))
    pl_safetensors_writer_set_metadata (w, k, v);
  pl_safetensors_writer_set_metadata (w, "paramlab.format", "int8");
  g_autofree char *leaf = g_strdup_printf ("%s-int8.safetensors", kind);
  g_autofree char *path = g_build_filename (dir, leaf, NULL);
  if (!pl_safetensors_writer_write (w, path, error))
    return FALSE;
  GStatBuf st;
  gint64 size = g_stat (path, &st) == 0 ? (gint64) st.st_size : -1;
  double acc = pl_run_get_metric (run, "val/acc_int8");
  if (run->store
      && !pl_run_store_add_checkpoint (run->store, run->id, step, path, kind, "int8", size,
                                       isnan (acc) ? NULL : "val/acc_int8", acc, error))
    return FALSE;
  emit_checkpoint (run, kind, "int8", path);
  return TRUE;
}

static gboolean
write_checkpoint (PlRun *run, const char *kind, gint64 step, double val_acc,
                  GError **error)
{
  g_autofree char *dir = checkpoint_dir (run);
  if (!dir)
    return TRUE;
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_IO, "could not create %s: %s", dir,
                   g_strerror (errno));
      return FALSE;
    }
  g_autofree char *leaf = g_strdup_printf ("%s.safetensors", kind);
  g_autofree char *path = g_build_filename (dir, leaf, NULL);
  g_autoptr (GHashTable) md = checkpoint_metadata (run, step);
  if (!pl_model_save_safetensors (run->model, path, md, error))
    return FALSE;
  GStatBuf st;
  gint64 size = g_stat (path, &st) == 0 ? (gint64) st.st_size : -1;
  if (run->store
      && !pl_run_store_add_checkpoint (run->store, run->id, step, path, kind, "fp32", size,
                                       "val/acc", val_acc, error))
    return FALSE;
  emit_checkpoint (run, kind, "fp32", path);
  return write_export_checkpoint (run, dir, kind, step, md, error);
}

static void
emit_checkpoint (PlRun *run, const char *kind, const char *format, const char *path)
{
  line_begin (run, "checkpoint");
  g_string_append (run->line, ",\"kind\":");
  pl_json_append_string (run->line, kind);
  g_string_append (run->line, ",\"format\":");
  pl_json_append_string (run->line, format);
  g_string_append (run->line, ",\"path\":");
  pl_json_append_string (run->line, path);
  g_string_append_c (run->line, '}');
  emit (run, PL_RUN_EVENT_CHECKPOINT);
  record_event (run, "checkpoint");
}

static gboolean
write_checkpoints (PlRun *run, GError **error)
{
  double last_acc = pl_run_get_metric (run, "val/acc");
  if (!write_checkpoint (run, "last", run->step, last_acc, error))
    return FALSE;
  if (run->best_step >= 0)
    {
      /* swap the best parameters in, write, swap back */
      size_t n = pl_model_get_n_floats (run->model);
      float *params = pl_model_get_params (run->model);
      g_autofree float *current = g_memdup2 (params, n * sizeof (float));
      memcpy (params, run->best_params, n * sizeof (float));
      gboolean ok = write_checkpoint (run, "best", run->best_step, run->best_val_acc, error);
      memcpy (params, current, n * sizeof (float));
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

static gboolean
run_hooks_start (PlRun *run, GError **error)
{
  for (guint i = 0; i < run->hooks->len; i++)
    {
      HookEntry *h = &g_array_index (run->hooks, HookEntry, i);
      if (h->hooks.run_start && !h->hooks.run_start (run, h->user_data, error))
        {
          g_prefix_error (error, "%s: ", h->hooks.name);
          return FALSE;
        }
    }
  return TRUE;
}

/* @step is the 0-based index of the step being taken */
#define CALL_STEP_HOOK(run, member, step)                                       \
  for (guint _i = 0; _i < (run)->hooks->len; _i++)                              \
    {                                                                           \
      HookEntry *_h = &g_array_index ((run)->hooks, HookEntry, _i);             \
      if (_h->hooks.member)                                                     \
        {                                                                       \
          (run)->step_hook = _h->hooks.name;                                    \
          _h->hooks.member ((run), (step), _h->user_data);                      \
          (run)->step_hook = NULL;                                              \
        }                                                                       \
    }

static gboolean
run_hooks_epoch_end (PlRun *run, GError **error)
{
  for (guint i = 0; i < run->hooks->len; i++)
    {
      HookEntry *h = &g_array_index (run->hooks, HookEntry, i);
      if (h->hooks.epoch_end && !h->hooks.epoch_end (run, run->epoch, h->user_data, error))
        {
          g_prefix_error (error, "%s: ", h->hooks.name);
          return FALSE;
        }
    }
  return TRUE;
}

static void
emit_started (PlRun *run)
{
  char buf[256];
  line_begin (run, "started");
  g_string_append (run->line, ",\"name\":");
  pl_json_append_string (run->line, run->exp->experiment.name);
  snprintf (buf, sizeof buf,
            ",\"epochs\":%d,\"steps_per_epoch\":%d,\"total_steps\":%" G_GINT64_FORMAT
            ",\"parameters\":%zu,\"train_rows\":%zu,\"val_rows\":%zu",
            run->exp->train.epochs, pl_batcher_n_batches (run->batcher), run->total_steps,
            pl_model_count_effective (run->model), (size_t) run->data.train->n,
            (size_t) run->data.val->n);
  g_string_append (run->line, buf);
  g_string_append (run->line, ",\"architecture\":");
  pl_json_append_string (run->line, pl_model_get_architecture (run->model));
  g_string_append (run->line, ",\"dataset\":");
  pl_json_append_string (run->line, pl_experiment_get_raw (run->exp, "data", "dataset"));
  g_string_append_c (run->line, '}');
  emit (run, PL_RUN_EVENT_STARTED);
  record_event (run, "started");
}

/* A run killed while it wrote a checkpoint leaves a hidden temporary file in its
 * checkpoint directory (pl-file-util.h); the next atomic write into that directory
 * removes it. A run interrupted for good never writes there again, so each run
 * also sweeps the directories of the runs beside its own (default layout only):
 * one readdir per run directory, only temporary names of dead processes. */
static void
sweep_stale_temps (PlRun *run)
{
  g_autofree char *dir = run->checkpoint_dir ? NULL : checkpoint_dir (run);
  if (!dir)
    return;
  g_autofree char *parent = g_path_get_dirname (dir);
  g_autoptr (GDir) d = g_dir_open (parent, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name (d)))
    if (g_str_has_prefix (name, "run-"))
      {
        g_autofree char *sub = g_build_filename (parent, name, NULL);
        pl_file_remove_stale_temps (sub);
      }
}

/* Divergence checks (issue 6). The loss is checked at every step: one isfinite ().
 * The parameters are checked every PL_PARAM_CHECK_EVERY steps and at the end of
 * each epoch: a pass over all of them costs about 1 ns a float, a few percent of
 * a small model's step, and a NaN that reaches a parameter reaches the loss of
 * the next step anyway; the parameter check names the tensor for the rarer case
 * (an optimizer or plugin writing NaN/Inf). docs/reliability.md has the figures. */
#define PL_PARAM_CHECK_EVERY 16

/* FALSE with a PL_ERROR_DIVERGED error naming the first parameter tensor holding
 * a NaN or Inf, at step @step. */
static gboolean
check_params_finite (PlRun *run, gint64 step, GError **error)
{
  PlModel *m = run->model;
  if (pl_all_finite (pl_model_get_params (m), pl_model_get_n_floats (m)))
    return TRUE;
  for (guint i = 0; i < pl_model_get_n_params (m); i++)
    {
      PlParam *p = pl_model_get_param (m, i);
      for (size_t j = 0; j < p->numel; j++)
        if (!isfinite (p->data[j]))
          {
            g_set_error (error, PL_ERROR, PL_ERROR_DIVERGED,
                         "step %" G_GINT64_FORMAT ": parameter '%s' has %s (element %zu); "
                         "the run diverged, try a lower [train] lr (now %g)", step, p->name,
                         isnan (p->data[j]) ? "NaN" : "Inf", j, run->lr);
            return FALSE;
          }
    }
  /* outside every tensor: padding of the block */
  g_set_error (error, PL_ERROR, PL_ERROR_DIVERGED,
               "step %" G_GINT64_FORMAT ": the parameter block has NaN or Inf; the run "
               "diverged, try a lower [train] lr (now %g)", step, run->lr);
  return FALSE;
}

/* A run whose loss or parameters became NaN/Inf ends "diverged", any other
 * failure "failed"; the event says which. */
static gboolean
fail (PlRun *run, GError *error_in, GError **error)
{
  const char *status = g_error_matches (error_in, PL_ERROR, PL_ERROR_DIVERGED) ? "diverged"
                                                                              : "failed";
  set_status (run, status, error_in->message);
  line_begin (run, "failed");
  g_string_append (run->line, ",\"status\":");
  pl_json_append_string (run->line, status);
  g_string_append (run->line, ",\"error\":");
  pl_json_append_string (run->line, error_in->message);
  g_string_append_c (run->line, '}');
  emit (run, PL_RUN_EVENT_FAILED);
  record_event (run, "failed");
  if (run->store)
    pl_run_store_flush (run->store, NULL);
  g_propagate_error (error, error_in);
  return FALSE;
}

/* ---- training state (resume) ----------------------------------------------- */

/* Where in the data a state continues, and the running sums of the epoch it is
 * in (all zero at an epoch's start). */
typedef struct {
  int epoch;        /* the epoch to train next */
  int batch;        /* batches of it already trained */
  gint64 samples;
  gint64 correct;
  double loss;
} DataCursor;

#define STATE_LEAF "state.safetensors"
#define STATE_MASK_PREFIX "state.mask."

char *
pl_run_get_state_path (PlRun *run)
{
  g_return_val_if_fail (run != NULL, NULL);
  g_autofree char *dir = checkpoint_dir (run);
  return dir ? g_build_filename (dir, STATE_LEAF, NULL) : NULL;
}

gint64
pl_run_get_resume_step (PlRun *run)
{
  g_return_val_if_fail (run != NULL, -1);
  return run->resume_step;
}

/* "state.<hook name>.", the hook's name made a dotted tensor-name part: runs of
 * characters other than letters, digits, '-' and '_' become one '.' ("gate plugin
 * sigmoid-gate" -> "state.gate.plugin.sigmoid-gate."). (transfer full) */
static char *
hook_state_prefix (const HookEntry *h)
{
  GString *p = g_string_new ("state.");
  gboolean dot = FALSE;
  for (const char *c = h->hooks.name ? h->hooks.name : "hook"; *c; c++)
    {
      if (g_ascii_isalnum (*c) || *c == '-' || *c == '_')
        {
          if (dot)
            g_string_append_c (p, '.');
          g_string_append_c (p, *c);
          dot = FALSE;
        }
      else
        dot = p->len > strlen ("state.");
    }
  g_string_append_c (p, '.');
  return g_string_free (p, FALSE);
}

static void
md_set_int (PlSafetensorsWriter *w, const char *key, gint64 v)
{
  char buf[32];
  g_snprintf (buf, sizeof buf, "%" G_GINT64_FORMAT, v);
  pl_safetensors_writer_set_metadata (w, key, buf);
}

static gboolean
md_get_int (const PlSafetensors *st, const char *key, gint64 *out, GError **error)
{
  const char *text = pl_safetensors_get_metadata (st, key);
  char *end = NULL;
  gint64 v = text ? g_ascii_strtoll (text, &end, 10) : 0;
  if (!text || !text[0] || *end)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "metadata \"%s\" is %s%s%s, expected an integer", key, text ? "\"" : "",
                   text ? text : "missing", text ? "\"" : "");
      return FALSE;
    }
  *out = v;
  return TRUE;
}

static gboolean
param_add (PlSafetensorsWriter *w, const char *name, const PlParam *p, const float *data,
           GError **error)
{
  gint64 shape[PL_MAX_DIMS];
  for (int d = 0; d < p->ndim; d++)
    shape[d] = p->shape[d];
  return pl_safetensors_writer_add (w, name, PL_DTYPE_F32, shape, p->ndim, data,
                                    p->numel * sizeof (float), error);
}

/* Writes what the run needs to continue at @cur into
 * <checkpoint dir>/state.safetensors, atomically (docs/checkpoints.md). */
static gboolean
write_state (PlRun *run, const DataCursor *cur, GError **error)
{
  g_autofree char *dir = checkpoint_dir (run);
  if (!dir)
    return TRUE;
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_IO, "could not create %s: %s", dir,
                   g_strerror (errno));
      return FALSE;
    }
  /* every point up to this step is committed before a state claims the step, so
   * that a crash after the rename loses no point resume would not log again */
  if (run->store && !pl_run_store_flush (run->store, error))
    return FALSE;
  g_autofree char *path = g_build_filename (dir, STATE_LEAF, NULL);
  g_autoptr (PlSafetensorsWriter) w = pl_safetensors_writer_new ();
  PlModel *m = run->model;
  for (guint i = 0; i < pl_model_get_n_params (m); i++)
    {
      PlParam *p = pl_model_get_param (m, i);
      g_autofree char *mask_name = g_strconcat (STATE_MASK_PREFIX, p->name, NULL);
      if (!param_add (w, p->name, p, p->data, error)
          || (p->mask && !param_add (w, mask_name, p, p->mask, error)))
        return FALSE;
    }
  if (!pl_optimizer_save_state (run->opt, w, "state.optimizer.", error)
      || (run->best_step >= 0
          && !pl_state_write_f32 (w, "state.", "best.params", run->best_params,
                                  pl_model_get_n_floats (m), error)))
    return FALSE;
  /* doubles as tensors (exact); integers as metadata */
  double f64[4] = { run->lr, run->best_val_acc, run->best_val_loss, cur->loss };
  if (!pl_state_write_f64 (w, "state.", "run", f64, G_N_ELEMENTS (f64), error))
    return FALSE;
  const PlRng *rng = pl_graph_get_rng (pl_model_get_graph (m));
  guint64 spare_bits;
  memcpy (&spare_bits, &rng->spare, sizeof spare_bits);
  g_autofree char *rng_text =
    g_strdup_printf ("%016" G_GINT64_MODIFIER "x %016" G_GINT64_MODIFIER "x %016"
                     G_GINT64_MODIFIER "x %016" G_GINT64_MODIFIER "x %d %016"
                     G_GINT64_MODIFIER "x", (guint64) rng->s[0], (guint64) rng->s[1],
                     (guint64) rng->s[2], (guint64) rng->s[3], rng->has_spare ? 1 : 0,
                     spare_bits);
  /* the last value of every metric and the step it was logged at */
  guint nk = run->metrics->len;
  g_autofree double *values = g_new (double, MAX (nk, 1));
  g_autofree gint64 *steps = g_new (gint64, MAX (nk, 1));
  g_autoptr (GString) keys = g_string_new (NULL);
  for (guint i = 0; i < nk; i++)
    {
      MetricSlot *slot = g_ptr_array_index (run->metrics, i);
      values[i] = slot->value;
      steps[i] = slot->step;
      g_string_append_printf (keys, "%s%s", i ? "\n" : "", slot->key);
    }
  if (!pl_state_write_f64 (w, "state.", "metrics.values", values, nk, error)
      || !pl_state_write_i64 (w, "state.", "metrics.steps", steps, nk, error))
    return FALSE;
  for (guint i = 0; i < run->hooks->len; i++)
    {
      HookEntry *h = &g_array_index (run->hooks, HookEntry, i);
      g_autofree char *prefix = hook_state_prefix (h);
      if (h->hooks.save_state && !h->hooks.save_state (run, w, prefix, h->user_data, error))
        {
          g_prefix_error (error, "%s: saving the training state: ", h->hooks.name);
          return FALSE;
        }
    }

  g_autoptr (GHashTable) md = checkpoint_metadata (run, run->step);
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, md);
  while (g_hash_table_iter_next (&it, &k, &v))
    pl_safetensors_writer_set_metadata (w, k, v);
  pl_safetensors_writer_set_metadata (w, "paramlab.format", "state");
  md_set_int (w, "paramlab.state.epoch", cur->epoch);
  md_set_int (w, "paramlab.state.batch", cur->batch);
  md_set_int (w, "paramlab.state.epoch_samples", cur->samples);
  md_set_int (w, "paramlab.state.epoch_correct", cur->correct);
  md_set_int (w, "paramlab.state.best_step", run->best_step);
  pl_safetensors_writer_set_metadata (w, "paramlab.state.rng.dropout", rng_text);
  pl_safetensors_writer_set_metadata (w, "paramlab.state.metric_keys", keys->str);
  return pl_safetensors_writer_write (w, path, error);
}

static MetricSlot *
metric_slot (PlRun *run, const char *key)
{
  gpointer idx;
  if (g_hash_table_lookup_extended (run->metric_index, key, NULL, &idx))
    return g_ptr_array_index (run->metrics, GPOINTER_TO_UINT (idx));
  MetricSlot *slot = g_new0 (MetricSlot, 1);
  slot->key = g_strdup (key);
  g_hash_table_insert (run->metric_index, slot->key, GUINT_TO_POINTER (run->metrics->len));
  g_ptr_array_add (run->metrics, slot);
  return slot;
}

static gboolean
parse_rng (const char *text, PlRng *rng)
{
  if (!text)
    return FALSE;
  g_auto (GStrv) w = g_strsplit (text, " ", -1);
  guint64 words[6];
  if (g_strv_length (w) != 6)
    return FALSE;
  for (int i = 0; i < 6; i++)
    {
      char *end = NULL;
      words[i] = g_ascii_strtoull (w[i], &end, 16);
      if (!w[i][0] || *end)
        return FALSE;
    }
  for (int i = 0; i < 4; i++)
    rng->s[i] = words[i];
  rng->has_spare = words[4] != 0;
  memcpy (&rng->spare, &words[5], sizeof rng->spare);
  return TRUE;
}

/* Copies the core part of the state in @st into the run: parameters, masks,
 * optimizer, best-so-far, RNG, metrics, step and epoch, and the data position
 * into @cur. Checks every tensor against the model first, naming the tensor and
 * the shape it expects. */
static gboolean
apply_core_state (PlRun *run, const PlSafetensors *st, DataCursor *cur, GError **error)
{
  PlModel *m = run->model;
  guint np = pl_model_get_n_params (m);
  for (guint pass = 0; pass < 2; pass++)
    for (guint i = 0; i < np; i++)
      {
        PlParam *p = pl_model_get_param (m, i);
        g_autofree char *mask_name = g_strconcat (STATE_MASK_PREFIX, p->name, NULL);
        const char *names[2] = { p->name, mask_name };
        for (int j = 0; j < 2; j++)
          {
            const PlTensorInfo *t = pl_safetensors_lookup (st, names[j]);
            gint64 want[PL_MAX_DIMS];
            for (int d = 0; d < p->ndim; d++)
              want[d] = p->shape[d];
            g_autofree char *want_text = pl_state_shape_text (want, p->ndim);
            if (!t && j == 0)
              {
                g_set_error (error, PL_ERROR, PL_ERROR_NOT_FOUND,
                             "has no tensor \"%s\" (expected shape %s): it was written for "
                             "another model", p->name, want_text);
                return FALSE;
              }
            if (!t)
              {
                if (pass == 1 && p->mask)
                  for (size_t e = 0; e < p->numel; e++)
                    p->mask[e] = 1.0f;
                continue;
              }
            gboolean same = t->ndim == p->ndim;
            for (int d = 0; same && d < p->ndim; d++)
              same = t->shape[d] == want[d];
            if (!same)
              {
                g_autofree char *got = pl_state_shape_text (t->shape, t->ndim);
                g_set_error (error, PL_ERROR, PL_ERROR_SHAPE,
                             "tensor \"%s\" has shape %s, this run's model expects %s",
                             names[j], got, want_text);
                return FALSE;
              }
            if (pass == 1
                && !pl_safetensors_read_f32 (t, j == 0 ? p->data
                                                       : pl_model_ensure_mask (m, p),
                                             p->numel, error))
              return FALSE;
          }
      }
  guint nt = pl_safetensors_get_n_tensors (st);
  for (guint i = 0; i < nt; i++)
    {
      const PlTensorInfo *t = pl_safetensors_get_tensor_at (st, i);
      if (!g_str_has_prefix (t->name, "state.") && !pl_model_lookup_param (m, t->name))
        {
          g_set_error (error, PL_ERROR, PL_ERROR_SHAPE,
                       "tensor \"%s\" matches no parameter of this run's %s model: it was "
                       "written for another model", t->name, pl_model_get_architecture (m));
          return FALSE;
        }
    }

  gint64 step, epoch, batch, samples, correct, best_step;
  double f64[4];
  PlRng rng;
  if (!md_get_int (st, "paramlab.step", &step, error)
      || !md_get_int (st, "paramlab.state.epoch", &epoch, error)
      || !md_get_int (st, "paramlab.state.batch", &batch, error)
      || !md_get_int (st, "paramlab.state.epoch_samples", &samples, error)
      || !md_get_int (st, "paramlab.state.epoch_correct", &correct, error)
      || !md_get_int (st, "paramlab.state.best_step", &best_step, error)
      || !pl_state_read_f64 (st, "state.", "run", f64, G_N_ELEMENTS (f64), error)
      || !pl_optimizer_load_state (run->opt, st, "state.optimizer.", error)
      || (best_step >= 0
          && !pl_state_read_f32 (st, "state.", "best.params", run->best_params,
                                 pl_model_get_n_floats (m), error)))
    return FALSE;
  if (step < 0 || step > run->total_steps || epoch < 0 || epoch > run->exp->train.epochs
      || batch < 0 || batch > pl_batcher_n_batches (run->batcher) || samples < 0
      || correct < 0)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "its position (step %" G_GINT64_FORMAT ", epoch %" G_GINT64_FORMAT
                   ", batch %" G_GINT64_FORMAT ") lies outside this run of %" G_GINT64_FORMAT
                   " steps, %d epochs of %d batches", step, epoch, batch, run->total_steps,
                   run->exp->train.epochs, pl_batcher_n_batches (run->batcher));
      return FALSE;
    }
  if (!parse_rng (pl_safetensors_get_metadata (st, "paramlab.state.rng.dropout"), &rng))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "metadata \"paramlab.state.rng.dropout\" is missing or malformed");
      return FALSE;
    }
  const char *keys_text = pl_safetensors_get_metadata (st, "paramlab.state.metric_keys");
  g_auto (GStrv) keys = g_strsplit (keys_text ? keys_text : "", "\n", -1);
  guint nk = keys_text && keys_text[0] ? g_strv_length (keys) : 0;
  g_autofree double *values = g_new (double, MAX (nk, 1));
  g_autofree gint64 *steps = g_new (gint64, MAX (nk, 1));
  if (!pl_state_read_f64 (st, "state.", "metrics.values", values, nk, error)
      || !pl_state_read_i64 (st, "state.", "metrics.steps", steps, nk, error))
    return FALSE;

  *pl_graph_get_rng (pl_model_get_graph (m)) = rng;
  for (guint i = 0; i < nk; i++)
    {
      MetricSlot *slot = metric_slot (run, keys[i]);
      slot->value = values[i];
      slot->step = steps[i];
      slot->fresh = FALSE;
    }
  run->step = step;
  run->epoch = (int) epoch;
  run->lr = f64[0];
  run->best_val_acc = f64[1];
  run->best_val_loss = f64[2];
  run->best_step = best_step;
  cur->epoch = (int) epoch;
  cur->batch = (int) batch;
  cur->samples = samples;
  cur->correct = correct;
  cur->loss = f64[3];
  return TRUE;
}

/* For pl_run_new_resumed(): loads and checks the state file, applying its core
 * part once (so that a mismatch fails before anything is recorded). */
static gboolean
resume_prepare (PlRun *run, const char *state_path, GError **error)
{
  run->resume_path = state_path ? g_strdup (state_path) : pl_run_get_state_path (run);
  if (!run->resume_path || !g_file_test (run->resume_path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_NOT_FOUND,
                   "run %" G_GINT64_FORMAT " has no training-state checkpoint: %s does not "
                   "exist (the state is written after every epoch and when a run is "
                   "stopped)", run->id, run->resume_path ? run->resume_path : "(no store)");
      return FALSE;
    }
  g_autoptr (PlSafetensors) st = pl_safetensors_load (run->resume_path, error);
  if (!st)
    return FALSE;
  const char *format = pl_safetensors_get_metadata (st, "paramlab.format");
  const char *owner = pl_safetensors_get_metadata (st, "paramlab.run");
  g_autofree char *id_text = g_strdup_printf ("%" G_GINT64_FORMAT, run->id);
  DataCursor cur;
  g_autofree char *text = pl_experiment_to_text (run->exp);
  /* the most telling mismatch first: a tensor of another shape */
  if (g_strcmp0 (format, "state") != 0)
    g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                 "is not a training-state checkpoint (metadata paramlab.format is %s%s%s, "
                 "expected \"state\")", format ? "\"" : "", format ? format : "missing",
                 format ? "\"" : "");
  else if (!apply_core_state (run, st, &cur, error))
    ;
  else if (g_strcmp0 (pl_safetensors_get_metadata (st, "paramlab.experiment"), text) != 0)
    g_set_error (error, PL_ERROR, PL_ERROR_CONFIG,
                 "was written by another experiment than the one run %s stored "
                 "(metadata paramlab.experiment differs)", id_text);
  else if (g_strcmp0 (owner, id_text) != 0)
    g_set_error (error, PL_ERROR, PL_ERROR_CONFIG,
                 "belongs to run %s, not to run %s", owner ? owner : "(unknown)", id_text);
  else
    {
      run->resume_step = run->step;
      run->resume_state = g_steal_pointer (&st);
      return TRUE;
    }
  g_prefix_error (error, "%s: ", run->resume_path);
  return FALSE;
}

/* After the run_start hooks of a resumed run: restores the state (core, then
 * every hook's), forgets what the store holds from the checkpoint's step on and
 * logs again the points the run had logged at that step. */
static gboolean
resume_apply (PlRun *run, DataCursor *cur, GError **error)
{
  g_autoptr (PlSafetensors) st = g_steal_pointer (&run->resume_state);
  if (!apply_core_state (run, st, cur, error))
    {
      g_prefix_error (error, "%s: ", run->resume_path);
      return FALSE;
    }
  for (guint i = 0; i < run->hooks->len; i++)
    {
      HookEntry *h = &g_array_index (run->hooks, HookEntry, i);
      g_autofree char *prefix = hook_state_prefix (h);
      if (h->hooks.load_state && !h->hooks.load_state (run, st, prefix, h->user_data, error))
        {
          g_prefix_error (error, "%s: %s: restoring the training state: ", run->resume_path,
                          h->hooks.name);
          return FALSE;
        }
    }
  if (run->store)
    {
      if (!pl_run_store_rewind_run (run->store, run->id, run->step, error))
        return FALSE;
      for (guint i = 0; i < run->metrics->len; i++)
        {
          MetricSlot *slot = g_ptr_array_index (run->metrics, i);
          if (slot->step == run->step)
            pl_run_store_log_metric (run->store, run->id, slot->key, slot->step, slot->value);
        }
    }
  line_begin (run, "log");
  g_autofree char *msg =
    g_strdup_printf ("resumed from step %" G_GINT64_FORMAT " (epoch %d, batch %d) of %s",
                     run->step, cur->epoch + 1, cur->batch, run->resume_path);
  g_string_append (run->line, ",\"message\":");
  pl_json_append_string (run->line, msg);
  g_string_append_c (run->line, '}');
  emit (run, PL_RUN_EVENT_LOG);
  record_event (run, "log");
  return TRUE;
}

/* Moves a fresh epoch's batcher and sums to @cur's position once (a resumed
 * run's first epoch); returns the batches already trained in this epoch. */
static int
resume_position (PlRun *run, DataCursor *cur, gint64 *samples, gsize *correct, double *loss)
{
  int batch = cur->batch;
  if (batch == 0 && cur->samples == 0)
    return 0;
  for (int i = 0; i < batch; i++)
    pl_batcher_next (run->batcher, NULL, NULL);
  *samples = cur->samples;
  *correct = (gsize) cur->correct;
  *loss = cur->loss;
  memset (cur, 0, sizeof *cur);
  return batch;
}

/* PARAMLAB_TEST_STOP_AFTER_STEP=N (tests only): the run stops itself after step
 * N, as if stopped by the user. */
static gint64
test_stop_after_step (void)
{
  const char *v = g_getenv ("PARAMLAB_TEST_STOP_AFTER_STEP");
  return v && v[0] ? g_ascii_strtoll (v, NULL, 10) : -1;
}

gboolean
pl_run_execute (PlRun *run, GError **error)
{
  GError *err = NULL;
  PlGraph *g = pl_model_get_graph (run->model);
  const PlModelSpec *spec = pl_model_get_spec (run->model);
  float *x = pl_model_get_input_buffer (run->model);
  int32_t *y = pl_model_get_label_buffer (run->model);
  int c = spec->n_classes;
  gboolean stopped = FALSE;
  DataCursor cur = { 0 };
  gint64 test_stop = test_stop_after_step ();

  set_status (run, "running", NULL);
  sweep_stale_temps (run);
  /* a resumed run's hooks start afresh; their metrics must not reach the store */
  run->mute_store = run->resume_state != NULL;
  gboolean hooks_started = run_hooks_start (run, &err);
  run->mute_store = FALSE;
  if (!hooks_started)
    return fail (run, err, error);
  if (run->resume_state && !resume_apply (run, &cur, &err))
    return fail (run, err, error);
  emit_started (run);

  for (run->epoch = cur.epoch; run->epoch < run->exp->train.epochs && !stopped; run->epoch++)
    {
      gint64 t_epoch = g_get_monotonic_time ();
      gint64 epoch_samples = 0;
      gsize epoch_correct = 0;
      double epoch_loss = 0;
      pl_batcher_start_epoch (run->batcher, run->epoch);
      int batch_index = resume_position (run, &cur, &epoch_samples, &epoch_correct,
                                         &epoch_loss);
      int n;
      while (run->step < run->total_steps && (n = pl_batcher_next (run->batcher, x, y)) > 0)
        {
          if (wait_if_paused (run))
            {
              /* the state to resume from is this point, before the partial epoch's
               * bookkeeping below */
              DataCursor here = { run->epoch, batch_index, epoch_samples,
                                  (gint64) epoch_correct, epoch_loss };
              stopped = TRUE;
              if (!write_state (run, &here, &err))
                return fail (run, err, error);
              break;
            }
          run->lr = pl_schedule_lr (&run->schedule, run->step);
          CALL_STEP_HOOK (run, before_forward, run->step);
          if (spec->mse_loss)
            {
              float *t = pl_graph_targets (g, c);
              memset (t, 0, sizeof (float) * n * c);
              for (int i = 0; i < n; i++)
                t[i * c + y[i]] = 1.0f;
            }
          pl_model_zero_grads (run->model);
          float loss = pl_graph_forward (g, n, TRUE);
          if (!isfinite (loss))
            {
              /* named like the curves: the step this update would have been */
              g_set_error (&err, PL_ERROR, PL_ERROR_DIVERGED,
                           "step %" G_GINT64_FORMAT ": loss is %s (train/loss, epoch %d); "
                           "the run diverged, try a lower [train] lr (now %g)",
                           run->step + 1, isnan (loss) ? "NaN" : "Inf", run->epoch + 1,
                           run->lr);
              return fail (run, err, error);
            }
          pl_graph_backward (g);
          reduce_gradients (run);
          CALL_STEP_HOOK (run, after_backward, run->step);
          pl_optimizer_step (run->opt, run->lr);
          /* metrics from here on belong to the count of updates made */
          gint64 done = ++run->step;
          batch_index++;
          CALL_STEP_HOOK (run, after_step, done - 1);
          if (done == test_stop)
            pl_run_stop (run);
          if (run->fail_message)
            {
              g_set_error (&err, PL_ERROR, PL_ERROR_PLUGIN, "%s", run->fail_message);
              return fail (run, err, error);
            }
          if (done % PL_PARAM_CHECK_EVERY == 0 && !check_params_finite (run, done, &err))
            return fail (run, err, error);
          /* the store cannot keep the metrics (disk full, ...): stop now, not at the end */
          if (run->store && !pl_run_store_check_writer (run->store, &err))
            return fail (run, err, error);

          const float *probs = spec->mse_loss ? pl_model_get_logits (run->model)->data
                                              : pl_graph_get_probs (g);
          epoch_correct += pl_metrics_correct (probs, y, n, c);
          epoch_loss += (double) loss * n;
          epoch_samples += n;
          pl_run_log_metric (run, "train/loss", loss);
          pl_run_log_metric (run, "lr", run->lr);
          if (done % run->event_every == 0 || done == run->total_steps)
            {
              line_begin (run, "metrics");
              line_fresh_metrics (run);
              g_string_append_c (run->line, '}');
              emit (run, PL_RUN_EVENT_METRICS);
            }
          if (run->exp->train.eval_every > 0 && done % run->exp->train.eval_every == 0
              && !evaluate (run, &err))
            return fail (run, err, error);
        }
      if (epoch_samples == 0)
        break;
      double secs = (g_get_monotonic_time () - t_epoch) / 1e6;
      pl_run_log_metric (run, "train/acc", (double) epoch_correct / epoch_samples);
      pl_run_log_metric (run, "train/loss_epoch", epoch_loss / epoch_samples);
      pl_run_log_metric (run, "perf/samples_per_s", secs > 0 ? epoch_samples / secs : 0);
      pl_run_log_metric (run, "epoch", run->epoch + 1);
      if (!check_params_finite (run, run->step, &err))
        return fail (run, err, error);
      if (!evaluate (run, &err) || !run_hooks_epoch_end (run, &err))
        return fail (run, err, error);
      /* the training state, every epoch: resume continues with the next one */
      DataCursor next = { run->epoch + 1, 0, 0, 0, 0 };
      if (!stopped && !write_state (run, &next, &err))
        return fail (run, err, error);
      if (run->step >= run->total_steps)
        {
          run->epoch++;
          break;
        }
    }

  if (!write_checkpoints (run, &err))
    return fail (run, err, error);
  if (run->store && !pl_run_store_flush (run->store, &err))
    return fail (run, err, error);

  set_status (run, stopped ? "stopped" : "finished", NULL);
  if (run->store)
    {
      g_autoptr (GError) summary_error = NULL;
      if (!pl_run_store_update_summary (run->store, run->id, &summary_error))
        g_warning ("run %" G_GINT64_FORMAT ": %s", run->id, summary_error->message);
    }
  line_begin (run, "finished");
  g_string_append (run->line, ",\"status\":");
  pl_json_append_string (run->line, run->status);
  line_double (run, "best_val_acc", run->best_val_acc);
  g_string_append_printf (run->line, ",\"best_step\":%" G_GINT64_FORMAT, run->best_step);
  line_double (run, "final_val_acc", pl_run_get_metric (run, "val/acc"));
  line_double (run, "final_train_loss", pl_run_get_metric (run, "train/loss"));
  g_string_append_c (run->line, '}');
  emit (run, PL_RUN_EVENT_FINISHED);
  record_event (run, "finished");
  return TRUE;
}
