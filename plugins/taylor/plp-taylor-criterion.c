/* taylor: gradient sensitivity |w * dL/dw| accumulated over the steps of a run
 * (Molchanov et al. 2017, first-order Taylor expansion of the loss). */
#include <libpeas/peas.h>

#include "paramlab.h"

#define PLP_TYPE_TAYLOR_CRITERION (plp_taylor_criterion_get_type ())
G_DECLARE_FINAL_TYPE (PlpTaylorCriterion, plp_taylor_criterion, PLP, TAYLOR_CRITERION, GObject)

typedef enum {
  PLP_TAYLOR_ACCUMULATE_SUM,
  PLP_TAYLOR_ACCUMULATE_EMA,
} PlpTaylorAccumulate;

static GType plp_taylor_accumulate_type;
#define PLP_TYPE_TAYLOR_ACCUMULATE (plp_taylor_accumulate_type)

struct _PlpTaylorCriterion {
  GObject parent_instance;
  PlpTaylorAccumulate accumulate;
  double decay;
  gboolean reset_after_prune;
  PlPruneStats *stats;   /* of the current run's model */
};

enum { PROP_0, PROP_ACCUMULATE, PROP_DECAY, PROP_RESET_AFTER_PRUNE, N_PROPS };

static void plp_taylor_criterion_iface_init (PlPruningCriterionInterface *iface);
static void plp_taylor_criterion_addin_init (PlRunAddinInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (PlpTaylorCriterion, plp_taylor_criterion, G_TYPE_OBJECT,
                                G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (PL_TYPE_PRUNING_CRITERION,
                                                               plp_taylor_criterion_iface_init)
                                G_IMPLEMENT_INTERFACE_DYNAMIC (PL_TYPE_RUN_ADDIN,
                                                               plp_taylor_criterion_addin_init))

/* score = S, S = sum_t |w_t g_t| (sum) or S = decay S + (1 - decay) |w_t g_t| (ema),
 * over the steps since the last prune (or the whole run without reset) */
static gboolean
taylor_score (PlPruningCriterion *criterion, PlRun *run, PlParam *param, float *scores,
              GError **error)
{
  PlpTaylorCriterion *self = PLP_TAYLOR_CRITERION (criterion);
  return pl_prune_stats_score_for_run (self->stats, run, "taylor", param, scores, error);
}

static void
plp_taylor_criterion_iface_init (PlPruningCriterionInterface *iface)
{
  iface->score = taylor_score;
}

static gboolean
taylor_run_start (PlRunAddin *addin, PlRun *run, GError **error)
{
  PlpTaylorCriterion *self = PLP_TAYLOR_CRITERION (addin);
  double decay = self->accumulate == PLP_TAYLOR_ACCUMULATE_EMA ? self->decay : 0.0;
  pl_prune_stats_start_for_run (&self->stats, run, PL_PRUNE_STAT_TAYLOR, decay,
                                self->reset_after_prune);
  return TRUE;
}

static void
taylor_after_backward (PlRunAddin *addin, PlRun *run, gint64 step)
{
  PlpTaylorCriterion *self = PLP_TAYLOR_CRITERION (addin);
  pl_prune_stats_accumulate_for_run (self->stats, run);
}

/* the gradient statistics (pl_prune_stats_save_state) */
static gboolean
taylor_save_state (PlRunAddin *addin, PlRun *run, PlSafetensorsWriter *writer,
                   const char *prefix, GError **error)
{
  PlPruneStats *stats = PLP_TAYLOR_CRITERION (addin)->stats;
  return !stats || pl_prune_stats_save_state (stats, writer, prefix, error);
}

static gboolean
taylor_load_state (PlRunAddin *addin, PlRun *run, const PlSafetensors *state,
                   const char *prefix, GError **error)
{
  PlPruneStats *stats = PLP_TAYLOR_CRITERION (addin)->stats;
  return !stats || pl_prune_stats_load_state (stats, state, prefix, error);
}

static void
plp_taylor_criterion_addin_init (PlRunAddinInterface *iface)
{
  iface->save_state = taylor_save_state;
  iface->load_state = taylor_load_state;
  iface->run_start = taylor_run_start;
  iface->after_backward = taylor_after_backward;
}

static void
plp_taylor_criterion_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  PlpTaylorCriterion *self = PLP_TAYLOR_CRITERION (object);
  switch (id)
    {
    case PROP_ACCUMULATE:
      g_value_set_enum (value, self->accumulate);
      break;
    case PROP_DECAY:
      g_value_set_double (value, self->decay);
      break;
    case PROP_RESET_AFTER_PRUNE:
      g_value_set_boolean (value, self->reset_after_prune);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_taylor_criterion_set_property (GObject *object, guint id, const GValue *value,
                                   GParamSpec *pspec)
{
  PlpTaylorCriterion *self = PLP_TAYLOR_CRITERION (object);
  switch (id)
    {
    case PROP_ACCUMULATE:
      self->accumulate = g_value_get_enum (value);
      break;
    case PROP_DECAY:
      self->decay = g_value_get_double (value);
      break;
    case PROP_RESET_AFTER_PRUNE:
      self->reset_after_prune = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_taylor_criterion_finalize (GObject *object)
{
  PlpTaylorCriterion *self = PLP_TAYLOR_CRITERION (object);
  g_clear_pointer (&self->stats, pl_prune_stats_free);
  G_OBJECT_CLASS (plp_taylor_criterion_parent_class)->finalize (object);
}

static void
plp_taylor_criterion_class_init (PlpTaylorCriterionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  object_class->get_property = plp_taylor_criterion_get_property;
  object_class->set_property = plp_taylor_criterion_set_property;
  object_class->finalize = plp_taylor_criterion_finalize;
  g_object_class_install_property (object_class, PROP_ACCUMULATE,
    g_param_spec_enum ("accumulate", "Accumulate",
                       "How |w * dL/dw| adds up over steps: sum (plain sum) or ema "
                       "(exponential moving average with decay)",
                       PLP_TYPE_TAYLOR_ACCUMULATE, PLP_TAYLOR_ACCUMULATE_SUM, flags));
  g_object_class_install_property (object_class, PROP_DECAY,
    g_param_spec_double ("decay", "Decay",
                         "EMA decay: S = decay * S + (1 - decay) * |w * dL/dw| (accumulate=ema)",
                         0.0, 0.999, 0.9, flags));
  g_object_class_install_property (object_class, PROP_RESET_AFTER_PRUNE,
    g_param_spec_boolean ("reset-after-prune", "Reset after prune",
                          "Start the statistics over after each prune, so each prune ranks "
                          "by the steps since the previous one",
                          TRUE, flags));
}

static void
plp_taylor_criterion_class_finalize (PlpTaylorCriterionClass *klass)
{
}

static void
plp_taylor_criterion_init (PlpTaylorCriterion *self)
{
  self->accumulate = PLP_TAYLOR_ACCUMULATE_SUM;
  self->decay = 0.9;
  self->reset_after_prune = TRUE;
}

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  static const GEnumValue accumulate_values[] = {
    { PLP_TAYLOR_ACCUMULATE_SUM, "PLP_TAYLOR_ACCUMULATE_SUM", "sum" },
    { PLP_TAYLOR_ACCUMULATE_EMA, "PLP_TAYLOR_ACCUMULATE_EMA", "ema" },
    { 0, NULL, NULL },
  };
  plp_taylor_accumulate_type = g_type_module_register_enum (G_TYPE_MODULE (module),
                                                            "PlpTaylorAccumulate",
                                                            accumulate_values);
  plp_taylor_criterion_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, PL_TYPE_PRUNING_CRITERION,
                                              PLP_TYPE_TAYLOR_CRITERION);
}
