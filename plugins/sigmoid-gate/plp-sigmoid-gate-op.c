#include "plp-sigmoid-gate-op.h"

#include <math.h>
#include <string.h>

static inline float
sigmoidf (float z)
{
  return 1.0f / (1.0f + expf (-z));
}

void
plp_gate_forward (float *y, float *gsum, const float *h, const float *wg, const float *bg,
                  const float *alive, int B, int W)
{
  if (gsum)
    memset (gsum, 0, sizeof (float) * W);
  for (int b = 0; b < B; b++)
    {
      const float *hb = h + (size_t) b * W;
      float *yb = y + (size_t) b * W;
      for (int i = 0; i < W; i++)
        {
          if (alive[i] == 0.0f)
            {
              yb[i] = 0.0f;
              continue;
            }
          float g = sigmoidf (wg[i] * hb[i] + bg[i]);
          yb[i] = g * hb[i];
          if (gsum)
            gsum[i] += g;
        }
    }
}

void
plp_gate_backward (float *dh, float *dwg, float *dbg, const float *dy, const float *h,
                   const float *wg, const float *bg, const float *alive, float pressure,
                   int B, int W)
{
  const float dp = pressure / ((float) B * (float) W);
  for (int b = 0; b < B; b++)
    {
      const float *hb = h + (size_t) b * W, *dyb = dy + (size_t) b * W;
      float *dhb = dh ? dh + (size_t) b * W : NULL;
      for (int i = 0; i < W; i++)
        {
          if (alive[i] == 0.0f)
            continue;
          float g = sigmoidf (wg[i] * hb[i] + bg[i]);
          float dz = (dyb[i] * hb[i] + dp) * g * (1.0f - g);
          if (dhb)
            dhb[i] += dyb[i] * g + dz * wg[i];
          dwg[i] += dz * hb[i];
          dbg[i] += dz;
        }
    }
}

double
plp_gate_penalty (const float *h, const float *wg, const float *bg, const float *alive,
                  float pressure, int B, int W)
{
  double s = 0;
  for (int b = 0; b < B; b++)
    for (int i = 0; i < W; i++)
      if (alive[i] != 0.0f)
        s += 1.0 / (1.0 + exp (-((double) wg[i] * h[(size_t) b * W + i] + bg[i])));
  return pressure * s / ((double) B * W);
}

/* ---- the layer ------------------------------------------------------------- */

PlpGateLayer *
plp_gate_layer_new (PlModel *m, int layer, int width)
{
  g_return_val_if_fail (width > 0, NULL);
  PlpGateLayer *l = g_new0 (PlpGateLayer, 1);
  l->layer = layer;
  l->width = width;
  l->first_index = pl_model_get_n_params (m);
  g_autofree char *wn = g_strdup_printf ("hidden.%d.gate.weight", layer);
  g_autofree char *bn = g_strdup_printf ("hidden.%d.gate.bias", layer);
  pl_model_add_param (m, wn, PL_PARAM_GATE, PL_GROUP_BASE, PL_LAYER_DENSE, 1,
                      (int[]) { width });
  pl_model_add_param (m, bn, PL_PARAM_GATE, PL_GROUP_BASE, PL_LAYER_DENSE, 1,
                      (int[]) { width });
  l->alive = g_new (float, width);
  for (int i = 0; i < width; i++)
    l->alive[i] = 1.0f;
  l->batch_sum = g_new0 (float, width);
  l->running = g_new0 (double, width);
  return l;
}

void
plp_gate_layer_free (PlpGateLayer *l)
{
  if (!l)
    return;
  g_free (l->alive);
  g_free (l->batch_sum);
  g_free (l->running);
  g_free (l);
}

static void
gate_op_forward (const PlTensor *in, PlTensor *out, int batch, gboolean training,
                 gpointer user_data)
{
  PlpGateLayer *l = user_data;
  plp_gate_forward (out->data, training ? l->batch_sum : NULL, in->data, l->gate_w->data,
                    l->gate_b->data, l->alive, batch, l->width);
  if (training)
    l->batch_rows = batch;
}

static void
gate_op_backward (PlTensor *in, const PlTensor *out, int batch, gpointer user_data)
{
  PlpGateLayer *l = user_data;
  plp_gate_backward (in->grad, l->gate_w->grad, l->gate_b->grad, out->grad, in->data,
                     l->gate_w->data, l->gate_b->data, l->alive, l->pressure, batch,
                     l->width);
}

static const PlCustomOp gate_op = { "sigmoid-gate", gate_op_forward, gate_op_backward };

