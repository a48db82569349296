/* uniform: PyTorch's default initialization, with a gain. */
#include <libpeas/peas.h>
#include <math.h>

#include "paramlab.h"

#define PLP_TYPE_UNIFORM_INIT (plp_uniform_init_get_type ())
G_DECLARE_FINAL_TYPE (PlpUniformInit, plp_uniform_init, PLP, UNIFORM_INIT, GObject)

struct _PlpUniformInit {
  GObject parent_instance;
  double gain;
};

enum { PROP_0, PROP_GAIN, N_PROPS };

static void plp_uniform_init_iface_init (PlInitStrategyInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (PlpUniformInit, plp_uniform_init, G_TYPE_OBJECT, G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (PL_TYPE_INIT_STRATEGY,
                                                               plp_uniform_init_iface_init))

/* w, b ~ U(-gain / sqrt(fan_in), gain / sqrt(fan_in)); the default with gain 1 */
static gboolean
uniform_init_model (PlInitStrategy *strategy, PlModel *model, guint64 seed, GError **error)
{
  PlpUniformInit *self = PLP_UNIFORM_INIT (strategy);
  pl_model_init_default (model, seed);
  for (guint i = 0; i < pl_model_get_n_params (model); i++)
    {
      PlParam *p = pl_model_get_param (model, i);
      if (p->kind != PL_PARAM_WEIGHT && p->kind != PL_PARAM_BIAS)
        continue;
      for (size_t j = 0; j < p->numel; j++)
        p->data[j] *= (float) self->gain;
    }
  return TRUE;
}

static void
plp_uniform_init_iface_init (PlInitStrategyInterface *iface)
{
  iface->init_model = uniform_init_model;
}

static void
plp_uniform_init_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  PlpUniformInit *self = PLP_UNIFORM_INIT (object);
  switch (id)
    {
    case PROP_GAIN:
      g_value_set_double (value, self->gain);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_uniform_init_set_property (GObject *object, guint id, const GValue *value,
                               GParamSpec *pspec)
{
  PlpUniformInit *self = PLP_UNIFORM_INIT (object);
  switch (id)
    {
    case PROP_GAIN:
      self->gain = g_value_get_double (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_uniform_init_class_init (PlpUniformInitClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->get_property = plp_uniform_init_get_property;
  object_class->set_property = plp_uniform_init_set_property;
  g_object_class_install_property (object_class, PROP_GAIN,
    pl_init_param_spec_gain ("Multiplies PyTorch's default bounds"));
}

static void
plp_uniform_init_class_finalize (PlpUniformInitClass *klass)
{
}

static void
plp_uniform_init_init (PlpUniformInit *self)
{
  self->gain = 1.0;
}

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  plp_uniform_init_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, PL_TYPE_INIT_STRATEGY,
                                              PLP_TYPE_UNIFORM_INIT);
}
