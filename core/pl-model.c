#include "pl-model.h"

#include <math.h>
#include <string.h>

#include "pl-error.h"
#include "pl-safetensors.h"

struct _PlModel {
  char *architecture;
  PlModelSpec spec;
  GPtrArray *params;       /* PlParam*, owned */
  float *block;            /* params then grads, one allocation */
  size_t n_floats;
  PlGraph *graph;
  PlTensor *input, *logits, *loss;
};

static void
param_free (gpointer data)
{
  PlParam *p = data;
  g_free (p->name);
  g_free (p->mask);
  g_free (p);
}

PlModel *
pl_model_new (const char *architecture, const PlModelSpec *spec)
{
  PlModel *m = g_new0 (PlModel, 1);
  m->architecture = g_strdup (architecture);
  m->spec = *spec;
  m->params = g_ptr_array_new_with_free_func (param_free);
  return m;
}

void
pl_model_free (PlModel *m)
{
  if (!m)
    return;
  pl_graph_free (m->graph);
  g_ptr_array_unref (m->params);
  g_free (m->block);
  g_free (m->architecture);
  g_free (m);
}

PlParam *
pl_model_add_param (PlModel *m, const char *name, PlParamKind kind, PlParamGroup group,
                    PlLayerType layer, int ndim, const int *shape)
{
  g_return_val_if_fail (m->block == NULL, NULL);
  g_return_val_if_fail (ndim >= 1 && ndim <= PL_MAX_DIMS, NULL);
  PlParam *p = g_new0 (PlParam, 1);
  p->name = g_strdup (name);
  p->kind = kind;
  p->group = group;
  p->layer = layer;
  p->ndim = ndim;
  p->numel = 1;
  for (int i = 0; i < ndim; i++)
    {
      p->shape[i] = shape[i];
      p->numel *= (size_t) shape[i];
    }
  /* fan in/out as torch.nn.init._calculate_fan_in_and_fan_out */
  size_t receptive = 1;
  for (int i = 2; i < ndim; i++)
    receptive *= (size_t) shape[i];
  p->fan_in = ndim >= 2 ? (int) (shape[1] * receptive) : shape[0];
  p->fan_out = ndim >= 2 ? (int) (shape[0] * receptive) : shape[0];
  g_ptr_array_add (m->params, p);
  return p;
}

gboolean
pl_model_finalize_params (PlModel *m, GError **error)
{
  size_t n = 0;
  for (guint i = 0; i < m->params->len; i++)
    {
      PlParam *p = g_ptr_array_index (m->params, i);
      p->offset = n;
      /* keep each parameter 16-float (64-byte) aligned for vector loads */
      n += (p->numel + 15) & ~(size_t) 15;
    }
  m->block = g_try_malloc0_n (2 * n + 16, sizeof (float));
  if (!m->block)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FAILED,
                   "could not allocate %.1f MiB for %zu parameters", 8.0 * n / (1 << 20), n);
      return FALSE;
    }
  m->n_floats = n;
  for (guint i = 0; i < m->params->len; i++)
    {
      PlParam *p = g_ptr_array_index (m->params, i);
      p->data = m->block + p->offset;
      p->grad = m->block + n + p->offset;
    }
  return TRUE;
}

void
pl_model_set_graph (PlModel *m, PlGraph *graph, PlTensor *input, PlTensor *logits,
                    PlTensor *loss)
{
  g_return_if_fail (m->graph == NULL);
  m->graph = graph;
  m->input = input;
  m->logits = logits;
  m->loss = loss;
}

const char *pl_model_get_architecture (PlModel *m) { return m->architecture; }
const PlModelSpec *pl_model_get_spec (PlModel *m) { return &m->spec; }
guint pl_model_get_n_params (PlModel *m) { return m->params->len; }
PlParam *pl_model_get_param (PlModel *m, guint i) { return g_ptr_array_index (m->params, i); }
float *pl_model_get_params (PlModel *m) { return m->block; }
float *pl_model_get_grads (PlModel *m) { return m->block + m->n_floats; }
size_t pl_model_get_n_floats (PlModel *m) { return m->n_floats; }
PlGraph *pl_model_get_graph (PlModel *m) { return m->graph; }
PlTensor *pl_model_get_input (PlModel *m) { return m->input; }
PlTensor *pl_model_get_logits (PlModel *m) { return m->logits; }
float *pl_model_get_input_buffer (PlModel *m) { return m->input->data; }
int32_t *pl_model_get_label_buffer (PlModel *m) { return pl_graph_labels (m->graph); }

