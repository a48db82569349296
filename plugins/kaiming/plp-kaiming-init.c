/* kaiming: He initialization (torch.nn.init.kaiming_normal_ / kaiming_uniform_). */
#include <libpeas/peas.h>
#include <math.h>

#include "paramlab.h"

typedef enum {
  PLP_KAIMING_MODE_FAN_IN,
  PLP_KAIMING_MODE_FAN_OUT,
} PlpKaimingMode;

typedef enum {
  PLP_KAIMING_RELU,
  PLP_KAIMING_LEAKY_RELU,
  PLP_KAIMING_TANH,
  PLP_KAIMING_LINEAR,
} PlpKaimingNonlinearity;

static GType plp_kaiming_mode_type;
static GType plp_kaiming_nonlinearity_type;

#define PLP_TYPE_KAIMING_INIT (plp_kaiming_init_get_type ())
G_DECLARE_FINAL_TYPE (PlpKaimingInit, plp_kaiming_init, PLP, KAIMING_INIT, GObject)

struct _PlpKaimingInit {
  GObject parent_instance;
  PlpKaimingMode mode;
  PlpKaimingNonlinearity nonlinearity;
  double negative_slope;
  PlInitDistribution distribution;
  PlInitBias bias;
};

enum {
  PROP_0,
  PROP_MODE,
  PROP_NONLINEARITY,
  PROP_NEGATIVE_SLOPE,
  PROP_DISTRIBUTION,
  PROP_BIAS,
  N_PROPS
};

