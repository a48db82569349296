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
  /* Load [model] init-from (@path) into @model, which build made, after the init
   * plugin ran. Default: pl_model_load_safetensors() of the whole model. A
   * transfer model takes only its pretrained part (pl-model-load.h). */
  gboolean (*load_init_from) (PlArchitecture *self, PlModel *model, const char *path, GError **error);
};

PlModel * pl_architecture_build (PlArchitecture *self, const PlExperiment *exp, const PlDataset *like, const PlModelSpec *spec, GError **error);
gboolean  pl_architecture_load_init_from (PlArchitecture *self, PlModel *model, const char *path, GError **error);

G_END_DECLS
