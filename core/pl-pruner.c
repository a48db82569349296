/* The scans over all prunable weights want the vectorizer (GCC 12's -O2 cost
 * model vectorizes no loop of unknown trip count); nothing here is reassociated. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__OPTIMIZE__)
#pragma GCC optimize ("tree-vectorize", "vect-cost-model=dynamic", "fp-contract=off")
#endif

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
      /* locals: the stores to s could alias prm's fields, which keeps the loop
       * scalar (and branchy) if they are read through prm */
      const float *mask = prm->mask;
      const size_t n = prm->numel;
      for (size_t j = 0; j < n; j++)
        s[j] = (mask[j] == 0.0f) | isnan (s[j]) ? -INFINITY : s[j];
      s += n;
    }
  return TRUE;
}

/* Float to an unsigned key with the same order (-0 below +0; no NaN). */
static inline guint32
float_key (float f)
{
  guint32 u;
  memcpy (&u, &f, sizeof u);
  return (u & 0x80000000u) ? ~u : u | 0x80000000u;
}

static inline float
key_float (guint32 key)
{
  guint32 u = (key & 0x80000000u) ? key & 0x7fffffffu : ~key;
  float f;
  memcpy (&f, &u, sizeof f);
  return f;
}

/* The (k+1)-th smallest of a[0..n) (k < n, no NaN) by a radix select on the keys,
 * 11 + 11 + 10 bits: a histogram pass, then only the elements of the chosen bucket
 * are kept (in a, which is overwritten). About two passes over the data where the
 * quickselect took several with unpredictable branches. A key sort is also a sort
 * by float order, so the value compares equal to the quickselect's this replaced (it
 * may be the other zero where both -0 and +0 are present, which no comparison tells
 * apart). */
static float
select_kth_radix (float *a, size_t n, size_t k)
{
  static const int shift[3] = { 21, 10, 0 };
  static const guint32 digit_mask[3] = { 0x7ff, 0x7ff, 0x3ff };
  guint32 prefix = 0;
  size_t m = n;
  size_t count[2048];
  for (int d = 0; d < 3; d++)
    {
      const int sh = shift[d];
      const guint32 dm = digit_mask[d];
      memset (count, 0, sizeof count);
      for (size_t j = 0; j < m; j++)
        count[(float_key (a[j]) >> sh) & dm]++;
      guint32 b = 0;
      while (k >= count[b])
        k -= count[b++];
      prefix |= b << sh;
      if (d < 2)
        {
          size_t kept = 0;
          for (size_t j = 0; j < m; j++)
            {
              float v = a[j];
              a[kept] = v;
              kept += ((float_key (v) >> sh) & dm) == b;
            }
          m = kept;
        }
    }
  return key_float (prefix);
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
  /* The forced scores are the `forced` smallest, so the k-th smallest of all is
   * -inf when k == forced, else the (k - forced)-th smallest of the others: select
   * among those only (after a schedule's later updates most scores are -inf, and
   * the selection over ties of -inf cost more than the rest of the update). */
  float thr;
  if (k == forced)
    thr = -INFINITY;
  else
    {
      size_t m = 0;
      for (size_t j = 0; j < n; j++)
        {
          scratch[m] = scores[j];
          m += scores[j] != -INFINITY;
        }
      thr = select_kth_radix (scratch, m, k - 1 - forced);
    }
  /* Everything below thr, then the first (k - below) ties at thr in position
   * order: the same elements as one pass that does both, but the first loop has
   * no branch (about half its comparisons go each way) and vectorizes. */
  size_t below = 0;
  for (size_t j = 0; j < n; j++)
    below += scores[j] < thr;
  for (size_t j = 0; j < n; j++)
    mask[j] = scores[j] < thr ? 0.0f : mask[j];
  size_t at_thr = k - below;
  for (size_t j = 0; j < n && at_thr > 0; j++)
    if (scores[j] == thr)
      {
        mask[j] = 0.0f;
        at_thr--;
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