PlParam *
pl_model_lookup_param (PlModel *m, const char *name)
{
  for (guint i = 0; i < m->params->len; i++)
    {
      PlParam *p = g_ptr_array_index (m->params, i);
      if (g_str_equal (p->name, name))
        return p;
    }
  return NULL;
}

size_t
pl_model_count_trainable (PlModel *m)
{
  size_t n = 0;
  for (guint i = 0; i < m->params->len; i++)
    {
      PlParam *p = g_ptr_array_index (m->params, i);
      if (p->frozen)
        continue;
      if (!p->mask)
        n += p->numel;
      else
        for (size_t j = 0; j < p->numel; j++)
          n += p->mask[j] != 0.0f;
    }
  return n;
}

size_t
pl_model_count_effective (PlModel *m)
{
  size_t n = 0;
  for (guint i = 0; i < m->params->len; i++)
    {
      PlParam *p = g_ptr_array_index (m->params, i);
      if (!p->mask)
        n += p->numel;
      else
        for (size_t j = 0; j < p->numel; j++)
          n += p->mask[j] != 0.0f;
    }
  return n;
}

float *
pl_model_ensure_mask (PlModel *m, PlParam *p)
{
  if (!p->mask)
    {
      p->mask = g_new (float, p->numel);
      for (size_t j = 0; j < p->numel; j++)
        p->mask[j] = 1.0f;
    }
  return p->mask;
}

void
pl_model_apply_masks (PlModel *m)
{
  for (guint i = 0; i < m->params->len; i++)
    {
      PlParam *p = g_ptr_array_index (m->params, i);
      if (p->mask)
        for (size_t j = 0; j < p->numel; j++)
          p->data[j] *= p->mask[j];
    }
}

void
pl_model_freeze_group (PlModel *m, PlParamGroup group, gboolean frozen)
{
  for (guint i = 0; i < m->params->len; i++)
    {
      PlParam *p = g_ptr_array_index (m->params, i);
      if (p->group == group)
        p->frozen = frozen;
    }
}

void
pl_model_zero_grads (PlModel *m)
{
  /* gradients the graph's backward overwrites (pl_graph_param_grad_is_set ())
   * are skipped; params sit in the block in order of offset */
  float *grads = m->block + m->n_floats, *from = grads;
  for (guint i = 0; m->graph && i < m->params->len; i++)
    {
      PlParam *p = g_ptr_array_index (m->params, i);
      if (p->grad < from || !pl_graph_param_grad_is_set (m->graph, p->grad))
        continue;
      memset (from, 0, (size_t) (p->grad - from) * sizeof (float));
      from = p->grad + p->numel;
    }
  memset (from, 0, (size_t) (grads + m->n_floats - from) * sizeof (float));
}

void
pl_model_init_default (PlModel *m, guint64 seed)
{
  PlRng rng;
  pl_rng_init_stream (&rng, seed, "init");
  /* a bias's bound comes from its layer's weight, which precedes it */
  int last_fan_in = 1;
  for (guint i = 0; i < m->params->len; i++)
    {
      PlParam *p = g_ptr_array_index (m->params, i);
      switch (p->kind)
        {
        case PL_PARAM_NORM:
          {
            gboolean is_gamma = g_str_has_suffix (p->name, ".weight");
            for (size_t j = 0; j < p->numel; j++)
              p->data[j] = is_gamma ? 1.0f : 0.0f;
          }
          break;
        case PL_PARAM_EMBEDDING:
          for (size_t j = 0; j < p->numel; j++)
            p->data[j] = (float) (0.02 * pl_rng_normal (&rng));
          break;
        case PL_PARAM_BIAS:
          {
            double bound = 1.0 / sqrt ((double) last_fan_in);
            for (size_t j = 0; j < p->numel; j++)
              p->data[j] = (float) ((2.0 * pl_rng_uniform (&rng) - 1.0) * bound);
          }
          break;
        default:
          {
            last_fan_in = MAX (p->fan_in, 1);
            double bound = 1.0 / sqrt ((double) last_fan_in);
            for (size_t j = 0; j < p->numel; j++)
              p->data[j] = (float) ((2.0 * pl_rng_uniform (&rng) - 1.0) * bound);
          }
          break;
        }
    }
  pl_model_apply_masks (m);
}

