/* The update loops want the vectorizer (GCC 12's -O2 cost model vectorizes no loop
 * of unknown trip count). No contraction into FMA and no reassociation: every
 * element goes through the same operations in the same order as the scalar code,
 * so the results do not depend on the vector width. (The Adam loop stays scalar:
 * sqrtf keeps its errno path, which an optimize pragma does not remove.) */
#if defined(__GNUC__) && !defined(__clang__) && defined(__OPTIMIZE__)
#pragma GCC optimize ("tree-vectorize", "vect-cost-model=dynamic", "fp-contract=off")
#endif

#include "pl-optimizer.h"

#include <math.h>
#include <string.h>

#include "pl-error.h"
#include "pl-run-state.h"

struct _PlOptimizer {
  PlOptimizerConfig cfg;
  PlModel *model;          /* not owned */
  size_t n;
  float *state1;           /* momentum buffer or exp_avg */
  float *state2;           /* exp_avg_sq */
  float *lr_scale;         /* NULL until asked for */
  gint64 step;
};

PlOptimizer *
pl_optimizer_new (const PlOptimizerConfig *config, PlModel *model, GError **error)
{
  if (!(config->lr > 0) || config->momentum < 0 || config->weight_decay < 0
      || (config->nesterov && (config->momentum <= 0 || config->dampening != 0)))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_CONFIG,
                   "[train] invalid optimizer settings: lr must be > 0, momentum and "
                   "weight-decay >= 0, and nesterov needs momentum > 0 (got lr=%g, "
                   "momentum=%g, weight-decay=%g)", config->lr, config->momentum,
                   config->weight_decay);
      return NULL;
    }
  PlOptimizer *opt = g_new0 (PlOptimizer, 1);
  opt->cfg = *config;
  opt->model = model;
  opt->n = pl_model_get_n_floats (model);
  gboolean adam = config->algorithm != PL_OPTIMIZER_SGD;
  if (adam || config->momentum != 0)
    opt->state1 = g_new0 (float, opt->n);
  if (adam)
    opt->state2 = g_new0 (float, opt->n);
  return opt;
}

void
pl_optimizer_free (PlOptimizer *opt)
{
  if (!opt)
    return;
  g_free (opt->state1);
  g_free (opt->state2);
  g_free (opt->lr_scale);
  g_free (opt);
}

gint64
pl_optimizer_get_step (PlOptimizer *opt)
{
  return opt->step;
}

float *
pl_optimizer_get_lr_scale (PlOptimizer *opt)
{
  if (!opt->lr_scale)
    {
      opt->lr_scale = g_new (float, opt->n);
      for (size_t i = 0; i < opt->n; i++)
        opt->lr_scale[i] = 1.0f;
    }
  return opt->lr_scale;
}

gsize
pl_optimizer_get_state_bytes (PlOptimizer *opt)
{
  return sizeof (float) * opt->n
         * ((opt->state1 != NULL) + (opt->state2 != NULL) + (opt->lr_scale != NULL));
}

gboolean
pl_optimizer_save_state (PlOptimizer *opt, PlSafetensorsWriter *writer, const char *prefix,
                         GError **error)
{
  g_return_val_if_fail (opt != NULL && writer != NULL, FALSE);
  return (!opt->state1 || pl_state_write_f32 (writer, prefix, "buf1", opt->state1, opt->n, error))
         && (!opt->state2 || pl_state_write_f32 (writer, prefix, "buf2", opt->state2, opt->n,
                                                 error))
         && (!opt->lr_scale || pl_state_write_f32 (writer, prefix, "lr_scale", opt->lr_scale,
                                                   opt->n, error))
         && pl_state_write_i64 (writer, prefix, "step", &opt->step, 1, error);
}

