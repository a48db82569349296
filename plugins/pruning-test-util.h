/* pruning-test-util.h: what the tests of the pruning plugins (magnitude, taylor,
 * movement, one-shot, iterative, agp, coarse-fine) share: runs on the bundled
 * digits built from experiment text, a trace of the sparsity after every step,
 * and direct calls of a plugin's run hooks. Test code only. */
#pragma once

#include <string.h>

#include "paramlab.h"
#include "pl-test-util.h"

/* A small, quick digits MLP: 45 steps per epoch, no dropout (deterministic
 * forward passes). Append a [prune] section (and overrides) to it; unless the
 * addition names an optimizer, Adam at lr 1e-2 trains it. */
#define PT_DIGITS_BASE                                                         \
  "[experiment]\nseed=7\n"                                                     \
  "[data]\ndataset=digits\nval-fraction=0.2\nnormalize=standard\n"             \
  "[model]\narchitecture=mlp\nhidden=32, 16\nactivation=relu\ndropout=0\n"     \
  "[train]\nbatch-size=32\nschedule=constant\n"
#define PT_DEFAULT_OPTIMIZER "[train]\noptimizer=adam\nlr=1e-2\n"

static inline PlPluginEngine *
pt_engine (void)
{
  static PlPluginEngine *e;
  if (!e)
    e = pl_plugin_engine_new ();
  return e;
}

typedef struct {
  PlExperiment *exp;
  PlPluginSelection *sel;
  PlRun *run;
  /* filled by the trace hook after every step (index = step) */
  GArray *total;      /* double: sparsity of all weights, counted from the data */
  GArray *reported;   /* double: the sparsity/total metric at that step */
  GArray *target;     /* double: the schedule's target_at for that step */
} PtRun;

static inline void
pt_run_free (PtRun *r)
{
  if (!r)
    return;
  g_clear_pointer (&r->run, pl_run_free);
  g_clear_pointer (&r->sel, pl_plugin_selection_free);
  g_clear_pointer (&r->exp, pl_experiment_unref);
  g_array_unref (r->total);
  g_array_unref (r->reported);
  g_array_unref (r->target);
  g_free (r);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PtRun, pt_run_free)

static void
pt_trace_after_step (PlRun *run, gint64 step, gpointer ud)
{
  PtRun *r = ud;
  double s = pl_model_weight_sparsity (pl_run_get_model (run));
  double m = pl_run_get_metric (run, "sparsity/total");
  GObject *sched = pl_plugin_selection_get (r->sel, PL_SLOT_PRUNE_SCHEDULE);
  double t = sched ? pl_pruning_schedule_target_at (PL_PRUNING_SCHEDULE (sched), step,
                                                    pl_run_get_total_steps (run))
                   : 0.0;
  g_array_append_val (r->total, s);
  g_array_append_val (r->reported, m);
  g_array_append_val (r->target, t);
}

/* A run of PT_DIGITS_BASE + @extra (named "x.ini" in messages), with a trace
 * hook added after the plugins' hooks. NULL with @error when the experiment or
 * the plugins are bad. */
static inline PtRun *
pt_run_new (const char *extra, GError **error)
{
  g_autoptr (PtRun) r = g_new0 (PtRun, 1);
  r->total = g_array_new (FALSE, FALSE, sizeof (double));
  r->reported = g_array_new (FALSE, FALSE, sizeof (double));
  r->target = g_array_new (FALSE, FALSE, sizeof (double));
  g_autofree char *text = g_strconcat (PT_DIGITS_BASE, extra,
                                       strstr (extra, "optimizer=") ? NULL
                                                                    : PT_DEFAULT_OPTIMIZER,
                                       NULL);
  r->exp = pl_experiment_load_data (text, -1, "x.ini", error);
  if (!r->exp)
    return NULL;
  r->sel = pl_plugin_selection_new (pt_engine (), r->exp, error);
  if (!r->sel)
    return NULL;
  r->run = pl_run_new_with_plugins (r->exp, NULL, r->sel, error);
  if (!r->run)
    return NULL;
  PlRunHooks h = { .name = "trace", .after_step = pt_trace_after_step };
  pl_run_add_hooks (r->run, &h, r, NULL);
  return g_steal_pointer (&r);
}

/* The 1-based line that starts with @needle (up to its first newline) in the
 * experiment text PT_DIGITS_BASE + @extra. */
static inline int
pt_line_of (const char *extra, const char *needle)
{
  g_autofree char *text = g_strconcat (PT_DIGITS_BASE, extra, NULL);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  g_autofree char *head = g_strndup (needle, strcspn (needle, "\n"));
  for (int i = 0; lines[i]; i++)
    if (g_str_has_prefix (lines[i], head))
      return i + 1;
  g_error ("no line starts with \"%s\"", needle);
  return 0;
}

static inline GObject *
pt_criterion (PtRun *r)
{
  return pl_plugin_selection_get (r->sel, PL_SLOT_PRUNE_CRITERION);
}

static inline GObject *
pt_schedule (PtRun *r)
{
  return pl_plugin_selection_get (r->sel, PL_SLOT_PRUNE_SCHEDULE);
}

/* The plugin's run hooks, called as the engine would. */
static inline gboolean
pt_addin_run_start (GObject *plugin, PlRun *run, GError **error)
{
  PlRunAddinInterface *iface = PL_RUN_ADDIN_GET_IFACE (plugin);
  return iface->run_start ? iface->run_start (PL_RUN_ADDIN (plugin), run, error) : TRUE;
}

static inline void
pt_addin_after_backward (GObject *plugin, PlRun *run, gint64 step)
{
  PlRunAddinInterface *iface = PL_RUN_ADDIN_GET_IFACE (plugin);
  if (iface->after_backward)
    iface->after_backward (PL_RUN_ADDIN (plugin), run, step);
}

/* Loads the first @n training samples into the model's input and returns the
 * mean loss of a forward pass in training mode (no dropout in PT_DIGITS_BASE). */
static inline float
pt_forward (PlRun *run, int n)
{
  PlModel *m = pl_run_get_model (run);
  const PlDataset *train = pl_run_get_data (run)->train;
  memcpy (pl_model_get_input_buffer (m), train->x, sizeof (float) * n * train->n_features);
  memcpy (pl_model_get_label_buffer (m), train->y, sizeof (int32_t) * n);
  return pl_graph_forward (pl_model_get_graph (m), n, TRUE);
}

/* pt_forward, then the gradients of that loss into the model's grads. */
static inline float
pt_forward_backward (PlRun *run, int n)
{
  PlModel *m = pl_run_get_model (run);
  pl_model_zero_grads (m);
  float loss = pt_forward (run, n);
  pl_graph_backward (pl_model_get_graph (m));
  return loss;
}

/* Sparsity of one tensor counted from its values. */
static inline double
pt_param_sparsity (const PlParam *p)
{
  size_t z = 0;
  for (size_t j = 0; j < p->numel; j++)
    z += p->data[j] == 0.0f;
  return (double) z / (double) p->numel;
}

/* Asserts that the weights are exactly zero wherever their mask is. */
static inline void
pt_assert_masked_zero (PlModel *m)
{
  for (guint i = 0; i < pl_model_get_n_params (m); i++)
    {
      PlParam *p = pl_model_get_param (m, i);
      for (size_t j = 0; p->mask && j < p->numel; j++)
        if (p->mask[j] == 0.0f && p->data[j] != 0.0f)
          g_error ("%s[%zu] is masked but holds %g", p->name, j, p->data[j]);
    }
}
