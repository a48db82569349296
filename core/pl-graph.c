#include "pl-graph.h"

#include <math.h>
#include <string.h>

#include "pl-error.h"
#include "pl-ops.h"

/* Every node embeds PlNode first; the per-op structs below add only what that op
 * needs. */
typedef struct {
  const char *name;
  void (*forward)  (PlNode *node, PlGraph *g);
  void (*backward) (PlNode *node, PlGraph *g);
  /* bit k: backward can overwrite in[k]'s gradient instead of adding to it
   * (PL_GRAD_SET, see pl-ops.h) when it is the first to write it */
  guint can_set;
} PlNodeClass;

#define NODE_MAX_INPUTS 3

struct _PlNode {
  const PlNodeClass *klass;
  PlTensor *out;
  PlTensor *in[NODE_MAX_INPUTS];   /* the tensors whose gradients backward adds to */
  guint zero_first, zero_count;    /* the node's slice of PlGraph.zero_items */
  guint set_inputs;                /* bit k: overwrite in[k]'s gradient (finalize) */
};

/* How @node's backward writes the gradient of its input @k. */
static inline PlGradWrite
in_write (const PlNode *node, int k)
{
  return (node->set_inputs >> k) & 1 ? PL_GRAD_SET : PL_GRAD_ADD;
}

/* An activation gradient to clear just before the first backward that touches it
 * (see pl_graph_finalize). */
typedef struct {
  float *grad;
  size_t per_sample;
  gboolean batched;
} ZeroItem;

/* A buffer a node needs besides its output, placed in the arena at finalize. */
typedef struct {
  float **ptr;
  size_t n_floats;
} ArenaRequest;

struct _PlGraph {
  int max_batch;
  int batch;
  gboolean training;
  PlRng rng;
  GPtrArray *nodes;      /* PlNode*, in execution order, owned */
  GPtrArray *tensors;    /* PlTensor*, owned */
  GArray *requests;      /* ArenaRequest */
  GPtrArray *aliases;    /* pairs (alias, source) for reshape */
  float *arena;
  size_t arena_floats;
  float *grad_region;    /* activation gradients, zeroed each backward */
  size_t grad_floats;
  GArray *zero_items;    /* ZeroItem, in backward order */
  GPtrArray *set_grads;  /* parameter gradients backward overwrites (float*) */
  int32_t *labels;
  float *targets;
  int n_targets;
  PlTensor *loss;
  const float *probs;
  gboolean finalized;
};

PlGraph *
pl_graph_new (int max_batch, guint64 seed)
{
  g_return_val_if_fail (max_batch > 0, NULL);
  PlGraph *g = g_new0 (PlGraph, 1);
  g->max_batch = max_batch;
  g->batch = max_batch;
  g->nodes = g_ptr_array_new_with_free_func (g_free);
  g->tensors = g_ptr_array_new_with_free_func (g_free);
  g->requests = g_array_new (FALSE, FALSE, sizeof (ArenaRequest));
  g->aliases = g_ptr_array_new ();
  g->zero_items = g_array_new (FALSE, FALSE, sizeof (ZeroItem));
  g->set_grads = g_ptr_array_new ();
  g->labels = g_new0 (int32_t, max_batch);
  pl_rng_init_stream (&g->rng, seed, "dropout");
  return g;
}

void
pl_graph_free (PlGraph *g)
{
  if (!g)
    return;
  g_ptr_array_unref (g->nodes);
  g_ptr_array_unref (g->tensors);
  g_array_unref (g->requests);
  g_ptr_array_unref (g->aliases);
  g_array_unref (g->zero_items);
  g_ptr_array_unref (g->set_grads);
  g_free (g->arena);
  g_free (g->labels);
  g_free (g->targets);
  g_free (g);
}

int
pl_graph_get_max_batch (PlGraph *g)
{
  return g->max_batch;
}

PlRng *
pl_graph_get_rng (PlGraph *g)
{
  g_return_val_if_fail (g != NULL, NULL);
  return &g->rng;
}

int
pl_graph_get_batch (PlGraph *g)
{
  return g->batch;
}

gsize
pl_graph_get_arena_bytes (PlGraph *g)
{
  return g->arena_floats * sizeof (float);
}

const float *
pl_graph_get_probs (PlGraph *g)
{
  return g->probs;
}

int32_t *
pl_graph_labels (PlGraph *g)
{
  return g->labels;
}

float *
pl_graph_targets (PlGraph *g, int n)
{
  if (!g->targets)
    {
      g->targets = g_new0 (float, (size_t) g->max_batch * n);
      g->n_targets = n;
    }
  g_assert (g->n_targets == n);
  return g->targets;
}

static PlTensor *
new_tensor (PlGraph *g, const char *name, gboolean batched, int ndim, const int *shape)
{
  g_assert (!g->finalized);
  g_assert (ndim >= 1 && ndim <= PL_MAX_DIMS);
  PlTensor *t = g_new0 (PlTensor, 1);
  t->name = name;
  t->batched = batched;
  t->ndim = ndim;
  size_t n = 1;
  for (int i = 0; i < ndim; i++)
    {
      t->shape[i] = shape[i];
      if (!batched || i > 0)
        n *= (size_t) shape[i];
    }
  t->per_sample = n;
  g_ptr_array_add (g->tensors, t);
  return t;
}

/* A batched activation with per-row shape @sample_shape. */
static PlTensor *
new_activation (PlGraph *g, const char *name, int sample_ndim, const int *sample_shape)
{
  int shape[PL_MAX_DIMS];
  shape[0] = g->max_batch;
  for (int i = 0; i < sample_ndim; i++)
    shape[i + 1] = sample_shape[i];
  return new_tensor (g, name, TRUE, sample_ndim + 1, shape);
}

