#include "pl-metrics.h"

#include <math.h>
#include <stdlib.h>

gsize
pl_metrics_correct (const float *probs, const int32_t *labels, gsize n, int c)
{
  gsize correct = 0;
  for (gsize i = 0; i < n; i++)
    {
      const float *row = probs + i * (gsize) c;
      int best = 0;
      for (int j = 1; j < c; j++)
        if (row[j] > row[best])
          best = j;
      correct += best == labels[i];
    }
  return correct;
}

double
pl_metrics_accuracy (const float *probs, const int32_t *labels, gsize n, int c)
{
  return n ? (double) pl_metrics_correct (probs, labels, n, c) / (double) n : NAN;
}

/* qsort has no user data; the scores being sorted live here for one call. The
 * engine evaluates on one thread at a time per process. */
static const float *sort_scores;

static int
by_score_desc (const void *a, const void *b)
{
  float sa = sort_scores[*(const uint32_t *) a], sb = sort_scores[*(const uint32_t *) b];
  if (sa > sb)
    return -1;
  if (sa < sb)
    return 1;
  /* a stable order for equal scores keeps results deterministic */
  return (*(const uint32_t *) a > *(const uint32_t *) b)
         - (*(const uint32_t *) a < *(const uint32_t *) b);
}

static G_LOCK_DEFINE (sort);

static void
sort_desc (const float *scores, uint32_t *idx, gsize n)
{
  for (gsize i = 0; i < n; i++)
    idx[i] = (uint32_t) i;
  G_LOCK (sort);
  sort_scores = scores;
  qsort (idx, n, sizeof *idx, by_score_desc);
  sort_scores = NULL;
  G_UNLOCK (sort);
}

void
pl_metrics_binary (const float *scores, const int32_t *labels, gsize n, uint32_t *scratch,
                   PlBinaryMetrics *out)
{
  gsize tp = 0, fp = 0, fn = 0, pos = 0;
  for (gsize i = 0; i < n; i++)
    {
      gboolean p = scores[i] >= 0.5f, y = labels[i] == 1;
      tp += p && y;
      fp += p && !y;
      fn += !p && y;
      pos += y;
    }
  gsize neg = n - pos;
  out->precision = tp + fp ? (double) tp / (double) (tp + fp) : 0.0;
  out->recall = tp + fn ? (double) tp / (double) (tp + fn) : 0.0;
  out->f1 = out->precision + out->recall > 0
              ? 2 * out->precision * out->recall / (out->precision + out->recall)
              : 0.0;

  sort_desc (scores, scratch, n);
  /* walk thresholds from the highest score down, one group of ties at a time:
   * ROC area by trapezoids (ties count 1/2), average precision by steps */
  double auc = 0, ap = 0;
  gsize ctp = 0, cfp = 0;
  for (gsize i = 0; i < n;)
    {
      gsize j = i, gtp = 0, gfp = 0;
      float s = scores[scratch[i]];
      while (j < n && scores[scratch[j]] == s)
        {
          if (labels[scratch[j]] == 1)
            gtp++;
          else
            gfp++;
          j++;
        }
      auc += (double) gfp * ((double) ctp + 0.5 * (double) gtp);
      ctp += gtp;
      cfp += gfp;
      if (gtp > 0 && pos > 0)
        ap += ((double) gtp / (double) pos) * ((double) ctp / (double) (ctp + cfp));
      i = j;
    }
  out->roc_auc = pos && neg ? auc / ((double) pos * (double) neg) : NAN;
  out->pr_auc = pos ? ap : NAN;
}

double
pl_metrics_recall_at_precision (const float *scores, const int32_t *labels, gsize n,
                                uint32_t *scratch, double min_precision)
{
  gsize pos = 0;
  for (gsize i = 0; i < n; i++)
    pos += labels[i] == 1;
  if (!pos)
    return 0.0;
  sort_desc (scores, scratch, n);
  double best = 0;
  gsize ctp = 0, cfp = 0;
  for (gsize i = 0; i < n;)
    {
      gsize j = i;
      float s = scores[scratch[i]];
      while (j < n && scores[scratch[j]] == s)
        {
          if (labels[scratch[j]] == 1)
            ctp++;
          else
            cfp++;
          j++;
        }
      double prec = (double) ctp / (double) (ctp + cfp);
      if (prec >= min_precision)
        best = MAX (best, (double) ctp / (double) pos);
      i = j;
    }
  return best;
}
