/* pl-pruner.h: masks weights for pruning schedules.
 *
 * Prunable parameters are the weights (kind PL_PARAM_WEIGHT) that are not frozen.
 * Pruning only ever adds zeros to a mask: a weight once pruned stays pruned, and
 * the optimizer keeps it at exactly zero. */
#pragma once

#include <glib-object.h>

#include "pl-engine.h"

G_BEGIN_DECLS

/* Append only. */
typedef enum {
  PL_PRUNE_SCOPE_LAYER,   /* every weight tensor gets the target sparsity */
  PL_PRUNE_SCOPE_GLOBAL,  /* one ranking over all prunable weights */
} PlPruneScope;

GType pl_prune_scope_get_type (void) G_GNUC_CONST;
#define PL_TYPE_PRUNE_SCOPE (pl_prune_scope_get_type ())

typedef struct _PlPruningCriterion PlPruningCriterion;
typedef struct _PlPruner PlPruner;

/* @criterion may be NULL: then scores are |w|. (transfer full) */
PlPruner *pl_pruner_new     (PlRun *run, PlPruningCriterion *criterion);
void      pl_pruner_free    (PlPruner *pruner);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PlPruner, pl_pruner_free)

PlRun    *pl_pruner_get_run (PlPruner *pruner);

/* Masks the lowest-scoring weights until @sparsity (0..1) of the prunable weights
 * are zero, per tensor or globally. Weights already masked count toward it and
 * stay masked. A criterion score of -inf means "must go": such weights are
 * masked even beyond @sparsity. Then reports the sparsity metrics. */
gboolean  pl_pruner_prune_to (PlPruner *pruner, double sparsity, PlPruneScope scope,
                              GError **error);
/* The largest @sparsity pl_pruner_prune_to() was asked for so far, 0 before
 * the first prune: a schedule prunes when its target rises above it. */
double    pl_pruner_get_target (PlPruner *pruner);
/* Restores the target from a training-state checkpoint (resume). */
void      pl_pruner_set_target (PlPruner *pruner, double target);
/* Masks every prunable weight with |w| < @threshold, then reports. */
gboolean  pl_pruner_prune_by_magnitude (PlPruner *pruner, double threshold,
                                        GError **error);
/* Fraction of prunable weights that are zero (masked or not), over all of them
 * or (@param non-NULL) in one tensor. */
double    pl_pruner_get_sparsity (PlPruner *pruner, const PlParam *param);
/* Logs sparsity/total and sparsity/<param name> at the run's current step. */
void      pl_pruner_report  (PlPruner *pruner);

/* Fraction of zeros among the weights a pruner may mask (kind PL_PARAM_WEIGHT,
 * not frozen): what sparsity/total reports, pruned or not. */
double    pl_model_prunable_sparsity (PlModel *model);
/* Fraction of zeros among the weights of @model (kind PL_PARAM_WEIGHT): the
 * sparsity of what would be exported. */
double    pl_model_weight_sparsity (PlModel *model);

G_END_DECLS
