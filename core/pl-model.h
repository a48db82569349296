/* pl-model.h: a model is named parameters in one contiguous block plus the graph
 * that computes its loss.
 *
 * Parameters are named and laid out as PyTorch does (a Linear weight is [out, in],
 * a Conv2d weight [out, in, kh, kw]). Each carries a group (base or task), a kind,
 * a freeze flag and an optional mask. Optimizers, pruners and quantizers walk the
 * flat blocks pl_model_get_params() / pl_model_get_grads(). */
#pragma once

#include <glib.h>
#include <stdint.h>

#include "pl-graph.h"

G_BEGIN_DECLS

/* Append only. */
typedef enum {
  PL_PARAM_WEIGHT,
  PL_PARAM_BIAS,
  PL_PARAM_NORM,       /* layernorm gamma and beta */
  PL_PARAM_EMBEDDING,  /* embeddings and learned positions */
  PL_PARAM_GATE,       /* parameters of sparsity gates */
  PL_PARAM_OTHER,
} PlParamKind;

typedef enum {
  PL_GROUP_BASE,
  PL_GROUP_TASK,
} PlParamGroup;

/* Which layer a weight belongs to, for initializers (fan in and out, conv or
 * dense). */
typedef enum {
  PL_LAYER_DENSE,
  PL_LAYER_CONV,
  PL_LAYER_NORM,
  PL_LAYER_EMBEDDING,
} PlLayerType;

typedef struct {
  char *name;             /* "hidden.0.weight" */
  PlParamKind kind;
  PlParamGroup group;
  PlLayerType layer;
  int ndim;
  int shape[PL_MAX_DIMS];
  size_t numel;
  size_t offset;          /* in floats, into the parameter block */
  float *data;            /* = params + offset, valid after pl_model_finalize */
  float *grad;            /* = grads + offset */
  float *mask;            /* NULL, or numel values 0 or 1 that multiply the weight */
  gboolean frozen;
  int fan_in, fan_out;
} PlParam;

typedef struct _PlModel PlModel;

/* Plugins that live inside the forward pass (sparsity gates, fake quantization)
 * join a model while it is built. Each callback may be NULL. */
typedef struct {
  /* Before the parameter block exists: declare parameters for hidden layer @layer
   * of @width units (pl_model_add_param). */
  void      (*declare_units) (PlModel *m, int layer, int width, gpointer user_data);
  /* Building the graph: the hidden units of @layer after their activation,
   * h [B, width]; return the tensor the next layer reads (h itself to leave it). */
  PlTensor *(*wrap_units)    (PlModel *m, PlGraph *g, int layer, PlTensor *h,
                              gpointer user_data);
  /* A weight (dense or conv) as a layer reads it; return a transformed tensor of
   * the same shape, or @w. */
  PlTensor *(*wrap_weight)   (PlModel *m, PlGraph *g, PlParam *p, PlTensor *w,
                              gpointer user_data);
  /* The activation entering the layer whose weight is @p. */
  PlTensor *(*wrap_input)    (PlModel *m, PlGraph *g, PlParam *p, PlTensor *x,
                              gpointer user_data);
  gpointer user_data;
} PlModelBuildHooks;

typedef struct {
  int in_features;
  int sample_shape[3];    /* C, H, W of one sample (for cnn); {in, 1, 1} otherwise */
  int n_classes;
  int max_batch;
  guint64 seed;
  PlActivation activation;
  float dropout;
  gboolean mse_loss;      /* regression-style loss on one-hot targets */
  const PlModelBuildHooks *const *hooks;  /* n_hooks entries, or NULL */
  guint n_hooks;
} PlModelSpec;

/* Construction in three steps: declare parameters, finalize (allocates the
 * block), build the graph on the parameters. The builders below do all three. */
PlModel  *pl_model_new              (const char *architecture, const PlModelSpec *spec);
PlParam  *pl_model_add_param        (PlModel *m, const char *name, PlParamKind kind,
                                     PlParamGroup group, PlLayerType layer, int ndim,
                                     const int *shape);
gboolean  pl_model_finalize_params  (PlModel *m, GError **error);
/* Set the graph once built on the finalized parameters; the model takes it. */
void      pl_model_set_graph        (PlModel *m, PlGraph *graph, PlTensor *input,
                                     PlTensor *logits, PlTensor *loss);