gboolean
pl_optimizer_load_state (PlOptimizer *opt, const PlSafetensors *state, const char *prefix,
                         GError **error)
{
  g_return_val_if_fail (opt != NULL && state != NULL, FALSE);
  g_autofree char *scale_name = g_strconcat (prefix ? prefix : "", "lr_scale", NULL);
  gint64 step;
  if ((opt->state1 && !pl_state_read_f32 (state, prefix, "buf1", opt->state1, opt->n, error))
      || (opt->state2 && !pl_state_read_f32 (state, prefix, "buf2", opt->state2, opt->n, error))
      || !pl_state_read_i64 (state, prefix, "step", &step, 1, error))
    return FALSE;
  if (pl_safetensors_lookup (state, scale_name))
    {
      if (!pl_state_read_f32 (state, prefix, "lr_scale", pl_optimizer_get_lr_scale (opt),
                              opt->n, error))
        return FALSE;
    }
  else if (opt->lr_scale)
    for (size_t i = 0; i < opt->n; i++)
      opt->lr_scale[i] = 1.0f;
  opt->step = step;
  return TRUE;
}

/* torch.optim.SGD for one parameter:
 *   d = g + wd * p
 *   buf = d on the first step, else momentum * buf + (1 - dampening) * d
 *   d = nesterov ? d + momentum * buf : buf
 *   p -= lr * d */

/* The update with its settings as compile-time constants in each caller (always
 * inlined), so that every variant is a branch-free loop the compiler vectorizes.
 * Each element goes through the same operations in the same order whatever the
 * variant: bitwise the results of the one general loop this replaced. mask,
 * scale and buf may be NULL (no mask, rate scale or momentum). */
static inline __attribute__ ((always_inline)) void
sgd_loop (float *restrict p, const float *restrict g, const float *restrict mask,
          const float *restrict scale, float *restrict buf, size_t n, float lr, float wd,
          float mom, float damp, gboolean use_wd, gboolean first, gboolean nesterov)
{
  for (size_t i = 0; i < n; i++)
    {
      float d = g[i];
      if (mask)
        d *= mask[i];
      if (use_wd)
        d += wd * p[i];
      if (buf)
        {
          float b = first ? d : mom * buf[i] + damp * d;
          buf[i] = b;
          d = nesterov ? d + mom * b : b;
        }
      float r = scale ? lr * scale[i] : lr;
      float v = p[i] - r * d;
      if (mask)
        v *= mask[i];
      p[i] = v;
    }
}

/* one loop per combination of the loop-invariant settings */
static inline __attribute__ ((always_inline)) void
sgd_variants (float *p, const float *g, const float *mask, const float *scale, float *buf,
              size_t n, float lr, float wd, float mom, float damp, gboolean first,
              gboolean nesterov)
{
  const gboolean use_wd = wd != 0;
  if (!buf && !use_wd)
    sgd_loop (p, g, mask, scale, NULL, n, lr, wd, mom, damp, FALSE, FALSE, FALSE);
  else if (!buf)
    sgd_loop (p, g, mask, scale, NULL, n, lr, wd, mom, damp, TRUE, FALSE, FALSE);
  else if (first && !use_wd)
    sgd_loop (p, g, mask, scale, buf, n, lr, wd, mom, damp, FALSE, TRUE, nesterov);
  else if (first)
    sgd_loop (p, g, mask, scale, buf, n, lr, wd, mom, damp, TRUE, TRUE, nesterov);
  else if (!use_wd && !nesterov)
    sgd_loop (p, g, mask, scale, buf, n, lr, wd, mom, damp, FALSE, FALSE, FALSE);
  else if (!use_wd)
    sgd_loop (p, g, mask, scale, buf, n, lr, wd, mom, damp, FALSE, FALSE, TRUE);
  else if (!nesterov)
    sgd_loop (p, g, mask, scale, buf, n, lr, wd, mom, damp, TRUE, FALSE, FALSE);
  else
    sgd_loop (p, g, mask, scale, buf, n, lr, wd, mom, damp, TRUE, FALSE, TRUE);
}

/* One function per presence of mask and scale: restrict holds for a function's
 * own parameters (it is lost when inlined), so the vector loops need no runtime
 * overlap checks. The entries that take a mask or a scale tell the compiler that it
 * is not NULL: otherwise the loop keeps an "if (mask)" test per element (-O2 does
 * not unswitch loops), and GCC leaves a loop with control flow scalar. */
