/* pl-dataset-source.h: the dataset slot: data that is not a file, such as documented synthetic
 * generators, or folders of paired images and reports.
 *
 * load returns the training and validation splits (before normalization, which
 * the engine fits on the training split). */
#pragma once

#include <glib-object.h>

#include "pl-experiment.h"
#include "pl-dataset.h"

G_BEGIN_DECLS

#define PL_TYPE_DATASET_SOURCE (pl_dataset_source_get_type ())
G_DECLARE_INTERFACE (PlDatasetSource, pl_dataset_source, PL, DATASET_SOURCE, GObject)

struct _PlDatasetSourceInterface
{
  GTypeInterface parent_iface;

  /* Make or read the data; both splits are (transfer full). */
  gboolean (*load) (PlDatasetSource *self, const PlExperiment *exp, PlDataset **train, PlDataset **val, GError **error);
};

gboolean pl_dataset_source_load (PlDatasetSource *self, const PlExperiment *exp, PlDataset **train, PlDataset **val, GError **error);

G_END_DECLS
