/* pl-architecture.h: the architecture slot: builds the model of a run.
 *
 * @spec carries the data's shape, the batch size, the seed, the activation and the
 * build hooks of gates and quantizers; use pl_model_weight_tensor() and friends so
 * that they apply. */
#pragma once

#include <glib-object.h>

#include "pl-experiment.h"
#include "pl-dataset.h"
#include "pl-model.h"

G_BEGIN_DECLS

#define PL_TYPE_ARCHITECTURE (pl_architecture_get_type ())
G_DECLARE_INTERFACE (PlArchitecture, pl_architecture, PL, ARCHITECTURE, GObject)

struct _PlArchitectureInterface
{
  GTypeInterface parent_iface;

  /* A new model for data shaped like @like. */
  PlModel * (*build) (PlArchitecture *self, const PlExperiment *exp, const PlDataset *like, const PlModelSpec *spec, GError **error);
};

PlModel * pl_architecture_build (PlArchitecture *self, const PlExperiment *exp, const PlDataset *like, const PlModelSpec *spec, GError **error);

G_END_DECLS