/* ---- builders -------------------------------------------------------------- */

PlTensor *
pl_model_param_tensor (PlModel *m, PlGraph *g, PlParam *p)
{
  return pl_graph_param (g, p->name, p->data, p->grad, p->ndim, p->shape);
}

PlTensor *
pl_model_weight_tensor (PlModel *m, PlGraph *g, PlParam *p)
{
  PlTensor *w = pl_model_param_tensor (m, g, p);
  for (guint i = 0; i < m->spec.n_hooks; i++)
    if (m->spec.hooks[i]->wrap_weight)
      w = m->spec.hooks[i]->wrap_weight (m, g, p, w, m->spec.hooks[i]->user_data);
  return w;
}

PlTensor *
pl_model_input_tensor (PlModel *m, PlGraph *g, PlParam *weight, PlTensor *x)
{
  for (guint i = 0; i < m->spec.n_hooks; i++)
    if (m->spec.hooks[i]->wrap_input)
      x = m->spec.hooks[i]->wrap_input (m, g, weight, x, m->spec.hooks[i]->user_data);
  return x;
}

void
pl_model_declare_units (PlModel *m, int layer, int width)
{
  for (guint i = 0; i < m->spec.n_hooks; i++)
    if (m->spec.hooks[i]->declare_units)
      m->spec.hooks[i]->declare_units (m, layer, width, m->spec.hooks[i]->user_data);
}

PlTensor *
pl_model_wrap_units (PlModel *m, PlGraph *g, int layer, PlTensor *h)
{
  for (guint i = 0; i < m->spec.n_hooks; i++)
    if (m->spec.hooks[i]->wrap_units)
      h = m->spec.hooks[i]->wrap_units (m, g, layer, h, m->spec.hooks[i]->user_data);
  return h;
}

/* a dense or conv layer's input and weight, through the build hooks */
#define param_tensor(g, p) pl_model_param_tensor (m, (g), (p))
#define weight_tensor(g, p) pl_model_weight_tensor (m, (g), (p))

/* the next two parameters are a dense layer's weight and bias */
static PlTensor *
add_linear (PlModel *m, PlGraph *g, guint *pi, PlTensor *x)
{
  PlParam *wp = pl_model_get_param (m, (*pi)++);
  PlTensor *w = weight_tensor (g, wp);
  PlTensor *b = param_tensor (g, pl_model_get_param (m, (*pi)++));
  return pl_graph_linear (g, pl_model_input_tensor (m, g, wp, x), w, b);
}

gboolean
pl_model_finish_graph (PlModel *m, PlGraph *g, PlTensor *input, PlTensor *logits,
                       GError **error)
{
  PlTensor *loss = m->spec.mse_loss ? pl_graph_mse (g, logits)
                                    : pl_graph_softmax_xent (g, logits);
  if (!pl_graph_finalize (g, error))
    {
      pl_graph_free (g);
      return FALSE;
    }
  pl_model_set_graph (m, g, input, logits, loss);
  return TRUE;
}

static gboolean
check_spec (const PlModelSpec *spec, GError **error)
{
  if (spec->in_features <= 0 || spec->n_classes < 1 || spec->max_batch <= 0)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_SHAPE,
                   "model needs at least one input feature, one class and a batch "
                   "size of at least 1 (got %d features, %d classes, batch %d)",
                   spec->in_features, spec->n_classes, spec->max_batch);
      return FALSE;
    }
  return TRUE;
}

