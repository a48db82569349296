/* pl-prune-schedule.h: what pruning schedules share.
 *
 * Every schedule has the options final-sparsity and scope, steps that default to
 * a fraction of the run ("-1: at 10% of the run"), a check of those steps against
 * the run's length when the run starts (the message names where the option is set
 * in the experiment), and an update that prunes whenever its target sparsity
 * rises above what was pruned so far. Steps count optimizer updates made. */
#pragma once

#include <glib-object.h>

#include "pl-engine.h"
#include "pl-pruner.h"
#include "pl-pruning-schedule.h"

G_BEGIN_DECLS

/* The largest step a schedule option takes (1e8: printed in full in messages). */
#define PL_PRUNE_MAX_STEP 100000000

/* The options every schedule has. */
typedef struct {
  double       final_sparsity;  /* "final-sparsity": 0 .. 0.99, default 0.5 */
  PlPruneScope scope;           /* "scope": default PL_PRUNE_SCOPE_LAYER */
} PlPruneScheduleOptions;

/* Sets @options to the defaults of the properties below. */
void        pl_prune_schedule_options_init (PlPruneScheduleOptions *options);

/* (transfer floating): the "final-sparsity" property, a double in [0, 0.99] with
 * default 0.5; @blurb says when the schedule reaches it. */
GParamSpec *pl_prune_schedule_param_final_sparsity (const char *blurb);
/* (transfer floating): the "scope" property, a PlPruneScope with default layer;
 * @blurb NULL gives the usual "layer: ...; global: ..." text. */
GParamSpec *pl_prune_schedule_param_scope (const char *blurb);
/* (transfer floating): an int property for a step, from -1 ("at a share of the
 * run", see pl_prune_schedule_resolve_step) to PL_PRUNE_MAX_STEP, default -1. */
GParamSpec *pl_prune_schedule_param_step (const char *name, const char *nick,
                                          const char *blurb);

/* For a schedule's get_property/set_property: when @pspec is final-sparsity or
 * scope, copies between @value and @options and returns TRUE; FALSE for any
 * other property (the schedule handles it). */
gboolean    pl_prune_schedule_options_get_property (const PlPruneScheduleOptions *options,
                                                    GParamSpec *pspec, GValue *value);
gboolean    pl_prune_schedule_options_set_property (PlPruneScheduleOptions *options,
                                                    GParamSpec *pspec, const GValue *value);

/* The step a step option stands for in a run of @total_steps: @step when it is
 * >= 0, else the share @fraction of the run, t = round(fraction * total_steps)
 * (halves away from zero). */
gint64      pl_prune_schedule_resolve_step (int step, double fraction, gint64 total_steps);

/* Checks that option @key of schedule @who, resolved to @step, lies within a run
 * of @total_steps: fails with "WHO: KEY STEP is after the run's last step (TOTAL);
 * expected at most TOTAL" (PL_ERROR_CONFIG). */
gboolean    pl_prune_schedule_check_within_run (const char *who, const char *key,
                                                gint64 step, gint64 total_steps,
                                                GError **error);

/* For a schedule's run_start whose check against the run failed with @error:
 * prefixes the message with where [prune] @key is set in @run's experiment
 * ("x.ini:12: [prune] end-step: ") and returns FALSE. */
gboolean    pl_prune_schedule_fail_at_option (PlRun *run, const char *key, GError **error);

/* Prunes to @target through @pruner, over @scope, when @target rises above the
 * largest target pruned to so far (pl_pruner_get_target); else does nothing.
 * Weights once pruned stay pruned, so a falling target never unprunes. */
gboolean    pl_prune_schedule_raise (PlPruner *pruner, double target, PlPruneScope scope,
                                     GError **error);

/* An update vfunc for schedules whose whole update is "prune up to target_at":
 * pl_prune_schedule_raise() to pl_pruning_schedule_target_at (@schedule, @step,
 * @total_steps) over the schedule's "scope" property. */
gboolean    pl_prune_schedule_update_to_target (PlPruningSchedule *schedule,
                                                PlPruner *pruner, gint64 step,
                                                gint64 total_steps, GError **error);

G_END_DECLS
