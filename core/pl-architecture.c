#include "pl-architecture.h"

#include "pl-error.h"

G_DEFINE_INTERFACE (PlArchitecture, pl_architecture, G_TYPE_OBJECT)

static gboolean
pl_architecture_real_load_init_from (PlArchitecture *self, PlModel *model, const char *path,
                                     GError **error)
{
  return pl_model_load_safetensors (model, path, FALSE, error);
}

static void
pl_architecture_default_init (PlArchitectureInterface *iface)
{
  iface->load_init_from = pl_architecture_real_load_init_from;
}

PlModel *
pl_architecture_build (PlArchitecture *self, const PlExperiment *exp, const PlDataset *like, const PlModelSpec *spec, GError **error)
{
  g_return_val_if_fail (PL_IS_ARCHITECTURE (self), NULL);
  PlArchitectureInterface *iface = PL_ARCHITECTURE_GET_IFACE (self);
  return iface->build (self, exp, like, spec, error);
}

gboolean
pl_architecture_load_init_from (PlArchitecture *self, PlModel *model, const char *path,
                                GError **error)
{
  g_return_val_if_fail (PL_IS_ARCHITECTURE (self), FALSE);
  g_return_val_if_fail (model != NULL && path != NULL, FALSE);
  PlArchitectureInterface *iface = PL_ARCHITECTURE_GET_IFACE (self);
  if (!iface->load_init_from)
    return pl_architecture_real_load_init_from (self, model, path, error);
  return iface->load_init_from (self, model, path, error);
}
