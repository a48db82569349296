/* xavier: Glorot initialization (torch.nn.init.xavier_uniform_ / xavier_normal_). */
#include <libpeas/peas.h>
#include <math.h>

#include "paramlab.h"

#define PLP_TYPE_XAVIER_INIT (plp_xavier_init_get_type ())
G_DECLARE_FINAL_TYPE (PlpXavierInit, plp_xavier_init, PLP, XAVIER_INIT, GObject)

struct _PlpXavierInit {
  GObject parent_instance;
  PlInitDistribution distribution;
  double gain;
  PlInitBias bias;
};

enum { PROP_0, PROP_DISTRIBUTION, PROP_GAIN, PROP_BIAS, N_PROPS };

static void plp_xavier_init_iface_init (PlInitStrategyInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (PlpXavierInit, plp_xavier_init, G_TYPE_OBJECT, G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (PL_TYPE_INIT_STRATEGY,
                                                               plp_xavier_init_iface_init))

/* std = gain * sqrt(2 / (fan_in + fan_out)); uniform bound sqrt(3) std
 * = gain * sqrt(6 / (fan_in + fan_out)) */
static gboolean
xavier_fill (PlParam *p, PlRng *rng, gpointer user_data, GError **error)
{
  PlpXavierInit *self = user_data;
  double std = self->gain * sqrt (2.0 / (double) MAX (p->fan_in + p->fan_out, 1));
  pl_init_fill_random (rng, p->data, p->numel, self->distribution, std);
  return TRUE;
}

static gboolean
xavier_init_model (PlInitStrategy *strategy, PlModel *model, guint64 seed, GError **error)
{
  PlpXavierInit *self = PLP_XAVIER_INIT (strategy);
  return pl_init_model_weights (model, seed, "init/xavier", self->bias, xavier_fill, self,
                                error);
}

static void
plp_xavier_init_iface_init (PlInitStrategyInterface *iface)
{
  iface->init_model = xavier_init_model;
}

static void
plp_xavier_init_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  PlpXavierInit *self = PLP_XAVIER_INIT (object);
  switch (id)
    {
    case PROP_DISTRIBUTION:
      g_value_set_enum (value, self->distribution);
      break;
    case PROP_GAIN:
      g_value_set_double (value, self->gain);
      break;
    case PROP_BIAS:
      g_value_set_enum (value, self->bias);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_xavier_init_set_property (GObject *object, guint id, const GValue *value,
                              GParamSpec *pspec)
{
  PlpXavierInit *self = PLP_XAVIER_INIT (object);
  switch (id)
    {
    case PROP_DISTRIBUTION:
      self->distribution = g_value_get_enum (value);
      break;
    case PROP_GAIN:
      self->gain = g_value_get_double (value);
      break;
    case PROP_BIAS:
      self->bias = g_value_get_enum (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_xavier_init_class_init (PlpXavierInitClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->get_property = plp_xavier_init_get_property;
  object_class->set_property = plp_xavier_init_set_property;
  g_object_class_install_property (object_class, PROP_DISTRIBUTION,
    pl_init_param_spec_distribution (PL_INIT_DISTRIBUTION_UNIFORM,
                                     "uniform: U(-a, a) with a = gain*sqrt(6/(fan_in+fan_out)); "
                                     "normal: N(0, gain^2*2/(fan_in+fan_out))"));
  g_object_class_install_property (object_class, PROP_GAIN,
    pl_init_param_spec_gain ("Scales the standard deviation (torch.nn.init.calculate_gain: 1 "
                             "for linear and sigmoid, 5/3 for tanh, sqrt(2) for relu)"));
  g_object_class_install_property (object_class, PROP_BIAS, pl_init_param_spec_bias ());
}

static void
plp_xavier_init_class_finalize (PlpXavierInitClass *klass)
{
}

static void
plp_xavier_init_init (PlpXavierInit *self)
{
  self->distribution = PL_INIT_DISTRIBUTION_UNIFORM;
  self->gain = 1.0;
  self->bias = PL_INIT_BIAS_ZERO;
}

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  plp_xavier_init_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, PL_TYPE_INIT_STRATEGY,
                                              PLP_TYPE_XAVIER_INIT);
}
