#include "pl-pruning-criterion.h"

#include "pl-error.h"

G_DEFINE_INTERFACE (PlPruningCriterion, pl_pruning_criterion, G_TYPE_OBJECT)

static void
pl_pruning_criterion_default_init (PlPruningCriterionInterface *iface)
{
}

gboolean
pl_pruning_criterion_score (PlPruningCriterion *self, PlRun *run, PlParam *param, float *scores, GError **error)
{
  g_return_val_if_fail (PL_IS_PRUNING_CRITERION (self), FALSE);
  PlPruningCriterionInterface *iface = PL_PRUNING_CRITERION_GET_IFACE (self);
  return iface->score (self, run, param, scores, error);
}
