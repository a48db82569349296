#include "pl-pruning-schedule.h"

#include "pl-error.h"

G_DEFINE_INTERFACE (PlPruningSchedule, pl_pruning_schedule, G_TYPE_OBJECT)

static void
pl_pruning_schedule_default_init (PlPruningScheduleInterface *iface)
{
}

gboolean
pl_pruning_schedule_update (PlPruningSchedule *self, PlPruner *pruner, gint64 step, gint64 total_steps, GError **error)
{
  g_return_val_if_fail (PL_IS_PRUNING_SCHEDULE (self), FALSE);
  PlPruningScheduleInterface *iface = PL_PRUNING_SCHEDULE_GET_IFACE (self);
  return iface->update (self, pruner, step, total_steps, error);
}

double
pl_pruning_schedule_target_at (PlPruningSchedule *self, gint64 step, gint64 total_steps)
{
  g_return_val_if_fail (PL_IS_PRUNING_SCHEDULE (self), 0.0);
  PlPruningScheduleInterface *iface = PL_PRUNING_SCHEDULE_GET_IFACE (self);
  if (!iface->target_at)
    return 0.0;
  return iface->target_at (self, step, total_steps);
}
