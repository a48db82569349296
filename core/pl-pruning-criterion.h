/* pl-pruning-criterion.h: the pruning criterion slot: how important each weight is.
 *
 * Higher scores are kept. A criterion that needs gradient statistics accumulates
 * them through PlRunAddin (after_backward). */
#pragma once

#include <glib-object.h>

#include "pl-engine.h"

G_BEGIN_DECLS

#define PL_TYPE_PRUNING_CRITERION (pl_pruning_criterion_get_type ())
G_DECLARE_INTERFACE (PlPruningCriterion, pl_pruning_criterion, PL, PRUNING_CRITERION, GObject)

struct _PlPruningCriterionInterface
{
  GTypeInterface parent_iface;

  /* Write @param->numel importance scores into @scores. */
  gboolean (*score) (PlPruningCriterion *self, PlRun *run, PlParam *param, float *scores, GError **error);
};

gboolean pl_pruning_criterion_score (PlPruningCriterion *self, PlRun *run, PlParam *param, float *scores, GError **error);

G_END_DECLS