PlModel *
pl_model_new_mlp (const PlModelSpec *spec, const int *hidden, int n_hidden,
                  GError **error)
{
  if (!check_spec (spec, error))
    return NULL;
  g_autoptr (PlModel) m = pl_model_new ("mlp", spec);
  int in = spec->in_features;
  /* index of each layer's weight: gates may declare parameters between layers */
  g_autofree guint *first = g_new (guint, n_hidden + 1);
  for (int k = 0; k < n_hidden; k++)
    {
      first[k] = pl_model_get_n_params (m);
      if (hidden[k] <= 0)
        {
          g_set_error (error, PL_ERROR, PL_ERROR_SHAPE,
                       "[model] hidden: layer %d has width %d; widths must be positive",
                       k, hidden[k]);
          return NULL;
        }
      g_autofree char *w = g_strdup_printf ("hidden.%d.weight", k);
      g_autofree char *b = g_strdup_printf ("hidden.%d.bias", k);
      pl_model_add_param (m, w, PL_PARAM_WEIGHT, PL_GROUP_BASE, PL_LAYER_DENSE, 2,
                          (int[]) { hidden[k], in });
      pl_model_add_param (m, b, PL_PARAM_BIAS, PL_GROUP_BASE, PL_LAYER_DENSE, 1,
                          (int[]) { hidden[k] });
      pl_model_declare_units (m, k, hidden[k]);
      in = hidden[k];
    }
  first[n_hidden] = pl_model_get_n_params (m);
  pl_model_add_param (m, "head.weight", PL_PARAM_WEIGHT, PL_GROUP_TASK, PL_LAYER_DENSE, 2,
                      (int[]) { spec->n_classes, in });
  pl_model_add_param (m, "head.bias", PL_PARAM_BIAS, PL_GROUP_TASK, PL_LAYER_DENSE, 1,
                      (int[]) { spec->n_classes });
  if (!pl_model_finalize_params (m, error))
    return NULL;

  PlGraph *g = pl_graph_new (spec->max_batch, spec->seed);
  PlTensor *input = pl_graph_input (g, "input", 1, (int[]) { spec->in_features });
  PlTensor *x = input;
  guint pi = 0;
  for (int k = 0; k < n_hidden; k++)
    {
      pi = first[k];
      x = add_linear (m, g, &pi, x);
      x = pl_graph_activation (g, x, spec->activation);
      x = pl_model_wrap_units (m, g, k, x);
      if (spec->dropout > 0)
        x = pl_graph_dropout (g, x, spec->dropout);
    }
  pi = first[n_hidden];
  PlTensor *logits = add_linear (m, g, &pi, x);
  if (!pl_model_finish_graph (m, g, input, logits, error))
    return NULL;
  return g_steal_pointer (&m);
}