static PlTensor *
new_like (PlGraph *g, const char *name, const PlTensor *x)
{
  return new_activation (g, name, x->ndim - 1, x->shape + 1);
}

static void
request (PlGraph *g, float **ptr, size_t n_floats)
{
  ArenaRequest r = { ptr, n_floats };
  g_array_append_val (g->requests, r);
}

/* A node of @size bytes (its op struct) computing @out from up to three inputs
 * (NULL for none) whose gradients its backward adds to. */
static gpointer
add_node (PlGraph *g, const PlNodeClass *klass, gsize size, PlTensor *out, PlTensor *in0,
          PlTensor *in1, PlTensor *in2)
{
  g_assert (size >= sizeof (PlNode));
  PlNode *n = g_malloc0 (size);
  n->klass = klass;
  n->out = out;
  n->in[0] = in0;
  n->in[1] = in1;
  n->in[2] = in2;
  g_ptr_array_add (g->nodes, n);
  return n;
}

PlTensor *
pl_graph_input (PlGraph *g, const char *name, int ndim, const int *sample_shape)
{
  PlTensor *t = new_activation (g, name, ndim, sample_shape);
  /* inputs need data but never a gradient */
  request (g, &t->data, t->per_sample * g->max_batch);
  return t;
}

PlTensor *
pl_graph_param (PlGraph *g, const char *name, float *data, float *grad, int ndim,
                const int *shape)
{
  PlTensor *t = new_tensor (g, name, FALSE, ndim, shape);
  t->data = data;
  t->grad = grad;
  return t;
}

/* Activations get data and gradient buffers; gradients are requested separately
 * so they form one region that backward zeroes with a single memset. */
static GPtrArray *
activation_list (PlGraph *g)
{
  return g->tensors;
}

/* ---- linear ---------------------------------------------------------------- */

typedef struct {
  PlNode base;
  PlTensor *x, *w, *b;
  int in, out;
} LinearNode;

static int
rows_of (const PlTensor *x, int batch, int width)
{
  return (int) (pl_tensor_numel (x, batch) / (size_t) width);
}

static void
linear_forward (PlNode *node, PlGraph *g)
{
  LinearNode *n = (LinearNode *) node;
  int rows = rows_of (n->x, g->batch, n->in);
  pl_linear_forward (node->out->data, n->x->data, n->w->data, n->b ? n->b->data : NULL,
                     rows, n->in, n->out);
}

static void
linear_backward (PlNode *node, PlGraph *g)
{
  LinearNode *n = (LinearNode *) node;
  int rows = rows_of (n->x, g->batch, n->in);
  pl_linear_backward_write (n->x->grad, in_write (node, 0), n->w->grad,
                            n->b ? n->b->grad : NULL, node->out->grad, n->x->data,
                            n->w->data, rows, n->in, n->out);
}

static const PlNodeClass linear_class = { "linear", linear_forward, linear_backward, 1 };

PlTensor *
pl_graph_linear (PlGraph *g, PlTensor *x, PlTensor *w, PlTensor *b)
{
  g_assert (w->ndim == 2 && !w->batched);
  int out_f = w->shape[0], in_f = w->shape[1];
  g_assert (x->shape[x->ndim - 1] == in_f);
  g_assert (!b || (size_t) out_f == b->per_sample);
  int shape[PL_MAX_DIMS];
  memcpy (shape, x->shape + 1, sizeof (int) * (x->ndim - 1));
  shape[x->ndim - 2] = out_f;
  PlTensor *y = new_activation (g, "linear", x->ndim - 1, shape);
  LinearNode *n = add_node (g, &linear_class, sizeof *n, y, x, w, b);
  n->x = x;
  n->w = w;
  n->b = b;
  n->in = in_f;
  n->out = out_f;
  return y;
}

/* ---- activations ----------------------------------------------------------- */

typedef struct {
  PlNode base;
  PlTensor *x;
  PlActivation act;
} ActNode;

static void
act_forward (PlNode *node, PlGraph *g)
{
  ActNode *n = (ActNode *) node;
  size_t len = pl_tensor_numel (n->x, g->batch);
  float *y = node->out->data;
  const float *x = n->x->data;
  switch (n->act)
    {
    case PL_ACT_RELU: pl_relu_forward (y, x, len); break;
    case PL_ACT_GELU: pl_gelu_forward (y, x, len); break;
    case PL_ACT_TANH: pl_tanh_forward (y, x, len); break;
    case PL_ACT_SIGMOID: pl_sigmoid_forward (y, x, len); break;
    case PL_ACT_IDENTITY: memcpy (y, x, len * sizeof (float)); break;
    default: g_assert_not_reached ();
    }
}

static void
act_backward (PlNode *node, PlGraph *g)
{
  ActNode *n = (ActNode *) node;
  if (!n->x->grad)
    return;
  size_t len = pl_tensor_numel (n->x, g->batch);
  float *dx = n->x->grad;
  const float *dy = node->out->grad, *x = n->x->data, *y = node->out->data;
  PlGradWrite w = in_write (node, 0);
  switch (n->act)
    {
    case PL_ACT_RELU: pl_relu_backward_write (dx, w, dy, x, y, len); break;
    case PL_ACT_GELU: pl_gelu_backward_write (dx, w, dy, x, y, len); break;
    case PL_ACT_TANH: pl_tanh_backward_write (dx, w, dy, x, y, len); break;
    case PL_ACT_SIGMOID: pl_sigmoid_backward_write (dx, w, dy, x, y, len); break;
    case PL_ACT_IDENTITY: pl_add_backward_write (dx, w, NULL, w, dy, len); break;
    default: g_assert_not_reached ();
    }
}

