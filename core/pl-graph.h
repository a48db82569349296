/* pl-graph.h: a reverse-mode graph built once per model and replayed every step.
 *
 * Building records nodes and tensor shapes; pl_graph_finalize() then places every
 * activation and activation gradient in one arena. A training step is
 * pl_graph_forward() + pl_graph_backward(): they walk the node list and call the
 * kernels of pl-ops.h on arena memory, so no step allocates.
 *
 * Tensors are either batched (their first dimension is the batch and scales with the
 * number of rows of the current step, at most the graph's max batch) or fixed
 * (parameters). Parameter tensors point into the model's contiguous parameter and
 * gradient blocks; the graph never owns them. */
#pragma once

#include <glib.h>
#include <stdint.h>

#include "pl-rng.h"

G_BEGIN_DECLS

#define PL_MAX_DIMS 4

typedef struct {
  float *data;
  float *grad;            /* NULL when nothing upstream needs a gradient */
  int ndim;
  int shape[PL_MAX_DIMS]; /* for batched tensors shape[0] is the max batch */
  gboolean batched;
  size_t per_sample;      /* elements per batch row (batched) or all elements */
  const char *name;       /* static or owned by the model; for messages */
} PlTensor;

/* number of elements of @t when the current batch has @batch rows */
static inline size_t
pl_tensor_numel (const PlTensor *t, int batch)
{
  return t->batched ? t->per_sample * (size_t) batch : t->per_sample;
}

typedef enum {
  PL_ACT_RELU,
  PL_ACT_GELU,
  PL_ACT_TANH,
  PL_ACT_SIGMOID,
  PL_ACT_IDENTITY,
} PlActivation;

typedef struct _PlGraph PlGraph;
typedef struct _PlNode PlNode;

/* A custom node lets plugins put a transform inside the forward pass (a gate, fake
 * quantization, a mask) without core knowing what it is. @forward writes out from
 * in; @backward adds into in's gradient from out's. Both run on the training
 * thread, every step, and must not allocate. */
typedef struct {
  const char *name;
  void (*forward)  (const PlTensor *in, PlTensor *out, int batch, gboolean training,
                    gpointer user_data);
  void (*backward) (PlTensor *in, const PlTensor *out, int batch, gpointer user_data);
} PlCustomOp;

/* A custom backward that overwrites in's gradient with what PlCustomOp.backward
 * would add to a zeroed one (the same bits). */
typedef void (*PlCustomBackward) (PlTensor *in, const PlTensor *out, int batch,
                                  gpointer user_data);

PlGraph  *pl_graph_new            (int max_batch, guint64 seed);
void      pl_graph_free           (PlGraph *g);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PlGraph, pl_graph_free)

int       pl_graph_get_max_batch  (PlGraph *g);
int       pl_graph_get_batch      (PlGraph *g);

/* Leaves. An input is batched and needs no gradient: its data is filled by the
 * caller before each forward (pl_graph_input_data). */
PlTensor *pl_graph_input          (PlGraph *g, const char *name, int ndim,
                                   const int *sample_shape);
/* A parameter: fixed shape, data and grad point into the model's blocks. */
PlTensor *pl_graph_param          (PlGraph *g, const char *name, float *data,
                                   float *grad, int ndim, const int *shape);
/* class labels for the current batch, [max_batch] */
int32_t  *pl_graph_labels         (PlGraph *g);
/* regression targets for the current batch, [max_batch, n] (mse loss) */
float    *pl_graph_targets        (PlGraph *g, int n);

/* Ops. Each returns the output tensor. Shapes are checked at build time; a
 * mismatch is a programmer error (models are built by code, not by users). */
/* y = x W^T + b over the last dim; x [B, ..., IN], W [OUT, IN] */
PlTensor *pl_graph_linear         (PlGraph *g, PlTensor *x, PlTensor *w, PlTensor *b);
PlTensor *pl_graph_activation     (PlGraph *g, PlTensor *x, PlActivation act);
PlTensor *pl_graph_dropout        (PlGraph *g, PlTensor *x, float p);
/* over the last dim C; gamma, beta [C] */
PlTensor *pl_graph_layernorm      (PlGraph *g, PlTensor *x, PlTensor *gamma,
                                   PlTensor *beta, float eps);
