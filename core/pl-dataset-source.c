#include "pl-dataset-source.h"

#include "pl-error.h"

G_DEFINE_INTERFACE (PlDatasetSource, pl_dataset_source, G_TYPE_OBJECT)

static void
pl_dataset_source_default_init (PlDatasetSourceInterface *iface)
{
}

gboolean
pl_dataset_source_load (PlDatasetSource *self, const PlExperiment *exp, PlDataset **train, PlDataset **val, GError **error)
{
  g_return_val_if_fail (PL_IS_DATASET_SOURCE (self), FALSE);
  PlDatasetSourceInterface *iface = PL_DATASET_SOURCE_GET_IFACE (self);
  return iface->load (self, exp, train, val, error);
}