static const PlNodeClass act_class = { "activation", act_forward, act_backward, 1 };

PlTensor *
pl_graph_activation (PlGraph *g, PlTensor *x, PlActivation act)
{
  g_assert (x->batched);
  PlTensor *y = new_like (g, "activation", x);
  ActNode *n = add_node (g, &act_class, sizeof *n, y, x, NULL, NULL);
  n->x = x;
  n->act = act;
  return y;
}

/* ---- dropout --------------------------------------------------------------- */

typedef struct {
  PlNode base;
  PlTensor *x;
  float p;
  float *mask;
} DropoutNode;

static void
dropout_forward (PlNode *node, PlGraph *g)
{
  DropoutNode *n = (DropoutNode *) node;
  size_t len = pl_tensor_numel (n->x, g->batch);
  pl_dropout_forward (node->out->data, n->mask, n->x->data, len,
                      g->training ? n->p : 0.0f, &g->rng);
}

static void
dropout_backward (PlNode *node, PlGraph *g)
{
  DropoutNode *n = (DropoutNode *) node;
  if (n->x->grad)
    pl_dropout_backward (n->x->grad, node->out->grad, n->mask,
                         pl_tensor_numel (n->x, g->batch));
}

static const PlNodeClass dropout_class = { "dropout", dropout_forward, dropout_backward };

PlTensor *
pl_graph_dropout (PlGraph *g, PlTensor *x, float p)
{
  PlTensor *y = new_like (g, "dropout", x);
  DropoutNode *n = add_node (g, &dropout_class, sizeof *n, y, x, NULL, NULL);
  n->x = x;
  n->p = p;
  request (g, &n->mask, x->per_sample * g->max_batch);
  return y;
}

/* ---- layernorm ------------------------------------------------------------- */

typedef struct {
  PlNode base;
  PlTensor *x, *gamma, *beta;
  float eps;
  int c;
  float *mean, *rstd;
} LayerNormNode;

static void
layernorm_forward (PlNode *node, PlGraph *g)
{
  LayerNormNode *n = (LayerNormNode *) node;
  int rows = rows_of (n->x, g->batch, n->c);
  pl_layernorm_forward (node->out->data, n->mean, n->rstd, n->x->data, n->gamma->data,
                        n->beta->data, rows, n->c, n->eps);
}

static void
layernorm_backward (PlNode *node, PlGraph *g)
{
  LayerNormNode *n = (LayerNormNode *) node;
  int rows = rows_of (n->x, g->batch, n->c);
  pl_layernorm_backward_write (n->x->grad, in_write (node, 0), n->gamma->grad,
                               n->beta->grad, node->out->grad, n->x->data, n->mean,
                               n->rstd, n->gamma->data, rows, n->c);
}

static const PlNodeClass layernorm_class = { "layernorm", layernorm_forward,
                                             layernorm_backward, 1 };

PlTensor *
pl_graph_layernorm (PlGraph *g, PlTensor *x, PlTensor *gamma, PlTensor *beta, float eps)
{
  int c = x->shape[x->ndim - 1];
  g_assert (gamma->per_sample == (size_t) c && beta->per_sample == (size_t) c);
  PlTensor *y = new_like (g, "layernorm", x);
  LayerNormNode *n = add_node (g, &layernorm_class, sizeof *n, y, x, gamma, beta);
  n->x = x;
  n->gamma = gamma;
  n->beta = beta;
  n->eps = eps;
  n->c = c;
  size_t rows = x->per_sample / c * g->max_batch;
  request (g, &n->mean, rows);
  request (g, &n->rstd, rows);
  return y;
}

/* ---- conv2d ---------------------------------------------------------------- */

typedef struct {
  PlNode base;
  PlTensor *x, *w, *b;
  int c, h, wd, k, kh, kw, stride, pad;
  float *col, *dcol;
} ConvNode;

static void
conv_forward (PlNode *node, PlGraph *g)
{
  ConvNode *n = (ConvNode *) node;
  pl_conv2d_forward (node->out->data, n->col, n->x->data, n->w->data,
                     n->b ? n->b->data : NULL, g->batch, n->c, n->h, n->wd, n->k, n->kh,
                     n->kw, n->stride, n->pad);
}

static void
conv_backward (PlNode *node, PlGraph *g)
{
  ConvNode *n = (ConvNode *) node;
  pl_conv2d_backward (n->x->grad, n->w->grad, n->b ? n->b->grad : NULL, n->col, n->dcol,
                      node->out->grad, n->x->data, n->w->data, g->batch, n->c, n->h,
                      n->wd, n->k, n->kh, n->kw, n->stride, n->pad);
}

static const PlNodeClass conv_class = { "conv2d", conv_forward, conv_backward };

