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
static void
sgd_param (PlOptimizer *opt, float *p, const float *g, const float *mask, float *buf,
           const float *scale, size_t n, float lr)
{
  const float wd = opt->cfg.weight_decay, mom = opt->cfg.momentum;
  const float damp = 1.0f - (float) opt->cfg.dampening;
  const gboolean first = opt->step == 1, nesterov = opt->cfg.nesterov;
  for (size_t i = 0; i < n; i++)
    {
      float d = g[i];
      if (mask)
        d *= mask[i];
      if (wd != 0)
        d += wd * p[i];
      if (buf)
        {
          float b = first ? d : mom * buf[i] + damp * d;
          buf[i] = b;
          d = nesterov ? d + mom * b : b;
        }
      float r = scale ? lr * scale[i] : lr;
      p[i] -= r * d;
      if (mask)
        p[i] *= mask[i];
    }
}

/* torch.optim.Adam / AdamW for one parameter:
 *   adamw: p *= 1 - lr * wd;  adam: g += wd * p
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps) */
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
  for (size_t i = 0; i < n; i++)
    {
      float r = scale ? lr * scale[i] : lr;
      float step_size = (float) (r / bc1);
      float gi = g[i];
      if (mask)
        gi *= mask[i];
      if (decoupled)
        p[i] *= 1.0f - r * wd;
      else if (wd != 0)
        gi += wd * p[i];
      m[i] += (gi - m[i]) * (1.0f - b1);
      v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
      float denom = sqrtf (v[i]) / bc2_sqrt + eps;
      p[i] -= step_size * (m[i] / denom);
      if (mask)
        p[i] *= mask[i];
    }
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
