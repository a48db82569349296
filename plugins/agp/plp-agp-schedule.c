/* agp: automated gradual pruning (Zhu & Gupta 2017, "To prune, or not to
 * prune"): the sparsity rises fast at first and levels off toward the target. */
#include <libpeas/peas.h>

#include "paramlab.h"

#define PLP_TYPE_AGP_SCHEDULE (plp_agp_schedule_get_type ())
G_DECLARE_FINAL_TYPE (PlpAgpSchedule, plp_agp_schedule, PLP, AGP_SCHEDULE, GObject)

/* with neither n nor frequency given, about this many updates */
#define AGP_AUTO_UPDATES 20

struct _PlpAgpSchedule {
  GObject parent_instance;
  PlPruneScheduleOptions options;
  double initial_sparsity;
  int start_step;
  int end_step;
  int frequency;
  int n;
};

enum {
  PROP_0,
  PROP_FINAL_SPARSITY,
  PROP_INITIAL_SPARSITY,
  PROP_SCOPE,
  PROP_START_STEP,
  PROP_END_STEP,
  PROP_FREQUENCY,
  PROP_N,
  N_PROPS
};

/* the schedule for one run length */
typedef struct {
  gint64 t0;   /* first update */
  gint64 dt;   /* steps between updates */
  gint64 n;    /* updates after t0; the last at t0 + n dt reaches s_f */
} AgpPlan;