PlTensor *
plp_gate_layer_wrap (PlpGateLayer *l, PlModel *m, PlGraph *g, PlTensor *h)
{
  g_return_val_if_fail (h->batched && h->per_sample == (size_t) l->width, h);
  guint n = pl_model_get_n_params (m);
  g_return_val_if_fail (l->first_index + 1 < n, h);
  l->gate_w = pl_model_get_param (m, l->first_index);
  l->gate_b = pl_model_get_param (m, l->first_index + 1);
  l->in_w = l->in_b = l->out_w = NULL;
  /* the layer: the last dense weight [W, in] before the gate, and its bias */
  for (guint i = l->first_index; i-- > 0;)
    {
      PlParam *p = pl_model_get_param (m, i);
      if (p->kind == PL_PARAM_WEIGHT && p->layer == PL_LAYER_DENSE && p->ndim == 2
          && p->shape[0] == l->width)
        {
          l->in_w = p;
          PlParam *b = i + 1 < l->first_index ? pl_model_get_param (m, i + 1) : NULL;
          if (b && b->kind == PL_PARAM_BIAS && b->ndim == 1 && b->shape[0] == l->width)
            l->in_b = b;
          break;
        }
    }
  /* the reader: the first dense weight [out, W] after it */
  for (guint i = l->first_index + 2; i < n; i++)
    {
      PlParam *p = pl_model_get_param (m, i);
      if (p->kind == PL_PARAM_WEIGHT && p->layer == PL_LAYER_DENSE && p->ndim == 2)
        {
          if (p->shape[1] == l->width)
            l->out_w = p;
          break;
        }
    }
  l->input = h;
  return pl_graph_custom (g, h, &gate_op, l);
}

void
plp_gate_layer_reset (PlpGateLayer *l, float bias)
{
  for (int i = 0; i < l->width; i++)
    {
      l->gate_w->data[i] = 0.0f;
      l->gate_b->data[i] = l->alive[i] != 0.0f ? bias : 0.0f;
    }
  l->running_set = FALSE;
  l->batch_rows = 0;
}

gboolean
plp_gate_layer_fold (PlpGateLayer *l, double decay)
{
  if (l->batch_rows <= 0)
    return FALSE;
  for (int i = 0; i < l->width; i++)
    {
      if (l->alive[i] == 0.0f)
        continue;
      double mean = l->batch_sum[i] / l->batch_rows;
      l->running[i] = l->running_set ? decay * l->running[i] + (1.0 - decay) * mean : mean;
    }
  l->running_set = TRUE;
  l->batch_rows = 0;
  return TRUE;
}

static void
zero_entry (PlModel *m, PlParam *p, size_t j)
{
  pl_model_ensure_mask (m, p)[j] = 0.0f;
  p->data[j] = 0.0f;
}

void
plp_gate_layer_switch_off (PlpGateLayer *l, PlModel *m, int unit)
{
  g_return_if_fail (unit >= 0 && unit < l->width);
  l->alive[unit] = 0.0f;
  l->running[unit] = 0.0;
  zero_entry (m, l->gate_w, unit);
  zero_entry (m, l->gate_b, unit);
  if (l->in_w)
    for (int c = 0; c < l->in_w->shape[1]; c++)
      zero_entry (m, l->in_w, (size_t) unit * l->in_w->shape[1] + c);
  if (l->in_b)
    zero_entry (m, l->in_b, unit);
  if (l->out_w)
    for (int r = 0; r < l->out_w->shape[0]; r++)
      zero_entry (m, l->out_w, (size_t) r * l->width + unit);
}

int
plp_gate_layer_restore (PlpGateLayer *l, PlModel *m)
{
  int n = 0;
  if (!l->in_w)
    return 0;
  for (int i = 0; i < l->width; i++)
    {
      gboolean zero = l->alive[i] != 0.0f && l->gate_w->data[i] == 0.0f
                      && l->gate_b->data[i] == 0.0f;
      for (int c = 0; zero && c < l->in_w->shape[1]; c++)
        zero = l->in_w->data[(size_t) i * l->in_w->shape[1] + c] == 0.0f;
      if (zero && l->in_b)
        zero = l->in_b->data[i] == 0.0f;
      for (int r = 0; zero && l->out_w && r < l->out_w->shape[0]; r++)
        zero = l->out_w->data[(size_t) r * l->width + i] == 0.0f;
      if (zero)
        {
          plp_gate_layer_switch_off (l, m, i);
          n++;
        }
    }
  return n;
}

int
plp_gate_layer_count_alive (const PlpGateLayer *l)
{
  int n = 0;
  for (int i = 0; i < l->width; i++)
    n += l->alive[i] != 0.0f;
  return n;
}

/* whether element @j of @p belongs to a switched-off unit of @l */
static gboolean
is_dead (const PlpGateLayer *l, const PlParam *p, size_t j)
{
  if (p == l->gate_w || p == l->gate_b || p == l->in_b)
    return l->alive[j] == 0.0f;
  if (p == l->in_w)
    return l->alive[j / (size_t) p->shape[1]] == 0.0f;
  if (p == l->out_w)
    return l->alive[j % (size_t) l->width] == 0.0f;
  return FALSE;
}

size_t
plp_gate_count_effective (PlModel *m, PlpGateLayer *const *layers, guint n)
{
  size_t count = 0;
  for (guint pi = 0; pi < pl_model_get_n_params (m); pi++)
    {
      PlParam *p = pl_model_get_param (m, pi);
      /* the layers that own or read part of p */
      const PlpGateLayer *touch[8];
      guint nt = 0;
      for (guint k = 0; k < n; k++)
        {
          const PlpGateLayer *l = layers[k];
          if ((p == l->gate_w || p == l->gate_b || p == l->in_w || p == l->in_b
               || p == l->out_w) && nt < G_N_ELEMENTS (touch))
            touch[nt++] = l;
        }
      for (size_t j = 0; j < p->numel; j++)
        {
          if (p->mask && p->mask[j] == 0.0f)
            continue;
          gboolean dead = FALSE;
          for (guint t = 0; t < nt && !dead; t++)
            dead = is_dead (touch[t], p, j);
          count += !dead;
        }
    }
  return count;
}
