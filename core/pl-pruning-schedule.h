/* pl-pruning-schedule.h: the pruning schedule slot: when, and how much, to prune.
 *
 * After every optimizer step the engine calls update with a PlPruner, through
 * which the schedule masks weights (by the criterion's scores, or by magnitude).
 * target_at tells the target sparsity at a step, for previews and checks. */
#pragma once

#include <glib-object.h>

#include "pl-pruner.h"

G_BEGIN_DECLS

#define PL_TYPE_PRUNING_SCHEDULE (pl_pruning_schedule_get_type ())
G_DECLARE_INTERFACE (PlPruningSchedule, pl_pruning_schedule, PL, PRUNING_SCHEDULE, GObject)

struct _PlPruningScheduleInterface
{
  GTypeInterface parent_iface;

  /* Called after optimizer step @step (0-based) of @total_steps. */
  gboolean (*update) (PlPruningSchedule *self, PlPruner *pruner, gint64 step, gint64 total_steps, GError **error);
  /* The target sparsity after step @step. */
  double (*target_at) (PlPruningSchedule *self, gint64 step, gint64 total_steps);
};

gboolean pl_pruning_schedule_update (PlPruningSchedule *self, PlPruner *pruner, gint64 step, gint64 total_steps, GError **error);
double pl_pruning_schedule_target_at (PlPruningSchedule *self, gint64 step, gint64 total_steps);

G_END_DECLS
