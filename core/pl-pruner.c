#include "pl-pruner.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pl-error.h"
#include "pl-pruning-criterion.h"

struct _PlPruner {
  PlRun *run;
  PlPruningCriterion *criterion;
  GPtrArray *params;   /* prunable PlParam*, not owned */
  size_t total;        /* prunable elements */
  float *scores;       /* [total], aligned with params in order */
  float *sorted;       /* scratch for selection */
  float *flat;         /* [total] scratch mask for the global ranking */
  GPtrArray *metric_keys; /* "sparsity/<name>", parallel to params */
  double target;       /* largest target of prune_to so far */
};

GType
pl_prune_scope_get_type (void)
{
  static gsize type = 0;
  if (g_once_init_enter (&type))
    {
      static const GEnumValue values[] = {
        { PL_PRUNE_SCOPE_LAYER, "PL_PRUNE_SCOPE_LAYER", "layer" },
        { PL_PRUNE_SCOPE_GLOBAL, "PL_PRUNE_SCOPE_GLOBAL", "global" },
        { 0, NULL, NULL },
      };
      g_once_init_leave (&type, g_enum_register_static ("PlPruneScope", values));
    }
  return type;
}

PlPruner *
pl_pruner_new (PlRun *run, PlPruningCriterion *criterion)
{
  PlPruner *p = g_new0 (PlPruner, 1);
  p->run = run;
  p->criterion = criterion ? g_object_ref (criterion) : NULL;
  p->params = g_ptr_array_new ();
  p->metric_keys = g_ptr_array_new_with_free_func (g_free);
  PlModel *m = pl_run_get_model (run);
  for (guint i = 0; i < pl_model_get_n_params (m); i++)
    {
      PlParam *prm = pl_model_get_param (m, i);
      if (prm->kind != PL_PARAM_WEIGHT || prm->frozen)
        continue;
      pl_model_ensure_mask (m, prm);
      g_ptr_array_add (p->params, prm);
      g_ptr_array_add (p->metric_keys, g_strdup_printf ("sparsity/%s", prm->name));
      p->total += prm->numel;
    }
  p->scores = g_new (float, MAX (p->total, 1));
  p->sorted = g_new (float, MAX (p->total, 1));
  p->flat = g_new (float, MAX (p->total, 1));
  return p;
}

void
pl_pruner_free (PlPruner *p)
{
  if (!p)
    return;
  g_clear_object (&p->criterion);
  g_ptr_array_unref (p->params);
  g_ptr_array_unref (p->metric_keys);
  g_free (p->scores);
  g_free (p->sorted);
  g_free (p->flat);
  g_free (p);
}

PlRun *
pl_pruner_get_run (PlPruner *p)
{
  return p->run;
}

/* Scores of every prunable weight; masked weights (and NaN scores) get -inf so
 * they rank first. A criterion's own -inf marks a weight that must go. */
static gboolean
compute_scores (PlPruner *p, GError **error)
{
  float *s = p->scores;
  for (guint i = 0; i < p->params->len; i++)
    {
      PlParam *prm = p->params->pdata[i];
      if (p->criterion)
        {
          if (!pl_pruning_criterion_score (p->criterion, p->run, prm, s, error))
            return FALSE;
        }
      else
        for (size_t j = 0; j < prm->numel; j++)
          s[j] = fabsf (prm->data[j]);
      for (size_t j = 0; j < prm->numel; j++)
        if (prm->mask[j] == 0.0f || isnan (s[j]))
          s[j] = -INFINITY;
      s += prm->numel;
    }
  return TRUE;
}

/* The (k+1)-th smallest of a[0..n) (k < n), by quickselect (Hoare partition,
 * median-of-three pivot): O(n) on average where sorting all scores took O(n log n)
 * at every schedule update. a is reordered. Same value as a sort's a[k]. */
static float
select_kth (float *a, size_t n, size_t k)
{
  gssize lo = 0, hi = (gssize) n - 1, kk = (gssize) k;
  while (lo < hi)
    {
      float p0 = a[lo], p1 = a[lo + (hi - lo) / 2], p2 = a[hi];
      float pivot = p0 < p1 ? (p1 < p2 ? p1 : (p0 < p2 ? p2 : p0))
                            : (p0 < p2 ? p0 : (p1 < p2 ? p2 : p1));
      gssize i = lo, j = hi;
      while (i <= j)
        {
          while (a[i] < pivot)
            i++;
          while (a[j] > pivot)
            j--;
          if (i <= j)
            {
              float t = a[i];
              a[i++] = a[j];
              a[j--] = t;
            }
        }
      if (kk <= j)
        hi = j;
      else if (kk >= i)
        lo = i;
      else
        return a[kk];
    }
  return a[kk];
}

/* Masks the k lowest of scores[0..n) in mask[0..n), and every -inf score even
 * beyond k (already masked, or marked by the criterion). Ties at the threshold
 * are broken by position, so exactly max(k, count of -inf) are masked. */