/* x [B, C, H, W], w [K, C, KH, KW], b [K] */
PlTensor *pl_graph_conv2d         (PlGraph *g, PlTensor *x, PlTensor *w, PlTensor *b,
                                   int stride, int pad);
PlTensor *pl_graph_maxpool2d      (PlGraph *g, PlTensor *x, int k, int stride);
PlTensor *pl_graph_avgpool2d      (PlGraph *g, PlTensor *x, int k, int stride);
/* q, k, v [B, T, D] with D = heads * Dh; non-causal */
PlTensor *pl_graph_attention      (PlGraph *g, PlTensor *q, PlTensor *k, PlTensor *v,
                                   int heads);
PlTensor *pl_graph_add            (PlGraph *g, PlTensor *a, PlTensor *b);
/* y = x + p where p is fixed and broadcast over the batch (positions) */
PlTensor *pl_graph_add_broadcast  (PlGraph *g, PlTensor *x, PlTensor *p);
PlTensor *pl_graph_mul            (PlGraph *g, PlTensor *a, PlTensor *b);
/* y[b, c] = x[b, c] * m[c], m fixed of x's per-row width */
PlTensor *pl_graph_mul_cols       (PlGraph *g, PlTensor *x, PlTensor *m);
/* per-row concat of a [B, A] and b [B, Bn] -> [B, A + Bn] (flattened rows) */
PlTensor *pl_graph_concat         (PlGraph *g, PlTensor *a, PlTensor *b);
/* x [B, T, D] -> [B, D] */
PlTensor *pl_graph_mean_tokens    (PlGraph *g, PlTensor *x);
/* reinterpret the per-row shape (no copy, shares data and grad) */
PlTensor *pl_graph_reshape        (PlGraph *g, PlTensor *x, int ndim,
                                   const int *sample_shape);
PlTensor *pl_graph_embedding      (PlGraph *g, const int32_t *ids_per_row, int n_ids,
                                   PlTensor *table);
PlTensor *pl_graph_custom         (PlGraph *g, PlTensor *x, const PlCustomOp *op,
                                   gpointer user_data);
/* pl_graph_custom () of a parameter x: when this node is the only one whose
 * backward writes x's gradient, backward calls @set_backward instead of
 * op->backward, and pl_graph_param_grad_is_set () is TRUE for that gradient, so
 * that pl_model_zero_grads () need not clear it (it is overwritten each
 * backward). Callers that zero gradients themselves may still do so. */
PlTensor *pl_graph_custom_with_set (PlGraph *g, PlTensor *x, const PlCustomOp *op,
                                    PlCustomBackward set_backward, gpointer user_data);
/* After finalize: TRUE when backward overwrites the parameter gradient @grad
 * (see pl_graph_custom_with_set ()) rather than adding to it. */
gboolean  pl_graph_param_grad_is_set (PlGraph *g, const float *grad);
/* Losses: a scalar tensor holding the batch mean. */
PlTensor *pl_graph_softmax_xent   (PlGraph *g, PlTensor *logits);
PlTensor *pl_graph_mse            (PlGraph *g, PlTensor *pred);

/* Allocate the arena. After this no op may be added. */
gboolean  pl_graph_finalize       (PlGraph *g, GError **error);
gsize     pl_graph_get_arena_bytes (PlGraph *g);

/* Runs every node forward for @batch rows (1..max_batch). In training mode dropout
 * draws masks; in eval mode it is the identity. Returns the loss when the graph has
 * one, else 0. */
float     pl_graph_forward        (PlGraph *g, int batch, gboolean training);
/* Zeroes activation gradients, seeds dloss = 1, runs every node backward.
 * Parameter gradients are ADDED to: the caller zeroes them per step. */
void      pl_graph_backward       (PlGraph *g);

/* The softmax probabilities of the last forward for a softmax_xent graph, [B, C]. */
const float *pl_graph_get_probs   (PlGraph *g);

/* The generator dropout draws from (a training-state checkpoint saves and
 * restores it). (transfer none) */
PlRng       *pl_graph_get_rng     (PlGraph *g);

G_END_DECLS
