#include "pl-init-strategy.h"

#include "pl-error.h"

G_DEFINE_INTERFACE (PlInitStrategy, pl_init_strategy, G_TYPE_OBJECT)

static void
pl_init_strategy_default_init (PlInitStrategyInterface *iface)
{
}

gboolean
pl_init_strategy_init_model (PlInitStrategy *self, PlModel *model, guint64 seed, GError **error)
{
  g_return_val_if_fail (PL_IS_INIT_STRATEGY (self), FALSE);
  PlInitStrategyInterface *iface = PL_INIT_STRATEGY_GET_IFACE (self);
  if (!iface->init_model)
    {
      pl_model_init_default (model, seed);
      return TRUE;
    }
  return iface->init_model (self, model, seed, error);
}