PlModel *
pl_model_new_cnn (const PlModelSpec *spec, const int *channels, int n_channels,
                  int kernel_size, GError **error)
{
  if (!check_spec (spec, error))
    return NULL;
  int c = spec->sample_shape[0], h = spec->sample_shape[1], w = spec->sample_shape[2];
  if ((size_t) c * h * w != (size_t) spec->in_features || c <= 0 || h <= 0 || w <= 0)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_SHAPE,
                   "the cnn architecture needs image-shaped samples; the dataset's %d "
                   "features are not %dx%dx%d (use a dataset with an image shape, e.g. "
                   "digits)", spec->in_features, c, h, w);
      return NULL;
    }
  if (kernel_size < 1 || kernel_size % 2 == 0)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_SHAPE,
                   "[model] kernel-size: expected an odd size (padding keeps the image "
                   "size), got %d", kernel_size);
      return NULL;
    }
  g_autoptr (PlModel) m = pl_model_new ("cnn", spec);
  /* conv (same padding) -> activation -> 2x2 max pool while the image is >= 2 */
  int cin = c, hh = h, ww = w;
  gboolean pool[64] = { 0 };
  if (n_channels > 64)
    n_channels = 64;
  for (int k = 0; k < n_channels; k++)
    {
      g_autofree char *wn = g_strdup_printf ("conv.%d.weight", k);
      g_autofree char *bn = g_strdup_printf ("conv.%d.bias", k);
      pl_model_add_param (m, wn, PL_PARAM_WEIGHT, PL_GROUP_BASE, PL_LAYER_CONV, 4,
                          (int[]) { channels[k], cin, kernel_size, kernel_size });
      pl_model_add_param (m, bn, PL_PARAM_BIAS, PL_GROUP_BASE, PL_LAYER_CONV, 1,
                          (int[]) { channels[k] });
      cin = channels[k];
      pool[k] = hh >= 2 && ww >= 2;
      if (pool[k])
        {
          hh /= 2;
          ww /= 2;
        }
    }
  int flat = cin * hh * ww;
  pl_model_add_param (m, "head.weight", PL_PARAM_WEIGHT, PL_GROUP_TASK, PL_LAYER_DENSE, 2,
                      (int[]) { spec->n_classes, flat });
  pl_model_add_param (m, "head.bias", PL_PARAM_BIAS, PL_GROUP_TASK, PL_LAYER_DENSE, 1,
                      (int[]) { spec->n_classes });
  if (!pl_model_finalize_params (m, error))
    return NULL;

  PlGraph *g = pl_graph_new (spec->max_batch, spec->seed);
  PlTensor *input = pl_graph_input (g, "input", 1, (int[]) { spec->in_features });
  PlTensor *x = pl_graph_reshape (g, input, 3, (int[]) { c, h, w });
  guint pi = 0;
  for (int k = 0; k < n_channels; k++)
    {
      PlParam *wp = pl_model_get_param (m, pi++);
      PlTensor *wt = weight_tensor (g, wp);
      PlTensor *bt = param_tensor (g, pl_model_get_param (m, pi++));
      x = pl_graph_conv2d (g, pl_model_input_tensor (m, g, wp, x), wt, bt, 1,
                           kernel_size / 2);
      x = pl_graph_activation (g, x, spec->activation);
      if (pool[k])
        x = pl_graph_maxpool2d (g, x, 2, 2);
    }
  x = pl_graph_reshape (g, x, 1, (int[]) { flat });
  if (spec->dropout > 0)
    x = pl_graph_dropout (g, x, spec->dropout);
  PlTensor *logits = add_linear (m, g, &pi, x);
  if (!pl_model_finish_graph (m, g, input, logits, error))
    return NULL;
  return g_steal_pointer (&m);
}


static PlTensor *
add_norm (PlModel *m, PlGraph *g, guint *pi, PlTensor *x)
{
  PlTensor *w = param_tensor (g, pl_model_get_param (m, (*pi)++));
  PlTensor *b = param_tensor (g, pl_model_get_param (m, (*pi)++));
  return pl_graph_layernorm (g, x, w, b, 1e-5f);
}

static void
declare_linear (PlModel *m, const char *prefix, int out, int in, PlParamGroup group)
{
  g_autofree char *w = g_strdup_printf ("%s.weight", prefix);
  g_autofree char *b = g_strdup_printf ("%s.bias", prefix);
  pl_model_add_param (m, w, PL_PARAM_WEIGHT, group, PL_LAYER_DENSE, 2, (int[]) { out, in });
  pl_model_add_param (m, b, PL_PARAM_BIAS, group, PL_LAYER_DENSE, 1, (int[]) { out });
}

static void
declare_norm (PlModel *m, const char *prefix, int c)
{
  g_autofree char *w = g_strdup_printf ("%s.weight", prefix);
  g_autofree char *b = g_strdup_printf ("%s.bias", prefix);
  pl_model_add_param (m, w, PL_PARAM_NORM, PL_GROUP_BASE, PL_LAYER_NORM, 1, (int[]) { c });
  pl_model_add_param (m, b, PL_PARAM_NORM, PL_GROUP_BASE, PL_LAYER_NORM, 1, (int[]) { c });
}