static void plp_agp_schedule_iface_init (PlPruningScheduleInterface *iface);
static void plp_agp_schedule_addin_init (PlRunAddinInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (PlpAgpSchedule, plp_agp_schedule, G_TYPE_OBJECT,
                                G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (PL_TYPE_PRUNING_SCHEDULE,
                                                               plp_agp_schedule_iface_init)
                                G_IMPLEMENT_INTERFACE_DYNAMIC (PL_TYPE_RUN_ADDIN,
                                                               plp_agp_schedule_addin_init))

/* The plan for a run of @total steps (steps count updates made):
 *   t0 = start-step, or 10% of the run;
 *   the end te = end-step; or t0 + n dt when both n and frequency are given; or
 *   75% of the run;
 *   dt = frequency, or (te - t0) / n, or (te - t0) / 20; n = n, or (te - t0) / dt.
 * Fails, with @key naming the option at fault, when the options disagree, the
 * end is not after the start, the last update falls after the run, or
 * initial-sparsity exceeds final-sparsity. */
static gboolean
agp_resolve (PlpAgpSchedule *self, gint64 total, AgpPlan *plan, const char **key,
             GError **error)
{
  gint64 t0 = pl_prune_schedule_resolve_step (self->start_step, 0.1, total);
  gint64 n = self->n, dt = self->frequency, te;
  if (self->initial_sparsity > self->options.final_sparsity)
    {
      *key = "initial-sparsity";
      g_set_error (error, PL_ERROR, PL_ERROR_CONFIG,
                   "agp: initial-sparsity %g is above final-sparsity %g; expected at most "
                   "final-sparsity", self->initial_sparsity, self->options.final_sparsity);
      return FALSE;
    }
  if (self->end_step >= 0)
    {
      te = self->end_step;
      if (n > 0 && dt > 0 && t0 + n * dt != te)
        {
          *key = "end-step";
          g_set_error (error, PL_ERROR, PL_ERROR_CONFIG,
                       "agp: end-step %" G_GINT64_FORMAT " disagrees with start-step + n * "
                       "frequency = %" G_GINT64_FORMAT " + %" G_GINT64_FORMAT " * %"
                       G_GINT64_FORMAT " = %" G_GINT64_FORMAT "; give two of end-step, n "
                       "and frequency", te, t0, n, dt, t0 + n * dt);
          return FALSE;
        }
    }
  else if (n > 0 && dt > 0)
    te = t0 + n * dt;
  else
    te = pl_prune_schedule_resolve_step (self->end_step, 0.75, total);
  if (te <= t0)
    {
      *key = self->end_step >= 0 ? "end-step" : "start-step";
      g_set_error (error, PL_ERROR, PL_ERROR_CONFIG,
                   "agp: the last update (step %" G_GINT64_FORMAT ") is not after start-step "
                   "%" G_GINT64_FORMAT " in a run of %" G_GINT64_FORMAT " steps; expected "
                   "start-step < end-step", te, t0, total);
      return FALSE;
    }
  if (dt == 0)
    dt = MAX (1, (te - t0) / (n > 0 ? n : AGP_AUTO_UPDATES));
  if (n == 0)
    n = MAX (1, (te - t0) / dt);
  if (t0 + n * dt > total)
    {
      *key = self->end_step >= 0 ? "end-step" : self->n > 0 ? "n" : "frequency";
      g_set_error (error, PL_ERROR, PL_ERROR_CONFIG,
                   "agp: the last update at step %" G_GINT64_FORMAT " (start-step %"
                   G_GINT64_FORMAT " + n %" G_GINT64_FORMAT " * frequency %" G_GINT64_FORMAT
                   ") is after the run's last step (%" G_GINT64_FORMAT "); expected at most %"
                   G_GINT64_FORMAT, t0 + n * dt, t0, n, dt, total, total);
      return FALSE;
    }
  plan->t0 = t0;
  plan->dt = dt;
  plan->n = n;
  return TRUE;
}

/* s = s_f + (s_i - s_f) (1 - k / n)^3 after update k = floor((c - t0) / dt),
 * clamped to n, with c = step + 1 updates made; 0 before t0 (and for an invalid
 * configuration). */
static double
agp_target_at (PlPruningSchedule *schedule, gint64 step, gint64 total_steps)
{
  PlpAgpSchedule *self = PLP_AGP_SCHEDULE (schedule);
  AgpPlan plan;
  const char *key;
  if (!agp_resolve (self, total_steps, &plan, &key, NULL))
    return 0.0;
  gint64 c = step + 1;
  if (c < plan.t0)
    return 0.0;
  gint64 k = MIN (plan.n, (c - plan.t0) / plan.dt);
  double r = 1.0 - (double) k / (double) plan.n;
  double s_i = self->initial_sparsity, s_f = self->options.final_sparsity;
  return s_f + (s_i - s_f) * r * r * r;
}

static void
plp_agp_schedule_iface_init (PlPruningScheduleInterface *iface)
{
  iface->update = pl_prune_schedule_update_to_target;
  iface->target_at = agp_target_at;
}

/* checks the configuration against the run's length before the first step */
static gboolean
agp_run_start (PlRunAddin *addin, PlRun *run, GError **error)
{
  PlpAgpSchedule *self = PLP_AGP_SCHEDULE (addin);
  AgpPlan plan;
  const char *key = NULL;
  if (!agp_resolve (self, pl_run_get_total_steps (run), &plan, &key, error))
    return pl_prune_schedule_fail_at_option (run, key, error);
  return TRUE;
}

static void
plp_agp_schedule_addin_init (PlRunAddinInterface *iface)
{
  iface->run_start = agp_run_start;
}

static void
plp_agp_schedule_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  PlpAgpSchedule *self = PLP_AGP_SCHEDULE (object);
  if (pl_prune_schedule_options_get_property (&self->options, pspec, value))
    return;
  switch (id)
    {
    case PROP_INITIAL_SPARSITY:
      g_value_set_double (value, self->initial_sparsity);
      break;
    case PROP_START_STEP:
      g_value_set_int (value, self->start_step);
      break;
    case PROP_END_STEP:
      g_value_set_int (value, self->end_step);
      break;
    case PROP_FREQUENCY:
      g_value_set_int (value, self->frequency);
      break;
    case PROP_N:
      g_value_set_int (value, self->n);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_agp_schedule_set_property (GObject *object, guint id, const GValue *value,
                               GParamSpec *pspec)
{
  PlpAgpSchedule *self = PLP_AGP_SCHEDULE (object);
  if (pl_prune_schedule_options_set_property (&self->options, pspec, value))
    return;
  switch (id)
    {
    case PROP_INITIAL_SPARSITY:
      self->initial_sparsity = g_value_get_double (value);
      break;
    case PROP_START_STEP:
      self->start_step = g_value_get_int (value);
      break;
    case PROP_END_STEP:
      self->end_step = g_value_get_int (value);
      break;
    case PROP_FREQUENCY:
      self->frequency = g_value_get_int (value);
      break;
    case PROP_N:
      self->n = g_value_get_int (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_agp_schedule_class_init (PlpAgpScheduleClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  object_class->get_property = plp_agp_schedule_get_property;
  object_class->set_property = plp_agp_schedule_set_property;
  g_object_class_install_property (object_class, PROP_FINAL_SPARSITY,
    pl_prune_schedule_param_final_sparsity ("s_f: fraction of the prunable weights that are "
                                            "zero after the last update"));
  g_object_class_install_property (object_class, PROP_INITIAL_SPARSITY,
    g_param_spec_double ("initial-sparsity", "Initial sparsity",
                         "s_i: the sparsity set at start-step", 0.0, 0.99, 0.0, flags));
  g_object_class_install_property (object_class, PROP_SCOPE,
                                   pl_prune_schedule_param_scope (NULL));
  g_object_class_install_property (object_class, PROP_START_STEP,
    pl_prune_schedule_param_step ("start-step", "Start step",
                                  "t0: the first update, after this many optimizer steps (-1: "
                                  "at 10% of the run)"));
  g_object_class_install_property (object_class, PROP_END_STEP,
    pl_prune_schedule_param_step ("end-step", "End step",
                                  "The step by which the final sparsity is reached (-1: "
                                  "start-step + n * frequency when both are given, else 75% "
                                  "of the run)"));
  g_object_class_install_property (object_class, PROP_FREQUENCY,
    g_param_spec_int ("frequency", "Frequency",
                      "dt: optimizer steps between updates (0: (end - start) / n, or about 20 "
                      "updates when n is 0 too)",
                      0, PL_PRUNE_MAX_STEP, 0, flags));
  g_object_class_install_property (object_class, PROP_N,
    g_param_spec_int ("n", "Updates",
                      "Number of updates after start-step (0: as many as fit between "
                      "start-step and end-step every frequency steps)",
                      0, 1000000, 0, flags));
}

static void
plp_agp_schedule_class_finalize (PlpAgpScheduleClass *klass)
{
}

static void
plp_agp_schedule_init (PlpAgpSchedule *self)
{
  pl_prune_schedule_options_init (&self->options);
  self->start_step = -1;
  self->end_step = -1;
}

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  plp_agp_schedule_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, PL_TYPE_PRUNING_SCHEDULE,
                                              PLP_TYPE_AGP_SCHEDULE);
}
