/* iterative: prune in n equal increments between start-step and end-step. */
#include <libpeas/peas.h>

#include "paramlab.h"

#define PLP_TYPE_ITERATIVE_SCHEDULE (plp_iterative_schedule_get_type ())
G_DECLARE_FINAL_TYPE (PlpIterativeSchedule, plp_iterative_schedule, PLP, ITERATIVE_SCHEDULE,
                      GObject)

struct _PlpIterativeSchedule {
  GObject parent_instance;
  PlPruneScheduleOptions options;
  int start_step;
  int end_step;
  int n;
};

enum { PROP_0, PROP_FINAL_SPARSITY, PROP_SCOPE, PROP_START_STEP, PROP_END_STEP, PROP_N, N_PROPS };

static void plp_iterative_schedule_iface_init (PlPruningScheduleInterface *iface);
static void plp_iterative_schedule_addin_init (PlRunAddinInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (PlpIterativeSchedule, plp_iterative_schedule, G_TYPE_OBJECT,
                                G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (PL_TYPE_PRUNING_SCHEDULE,
                                                               plp_iterative_schedule_iface_init)
                                G_IMPLEMENT_INTERFACE_DYNAMIC (PL_TYPE_RUN_ADDIN,
                                                               plp_iterative_schedule_addin_init))

/* First and last pruning steps (counts of updates made) for a run of @total
 * steps: start-step or 10% of the run, end-step or 75%. On failure @key names the
 * option at fault. */
static gboolean
iterative_resolve (PlpIterativeSchedule *self, gint64 total, gint64 *t0, gint64 *te,
                   const char **key, GError **error)
{
  *t0 = pl_prune_schedule_resolve_step (self->start_step, 0.1, total);
  *te = pl_prune_schedule_resolve_step (self->end_step, 0.75, total);
  if (!pl_prune_schedule_check_within_run ("iterative", "end-step", *te, total, error))
    {
      *key = "end-step";
      return FALSE;
    }
  if (*te < *t0)
    {
      *key = self->end_step >= 0 ? "end-step" : "start-step";
      g_set_error (error, PL_ERROR, PL_ERROR_CONFIG,
                   "iterative: end-step %" G_GINT64_FORMAT " is before start-step %"
                   G_GINT64_FORMAT "; expected end-step >= start-step", *te, *t0);
      return FALSE;
    }
  return TRUE;
}

/* Prunes i = 0..n-1 happen at c_i = t0 + floor(i (te - t0) / (n - 1)) (one prune
 * at t0 when n = 1) and bring the sparsity to s_f (i + 1) / n; c = step + 1. The
 * target after c is that of the last prune at or before c, 0 before t0 (and for
 * an invalid configuration). */
static double
iterative_target_at (PlPruningSchedule *schedule, gint64 step, gint64 total_steps)
{
  PlpIterativeSchedule *self = PLP_ITERATIVE_SCHEDULE (schedule);
  gint64 t0, te;
  const char *key;
  if (!iterative_resolve (self, total_steps, &t0, &te, &key, NULL))
    return 0.0;
  gint64 c = step + 1, n = self->n;
  if (c < MAX (t0, 1))
    return 0.0;
  gint64 i = n - 1;
  /* largest i with floor(i D / (n - 1)) <= c - t0, i.e. i D < (c - t0 + 1)(n - 1) */
  if (n > 1 && te > t0)
    i = MIN (n - 1, ((c - t0 + 1) * (n - 1) - 1) / (te - t0));
  return self->options.final_sparsity * (double) (i + 1) / (double) n;
}

static void
plp_iterative_schedule_iface_init (PlPruningScheduleInterface *iface)
{
  iface->update = pl_prune_schedule_update_to_target;
  iface->target_at = iterative_target_at;
}

/* checks the configuration against the run's length before the first step */
static gboolean
iterative_run_start (PlRunAddin *addin, PlRun *run, GError **error)
{
  PlpIterativeSchedule *self = PLP_ITERATIVE_SCHEDULE (addin);
  gint64 t0, te;
  const char *key = NULL;
  if (!iterative_resolve (self, pl_run_get_total_steps (run), &t0, &te, &key, error))
    return pl_prune_schedule_fail_at_option (run, key, error);
  return TRUE;
}

static void
plp_iterative_schedule_addin_init (PlRunAddinInterface *iface)
{
  iface->run_start = iterative_run_start;
}

static void
plp_iterative_schedule_get_property (GObject *object, guint id, GValue *value,
                                     GParamSpec *pspec)
{
  PlpIterativeSchedule *self = PLP_ITERATIVE_SCHEDULE (object);
  if (pl_prune_schedule_options_get_property (&self->options, pspec, value))
    return;
  switch (id)
    {
    case PROP_START_STEP:
      g_value_set_int (value, self->start_step);
      break;
    case PROP_END_STEP:
      g_value_set_int (value, self->end_step);
      break;
    case PROP_N:
      g_value_set_int (value, self->n);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_iterative_schedule_set_property (GObject *object, guint id, const GValue *value,
                                     GParamSpec *pspec)
{
  PlpIterativeSchedule *self = PLP_ITERATIVE_SCHEDULE (object);
  if (pl_prune_schedule_options_set_property (&self->options, pspec, value))
    return;
  switch (id)
    {
    case PROP_START_STEP:
      self->start_step = g_value_get_int (value);
      break;
    case PROP_END_STEP:
      self->end_step = g_value_get_int (value);
      break;
    case PROP_N:
      self->n = g_value_get_int (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_iterative_schedule_class_init (PlpIterativeScheduleClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  object_class->get_property = plp_iterative_schedule_get_property;
  object_class->set_property = plp_iterative_schedule_set_property;
  g_object_class_install_property (object_class, PROP_FINAL_SPARSITY,
    pl_prune_schedule_param_final_sparsity (
      "Fraction of the prunable weights that are zero after the last prune"));
  g_object_class_install_property (object_class, PROP_SCOPE,
                                   pl_prune_schedule_param_scope (NULL));
  g_object_class_install_property (object_class, PROP_START_STEP,
    pl_prune_schedule_param_step ("start-step", "Start step",
                                  "The first prune, after this many optimizer steps (-1: at "
                                  "10% of the run)"));
  g_object_class_install_property (object_class, PROP_END_STEP,
    pl_prune_schedule_param_step ("end-step", "End step",
                                  "The last prune, which reaches the final sparsity (-1: at "
                                  "75% of the run)"));
  g_object_class_install_property (object_class, PROP_N,
    g_param_spec_int ("n", "Prunes",
                      "Number of equal increments from start-step to end-step",
                      1, 100000, 10, flags));
}

static void
plp_iterative_schedule_class_finalize (PlpIterativeScheduleClass *klass)
{
}

static void
plp_iterative_schedule_init (PlpIterativeSchedule *self)
{
  pl_prune_schedule_options_init (&self->options);
  self->start_step = -1;
  self->end_step = -1;
  self->n = 10;
}

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  plp_iterative_schedule_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, PL_TYPE_PRUNING_SCHEDULE,
                                              PLP_TYPE_ITERATIVE_SCHEDULE);
}
