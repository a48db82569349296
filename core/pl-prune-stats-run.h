/* pl-prune-stats-run.h: gradient statistics tied to the run a criterion is
 * attached to.
 *
 * A gradient-based criterion (taylor, movement) is also a PlRunAddin: at
 * run_start it starts statistics over the run's model, after every backward pass
 * it adds the step's terms, and when a schedule prunes it scores from them. These
 * helpers do each of those for the run at hand, and refuse statistics gathered on
 * another run's model. */
#pragma once

#include <glib.h>

#include "pl-engine.h"
#include "pl-prune-stats.h"

G_BEGIN_DECLS

/* Frees *@stats (may be NULL) and replaces it with fresh statistics of @kind over
 * @run's model (see pl_prune_stats_new for @decay and @reset_after_score). */
void     pl_prune_stats_start_for_run      (PlPruneStats **stats, PlRun *run,
                                            PlPruneStatKind kind, double decay,
                                            gboolean reset_after_score);
/* pl_prune_stats_accumulate() when @stats (may be NULL) belong to @run's model;
 * else nothing. */
void     pl_prune_stats_accumulate_for_run (PlPruneStats *stats, PlRun *run);
/* pl_prune_stats_score() for criterion @who; fails (PL_ERROR_PLUGIN), naming @who
 * and the tensor, when @stats is NULL or belongs to another model than @run's:
 * the criterion was not started on this run. */
gboolean pl_prune_stats_score_for_run      (PlPruneStats *stats, PlRun *run, const char *who,
                                            const PlParam *param, float *scores,
                                            GError **error);

G_END_DECLS
