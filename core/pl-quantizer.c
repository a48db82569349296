#include "pl-quantizer.h"

#include "pl-error.h"

G_DEFINE_INTERFACE (PlQuantizer, pl_quantizer, G_TYPE_OBJECT)

static void
pl_quantizer_default_init (PlQuantizerInterface *iface)
{
}

PlTensor *
pl_quantizer_wrap_weight (PlQuantizer *self, PlModel *model, PlGraph *graph, PlParam *param, PlTensor *w)
{
  g_return_val_if_fail (PL_IS_QUANTIZER (self), NULL);
  PlQuantizerInterface *iface = PL_QUANTIZER_GET_IFACE (self);
  if (!iface->wrap_weight)
    return w;
  return iface->wrap_weight (self, model, graph, param, w);
}

PlTensor *
pl_quantizer_wrap_input (PlQuantizer *self, PlModel *model, PlGraph *graph, PlParam *weight, PlTensor *x)
{
  g_return_val_if_fail (PL_IS_QUANTIZER (self), NULL);
  PlQuantizerInterface *iface = PL_QUANTIZER_GET_IFACE (self);
  if (!iface->wrap_input)
    return x;
  return iface->wrap_input (self, model, graph, weight, x);
}

gboolean
pl_quantizer_export_int8 (PlQuantizer *self, PlModel *model, PlSafetensorsWriter *writer, GError **error)
{
  g_return_val_if_fail (PL_IS_QUANTIZER (self), FALSE);
  PlQuantizerInterface *iface = PL_QUANTIZER_GET_IFACE (self);
  if (!iface->export_int8)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_PLUGIN, "%s cannot export int8",
                   G_OBJECT_TYPE_NAME (self));
      return FALSE;
    }
  return iface->export_int8 (self, model, writer, error);
}

gboolean
pl_quantizer_load_int8 (PlQuantizer *self, PlModel *model, const PlSafetensors *file,
                        const char *path, GError **error)
{
  g_return_val_if_fail (PL_IS_QUANTIZER (self), FALSE);
  PlQuantizerInterface *iface = PL_QUANTIZER_GET_IFACE (self);
  return iface->load_int8 ? iface->load_int8 (self, model, file, path, error) : TRUE;
}
