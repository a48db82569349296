/* pl-quantizer.h: the quantization slot: fake quantization in the forward pass and a real
 * integer export.
 *
 * While the model is built the engine passes every dense and conv weight through
 * wrap_weight and every layer input through wrap_input (return the tensor
 * itself to leave it). export_int8 writes the quantized tensors with their
 * scales and zero points. */
#pragma once

#include <glib-object.h>

#include "pl-model.h"
#include "pl-safetensors.h"

G_BEGIN_DECLS

#define PL_TYPE_QUANTIZER (pl_quantizer_get_type ())
G_DECLARE_INTERFACE (PlQuantizer, pl_quantizer, PL, QUANTIZER, GObject)

struct _PlQuantizerInterface
{
  GTypeInterface parent_iface;

  /* The weight @param as its layer reads it. */
  PlTensor * (*wrap_weight) (PlQuantizer *self, PlModel *model, PlGraph *graph, PlParam *param, PlTensor *w);
  /* The activation entering the layer of @weight. */
  PlTensor * (*wrap_input) (PlQuantizer *self, PlModel *model, PlGraph *graph, PlParam *weight, PlTensor *x);
  /* Write the int8 form of @model into @writer. */
  gboolean (*export_int8) (PlQuantizer *self, PlModel *model, PlSafetensorsWriter *writer, GError **error);
  /* @model, built with @self's wrappers, has loaded the weights of the int8 export
   * @file (pl_model_load_int8_safetensors): make its forward compute that int8
   * model (weights as loaded, activation ranges from @file). Optional. */
  gboolean (*load_int8) (PlQuantizer *self, PlModel *model, const PlSafetensors *file, const char *path, GError **error);
};

PlTensor * pl_quantizer_wrap_weight (PlQuantizer *self, PlModel *model, PlGraph *graph, PlParam *param, PlTensor *w);
PlTensor * pl_quantizer_wrap_input (PlQuantizer *self, PlModel *model, PlGraph *graph, PlParam *weight, PlTensor *x);
gboolean pl_quantizer_export_int8 (PlQuantizer *self, PlModel *model, PlSafetensorsWriter *writer, GError **error);
gboolean pl_quantizer_load_int8 (PlQuantizer *self, PlModel *model, const PlSafetensors *file, const char *path, GError **error);

G_END_DECLS