void      pl_model_free             (PlModel *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PlModel, pl_model_free)

/* For architecture plugins that build their own graph: the same calls the
 * built-in builders make. pl_model_weight_tensor() wraps a weight through the
 * build hooks; pl_model_input_tensor() the activation entering its layer;
 * pl_model_declare_units()/pl_model_wrap_units() a hidden layer's units. */
PlTensor *pl_model_param_tensor     (PlModel *m, PlGraph *g, PlParam *p);
PlTensor *pl_model_weight_tensor    (PlModel *m, PlGraph *g, PlParam *p);
PlTensor *pl_model_input_tensor     (PlModel *m, PlGraph *g, PlParam *weight, PlTensor *x);
void      pl_model_declare_units    (PlModel *m, int layer, int width);
PlTensor *pl_model_wrap_units       (PlModel *m, PlGraph *g, int layer, PlTensor *h);
/* logits -> loss (cross-entropy or mse per the spec), finalize the graph and hand
 * it to the model. On failure the graph is freed. */
gboolean  pl_model_finish_graph     (PlModel *m, PlGraph *g, PlTensor *input,
                                     PlTensor *logits, GError **error);

/* The built-in architectures. hidden/channels are layer widths. */
PlModel  *pl_model_new_mlp          (const PlModelSpec *spec, const int *hidden,
                                     int n_hidden, GError **error);
PlModel  *pl_model_new_cnn          (const PlModelSpec *spec, const int *channels,
                                     int n_channels, int kernel_size, GError **error);
PlModel  *pl_model_new_attention    (const PlModelSpec *spec, int tokens, int width,
                                     int layers, int heads, GError **error);

const char *pl_model_get_architecture (PlModel *m);
const PlModelSpec *pl_model_get_spec (PlModel *m);
guint     pl_model_get_n_params     (PlModel *m);
PlParam  *pl_model_get_param        (PlModel *m, guint i);
PlParam  *pl_model_lookup_param     (PlModel *m, const char *name);
float    *pl_model_get_params       (PlModel *m);
float    *pl_model_get_grads        (PlModel *m);
size_t    pl_model_get_n_floats     (PlModel *m);
/* parameters not frozen and not masked out */
size_t    pl_model_count_trainable  (PlModel *m);
/* non-zero mask entries over all masked and unmasked weights */
size_t    pl_model_count_effective  (PlModel *m);
PlGraph  *pl_model_get_graph        (PlModel *m);
PlTensor *pl_model_get_input        (PlModel *m);
PlTensor *pl_model_get_logits       (PlModel *m);

/* Give @p a mask (all ones) if it has none; returns it. */
float    *pl_model_ensure_mask      (PlModel *m, PlParam *p);
/* weights *= mask for every masked parameter */
void      pl_model_apply_masks      (PlModel *m);
void      pl_model_freeze_group     (PlModel *m, PlParamGroup group, gboolean frozen);
void      pl_model_zero_grads       (PlModel *m);

/* PyTorch's default initialization (kaiming_uniform(a=sqrt(5)) for weights,
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for biases, ones/zeros for norms) drawn from the seed; learned positions get
 * N(0, 0.02^2) as in GPT-2 and BERT drawn from the seed. */
void      pl_model_init_default     (PlModel *m, guint64 seed);

/* Copy tensors from a safetensors file whose names match. Every parameter must be
 * present with the same shape unless @allow_missing; extra tensors in the file are
 * an error naming them. */
gboolean  pl_model_load_safetensors (PlModel *m, const char *path, gboolean allow_missing,
                                     GError **error);
/* FP32 export of every parameter (masked weights written as zeros), with metadata
 * pairs key, value, ..., NULL. */
gboolean  pl_model_save_safetensors (PlModel *m, const char *path, GHashTable *metadata,
                                     GError **error);

/* Where a batch goes before pl_graph_forward: [max_batch, in_features] and
 * [max_batch] labels. The batcher writes straight into these (no extra copy). */
float    *pl_model_get_input_buffer (PlModel *m);
int32_t  *pl_model_get_label_buffer (PlModel *m);

G_END_DECLS
