/* magnitude: the pruning criterion |w|, with an optional hard threshold. */
/* The score loop wants the vectorizer (GCC 12's -O2 cost model vectorizes no loop of
 * unknown trip count); it only takes |w| and compares, so the bits do not change. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__OPTIMIZE__)
#pragma GCC optimize ("tree-vectorize", "vect-cost-model=dynamic")
#endif
#include <libpeas/peas.h>
#include <math.h>

#include "paramlab.h"

#define PLP_TYPE_MAGNITUDE_CRITERION (plp_magnitude_criterion_get_type ())
G_DECLARE_FINAL_TYPE (PlpMagnitudeCriterion, plp_magnitude_criterion, PLP, MAGNITUDE_CRITERION,
                      GObject)

struct _PlpMagnitudeCriterion {
  GObject parent_instance;
  double threshold;
};

enum { PROP_0, PROP_THRESHOLD, N_PROPS };

static void plp_magnitude_criterion_iface_init (PlPruningCriterionInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (PlpMagnitudeCriterion, plp_magnitude_criterion, G_TYPE_OBJECT,
                                G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (PL_TYPE_PRUNING_CRITERION,
                                                               plp_magnitude_criterion_iface_init))

/* score = |w|; with threshold > 0, score = -inf where |w| < threshold, which the
 * pruner masks whatever the target (pl_pruner_prune_to) */
static gboolean
magnitude_score (PlPruningCriterion *criterion, PlRun *run, PlParam *param, float *scores,
                 GError **error)
{
  PlpMagnitudeCriterion *self = PLP_MAGNITUDE_CRITERION (criterion);
  /* compared in float, like pl_pruner_prune_by_magnitude */
  const float thr = (float) self->threshold;
  /* locals: stores to scores could alias param's fields otherwise (scalar loop) */
  const float *data = param->data;
  const size_t n = param->numel;
  for (size_t j = 0; j < n; j++)
    {
      float a = fabsf (data[j]);
      scores[j] = a < thr ? -INFINITY : a;
    }
  return TRUE;
}

static void
plp_magnitude_criterion_iface_init (PlPruningCriterionInterface *iface)
{
  iface->score = magnitude_score;
}

static void
plp_magnitude_criterion_get_property (GObject *object, guint id, GValue *value,
                                      GParamSpec *pspec)
{
  PlpMagnitudeCriterion *self = PLP_MAGNITUDE_CRITERION (object);
  switch (id)
    {
    case PROP_THRESHOLD:
      g_value_set_double (value, self->threshold);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_magnitude_criterion_set_property (GObject *object, guint id, const GValue *value,
                                      GParamSpec *pspec)
{
  PlpMagnitudeCriterion *self = PLP_MAGNITUDE_CRITERION (object);
  switch (id)
    {
    case PROP_THRESHOLD:
      self->threshold = g_value_get_double (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_magnitude_criterion_class_init (PlpMagnitudeCriterionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->get_property = plp_magnitude_criterion_get_property;
  object_class->set_property = plp_magnitude_criterion_set_property;
  g_object_class_install_property (object_class, PROP_THRESHOLD,
    g_param_spec_double ("threshold", "Threshold",
                         "Weights with |w| below this always go at a prune, even beyond the "
                         "schedule's target (0: only the lowest fraction goes)",
                         0.0, 1e6, 0.0,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
}

static void
plp_magnitude_criterion_class_finalize (PlpMagnitudeCriterionClass *klass)
{
}

static void
plp_magnitude_criterion_init (PlpMagnitudeCriterion *self)
{
}

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  plp_magnitude_criterion_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, PL_TYPE_PRUNING_CRITERION,
                                              PLP_TYPE_MAGNITUDE_CRITERION);
}
