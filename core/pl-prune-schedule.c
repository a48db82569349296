#include "pl-prune-schedule.h"

#include <math.h>

#include "pl-error.h"
#include "pl-experiment.h"

#define PL_PRUNE_PARAM_FLAGS \
  (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS)

void
pl_prune_schedule_options_init (PlPruneScheduleOptions *options)
{
  g_return_if_fail (options != NULL);
  options->final_sparsity = 0.5;
  options->scope = PL_PRUNE_SCOPE_LAYER;
}

GParamSpec *
pl_prune_schedule_param_final_sparsity (const char *blurb)
{
  g_return_val_if_fail (blurb != NULL, NULL);
  return g_param_spec_double ("final-sparsity", "Final sparsity", blurb, 0.0, 0.99, 0.5,
                              PL_PRUNE_PARAM_FLAGS);
}

GParamSpec *
pl_prune_schedule_param_scope (const char *blurb)
{
  if (!blurb)
    blurb = "layer: every weight tensor gets the sparsity; global: one ranking over all "
            "prunable weights";
  return g_param_spec_enum ("scope", "Scope", blurb, PL_TYPE_PRUNE_SCOPE,
                            PL_PRUNE_SCOPE_LAYER, PL_PRUNE_PARAM_FLAGS);
}

GParamSpec *
pl_prune_schedule_param_step (const char *name, const char *nick, const char *blurb)
{
  g_return_val_if_fail (name != NULL && nick != NULL && blurb != NULL, NULL);
  return g_param_spec_int (name, nick, blurb, -1, PL_PRUNE_MAX_STEP, -1, PL_PRUNE_PARAM_FLAGS);
}

gboolean
pl_prune_schedule_options_get_property (const PlPruneScheduleOptions *options,
                                        GParamSpec *pspec, GValue *value)
{
  g_return_val_if_fail (options != NULL && G_IS_PARAM_SPEC (pspec), FALSE);
  if (g_str_equal (pspec->name, "final-sparsity"))
    g_value_set_double (value, options->final_sparsity);
  else if (g_str_equal (pspec->name, "scope"))
    g_value_set_enum (value, options->scope);
  else
    return FALSE;
  return TRUE;
}

gboolean
pl_prune_schedule_options_set_property (PlPruneScheduleOptions *options, GParamSpec *pspec,
                                        const GValue *value)
{
  g_return_val_if_fail (options != NULL && G_IS_PARAM_SPEC (pspec), FALSE);
  if (g_str_equal (pspec->name, "final-sparsity"))
    options->final_sparsity = g_value_get_double (value);
  else if (g_str_equal (pspec->name, "scope"))
    options->scope = g_value_get_enum (value);
  else
    return FALSE;
  return TRUE;
}

gint64
pl_prune_schedule_resolve_step (int step, double fraction, gint64 total_steps)
{
  /* t = step, or round(fraction * T) */
  return step >= 0 ? step : llround (fraction * (double) total_steps);
}

gboolean
pl_prune_schedule_check_within_run (const char *who, const char *key, gint64 step,
                                    gint64 total_steps, GError **error)
{
  g_return_val_if_fail (who != NULL && key != NULL, FALSE);
  if (step <= total_steps)
    return TRUE;
  g_set_error (error, PL_ERROR, PL_ERROR_CONFIG,
               "%s: %s %" G_GINT64_FORMAT " is after the run's last step (%" G_GINT64_FORMAT
               "); expected at most %" G_GINT64_FORMAT, who, key, step, total_steps,
               total_steps);
  return FALSE;
}

gboolean
pl_prune_schedule_fail_at_option (PlRun *run, const char *key, GError **error)
{
  g_return_val_if_fail (run != NULL && key != NULL, FALSE);
  g_autofree char *where = pl_experiment_get_location (pl_run_get_experiment (run), "prune",
                                                      key);
  g_prefix_error (error, "%s: [prune] %s: ", where, key);
  return FALSE;
}

gboolean
pl_prune_schedule_raise (PlPruner *pruner, double target, PlPruneScope scope, GError **error)
{
  g_return_val_if_fail (pruner != NULL, FALSE);
  if (target <= pl_pruner_get_target (pruner))
    return TRUE;
  return pl_pruner_prune_to (pruner, target, scope, error);
}

gboolean
pl_prune_schedule_update_to_target (PlPruningSchedule *schedule, PlPruner *pruner,
                                    gint64 step, gint64 total_steps, GError **error)
{
  g_return_val_if_fail (PL_IS_PRUNING_SCHEDULE (schedule), FALSE);
  PlPruneScope scope = PL_PRUNE_SCOPE_LAYER;
  g_object_get (schedule, "scope", &scope, NULL);
  return pl_prune_schedule_raise (pruner,
                                  pl_pruning_schedule_target_at (schedule, step, total_steps),
                                  scope, error);
}
