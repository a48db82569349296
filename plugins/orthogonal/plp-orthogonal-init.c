/* orthogonal: the article's layered orthogonal initialization ("orthogonal matrices
 * for fully connected layers, gaussian with a unit-norm constraint for conv
 * layers"). */
#include <libpeas/peas.h>
#include <math.h>

#include "paramlab.h"

#define PLP_TYPE_ORTHOGONAL_INIT (plp_orthogonal_init_get_type ())
G_DECLARE_FINAL_TYPE (PlpOrthogonalInit, plp_orthogonal_init, PLP, ORTHOGONAL_INIT, GObject)

struct _PlpOrthogonalInit {
  GObject parent_instance;
  double gain;
  PlInitBias bias;
};

enum { PROP_0, PROP_GAIN, PROP_BIAS, N_PROPS };

static void plp_orthogonal_init_iface_init (PlInitStrategyInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (PlpOrthogonalInit, plp_orthogonal_init, G_TYPE_OBJECT,
                                G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (PL_TYPE_INIT_STRATEGY,
                                                               plp_orthogonal_init_iface_init))

/* dense W [out, in] = gain * Q (W W^T or W^T W = gain^2 I);
 * conv W [out, in, kh, kw]: each filter W[k] ~ N(0, I) scaled to |W[k]| = gain */
static gboolean
orthogonal_fill (PlParam *p, PlRng *rng, gpointer user_data, GError **error)
{
  PlpOrthogonalInit *self = user_data;
  int rows = p->shape[0];
  int cols = rows > 0 ? (int) (p->numel / (size_t) rows) : 0;
  if (p->ndim < 2 || rows <= 0 || cols <= 0)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_SHAPE,
                   "orthogonal init needs a weight of at least 2 dimensions with no empty "
                   "one (got %d dimensions, %zu elements)", p->ndim, p->numel);
      return FALSE;
    }
  if (p->layer == PL_LAYER_CONV)
    pl_init_fill_unit_rows (rng, p->data, rows, cols, self->gain);
  else
    pl_init_fill_orthogonal (rng, p->data, rows, cols, self->gain);
  return TRUE;
}

static gboolean
orthogonal_init_model (PlInitStrategy *strategy, PlModel *model, guint64 seed, GError **error)
{
  PlpOrthogonalInit *self = PLP_ORTHOGONAL_INIT (strategy);
  return pl_init_model_weights (model, seed, "init/orthogonal", self->bias, orthogonal_fill,
                                self, error);
}

static void
plp_orthogonal_init_iface_init (PlInitStrategyInterface *iface)
{
  iface->init_model = orthogonal_init_model;
}

static void
plp_orthogonal_init_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  PlpOrthogonalInit *self = PLP_ORTHOGONAL_INIT (object);
  switch (id)
    {
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
plp_orthogonal_init_set_property (GObject *object, guint id, const GValue *value,
                                  GParamSpec *pspec)
{
  PlpOrthogonalInit *self = PLP_ORTHOGONAL_INIT (object);
  switch (id)
    {
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
plp_orthogonal_init_class_init (PlpOrthogonalInitClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->get_property = plp_orthogonal_init_get_property;
  object_class->set_property = plp_orthogonal_init_set_property;
  g_object_class_install_property (object_class, PROP_GAIN,
    pl_init_param_spec_gain ("Dense weights are gain times an orthogonal matrix; each conv "
                             "filter has L2 norm gain (sqrt(2) suits relu)"));
  g_object_class_install_property (object_class, PROP_BIAS, pl_init_param_spec_bias ());
}

static void
plp_orthogonal_init_class_finalize (PlpOrthogonalInitClass *klass)
{
}

static void
plp_orthogonal_init_init (PlpOrthogonalInit *self)
{
  self->gain = 1.0;
  self->bias = PL_INIT_BIAS_ZERO;
}

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  plp_orthogonal_init_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, PL_TYPE_INIT_STRATEGY,
                                              PLP_TYPE_ORTHOGONAL_INIT);
}
