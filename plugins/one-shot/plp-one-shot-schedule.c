/* one-shot: prune to the final sparsity once, then train on with the mask fixed. */
#include <libpeas/peas.h>
#include <math.h>

#include "paramlab.h"

/* the largest step an option takes (1e8: printed in full in messages) */
#define PLP_MAX_STEP 100000000

#define PLP_TYPE_ONE_SHOT_SCHEDULE (plp_one_shot_schedule_get_type ())
G_DECLARE_FINAL_TYPE (PlpOneShotSchedule, plp_one_shot_schedule, PLP, ONE_SHOT_SCHEDULE, GObject)

struct _PlpOneShotSchedule {
  GObject parent_instance;
  double final_sparsity;
  PlPruneScope scope;
  int start_step;
};

enum { PROP_0, PROP_FINAL_SPARSITY, PROP_SCOPE, PROP_START_STEP, N_PROPS };

static void plp_one_shot_schedule_iface_init (PlPruningScheduleInterface *iface);
static void plp_one_shot_schedule_addin_init (PlRunAddinInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (PlpOneShotSchedule, plp_one_shot_schedule, G_TYPE_OBJECT,
                                G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (PL_TYPE_PRUNING_SCHEDULE,
                                                               plp_one_shot_schedule_iface_init)
                                G_IMPLEMENT_INTERFACE_DYNAMIC (PL_TYPE_RUN_ADDIN,
                                                               plp_one_shot_schedule_addin_init))

/* The step (count of updates made) at which to prune: start-step, or half of a
 * run of @total steps. Fails naming start-step when it lies beyond the run. */
static gboolean
one_shot_resolve (PlpOneShotSchedule *self, gint64 total, gint64 *t0, GError **error)
{
  *t0 = self->start_step >= 0 ? self->start_step : llround (0.5 * (double) total);
  if (*t0 > total)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_CONFIG,
                   "one-shot: start-step %" G_GINT64_FORMAT " is after the run's last step "
                   "(%" G_GINT64_FORMAT "); expected at most %" G_GINT64_FORMAT, *t0, total,
                   total);
      return FALSE;
    }
  return TRUE;
}

/* s(c) = 0 for c < t0, s_f from t0 on; c = step + 1 updates made. Before the
 * first update (step -1) and for an invalid configuration: 0. */
static double
one_shot_target_at (PlPruningSchedule *schedule, gint64 step, gint64 total_steps)
{
  PlpOneShotSchedule *self = PLP_ONE_SHOT_SCHEDULE (schedule);
  gint64 t0;
  if (!one_shot_resolve (self, total_steps, &t0, NULL))
    return 0.0;
  gint64 c = step + 1;
  return c >= MAX (t0, 1) ? self->final_sparsity : 0.0;
}

static gboolean
one_shot_update (PlPruningSchedule *schedule, PlPruner *pruner, gint64 step, gint64 total_steps,
                 GError **error)
{
  PlpOneShotSchedule *self = PLP_ONE_SHOT_SCHEDULE (schedule);
  double target = one_shot_target_at (schedule, step, total_steps);
  if (target <= pl_pruner_get_target (pruner))
    return TRUE;
  return pl_pruner_prune_to (pruner, target, self->scope, error);
}

static void
plp_one_shot_schedule_iface_init (PlPruningScheduleInterface *iface)
{
  iface->update = one_shot_update;
  iface->target_at = one_shot_target_at;
}

/* checks the configuration against the run's length before the first step */
static gboolean
one_shot_run_start (PlRunAddin *addin, PlRun *run, GError **error)
{
  PlpOneShotSchedule *self = PLP_ONE_SHOT_SCHEDULE (addin);
  gint64 t0;
  if (!one_shot_resolve (self, pl_run_get_total_steps (run), &t0, error))
    {
      g_autofree char *where = pl_experiment_get_location (pl_run_get_experiment (run),
                                                          "prune", "start-step");
      g_prefix_error (error, "%s: [prune] start-step: ", where);
      return FALSE;
    }
  return TRUE;
}

static void
plp_one_shot_schedule_addin_init (PlRunAddinInterface *iface)
{
  iface->run_start = one_shot_run_start;
}

static void
plp_one_shot_schedule_get_property (GObject *object, guint id, GValue *value,
                                    GParamSpec *pspec)
{
  PlpOneShotSchedule *self = PLP_ONE_SHOT_SCHEDULE (object);
  switch (id)
    {
    case PROP_FINAL_SPARSITY:
      g_value_set_double (value, self->final_sparsity);
      break;
    case PROP_SCOPE:
      g_value_set_enum (value, self->scope);
      break;
    case PROP_START_STEP:
      g_value_set_int (value, self->start_step);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_one_shot_schedule_set_property (GObject *object, guint id, const GValue *value,
                                    GParamSpec *pspec)
{
  PlpOneShotSchedule *self = PLP_ONE_SHOT_SCHEDULE (object);
  switch (id)
    {
    case PROP_FINAL_SPARSITY:
      self->final_sparsity = g_value_get_double (value);
      break;
    case PROP_SCOPE:
      self->scope = g_value_get_enum (value);
      break;
    case PROP_START_STEP:
      self->start_step = g_value_get_int (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_one_shot_schedule_class_init (PlpOneShotScheduleClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  object_class->get_property = plp_one_shot_schedule_get_property;
  object_class->set_property = plp_one_shot_schedule_set_property;
  g_object_class_install_property (object_class, PROP_FINAL_SPARSITY,
    g_param_spec_double ("final-sparsity", "Final sparsity",
                         "Fraction of the prunable weights that are zero after the prune",
                         0.0, 0.99, 0.5, flags));
  g_object_class_install_property (object_class, PROP_SCOPE,
    g_param_spec_enum ("scope", "Scope",
                       "layer: every weight tensor gets the sparsity; global: one ranking "
                       "over all prunable weights",
                       PL_TYPE_PRUNE_SCOPE, PL_PRUNE_SCOPE_LAYER, flags));
  g_object_class_install_property (object_class, PROP_START_STEP,
    g_param_spec_int ("start-step", "Start step",
                      "Prune once this many optimizer steps are done (0: after the first "
                      "step; -1: half-way through the run)",
                      -1, PLP_MAX_STEP, -1, flags));
}

static void
plp_one_shot_schedule_class_finalize (PlpOneShotScheduleClass *klass)
{
}

static void
plp_one_shot_schedule_init (PlpOneShotSchedule *self)
{
  self->final_sparsity = 0.5;
  self->scope = PL_PRUNE_SCOPE_LAYER;
  self->start_step = -1;
}

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  plp_one_shot_schedule_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, PL_TYPE_PRUNING_SCHEDULE,
                                              PLP_TYPE_ONE_SHOT_SCHEDULE);
}