#define SGD_ENTRY(name, HAS_MASK, HAS_SCALE)                                           \
  static G_GNUC_NO_INLINE void                                                         \
  name (float *restrict p, const float *restrict g, const float *restrict mask,        \
        const float *restrict scale, float *restrict buf, size_t n, float lr, float wd, \
        float mom, float damp, gboolean first, gboolean nesterov)                      \
  {                                                                                    \
    if ((HAS_MASK && !mask) || (HAS_SCALE && !scale))                                  \
      __builtin_unreachable ();                                                        \
    sgd_variants (p, g, HAS_MASK ? mask : NULL, HAS_SCALE ? scale : NULL, buf, n, lr,  \
                  wd, mom, damp, first, nesterov);                                     \
  }
SGD_ENTRY (sgd_plain, 0, 0)
SGD_ENTRY (sgd_masked, 1, 0)
SGD_ENTRY (sgd_scaled, 0, 1)
SGD_ENTRY (sgd_masked_scaled, 1, 1)

static void
sgd_param (PlOptimizer *opt, float *p, const float *g, const float *mask, float *buf,
           const float *scale, size_t n, float lr)
{
  const float wd = opt->cfg.weight_decay, mom = opt->cfg.momentum;
  const float damp = 1.0f - (float) opt->cfg.dampening;
  const gboolean first = opt->step == 1, nesterov = opt->cfg.nesterov;
  if (!mask && !scale)
    sgd_plain (p, g, mask, scale, buf, n, lr, wd, mom, damp, first, nesterov);
  else if (!scale)
    sgd_masked (p, g, mask, scale, buf, n, lr, wd, mom, damp, first, nesterov);
  else if (!mask)
    sgd_scaled (p, g, mask, scale, buf, n, lr, wd, mom, damp, first, nesterov);
  else
    sgd_masked_scaled (p, g, mask, scale, buf, n, lr, wd, mom, damp, first, nesterov);
}

/* torch.optim.Adam / AdamW for one parameter:
 *   adamw: p *= 1 - lr * wd;  adam: g += wd * p
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps) */

/* The update with its settings constant per caller (see sgd_loop); the same
 * operations in the same order for every variant. mask and scale may be NULL. */
static inline __attribute__ ((always_inline)) void
adam_loop (float *restrict p, const float *restrict g, const float *restrict mask,
           const float *restrict scale, float *restrict m, float *restrict v, size_t n,
           float lr, double bc1, float wd, float b1, float b2, float bc2_sqrt, float eps,
           gboolean decoupled, gboolean use_wd)
{
  const float step_lr = (float) (lr / bc1);
  for (size_t i = 0; i < n; i++)
    {
      float r = scale ? lr * scale[i] : lr;
      float step_size = scale ? (float) (r / bc1) : step_lr;
      float gi = g[i];
      if (mask)
        gi *= mask[i];
      float pi = p[i];
      if (decoupled)
        pi *= 1.0f - r * wd;
      else if (use_wd)
        gi += wd * pi;
      float mi = m[i] + (gi - m[i]) * (1.0f - b1);
      float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      float denom = sqrtf (vi) / bc2_sqrt + eps;
      pi -= step_size * (mi / denom);
      if (mask)
        pi *= mask[i];
      p[i] = pi;
    }
}

static inline __attribute__ ((always_inline)) void
adam_variants (float *p, const float *g, const float *mask, const float *scale, float *m,
               float *v, size_t n, float lr, double bc1, float wd, float b1, float b2,
               float bc2_sqrt, float eps, gboolean decoupled)
{
  if (decoupled)
    adam_loop (p, g, mask, scale, m, v, n, lr, bc1, wd, b1, b2, bc2_sqrt, eps, TRUE, FALSE);
  else if (wd != 0)
    adam_loop (p, g, mask, scale, m, v, n, lr, bc1, wd, b1, b2, bc2_sqrt, eps, FALSE, TRUE);
  else
    adam_loop (p, g, mask, scale, m, v, n, lr, bc1, wd, b1, b2, bc2_sqrt, eps, FALSE,
               FALSE);
}