/* A pre-norm transformer encoder over tokens cut from the features:
 *   x = embed(features viewed as [T, F/T]) + pos
 *   x = x + out_proj(attention(q, k, v of norm1(x)))
 *   x = x + ffn.2(act(ffn.0(norm2(x))))
 *   logits = head(norm(mean over tokens of x)) */
PlModel *
pl_model_new_attention (const PlModelSpec *spec, int tokens, int width, int layers,
                        int heads, GError **error)
{
  if (!check_spec (spec, error))
    return NULL;
  if (tokens < 1 || spec->in_features % tokens != 0)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_SHAPE,
                   "[model] tokens: %d does not divide the dataset's %d features; "
                   "choose a divisor of %d", tokens, spec->in_features, spec->in_features);
      return NULL;
    }
  if (heads < 1 || width % heads != 0)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_SHAPE,
                   "[model] heads: %d does not divide width %d", heads, width);
      return NULL;
    }
  int t = tokens, f = spec->in_features / tokens, d = width, ffn = 2 * width;
  g_autoptr (PlModel) m = pl_model_new ("attention", spec);
  declare_linear (m, "embed", d, f, PL_GROUP_BASE);
  pl_model_add_param (m, "pos_embedding", PL_PARAM_EMBEDDING, PL_GROUP_BASE,
                      PL_LAYER_EMBEDDING, 2, (int[]) { t, d });
  for (int l = 0; l < layers; l++)
    {
      g_autofree char *n1 = g_strdup_printf ("layers.%d.norm1", l);
      g_autofree char *q = g_strdup_printf ("layers.%d.attn.q_proj", l);
      g_autofree char *k = g_strdup_printf ("layers.%d.attn.k_proj", l);
      g_autofree char *v = g_strdup_printf ("layers.%d.attn.v_proj", l);
      g_autofree char *o = g_strdup_printf ("layers.%d.attn.out_proj", l);
      g_autofree char *n2 = g_strdup_printf ("layers.%d.norm2", l);
      g_autofree char *f0 = g_strdup_printf ("layers.%d.ffn.0", l);
      g_autofree char *f2 = g_strdup_printf ("layers.%d.ffn.2", l);
      declare_norm (m, n1, d);
      declare_linear (m, q, d, d, PL_GROUP_BASE);
      declare_linear (m, k, d, d, PL_GROUP_BASE);
      declare_linear (m, v, d, d, PL_GROUP_BASE);
      declare_linear (m, o, d, d, PL_GROUP_BASE);
      declare_norm (m, n2, d);
      declare_linear (m, f0, ffn, d, PL_GROUP_BASE);
      declare_linear (m, f2, d, ffn, PL_GROUP_BASE);
    }
  declare_norm (m, "norm", d);
  declare_linear (m, "head", spec->n_classes, d, PL_GROUP_TASK);
  if (!pl_model_finalize_params (m, error))
    return NULL;

  PlGraph *g = pl_graph_new (spec->max_batch, spec->seed);
  PlTensor *input = pl_graph_input (g, "input", 1, (int[]) { spec->in_features });
  PlTensor *x = pl_graph_reshape (g, input, 2, (int[]) { t, f });
  guint pi = 0;
  x = add_linear (m, g, &pi, x);
  x = pl_graph_add_broadcast (g, x, param_tensor (g, pl_model_get_param (m, pi++)));
  for (int l = 0; l < layers; l++)
    {
      PlTensor *h = add_norm (m, g, &pi, x);
      PlTensor *q = add_linear (m, g, &pi, h);
      PlTensor *k = add_linear (m, g, &pi, h);
      PlTensor *v = add_linear (m, g, &pi, h);
      PlTensor *a = pl_graph_attention (g, q, k, v, heads);
      a = add_linear (m, g, &pi, a);
      if (spec->dropout > 0)
        a = pl_graph_dropout (g, a, spec->dropout);
      x = pl_graph_add (g, x, a);
      h = add_norm (m, g, &pi, x);
      h = add_linear (m, g, &pi, h);
      h = pl_graph_activation (g, h, spec->activation);
      h = add_linear (m, g, &pi, h);
      if (spec->dropout > 0)
        h = pl_graph_dropout (g, h, spec->dropout);
      x = pl_graph_add (g, x, h);
    }
  x = add_norm (m, g, &pi, x);
  x = pl_graph_mean_tokens (g, x);
  PlTensor *logits = add_linear (m, g, &pi, x);
  if (!pl_model_finish_graph (m, g, input, logits, error))
    return NULL;
  return g_steal_pointer (&m);
}

