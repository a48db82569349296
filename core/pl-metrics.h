/* pl-metrics.h: classification metrics computed from predicted probabilities.
 *
 * Binary metrics treat class 1 as positive and predict positive when its
 * probability is at least 0.5. */
#pragma once

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef struct {
  double precision;      /* tp / (tp + fp); 0 when nothing is predicted positive */
  double recall;         /* tp / (tp + fn); 0 when there is no positive */
  double f1;             /* harmonic mean; 0 when both are 0 */
  double roc_auc;        /* P(score of a positive > score of a negative), ties 1/2;
                            NAN when one class is absent */
  double pr_auc;         /* average precision (step-wise area, as scikit-learn);
                            NAN without positives */
} PlBinaryMetrics;

/* fraction of rows whose argmax of probs [n, c] equals the label */
double   pl_metrics_accuracy   (const float *probs, const int32_t *labels, gsize n, int c);
/* count of rows whose argmax equals the label */
gsize    pl_metrics_correct    (const float *probs, const int32_t *labels, gsize n, int c);

/* @scores [n] are the positive class's probabilities. @scratch has room for n
 * indices, so that the caller can keep evaluation free of allocation. */
void     pl_metrics_binary     (const float *scores, const int32_t *labels, gsize n,
                                uint32_t *scratch, PlBinaryMetrics *out);

/* The best recall among thresholds whose precision is at least @min_precision
 * (0 when none reaches it). */
double   pl_metrics_recall_at_precision (const float *scores, const int32_t *labels,
                                         gsize n, uint32_t *scratch,
                                         double min_precision);

G_END_DECLS
