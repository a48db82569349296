#include "pl-prune-stats-run.h"

#include "pl-error.h"

static gboolean
stats_of_run (PlPruneStats *stats, PlRun *run)
{
  return stats && pl_prune_stats_get_model (stats) == pl_run_get_model (run);
}

void
pl_prune_stats_start_for_run (PlPruneStats **stats, PlRun *run, PlPruneStatKind kind,
                              double decay, gboolean reset_after_score)
{
  g_return_if_fail (stats != NULL && run != NULL);
  g_clear_pointer (stats, pl_prune_stats_free);
  *stats = pl_prune_stats_new (pl_run_get_model (run), kind, decay, reset_after_score);
}

void
pl_prune_stats_accumulate_for_run (PlPruneStats *stats, PlRun *run)
{
  g_return_if_fail (run != NULL);
  if (stats_of_run (stats, run))
    pl_prune_stats_accumulate (stats);
}

gboolean
pl_prune_stats_score_for_run (PlPruneStats *stats, PlRun *run, const char *who,
                              const PlParam *param, float *scores, GError **error)
{
  g_return_val_if_fail (run != NULL && who != NULL && param != NULL, FALSE);
  if (!stats_of_run (stats, run))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_PLUGIN,
                   "%s: no gradient statistics for tensor %s: the criterion gathers "
                   "them during a run it is attached to", who, param->name);
      return FALSE;
    }
  return pl_prune_stats_score (stats, who, param, scores, error);
}