static void plp_kaiming_init_iface_init (PlInitStrategyInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (PlpKaimingInit, plp_kaiming_init, G_TYPE_OBJECT, G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (PL_TYPE_INIT_STRATEGY,
                                                               plp_kaiming_init_iface_init))

/* torch.nn.init.calculate_gain */
static double
kaiming_gain (PlpKaimingInit *self)
{
  switch (self->nonlinearity)
    {
    case PLP_KAIMING_RELU:
      return sqrt (2.0);
    case PLP_KAIMING_LEAKY_RELU:
      return sqrt (2.0 / (1.0 + self->negative_slope * self->negative_slope));
    case PLP_KAIMING_TANH:
      return 5.0 / 3.0;
    case PLP_KAIMING_LINEAR:
    default:
      return 1.0;
    }
}

/* std = gain / sqrt(fan), fan = fan_in or fan_out; uniform bound sqrt(3) std */
static gboolean
kaiming_fill (PlParam *p, PlRng *rng, gpointer user_data, GError **error)
{
  PlpKaimingInit *self = user_data;
  int fan = self->mode == PLP_KAIMING_MODE_FAN_IN ? p->fan_in : p->fan_out;
  double std = kaiming_gain (self) / sqrt ((double) MAX (fan, 1));
  pl_init_fill_random (rng, p->data, p->numel, self->distribution, std);
  return TRUE;
}

static gboolean
kaiming_init_model (PlInitStrategy *strategy, PlModel *model, guint64 seed, GError **error)
{
  PlpKaimingInit *self = PLP_KAIMING_INIT (strategy);
  return pl_init_model_weights (model, seed, "init/kaiming", self->bias, kaiming_fill, self,
                                error);
}

static void
plp_kaiming_init_iface_init (PlInitStrategyInterface *iface)
{
  iface->init_model = kaiming_init_model;
}

static void
plp_kaiming_init_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  PlpKaimingInit *self = PLP_KAIMING_INIT (object);
  switch (id)
    {
    case PROP_MODE:
      g_value_set_enum (value, self->mode);
      break;
    case PROP_NONLINEARITY:
      g_value_set_enum (value, self->nonlinearity);
      break;
    case PROP_NEGATIVE_SLOPE:
      g_value_set_double (value, self->negative_slope);
      break;
    case PROP_DISTRIBUTION:
      g_value_set_enum (value, self->distribution);
      break;
    case PROP_BIAS:
      g_value_set_enum (value, self->bias);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_kaiming_init_set_property (GObject *object, guint id, const GValue *value,
                               GParamSpec *pspec)
{
  PlpKaimingInit *self = PLP_KAIMING_INIT (object);
  switch (id)
    {
    case PROP_MODE:
      self->mode = g_value_get_enum (value);
      break;
    case PROP_NONLINEARITY:
      self->nonlinearity = g_value_get_enum (value);
      break;
    case PROP_NEGATIVE_SLOPE:
      self->negative_slope = g_value_get_double (value);
      break;
    case PROP_DISTRIBUTION:
      self->distribution = g_value_get_enum (value);
      break;
    case PROP_BIAS:
      self->bias = g_value_get_enum (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_kaiming_init_class_init (PlpKaimingInitClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->get_property = plp_kaiming_init_get_property;
  object_class->set_property = plp_kaiming_init_set_property;
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  g_object_class_install_property (object_class, PROP_MODE,
    g_param_spec_enum ("mode", "Mode",
                       "fan-in keeps the variance of activations in the forward pass, "
                       "fan-out that of gradients in the backward pass",
                       plp_kaiming_mode_type, PLP_KAIMING_MODE_FAN_IN, flags));
  g_object_class_install_property (object_class, PROP_NONLINEARITY,
    g_param_spec_enum ("nonlinearity", "Nonlinearity",
                       "The activation after the layer, for the gain: relu sqrt(2), "
                       "leaky-relu sqrt(2/(1+negative-slope^2)), tanh 5/3, linear 1",
                       plp_kaiming_nonlinearity_type, PLP_KAIMING_RELU, flags));
  g_object_class_install_property (object_class, PROP_NEGATIVE_SLOPE,
    g_param_spec_double ("negative-slope", "Negative slope",
                         "The slope of leaky-relu for x < 0 (used with "
                         "nonlinearity=leaky-relu only)",
                         0.0, 100.0, 0.01, flags));
  g_object_class_install_property (object_class, PROP_DISTRIBUTION,
    pl_init_param_spec_distribution (PL_INIT_DISTRIBUTION_NORMAL,
                                     "normal: N(0, std^2); uniform: U(-sqrt(3) std, sqrt(3) "
                                     "std), with std = gain/sqrt(fan)"));
  g_object_class_install_property (object_class, PROP_BIAS, pl_init_param_spec_bias ());
}

static void
plp_kaiming_init_class_finalize (PlpKaimingInitClass *klass)
{
}

static void
plp_kaiming_init_init (PlpKaimingInit *self)
{
  self->mode = PLP_KAIMING_MODE_FAN_IN;
  self->nonlinearity = PLP_KAIMING_RELU;
  self->negative_slope = 0.01;
  self->distribution = PL_INIT_DISTRIBUTION_NORMAL;
  self->bias = PL_INIT_BIAS_ZERO;
}

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  static const GEnumValue mode_values[] = {
    { PLP_KAIMING_MODE_FAN_IN, "PLP_KAIMING_MODE_FAN_IN", "fan-in" },
    { PLP_KAIMING_MODE_FAN_OUT, "PLP_KAIMING_MODE_FAN_OUT", "fan-out" },
    { 0, NULL, NULL },
  };
  static const GEnumValue nonlinearity_values[] = {
    { PLP_KAIMING_RELU, "PLP_KAIMING_RELU", "relu" },
    { PLP_KAIMING_LEAKY_RELU, "PLP_KAIMING_LEAKY_RELU", "leaky-relu" },
    { PLP_KAIMING_TANH, "PLP_KAIMING_TANH", "tanh" },
    { PLP_KAIMING_LINEAR, "PLP_KAIMING_LINEAR", "linear" },
    { 0, NULL, NULL },
  };
  plp_kaiming_mode_type = g_type_module_register_enum (G_TYPE_MODULE (module),
                                                       "PlpKaimingMode", mode_values);
  plp_kaiming_nonlinearity_type = g_type_module_register_enum (G_TYPE_MODULE (module),
                                                               "PlpKaimingNonlinearity",
                                                               nonlinearity_values);
  plp_kaiming_init_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, PL_TYPE_INIT_STRATEGY,
                                              PLP_TYPE_KAIMING_INIT);
}