PlTensor *
pl_graph_conv2d (PlGraph *g, PlTensor *x, PlTensor *w, PlTensor *b, int stride, int pad)
{
  g_assert (x->ndim == 4 && w->ndim == 4 && x->shape[1] == w->shape[1]);
  int c = x->shape[1], h = x->shape[2], wd = x->shape[3];
  int k = w->shape[0], kh = w->shape[2], kw = w->shape[3];
  int oh = pl_conv2d_out_size (h, kh, stride, pad);
  int ow = pl_conv2d_out_size (wd, kw, stride, pad);
  g_assert (oh > 0 && ow > 0);
  PlTensor *y = new_activation (g, "conv2d", 3, (int[]) { k, oh, ow });
  ConvNode *n = add_node (g, &conv_class, sizeof *n, y, x, w, b);
  n->x = x;
  n->w = w;
  n->b = b;
  n->c = c;
  n->h = h;
  n->wd = wd;
  n->k = k;
  n->kh = kh;
  n->kw = kw;
  n->stride = stride;
  n->pad = pad;
  size_t col = (size_t) c * kh * kw * oh * ow;
  request (g, &n->col, col);
  request (g, &n->dcol, col);
  return y;
}

/* ---- pooling --------------------------------------------------------------- */

typedef struct {
  PlNode base;
  PlTensor *x;
  int c, h, w, k, stride, oh, ow;
  gboolean is_max;
  float *argmax; /* int32 stored in float-sized slots of the arena */
} PoolNode;

static void
pool_forward (PlNode *node, PlGraph *g)
{
  PoolNode *n = (PoolNode *) node;
  if (n->is_max)
    pl_maxpool2d_forward (node->out->data, (int32_t *) n->argmax, n->x->data, g->batch,
                          n->c, n->h, n->w, n->k, n->stride);
  else
    pl_avgpool2d_forward (node->out->data, n->x->data, g->batch, n->c, n->h, n->w, n->k,
                          n->stride);
}

static void
pool_backward (PlNode *node, PlGraph *g)
{
  PoolNode *n = (PoolNode *) node;
  if (!n->x->grad)
    return;
  if (n->is_max)
    pl_maxpool2d_backward (n->x->grad, node->out->grad, (const int32_t *) n->argmax,
                           g->batch, n->c, n->oh, n->ow);
  else
    pl_avgpool2d_backward (n->x->grad, node->out->grad, g->batch, n->c, n->h, n->w, n->k,
                           n->stride);
}

static const PlNodeClass pool_class = { "pool2d", pool_forward, pool_backward };

static PlTensor *
graph_pool (PlGraph *g, PlTensor *x, int k, int stride, gboolean is_max)
{
  g_assert (x->ndim == 4);
  int c = x->shape[1], h = x->shape[2], w = x->shape[3];
  int oh = (h - k) / stride + 1, ow = (w - k) / stride + 1;
  g_assert (oh > 0 && ow > 0);
  PlTensor *y = new_activation (g, is_max ? "maxpool2d" : "avgpool2d", 3,
                                (int[]) { c, oh, ow });
  PoolNode *n = add_node (g, &pool_class, sizeof *n, y, x, NULL, NULL);
  n->x = x;
  n->c = c;
  n->h = h;
  n->w = w;
  n->k = k;
  n->stride = stride;
  n->oh = oh;
  n->ow = ow;
  n->is_max = is_max;
  if (is_max)
    request (g, &n->argmax, y->per_sample * g->max_batch);
  return y;
}

PlTensor *
pl_graph_maxpool2d (PlGraph *g, PlTensor *x, int k, int stride)
{
  return graph_pool (g, x, k, stride, TRUE);
}

PlTensor *
pl_graph_avgpool2d (PlGraph *g, PlTensor *x, int k, int stride)
{
  return graph_pool (g, x, k, stride, FALSE);
}

/* ---- attention ------------------------------------------------------------- */

typedef struct {
  PlNode base;
  PlTensor *q, *k, *v;
  int t, heads, dh;
  float *att, *datt;
} AttentionNode;

static void
attention_forward (PlNode *node, PlGraph *g)
{
  AttentionNode *n = (AttentionNode *) node;
  pl_attention_forward (node->out->data, n->att, n->q->data, n->k->data, n->v->data,
                        NULL, g->batch, n->t, n->heads, n->dh);
}

static void
attention_backward (PlNode *node, PlGraph *g)
{
  AttentionNode *n = (AttentionNode *) node;
  pl_attention_backward_write (n->q->grad, n->k->grad, n->v->grad, in_write (node, 0),
                               in_write (node, 1), in_write (node, 2), n->datt,
                               node->out->grad, n->att, n->q->data, n->k->data,
                               n->v->data, g->batch, n->t, n->heads, n->dh);
}

static const PlNodeClass attention_class = { "attention", attention_forward,
                                             attention_backward, 7 };

PlTensor *
pl_graph_attention (PlGraph *g, PlTensor *q, PlTensor *k, PlTensor *v, int heads)
{
  g_assert (q->ndim == 3 && q->per_sample == k->per_sample
            && q->per_sample == v->per_sample);
  int t = q->shape[1], d = q->shape[2];
  g_assert (d % heads == 0);
  PlTensor *y = new_like (g, "attention", q);
  AttentionNode *n = add_node (g, &attention_class, sizeof *n, y, q, k, v);
  n->q = q;
  n->k = k;
  n->v = v;
  n->t = t;
  n->heads = heads;
  n->dh = d / heads;
  size_t att = (size_t) g->max_batch * heads * t * t;
  request (g, &n->att, att);
  request (g, &n->datt, att);
  return y;
}

/* ---- elementwise ----------------------------------------------------------- */

typedef struct {
  PlNode base;
  PlTensor *a, *b;
} BinaryNode;

static void
add_forward (PlNode *node, PlGraph *g)
{
  BinaryNode *n = (BinaryNode *) node;
  pl_add_forward (node->out->data, n->a->data, n->b->data,
                  pl_tensor_numel (n->a, g->batch));
}