static void
mask_lowest (const float *scores, float *mask, float *scratch, size_t n, size_t k)
{
  size_t forced = 0;
  for (size_t j = 0; j < n; j++)
    forced += scores[j] == -INFINITY;
  k = MAX (k, forced);
  if (k == 0)
    return;
  if (k >= n)
    {
      for (size_t j = 0; j < n; j++)
        mask[j] = 0.0f;
      return;
    }
  memcpy (scratch, scores, n * sizeof (float));
  float thr = select_kth (scratch, n, k - 1);
  size_t below = 0;
  for (size_t j = 0; j < n; j++)
    below += scores[j] < thr;
  size_t at_thr = k - below;
  for (size_t j = 0; j < n; j++)
    {
      if (scores[j] < thr)
        mask[j] = 0.0f;
      else if (scores[j] == thr && at_thr > 0)
        {
          mask[j] = 0.0f;
          at_thr--;
        }
    }
}

gboolean
pl_pruner_prune_to (PlPruner *p, double sparsity, PlPruneScope scope, GError **error)
{
  if (!(sparsity >= 0.0 && sparsity <= 1.0))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_PLUGIN,
                   "pruning target %g is not a fraction between 0 and 1", sparsity);
      return FALSE;
    }
  if (!compute_scores (p, error))
    return FALSE;
  p->target = MAX (p->target, sparsity);
  if (scope == PL_PRUNE_SCOPE_LAYER)
    {
      float *s = p->scores;
      for (guint i = 0; i < p->params->len; i++)
        {
          PlParam *prm = p->params->pdata[i];
          size_t k = (size_t) llround (sparsity * (double) prm->numel);
          mask_lowest (s, prm->mask, p->sorted, prm->numel, k);
          s += prm->numel;
        }
    }
  else
    {
      /* one ranking: mask into a flat copy, then scatter back */
      size_t k = (size_t) llround (sparsity * (double) p->total);
      float *flat = p->flat;
      for (size_t j = 0; j < p->total; j++)
        flat[j] = 1.0f;
      mask_lowest (p->scores, flat, p->sorted, p->total, k);
      float *f = flat;
      for (guint i = 0; i < p->params->len; i++)
        {
          PlParam *prm = p->params->pdata[i];
          for (size_t j = 0; j < prm->numel; j++)
            prm->mask[j] *= f[j];
          f += prm->numel;
        }
    }
  pl_model_apply_masks (pl_run_get_model (p->run));
  pl_pruner_report (p);
  return TRUE;
}

double
pl_pruner_get_target (PlPruner *p)
{
  return p->target;
}

void
pl_pruner_set_target (PlPruner *p, double target)
{
  g_return_if_fail (p != NULL);
  p->target = target;
}

gboolean
pl_pruner_prune_by_magnitude (PlPruner *p, double threshold, GError **error)
{
  if (!(threshold >= 0.0))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_PLUGIN,
                   "magnitude threshold %g must be zero or more", threshold);
      return FALSE;
    }
  /* compared in float, so a weight stored as the threshold itself stays */
  const float thr = (float) threshold;
  for (guint i = 0; i < p->params->len; i++)
    {
      PlParam *prm = p->params->pdata[i];
      for (size_t j = 0; j < prm->numel; j++)
        if (fabsf (prm->data[j]) < thr)
          prm->mask[j] = 0.0f;
    }
  pl_model_apply_masks (pl_run_get_model (p->run));
  pl_pruner_report (p);
  return TRUE;
}

static size_t
count_zeros (const PlParam *prm)
{
  size_t z = 0;
  for (size_t j = 0; j < prm->numel; j++)
    z += prm->data[j] == 0.0f;
  return z;
}

double
pl_pruner_get_sparsity (PlPruner *p, const PlParam *param)
{
  if (param)
    return param->numel ? (double) count_zeros (param) / (double) param->numel : 0.0;
  size_t z = 0;
  for (guint i = 0; i < p->params->len; i++)
    z += count_zeros (p->params->pdata[i]);
  return p->total ? (double) z / (double) p->total : 0.0;
}

void
pl_pruner_report (PlPruner *p)
{
  size_t z = 0;
  for (guint i = 0; i < p->params->len; i++)
    {
      PlParam *prm = p->params->pdata[i];
      size_t zi = count_zeros (prm);
      z += zi;
      pl_run_log_metric (p->run, p->metric_keys->pdata[i],
                         prm->numel ? (double) zi / (double) prm->numel : 0.0);
    }
  pl_run_log_metric (p->run, "sparsity/total", p->total ? (double) z / (double) p->total : 0.0);
}

double
pl_model_prunable_sparsity (PlModel *model)
{
  size_t z = 0, n = 0;
  for (guint i = 0; i < pl_model_get_n_params (model); i++)
    {
      PlParam *prm = pl_model_get_param (model, i);
      if (prm->kind != PL_PARAM_WEIGHT || prm->frozen)
        continue;
      z += count_zeros (prm);
      n += prm->numel;
    }
  return n ? (double) z / (double) n : 0.0;
}

double
pl_model_weight_sparsity (PlModel *model)
{
  size_t z = 0, n = 0;
  for (guint i = 0; i < pl_model_get_n_params (model); i++)
    {
      PlParam *prm = pl_model_get_param (model, i);
      if (prm->kind != PL_PARAM_WEIGHT)
        continue;
      z += count_zeros (prm);
      n += prm->numel;
    }
  return n ? (double) z / (double) n : 0.0;
}
