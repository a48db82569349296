#include "pl-prune-stats.h"

#include <math.h>
#include <string.h>

#include "pl-error.h"
#include "pl-run-state.h"

struct _PlPruneStats {
  PlModel *model;          /* not owned */
  PlPruneStatKind kind;
  float decay;
  gboolean reset_after_score;
  gboolean scored;         /* score() ran since the last accumulate */
  gint64 n_steps;
  float *acc;              /* aligned with the model's parameter block */
  size_t n;
};

static gboolean
is_prunable (const PlParam *p)
{
  return p->kind == PL_PARAM_WEIGHT && !p->frozen;
}

PlPruneStats *
pl_prune_stats_new (PlModel *model, PlPruneStatKind kind, double decay,
                    gboolean reset_after_score)
{
  g_return_val_if_fail (model != NULL, NULL);
  g_return_val_if_fail (decay >= 0.0 && decay < 1.0, NULL);
  PlPruneStats *s = g_new0 (PlPruneStats, 1);
  s->model = model;
  s->kind = kind;
  s->decay = (float) decay;
  s->reset_after_score = reset_after_score;
  s->n = pl_model_get_n_floats (model);
  s->acc = g_new0 (float, MAX (s->n, 1));
  return s;
}

void
pl_prune_stats_free (PlPruneStats *s)
{
  if (!s)
    return;
  g_free (s->acc);
  g_free (s);
}

PlModel *
pl_prune_stats_get_model (PlPruneStats *s)
{
  return s->model;
}

gint64
pl_prune_stats_get_n_steps (PlPruneStats *s)
{
  return s->n_steps;
}

void
pl_prune_stats_reset (PlPruneStats *s)
{
  memset (s->acc, 0, s->n * sizeof (float));
  s->n_steps = 0;
  s->scored = FALSE;
}

void
pl_prune_stats_accumulate (PlPruneStats *s)
{
  if (s->scored && s->reset_after_score)
    pl_prune_stats_reset (s);
  s->scored = FALSE;
  const float d = s->decay, keep = 1.0f - s->decay;
  for (guint i = 0; i < pl_model_get_n_params (s->model); i++)
    {
      PlParam *p = pl_model_get_param (s->model, i);
      if (!is_prunable (p))
        continue;
      float *a = s->acc + p->offset;
      const float *w = p->data, *g = p->grad;
      for (size_t j = 0; j < p->numel; j++)
        {
          /* taylor: t = |w g|; movement: t = -w g */
          float t = s->kind == PL_PRUNE_STAT_TAYLOR ? fabsf (w[j] * g[j]) : -w[j] * g[j];
          /* sum: S += t; ema: S = d S + (1 - d) t */
          a[j] = d == 0.0f ? a[j] + t : d * a[j] + keep * t;
        }
    }
  s->n_steps++;
}

gboolean
pl_prune_stats_score (PlPruneStats *s, const char *who, const PlParam *param, float *scores,
                      GError **error)
{
  g_return_val_if_fail (s != NULL && param != NULL && scores != NULL, FALSE);
  if (pl_model_lookup_param (s->model, param->name) != param || !is_prunable (param))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_PLUGIN,
                   "%s: tensor %s is not a prunable weight of the model the statistics "
                   "were gathered on", who, param->name);
      return FALSE;
    }
  if (s->n_steps == 0)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_PLUGIN,
                   "%s: no gradient statistics for tensor %s yet: the criterion gathers "
                   "them after each backward pass, so prune after at least one step "
                   "since the last prune", who, param->name);
      return FALSE;
    }
  memcpy (scores, s->acc + param->offset, param->numel * sizeof (float));
  s->scored = TRUE;
  return TRUE;
}

gboolean
pl_prune_stats_save_state (PlPruneStats *s, PlSafetensorsWriter *writer, const char *prefix,
                           GError **error)
{
  g_return_val_if_fail (s != NULL && writer != NULL, FALSE);
  gint64 counters[2] = { s->n_steps, s->scored };
  return pl_state_write_f32 (writer, prefix, "acc", s->acc, s->n, error)
         && pl_state_write_i64 (writer, prefix, "counters", counters, 2, error);
}

gboolean
pl_prune_stats_load_state (PlPruneStats *s, const PlSafetensors *state, const char *prefix,
                           GError **error)
{
  g_return_val_if_fail (s != NULL && state != NULL, FALSE);
  gint64 counters[2];
  if (!pl_state_read_i64 (state, prefix, "counters", counters, 2, error)
      || !pl_state_read_f32 (state, prefix, "acc", s->acc, s->n, error))
    return FALSE;
  s->n_steps = counters[0];
  s->scored = counters[1] != 0;
  return TRUE;
}
