/* one-shot: prune to the final sparsity once, then train on with the mask fixed. */
#include <libpeas/peas.h>

#include "paramlab.h"

#define PLP_TYPE_ONE_SHOT_SCHEDULE (plp_one_shot_schedule_get_type ())
G_DECLARE_FINAL_TYPE (PlpOneShotSchedule, plp_one_shot_schedule, PLP, ONE_SHOT_SCHEDULE, GObject)

struct _PlpOneShotSchedule {
  GObject parent_instance;
  PlPruneScheduleOptions options;
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
  *t0 = pl_prune_schedule_resolve_step (self->start_step, 0.5, total);
  return pl_prune_schedule_check_within_run ("one-shot", "start-step", *t0, total, error);
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
  return c >= MAX (t0, 1) ? self->options.final_sparsity : 0.0;
}

static void
plp_one_shot_schedule_iface_init (PlPruningScheduleInterface *iface)
{
  iface->update = pl_prune_schedule_update_to_target;
  iface->target_at = one_shot_target_at;
}

/* checks the configuration against the run's length before the first step */
static gboolean
one_shot_run_start (PlRunAddin *addin, PlRun *run, GError **error)
{
  PlpOneShotSchedule *self = PLP_ONE_SHOT_SCHEDULE (addin);
  gint64 t0;
  if (!one_shot_resolve (self, pl_run_get_total_steps (run), &t0, error))
    return pl_prune_schedule_fail_at_option (run, "start-step", error);
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
  if (pl_prune_schedule_options_get_property (&self->options, pspec, value))
    return;
  switch (id)
    {
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
  if (pl_prune_schedule_options_set_property (&self->options, pspec, value))
    return;
  switch (id)
    {
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
  object_class->get_property = plp_one_shot_schedule_get_property;
  object_class->set_property = plp_one_shot_schedule_set_property;
  g_object_class_install_property (object_class, PROP_FINAL_SPARSITY,
    pl_prune_schedule_param_final_sparsity (
      "Fraction of the prunable weights that are zero after the prune"));
  g_object_class_install_property (object_class, PROP_SCOPE,
                                   pl_prune_schedule_param_scope (NULL));
  g_object_class_install_property (object_class, PROP_START_STEP,
    pl_prune_schedule_param_step ("start-step", "Start step",
                                  "Prune once this many optimizer steps are done (0: after "
                                  "the first step; -1: half-way through the run)"));
}

static void
plp_one_shot_schedule_class_finalize (PlpOneShotScheduleClass *klass)
{
}

static void
plp_one_shot_schedule_init (PlpOneShotSchedule *self)
{
  pl_prune_schedule_options_init (&self->options);
  self->start_step = -1;
}

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  plp_one_shot_schedule_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, PL_TYPE_PRUNING_SCHEDULE,
                                              PLP_TYPE_ONE_SHOT_SCHEDULE);
}
