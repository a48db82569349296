/* pl-model-predict.h: a model's per-row class scores on a dataset, for metrics
 * that need the scores themselves (recall at a fixed precision, calibration). */
#pragma once

#include <glib.h>

#include "pl-dataset.h"
#include "pl-model.h"

G_BEGIN_DECLS

/* Runs @model in eval mode over @ds in batches of its graph's size and writes
 * scores[i] = the score of class @cls for row i: the softmax probability for a
 * cross-entropy model, the raw output for an mse model. @scores has room for
 * ds->n floats; nothing is allocated, so epoch_end hooks may call it every epoch.
 * The model's input and label buffers are overwritten (call it between steps).
 * PL_ERROR_SHAPE when @ds does not have the model's input width or @cls is not a
 * class of the model. */
gboolean pl_model_predict_scores (PlModel *model, const PlDataset *ds, int cls,
                                  float *scores, GError **error);

G_END_DECLS