/* ---- safetensors ----------------------------------------------------------- */

gboolean
pl_model_load_safetensors (PlModel *m, const char *path, gboolean allow_missing,
                           GError **error)
{
  g_autoptr (PlSafetensors) st = pl_safetensors_load (path, error);
  if (!st)
    return FALSE;
  guint n = pl_safetensors_get_n_tensors (st);
  for (guint i = 0; i < n; i++)
    {
      const PlTensorInfo *t = pl_safetensors_get_tensor_at (st, i);
      if (g_str_has_prefix (t->name, "__"))
        continue;
      if (!pl_model_lookup_param (m, t->name))
        {
          g_set_error (error, PL_ERROR, PL_ERROR_SHAPE,
                       "%s: tensor \"%s\" does not match any parameter of this %s model",
                       path, t->name, m->architecture);
          return FALSE;
        }
    }
  for (guint i = 0; i < m->params->len; i++)
    {
      PlParam *p = g_ptr_array_index (m->params, i);
      const PlTensorInfo *t = pl_safetensors_lookup (st, p->name);
      if (!t)
        {
          if (allow_missing)
            continue;
          g_set_error (error, PL_ERROR, PL_ERROR_NOT_FOUND,
                       "%s: has no tensor \"%s\" (shape %s) that the model needs",
                       path, p->name, "see `paramlab-cli run` output");
          return FALSE;
        }
      gboolean same = t->ndim == p->ndim;
      for (int d = 0; same && d < p->ndim; d++)
        same = t->shape[d] == p->shape[d];
      if (!same)
        {
          GString *want = g_string_new ("[");
          GString *got = g_string_new ("[");
          for (int d = 0; d < p->ndim; d++)
            g_string_append_printf (want, "%s%d", d ? ", " : "", p->shape[d]);
          for (int d = 0; d < t->ndim; d++)
            g_string_append_printf (got, "%s%" G_GINT64_FORMAT, d ? ", " : "", t->shape[d]);
          g_set_error (error, PL_ERROR, PL_ERROR_SHAPE,
                       "%s: tensor \"%s\" has shape %s], the model expects %s]", path,
                       p->name, got->str, want->str);
          g_string_free (want, TRUE);
          g_string_free (got, TRUE);
          return FALSE;
        }
      if (!pl_safetensors_read_f32 (t, p->data, p->numel, error))
        {
          g_prefix_error (error, "%s: ", path);
          return FALSE;
        }
    }
  pl_model_apply_masks (m);
  return TRUE;
}

gboolean
pl_model_save_safetensors (PlModel *m, const char *path, GHashTable *metadata,
                           GError **error)
{
  g_autoptr (PlSafetensorsWriter) w = pl_safetensors_writer_new ();
  for (guint i = 0; i < m->params->len; i++)
    {
      PlParam *p = g_ptr_array_index (m->params, i);
      gint64 shape[PL_MAX_DIMS];
      for (int d = 0; d < p->ndim; d++)
        shape[d] = p->shape[d];
      if (!pl_safetensors_writer_add (w, p->name, PL_DTYPE_F32, shape, p->ndim, p->data,
                                      p->numel * sizeof (float), error))
        return FALSE;
    }
  if (metadata)
    {
      GHashTableIter it;
      gpointer k, v;
      g_hash_table_iter_init (&it, metadata);
      while (g_hash_table_iter_next (&it, &k, &v))
        pl_safetensors_writer_set_metadata (w, k, v);
    }
  return pl_safetensors_writer_write (w, path, error);
}
