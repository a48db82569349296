/* pruning-test-util.h: what the tests of the pruning plugins (magnitude, taylor,
 * movement, one-shot, iterative, agp, coarse-fine) share: runs on the bundled
 * digits built from experiment text, a trace of the sparsity after every step,
 * and direct calls of a plugin's run hooks. Test code only. */
#pragma once

#include <math.h>
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

/* pt_run_new (@extra) run to the end; both must succeed. (transfer full) */
static inline PtRun *
pt_run_execute_ok (const char *extra)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PtRun) r = pt_run_new (extra, &error);
  g_assert_no_error (error);
  g_assert_true (pl_run_execute (r->run, &error));
  g_assert_no_error (error);
  return g_steal_pointer (&r);
}

/* Asserts that a run of @extra fails with PL_ERROR_CONFIG, either when it is
 * built or else when it starts (then before any step, with the weights
 * untouched), with a message that has "x.ini:LINE" of the line starting with
 * @key and contains @expect; @c numbers the case in a mismatch. Returns TRUE
 * when the run was built and failed at its start. */
static inline gboolean
pt_assert_config_error (guint c, const char *extra, const char *key, const char *expect)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PtRun) r = pt_run_new (extra, &error);
  if (r)
    {
      g_assert_false (pl_run_execute (r->run, &error));
      g_assert_cmpstr (pl_run_get_status (r->run), ==, "failed");
      g_assert_cmpint (pl_run_get_step (r->run), ==, 0);
      g_assert_cmpfloat (pl_model_weight_sparsity (pl_run_get_model (r->run)), ==, 0.0);
    }
  g_assert_error (error, PL_ERROR, PL_ERROR_CONFIG);
  g_autofree char *where = g_strdup_printf ("x.ini:%d", pt_line_of (extra, key));
  if (!strstr (error->message, where) || !strstr (error->message, expect))
    g_error ("case %u: \"%s\" lacks %s or \"%s\"", c, error->message, where, expect);
  return r != NULL;
}

/* A plugin that the engine lists as loaded, created with its defaults.
 * (transfer full) */
static inline GObject *
pt_create_listed (const char *slot, const char *id)
{
  const PlPluginDesc *d = pl_plugin_engine_lookup (pt_engine (), slot, id);
  g_assert_nonnull (d);
  g_assert_true (d->loaded);
  GObject *p = pl_plugin_engine_create (pt_engine (), slot, id, NULL);
  g_assert_nonnull (p);
  return p;
}

/* Asserts that @schedule's target after 0-based step @step of @total_steps is
 * @expect within @tol; @c numbers the case in a mismatch. */
static inline void
pt_assert_target (guint c, GObject *schedule, gint64 step, gint64 total_steps, double expect,
                  double tol)
{
  double t = pl_pruning_schedule_target_at (PL_PRUNING_SCHEDULE (schedule), step, total_steps);
  if (!(fabs (t - expect) <= tol))
    g_error ("case %u (step %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT "): target %.15g, "
             "expected %.15g", c, step, total_steps, t, expect);
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

/* A run of @extra (which must build) whose criterion has been through its
 * run_start hook, as when the engine starts the run. (transfer full) */
static inline PtRun *
pt_run_started (const char *extra)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PtRun) r = pt_run_new (extra, &error);
  g_assert_no_error (error);
  g_assert_true (pt_addin_run_start (pt_criterion (r), r->run, &error));
  g_assert_no_error (error);
  return g_steal_pointer (&r);
}

/* The scores of the run's criterion for @p, into @scores; must succeed. */
static inline void
pt_score_ok (PtRun *r, PlParam *p, float *scores)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (pl_pruning_criterion_score (PL_PRUNING_CRITERION (pt_criterion (r)), r->run,
                                             p, scores, &error));
  g_assert_no_error (error);
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

/* dL/dw_j ~ (L(w_j + h) - L(w_j - h)) / 2h over the first @n training samples
 * (pt_forward); w_j is restored. */
static inline double
pt_loss_slope (PlRun *run, PlParam *p, size_t j, float h, int n)
{
  const float w = p->data[j];
  p->data[j] = w + h;
  double lp = pt_forward (run, n);
  p->data[j] = w - h;
  double lm = pt_forward (run, n);
  p->data[j] = w;
  return (lp - lm) / (2.0 * h);
}

/* A random index of @p whose gradient is at least @min_grad in size. */
static inline size_t
pt_pick_with_gradient (PlRng *rng, const PlParam *p, float min_grad)
{
  size_t j;
  do
    j = pl_rng_below (rng, p->numel);
  while (fabsf (p->grad[j]) < min_grad);
  return j;
}

/* Writes w and g into the first four entries of @p. */
static inline void
pt_set_wg (PlParam *p, const float *w, const float *g)
{
  memcpy (p->data, w, 4 * sizeof (float));
  memcpy (p->grad, g, 4 * sizeof (float));
}

/* A copy of the mask of tensor @name, with its length in @n. (transfer full) */
static inline float *
pt_mask_dup (PlRun *run, const char *name, size_t *n)
{
  PlParam *p = pl_model_lookup_param (pl_run_get_model (run), name);
  g_assert_nonnull (p);
  g_assert_nonnull (p->mask);
  *n = p->numel;
  return g_memdup2 (p->mask, p->numel * sizeof (float));
}

/* How many of @n entries differ between @a and @b. */
static inline size_t
pt_count_differ (const float *a, const float *b, size_t n)
{
  size_t differ = 0;
  for (size_t j = 0; j < n; j++)
    differ += a[j] != b[j];
  return differ;
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
