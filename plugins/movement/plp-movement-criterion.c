/* movement: movement pruning (Sanh, Wolf & Rush 2020, hard variant): weights that
 * training pushes away from zero are kept. */
#include <libpeas/peas.h>

#include "paramlab.h"

#define PLP_TYPE_MOVEMENT_CRITERION (plp_movement_criterion_get_type ())
G_DECLARE_FINAL_TYPE (PlpMovementCriterion, plp_movement_criterion, PLP, MOVEMENT_CRITERION,
                      GObject)

struct _PlpMovementCriterion {
  GObject parent_instance;
  gboolean reset_after_prune;
  PlPruneStats *stats;   /* of the current run's model */
};

enum { PROP_0, PROP_RESET_AFTER_PRUNE, N_PROPS };

static void plp_movement_criterion_iface_init (PlPruningCriterionInterface *iface);
static void plp_movement_criterion_addin_init (PlRunAddinInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (PlpMovementCriterion, plp_movement_criterion, G_TYPE_OBJECT,
                                G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (PL_TYPE_PRUNING_CRITERION,
                                                               plp_movement_criterion_iface_init)
                                G_IMPLEMENT_INTERFACE_DYNAMIC (PL_TYPE_RUN_ADDIN,
                                                               plp_movement_criterion_addin_init))

/* score = S = -sum_t w_t * g_t over the run's steps (since the last prune with
 * reset-after-prune): positive when w and its update -g agree in sign, i.e. |w|
 * grows */
static gboolean
movement_score (PlPruningCriterion *criterion, PlRun *run, PlParam *param, float *scores,
                GError **error)
{
  PlpMovementCriterion *self = PLP_MOVEMENT_CRITERION (criterion);
  return pl_prune_stats_score_for_run (self->stats, run, "movement", param, scores, error);
}

static void
plp_movement_criterion_iface_init (PlPruningCriterionInterface *iface)
{
  iface->score = movement_score;
}

static gboolean
movement_run_start (PlRunAddin *addin, PlRun *run, GError **error)
{
  PlpMovementCriterion *self = PLP_MOVEMENT_CRITERION (addin);
  pl_prune_stats_start_for_run (&self->stats, run, PL_PRUNE_STAT_MOVEMENT, 0.0,
                                self->reset_after_prune);
  return TRUE;
}

static void
movement_after_backward (PlRunAddin *addin, PlRun *run, gint64 step)
{
  PlpMovementCriterion *self = PLP_MOVEMENT_CRITERION (addin);
  pl_prune_stats_accumulate_for_run (self->stats, run);
}

/* the gradient statistics (pl_prune_stats_save_state) */
static gboolean
movement_save_state (PlRunAddin *addin, PlRun *run, PlSafetensorsWriter *writer,
                     const char *prefix, GError **error)
{
  PlPruneStats *stats = PLP_MOVEMENT_CRITERION (addin)->stats;
  return !stats || pl_prune_stats_save_state (stats, writer, prefix, error);
}

static gboolean
movement_load_state (PlRunAddin *addin, PlRun *run, const PlSafetensors *state,
                     const char *prefix, GError **error)
{
  PlPruneStats *stats = PLP_MOVEMENT_CRITERION (addin)->stats;
  return !stats || pl_prune_stats_load_state (stats, state, prefix, error);
}

static void
plp_movement_criterion_addin_init (PlRunAddinInterface *iface)
{
  iface->save_state = movement_save_state;
  iface->load_state = movement_load_state;
  iface->run_start = movement_run_start;
  iface->after_backward = movement_after_backward;
}

static void
plp_movement_criterion_get_property (GObject *object, guint id, GValue *value,
                                     GParamSpec *pspec)
{
  PlpMovementCriterion *self = PLP_MOVEMENT_CRITERION (object);
  switch (id)
    {
    case PROP_RESET_AFTER_PRUNE:
      g_value_set_boolean (value, self->reset_after_prune);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_movement_criterion_set_property (GObject *object, guint id, const GValue *value,
                                     GParamSpec *pspec)
{
  PlpMovementCriterion *self = PLP_MOVEMENT_CRITERION (object);
  switch (id)
    {
    case PROP_RESET_AFTER_PRUNE:
      self->reset_after_prune = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_movement_criterion_finalize (GObject *object)
{
  PlpMovementCriterion *self = PLP_MOVEMENT_CRITERION (object);
  g_clear_pointer (&self->stats, pl_prune_stats_free);
  G_OBJECT_CLASS (plp_movement_criterion_parent_class)->finalize (object);
}

static void
plp_movement_criterion_class_init (PlpMovementCriterionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->get_property = plp_movement_criterion_get_property;
  object_class->set_property = plp_movement_criterion_set_property;
  object_class->finalize = plp_movement_criterion_finalize;
  g_object_class_install_property (object_class, PROP_RESET_AFTER_PRUNE,
    g_param_spec_boolean ("reset-after-prune", "Reset after prune",
                          "Start the scores over after each prune (Sanh et al. accumulate "
                          "over the whole run: false)",
                          FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
}

static void
plp_movement_criterion_class_finalize (PlpMovementCriterionClass *klass)
{
}

static void
plp_movement_criterion_init (PlpMovementCriterion *self)
{
}

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  plp_movement_criterion_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, PL_TYPE_PRUNING_CRITERION,
                                              PLP_TYPE_MOVEMENT_CRITERION);
}
