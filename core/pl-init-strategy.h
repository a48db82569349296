/* pl-init-strategy.h: the init slot: fills a model's parameters before training. */
#pragma once

#include <glib-object.h>

#include "pl-model.h"

G_BEGIN_DECLS

#define PL_TYPE_INIT_STRATEGY (pl_init_strategy_get_type ())
G_DECLARE_INTERFACE (PlInitStrategy, pl_init_strategy, PL, INIT_STRATEGY, GObject)

struct _PlInitStrategyInterface
{
  GTypeInterface parent_iface;

  /* Fill every parameter of @model from @seed; masks are re-applied after. */
  gboolean (*init_model) (PlInitStrategy *self, PlModel *model, guint64 seed, GError **error);
};

gboolean pl_init_strategy_init_model (PlInitStrategy *self, PlModel *model, guint64 seed, GError **error);

G_END_DECLS