static void
add_backward (PlNode *node, PlGraph *g)
{
  BinaryNode *n = (BinaryNode *) node;
  pl_add_backward_write (n->a->grad, in_write (node, 0), n->b->grad, in_write (node, 1),
                         node->out->grad, pl_tensor_numel (n->a, g->batch));
}

static const PlNodeClass add_class = { "add", add_forward, add_backward, 3 };

PlTensor *
pl_graph_add (PlGraph *g, PlTensor *a, PlTensor *b)
{
  g_assert (a->batched && b->batched && a->per_sample == b->per_sample);
  PlTensor *y = new_like (g, "add", a);
  BinaryNode *n = add_node (g, &add_class, sizeof *n, y, a, b, NULL);
  n->a = a;
  n->b = b;
  return y;
}

static void
add_bcast_forward (PlNode *node, PlGraph *g)
{
  BinaryNode *n = (BinaryNode *) node;
  int c = (int) n->b->per_sample;
  pl_bias_add_forward (node->out->data, n->a->data, n->b->data, g->batch, c, 1);
}

static void
add_bcast_backward (PlNode *node, PlGraph *g)
{
  BinaryNode *n = (BinaryNode *) node;
  int c = (int) n->b->per_sample;
  pl_bias_add_backward_write (n->a->grad, in_write (node, 0), n->b->grad, node->out->grad,
                              g->batch, c, 1);
}

static const PlNodeClass add_bcast_class = { "add-broadcast", add_bcast_forward,
                                             add_bcast_backward, 1 };

PlTensor *
pl_graph_add_broadcast (PlGraph *g, PlTensor *x, PlTensor *p)
{
  g_assert (x->batched && !p->batched && x->per_sample == p->per_sample);
  PlTensor *y = new_like (g, "add-broadcast", x);
  BinaryNode *n = add_node (g, &add_bcast_class, sizeof *n, y, x, p, NULL);
  n->a = x;
  n->b = p;
  return y;
}

static void
mul_forward (PlNode *node, PlGraph *g)
{
  BinaryNode *n = (BinaryNode *) node;
  pl_mul_forward (node->out->data, n->a->data, n->b->data,
                  pl_tensor_numel (n->a, g->batch));
}

static void
mul_backward (PlNode *node, PlGraph *g)
{
  BinaryNode *n = (BinaryNode *) node;
  pl_mul_backward (n->a->grad, n->b->grad, node->out->grad, n->a->data, n->b->data,
                   pl_tensor_numel (n->a, g->batch));
}

static const PlNodeClass mul_class = { "mul", mul_forward, mul_backward };

PlTensor *
pl_graph_mul (PlGraph *g, PlTensor *a, PlTensor *b)
{
  g_assert (a->batched && b->batched && a->per_sample == b->per_sample);
  PlTensor *y = new_like (g, "mul", a);
  BinaryNode *n = add_node (g, &mul_class, sizeof *n, y, a, b, NULL);
  n->a = a;
  n->b = b;
  return y;
}

static void
mul_cols_forward (PlNode *node, PlGraph *g)
{
  BinaryNode *n = (BinaryNode *) node;
  int c = (int) n->b->per_sample;
  pl_mul_cols_forward (node->out->data, n->a->data, n->b->data,
                       rows_of (n->a, g->batch, c), c);
}

static void
mul_cols_backward (PlNode *node, PlGraph *g)
{
  BinaryNode *n = (BinaryNode *) node;
  int c = (int) n->b->per_sample;
  pl_mul_cols_backward (n->a->grad, n->b->grad, node->out->grad, n->a->data, n->b->data,
                        rows_of (n->a, g->batch, c), c);
}

static const PlNodeClass mul_cols_class = { "mul-cols", mul_cols_forward,
                                            mul_cols_backward };

PlTensor *
pl_graph_mul_cols (PlGraph *g, PlTensor *x, PlTensor *m)
{
  g_assert (x->batched && !m->batched && x->per_sample % m->per_sample == 0);
  PlTensor *y = new_like (g, "mul-cols", x);
  BinaryNode *n = add_node (g, &mul_cols_class, sizeof *n, y, x, m, NULL);
  n->a = x;
  n->b = m;
  return y;
}

static void
concat_forward (PlNode *node, PlGraph *g)
{
  BinaryNode *n = (BinaryNode *) node;
  pl_concat_forward (node->out->data, n->a->data, n->b->data, g->batch,
                     (int) n->a->per_sample, (int) n->b->per_sample);
}

static void
concat_backward (PlNode *node, PlGraph *g)
{
  BinaryNode *n = (BinaryNode *) node;
  pl_concat_backward (n->a->grad, n->b->grad, node->out->grad, g->batch,
                      (int) n->a->per_sample, (int) n->b->per_sample);
}

static const PlNodeClass concat_class = { "concat", concat_forward, concat_backward };

PlTensor *
pl_graph_concat (PlGraph *g, PlTensor *a, PlTensor *b)
{
  g_assert (a->batched && b->batched);
  PlTensor *y;
  /* token concat keeps [T, D] rows when both sides have the same width */
  if (a->ndim == 3 && b->ndim == 3 && a->shape[2] == b->shape[2])
    y = new_activation (g, "concat", 2, (int[]) { a->shape[1] + b->shape[1], a->shape[2] });
  else
    y = new_activation (g, "concat", 1, (int[]) { (int) (a->per_sample + b->per_sample) });
  BinaryNode *n = add_node (g, &concat_class, sizeof *n, y, a, b, NULL);
  n->a = a;
  n->b = b;
  return y;
}