#define ADAM_ENTRY(name, MASK, SCALE)                                                  \
  static G_GNUC_NO_INLINE void                                                         \
  name (float *restrict p, const float *restrict g, const float *restrict mask,        \
        const float *restrict scale, float *restrict m, float *restrict v, size_t n,   \
        float lr, double bc1, float wd, float b1, float b2, float bc2_sqrt, float eps,  \
        gboolean decoupled)                                                            \
  {                                                                                    \
    adam_variants (p, g, MASK, SCALE, m, v, n, lr, bc1, wd, b1, b2, bc2_sqrt, eps,     \
                   decoupled);                                                         \
  }
ADAM_ENTRY (adam_plain, NULL, NULL)
ADAM_ENTRY (adam_masked, mask, NULL)
ADAM_ENTRY (adam_scaled, NULL, scale)
ADAM_ENTRY (adam_masked_scaled, mask, scale)

static void
adam_param (PlOptimizer *opt, float *p, const float *g, const float *mask, float *m,
            float *v, const float *scale, size_t n, float lr)
{
  const float wd = opt->cfg.weight_decay;
  const float b1 = opt->cfg.beta1, b2 = opt->cfg.beta2, eps = opt->cfg.eps;
  const gboolean decoupled = opt->cfg.algorithm == PL_OPTIMIZER_ADAMW;
  const double bc1 = 1.0 - pow (opt->cfg.beta1, (double) opt->step);
  const double bc2 = 1.0 - pow (opt->cfg.beta2, (double) opt->step);
  const float bc2_sqrt = (float) sqrt (bc2);
  if (!mask && !scale)
    adam_plain (p, g, mask, scale, m, v, n, lr, bc1, wd, b1, b2, bc2_sqrt, eps, decoupled);
  else if (!scale)
    adam_masked (p, g, mask, scale, m, v, n, lr, bc1, wd, b1, b2, bc2_sqrt, eps, decoupled);
  else if (!mask)
    adam_scaled (p, g, mask, scale, m, v, n, lr, bc1, wd, b1, b2, bc2_sqrt, eps, decoupled);
  else
    adam_masked_scaled (p, g, mask, scale, m, v, n, lr, bc1, wd, b1, b2, bc2_sqrt, eps,
                        decoupled);
}

void
pl_optimizer_step (PlOptimizer *opt, double lr)
{
  opt->step++;
  guint np = pl_model_get_n_params (opt->model);
  for (guint i = 0; i < np; i++)
    {
      PlParam *p = pl_model_get_param (opt->model, i);
      if (p->frozen)
        continue;
      size_t off = p->offset;
      const float *scale = opt->lr_scale ? opt->lr_scale + off : NULL;
      if (opt->cfg.algorithm == PL_OPTIMIZER_SGD)
        sgd_param (opt, p->data, p->grad, p->mask, opt->state1 ? opt->state1 + off : NULL,
                   scale, p->numel, (float) lr);
      else
        adam_param (opt, p->data, p->grad, p->mask, opt->state1 + off, opt->state2 + off,
                    scale, p->numel, (float) lr);
    }
}

double
pl_schedule_lr (const PlSchedule *s, gint64 step)
{
  double lr = s->base_lr;
  switch (s->kind)
    {
    case PL_SCHEDULE_CONSTANT:
      break;
    case PL_SCHEDULE_STEP:
      {
        gint64 epoch = s->steps_per_epoch > 0 ? step / s->steps_per_epoch : 0;
        lr *= pow (s->gamma, (double) (epoch / MAX (s->step_size, 1)));
      }
      break;
    case PL_SCHEDULE_COSINE:
      {
        double t = (double) MIN (step, s->total_steps);
        double T = (double) MAX (s->total_steps, 1);
        lr = s->min_lr + (s->base_lr - s->min_lr) * (1.0 + cos (G_PI * t / T)) / 2.0;
      }
      break;
    default:
      g_assert_not_reached ();
    }
  if (s->warmup_steps > 0 && step < s->warmup_steps)
    lr *= (double) (step + 1) / (double) s->warmup_steps;
  return lr;
}
