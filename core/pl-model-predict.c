#include "pl-model-predict.h"

#include <string.h>

#include "pl-error.h"

gboolean
pl_model_predict_scores (PlModel *model, const PlDataset *ds, int cls, float *scores,
                         GError **error)
{
  g_return_val_if_fail (model != NULL && ds != NULL, FALSE);
  g_return_val_if_fail (scores != NULL || ds->n == 0, FALSE);
  const PlModelSpec *spec = pl_model_get_spec (model);
  PlGraph *g = pl_model_get_graph (model);
  int c = spec->n_classes, mb = pl_graph_get_max_batch (g);
  if (ds->n_features != (gsize) spec->in_features)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_SHAPE,
                   "dataset %s has %zu features, the model expects %d", ds->name,
                   (size_t) ds->n_features, spec->in_features);
      return FALSE;
    }
  if (cls < 0 || cls >= c)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_SHAPE,
                   "class %d is not a class of the model (it has %d)", cls, c);
      return FALSE;
    }
  float *x = pl_model_get_input_buffer (model);
  int32_t *y = pl_model_get_label_buffer (model);
  for (gsize start = 0; start < ds->n; start += mb)
    {
      int n = (int) MIN ((gsize) mb, ds->n - start);
      memcpy (x, ds->x + start * ds->n_features, sizeof (float) * n * ds->n_features);
      memcpy (y, ds->y + start, sizeof (int32_t) * n);
      if (spec->mse_loss)
        {
          /* the loss is not used, but the graph reads targets */
          float *t = pl_graph_targets (g, c);
          memset (t, 0, sizeof (float) * n * c);
        }
      pl_graph_forward (g, n, FALSE);
      const float *out = spec->mse_loss ? pl_model_get_logits (model)->data
                                        : pl_graph_get_probs (g);
      for (int i = 0; i < n; i++)
        scores[start + i] = out[(size_t) i * c + cls];
    }
  return TRUE;
}