typedef struct {
  PlNode base;
  PlTensor *x;
} UnaryNode;

static void
mean_tokens_forward (PlNode *node, PlGraph *g)
{
  UnaryNode *n = (UnaryNode *) node;
  pl_mean_tokens_forward (node->out->data, n->x->data, g->batch, n->x->shape[1],
                          n->x->shape[2]);
}

static void
mean_tokens_backward (PlNode *node, PlGraph *g)
{
  UnaryNode *n = (UnaryNode *) node;
  if (n->x->grad)
    pl_mean_tokens_backward_write (n->x->grad, in_write (node, 0), node->out->grad,
                                   g->batch, n->x->shape[1], n->x->shape[2]);
}

static const PlNodeClass mean_tokens_class = { "mean-tokens", mean_tokens_forward,
                                               mean_tokens_backward, 1 };

PlTensor *
pl_graph_mean_tokens (PlGraph *g, PlTensor *x)
{
  g_assert (x->batched && x->ndim == 3);
  PlTensor *y = new_activation (g, "mean-tokens", 1, (int[]) { x->shape[2] });
  UnaryNode *n = add_node (g, &mean_tokens_class, sizeof *n, y, x, NULL, NULL);
  n->x = x;
  return y;
}

PlTensor *
pl_graph_reshape (PlGraph *g, PlTensor *x, int ndim, const int *sample_shape)
{
  PlTensor *y = new_activation (g, x->name, ndim, sample_shape);
  g_assert (y->per_sample == x->per_sample && x->batched);
  /* resolved at finalize, after x has its buffers */
  g_ptr_array_add (g->aliases, y);
  g_ptr_array_add (g->aliases, x);
  return y;
}

typedef struct {
  PlNode base;
  const int32_t *ids;
  int n_ids, d, v;
  PlTensor *table;
} EmbeddingNode;

static void
embedding_forward (PlNode *node, PlGraph *g)
{
  EmbeddingNode *n = (EmbeddingNode *) node;
  /* ids are validated when the batch is loaded; a failure here is a bug */
  gboolean ok = pl_embedding_forward (node->out->data, n->ids, n->table->data,
                                      g->batch * n->n_ids, n->v, n->d);
  g_assert (ok);
}

static void
embedding_backward (PlNode *node, PlGraph *g)
{
  EmbeddingNode *n = (EmbeddingNode *) node;
  pl_embedding_backward (n->table->grad, node->out->grad, n->ids, g->batch * n->n_ids,
                         n->d);
}

static const PlNodeClass embedding_class = { "embedding", embedding_forward,
                                             embedding_backward };

PlTensor *
pl_graph_embedding (PlGraph *g, const int32_t *ids_per_row, int n_ids, PlTensor *table)
{
  g_assert (table->ndim == 2);
  PlTensor *y = new_activation (g, "embedding", 2, (int[]) { n_ids, table->shape[1] });
  EmbeddingNode *n = add_node (g, &embedding_class, sizeof *n, y, table, NULL, NULL);
  n->ids = ids_per_row;
  n->n_ids = n_ids;
  n->v = table->shape[0];
  n->d = table->shape[1];
  n->table = table;
  return y;
}

typedef struct {
  PlNode base;
  PlTensor *x;
  const PlCustomOp *op;
  PlCustomBackward set_backward;  /* NULL or overwrites x's gradient */
  gpointer user_data;
} CustomNode;

static void
custom_forward (PlNode *node, PlGraph *g)
{
  CustomNode *n = (CustomNode *) node;
  n->op->forward (n->x, node->out, g->batch, g->training, n->user_data);
}

static void
custom_backward (PlNode *node, PlGraph *g)
{
  CustomNode *n = (CustomNode *) node;
  if (in_write (node, 0) == PL_GRAD_SET)
    n->set_backward (n->x, node->out, g->batch, n->user_data);
  else
    n->op->backward (n->x, node->out, g->batch, n->user_data);
}

static const PlNodeClass custom_class = { "custom", custom_forward, custom_backward };

PlTensor *
pl_graph_custom_with_set (PlGraph *g, PlTensor *x, const PlCustomOp *op,
                          PlCustomBackward set_backward, gpointer user_data)
{
  PlTensor *y = pl_graph_custom (g, x, op, user_data);
  CustomNode *n = g_ptr_array_index (g->nodes, g->nodes->len - 1);
  n->set_backward = x->batched ? NULL : set_backward;
  return y;
}

PlTensor *
pl_graph_custom (PlGraph *g, PlTensor *x, const PlCustomOp *op, gpointer user_data)
{
  PlTensor *y = x->batched ? new_like (g, op->name, x)
                           : new_tensor (g, op->name, FALSE, x->ndim, x->shape);
  CustomNode *n = add_node (g, &custom_class, sizeof *n, y, x, NULL, NULL);
  n->x = x;
  n->op = op;
  n->user_data = user_data;
  if (!x->batched)
    {
      /* a transform of a parameter (fake quantization, masking): its output is
       * an activation of fixed shape with buffers in the arena */
      request (g, &y->data, y->per_sample);
    }
  return y;
}

/* ---- losses ---------------------------------------------------------------- */

typedef struct {
  PlNode base;
  PlTensor *logits;
  int c;
  float *probs;
} XentNode;

static void
xent_forward (PlNode *node, PlGraph *g)
{
  XentNode *n = (XentNode *) node;
  node->out->data[0] = pl_softmax_xent_forward (n->probs, n->logits->data, g->labels,
                                                g->batch, n->c);
}

