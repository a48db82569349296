#include "pl-architecture.h"

#include "pl-error.h"

G_DEFINE_INTERFACE (PlArchitecture, pl_architecture, G_TYPE_OBJECT)

static void
pl_architecture_default_init (PlArchitectureInterface *iface)
{
}

PlModel *
pl_architecture_build (PlArchitecture *self, const PlExperiment *exp, const PlDataset *like, const PlModelSpec *spec, GError **error)
{
  g_return_val_if_fail (PL_IS_ARCHITECTURE (self), NULL);
  PlArchitectureInterface *iface = PL_ARCHITECTURE_GET_IFACE (self);
  return iface->build (self, exp, like, spec, error);
}
