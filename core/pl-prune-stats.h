/* pl-prune-stats.h: per-weight gradient statistics for pruning criteria.
 *
 * Gradient-based criteria (taylor, movement) add one term per weight after every
 * backward pass and rank weights by the sum. The statistics live in one float
 * block aligned with the model's parameter block (pl_model_get_params), so a
 * parameter's statistics start at its offset. Nothing is allocated per step. */
#pragma once

#include <glib.h>

#include "pl-model.h"
#include "pl-safetensors.h"

G_BEGIN_DECLS

/* Append only. */
typedef enum {
  PL_PRUNE_STAT_TAYLOR,    /* t = |w * dL/dw|: first-order loss change of removing w */
  PL_PRUNE_STAT_MOVEMENT,  /* t = -w * dL/dw: w moving away from zero (Sanh et al. 2020) */
} PlPruneStatKind;

typedef struct _PlPruneStats PlPruneStats;

/* Statistics of @kind over the prunable weights of @model (kind PL_PARAM_WEIGHT,
 * not frozen), all zero. @decay 0 sums the terms: S = sum_t t; @decay in (0, 1)
 * keeps an exponential moving average S = decay S + (1 - decay) t. With
 * @reset_after_score the next step after a pl_prune_stats_score() call starts
 * from zero again (a criterion that forgets after every prune). (transfer full) */
PlPruneStats *pl_prune_stats_new        (PlModel *model, PlPruneStatKind kind, double decay,
                                         gboolean reset_after_score);
void          pl_prune_stats_free       (PlPruneStats *stats);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PlPruneStats, pl_prune_stats_free)

PlModel      *pl_prune_stats_get_model  (PlPruneStats *stats);
/* Steps accumulated since the start or the last reset. */
gint64        pl_prune_stats_get_n_steps (PlPruneStats *stats);
void          pl_prune_stats_reset      (PlPruneStats *stats);

/* Adds one step's term for every prunable weight, from the weights and the
 * gradients the backward pass just left in the model (call after backward,
 * before the optimizer step). */
void          pl_prune_stats_accumulate (PlPruneStats *stats);

/* Writes @param->numel scores (the accumulated S of @param's weights) into
 * @scores. Fails, naming @who (the criterion) and the tensor, when @param is not
 * a prunable weight of the model, or when no step has been accumulated. */
gboolean      pl_prune_stats_score      (PlPruneStats *stats, const char *who,
                                         const PlParam *param, float *scores,
                                         GError **error);

/* The statistics as training-state tensors @prefix "acc" (F32, the model's
 * parameter block) and @prefix "counters" (I64 [2]: steps, scored), for a
 * criterion's PlRunAddin save_state / load_state; loading refuses statistics of
 * another size (pl-run-state.h). */
gboolean      pl_prune_stats_save_state (PlPruneStats *stats, PlSafetensorsWriter *writer,
                                         const char *prefix, GError **error);
gboolean      pl_prune_stats_load_state (PlPruneStats *stats, const PlSafetensors *state,
                                         const char *prefix, GError **error);

G_END_DECLS