static void
xent_backward (PlNode *node, PlGraph *g)
{
  XentNode *n = (XentNode *) node;
  pl_softmax_xent_backward (n->logits->grad, n->probs, g->labels, g->batch, n->c,
                            node->out->grad[0]);
}

static const PlNodeClass xent_class = { "softmax-xent", xent_forward, xent_backward };

PlTensor *
pl_graph_softmax_xent (PlGraph *g, PlTensor *logits)
{
  g_assert (logits->batched && logits->ndim == 2 && !g->loss);
  PlTensor *loss = new_tensor (g, "loss", FALSE, 1, (int[]) { 1 });
  XentNode *n = add_node (g, &xent_class, sizeof *n, loss, logits, NULL, NULL);
  n->logits = logits;
  n->c = logits->shape[1];
  request (g, &n->probs, (size_t) g->max_batch * n->c);
  request (g, &loss->data, 1);
  g->loss = loss;
  return loss;
}

typedef struct {
  PlNode base;
  PlTensor *pred;
} MseNode;

static void
mse_forward (PlNode *node, PlGraph *g)
{
  MseNode *n = (MseNode *) node;
  node->out->data[0] = pl_mse_forward (n->pred->data, g->targets,
                                       pl_tensor_numel (n->pred, g->batch));
}

static void
mse_backward (PlNode *node, PlGraph *g)
{
  MseNode *n = (MseNode *) node;
  pl_mse_backward (n->pred->grad, n->pred->data, g->targets,
                   pl_tensor_numel (n->pred, g->batch), node->out->grad[0]);
}

static const PlNodeClass mse_class = { "mse", mse_forward, mse_backward };

PlTensor *
pl_graph_mse (PlGraph *g, PlTensor *pred)
{
  g_assert (pred->batched && !g->loss);
  pl_graph_targets (g, (int) pred->per_sample);
  PlTensor *loss = new_tensor (g, "loss", FALSE, 1, (int[]) { 1 });
  MseNode *n = add_node (g, &mse_class, sizeof *n, loss, pred, NULL, NULL);
  n->pred = pred;
  request (g, &loss->data, 1);
  g->loss = loss;
  return loss;
}

/* ---- finalize and replay --------------------------------------------------- */

static gboolean
in_grad_region (PlGraph *g, const float *grad)
{
  return grad && grad >= g->grad_region && grad < g->grad_region + g->grad_floats;
}

/* Instead of clearing the whole gradient region before every backward (a pass
 * over memory the size of all activations, at the max batch), each activation
 * gradient is cleared just before the first backward in reverse order that adds
 * to it (one of its consumers, or its producer when nothing consumes it), and
 * only for the rows of the current batch. It is then still in cache when that
 * backward adds to it. When that first writer is a consumer whose kernel can
 * overwrite that input's gradient (PlNodeClass.can_set) and no other tensor of
 * the node shares the gradient, it overwrites it instead (PL_GRAD_SET: the same
 * bits) and nothing is cleared. Reshapes share their source's gradient, so
 * gradients are told apart by address. The loss's gradient is seeded instead. */
static void
schedule_zeroing (PlGraph *g)
{
  g_autoptr (GHashTable) done = g_hash_table_new (NULL, NULL);
  if (g->loss)
    g_hash_table_add (done, g->loss->grad);
  g_array_set_size (g->zero_items, 0);
  for (guint i = g->nodes->len; i-- > 0;)
    {
      PlNode *n = g_ptr_array_index (g->nodes, i);
      n->zero_first = g->zero_items->len;
      n->set_inputs = 0;
      PlTensor *touched[NODE_MAX_INPUTS + 1] = { n->out, n->in[0], n->in[1], n->in[2] };
      for (guint k = 0; k < G_N_ELEMENTS (touched); k++)
        {
          PlTensor *t = touched[k];
          if (!t || !in_grad_region (g, t->grad) || g_hash_table_contains (done, t->grad))
            continue;
          g_hash_table_add (done, t->grad);
          gboolean shared = FALSE;
          for (guint j = 0; j < G_N_ELEMENTS (touched); j++)
            if (j != k && touched[j] && touched[j]->grad == t->grad)
              shared = TRUE;
          if (k > 0 && !shared && (n->klass->can_set >> (k - 1)) & 1)
            {
              n->set_inputs |= 1u << (k - 1);
              continue;
            }
          ZeroItem z = { t->grad, t->per_sample, t->batched };
          g_array_append_val (g->zero_items, z);
        }
      n->zero_count = g->zero_items->len - n->zero_first;
    }
}

/* A parameter's gradient is cleared by pl_model_zero_grads () before each step,
 * outside the graph. When the only node of the whole graph whose backward writes
 * it is a custom node with a set_backward (pl_graph_custom_with_set ()), that
 * node overwrites it instead (the same bits as adding to zeros) and the model
 * skips clearing it (pl_graph_param_grad_is_set ()). Gradients are told apart
 * by address, so shared parameters and reshapes count every writer. */
static void
schedule_param_sets (PlGraph *g)
{
  g_ptr_array_set_size (g->set_grads, 0);
  for (guint i = 0; i < g->nodes->len; i++)
    {
      PlNode *n = g_ptr_array_index (g->nodes, i);
      if (n->klass != &custom_class || !((CustomNode *) n)->set_backward)
        continue;
      float *grad = n->in[0] ? n->in[0]->grad : NULL;
      if (!grad || in_grad_region (g, grad))
        continue;
      guint writers = 0;
      for (guint j = 0; j < g->nodes->len; j++)
        {
          PlNode *m = g_ptr_array_index (g->nodes, j);
          PlTensor *touched[NODE_MAX_INPUTS + 1] = { m->out, m->in[0], m->in[1], m->in[2] };
          for (guint k = 0; k < G_N_ELEMENTS (touched); k++)
            if (touched[k] && touched[k]->grad == grad)
              writers++;
        }
      if (writers != 1)
        continue;
      n->set_inputs |= 1u;
      g_ptr_array_add (g->set_grads, grad);
    }
}

gboolean
pl_graph_param_grad_is_set (PlGraph *g, const float *grad)
{
  g_return_val_if_fail (g != NULL, FALSE);
  for (guint i = 0; i < g->set_grads->len; i++)
    if (g_ptr_array_index (g->set_grads, i) == grad)
      return TRUE;
  return FALSE;
}

static gboolean
is_alias (PlGraph *g, PlTensor *t)
{
  for (guint i = 0; i < g->aliases->len; i += 2)
    if (g_ptr_array_index (g->aliases, i) == t)
      return TRUE;
  return FALSE;
}

static gboolean
is_node_output (PlGraph *g, PlTensor *t)
{
  for (guint i = 0; i < g->nodes->len; i++)
    if (((PlNode *) g_ptr_array_index (g->nodes, i))->out == t)
      return TRUE;
  return FALSE;
}

gboolean
pl_graph_finalize (PlGraph *g, GError **error)
{
  g_return_val_if_fail (!g->finalized, FALSE);
  GPtrArray *tensors = activation_list (g);

  /* node outputs get data and gradient; leaves got their data above. The loss
   * gets a gradient slot that backward seeds with 1. */
  size_t data_floats = 0, grad_floats = 0;
  for (guint i = 0; i < g->requests->len; i++)
    data_floats += g_array_index (g->requests, ArenaRequest, i).n_floats;
  for (guint i = 0; i < tensors->len; i++)
    {
      PlTensor *t = g_ptr_array_index (tensors, i);
      if (is_alias (g, t) || !is_node_output (g, t))
        continue;
      size_t n = t->batched ? t->per_sample * g->max_batch : t->per_sample;
      if (t != g->loss && t->data == NULL && t->batched)
        data_floats += n;
      grad_floats += n;
    }

  size_t total = data_floats + grad_floats;
  if (total > ((size_t) 1 << 36))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_SHAPE,
                   "the model's activations need %.1f GiB for a batch of %d; use a "
                   "smaller batch-size or model",
                   total * 4.0 / (1 << 30), g->max_batch);
      return FALSE;
    }
  g->arena = g_try_malloc0_n (total ? total : 1, sizeof (float));
  if (!g->arena)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FAILED,
                   "could not allocate %.1f MiB for the model's activations",
                   total * 4.0 / (1 << 20));
      return FALSE;
    }
  g->arena_floats = total;

  float *p = g->arena;
  for (guint i = 0; i < g->requests->len; i++)
    {
      ArenaRequest *r = &g_array_index (g->requests, ArenaRequest, i);
      *r->ptr = p;
      p += r->n_floats;
    }
  for (guint i = 0; i < tensors->len; i++)
    {
      PlTensor *t = g_ptr_array_index (tensors, i);
      if (is_alias (g, t) || !is_node_output (g, t) || t->data != NULL)
        continue;
      t->data = p;
      p += t->per_sample * g->max_batch;
    }
  g->grad_region = p;
  g->grad_floats = grad_floats;
  for (guint i = 0; i < tensors->len; i++)
    {
      PlTensor *t = g_ptr_array_index (tensors, i);
      if (is_alias (g, t) || !is_node_output (g, t))
        continue;
      t->grad = p;
      p += t->batched ? t->per_sample * g->max_batch : t->per_sample;
    }
  g_assert (p == g->arena + total);

  for (guint i = 0; i < g->aliases->len; i += 2)
    {
      PlTensor *alias = g_ptr_array_index (g->aliases, i);
      PlTensor *src = g_ptr_array_index (g->aliases, i + 1);
      alias->data = src->data;
      alias->grad = src->grad;
    }

  for (guint i = 0; i < g->nodes->len; i++)
    {
      PlNode *n = g_ptr_array_index (g->nodes, i);
      if (n->klass == &xent_class)
        g->probs = ((XentNode *) n)->probs;
    }
  schedule_zeroing (g);
  schedule_param_sets (g);
  g->finalized = TRUE;
  return TRUE;
}

float
pl_graph_forward (PlGraph *g, int batch, gboolean training)
{
  g_return_val_if_fail (g->finalized, NAN);
  g_return_val_if_fail (batch > 0 && batch <= g->max_batch, NAN);
  g->batch = batch;
  g->training = training;
  for (guint i = 0; i < g->nodes->len; i++)
    {
      PlNode *n = g_ptr_array_index (g->nodes, i);
      n->klass->forward (n, g);
    }
  return g->loss ? g->loss->data[0] : 0.0f;
}

void
pl_graph_backward (PlGraph *g)
{
  g_return_if_fail (g->finalized && g->loss);
  g->loss->grad[0] = 1.0f;
  const ZeroItem *zero = (const ZeroItem *) (gpointer) g->zero_items->data;
  for (guint i = g->nodes->len; i-- > 0;)
    {
      PlNode *n = g_ptr_array_index (g->nodes, i);
      for (guint k = n->zero_first; k < n->zero_first + n->zero_count; k++)
        memset (zero[k].grad, 0,
                (zero[k].batched ? zero[k].per_sample * g->batch : zero[k].per_sample)
                * sizeof (float));
      n->klass->backward (n, g);
    }
}
