/* fusion-shared-attention: the article's medical multimodal model (section 3.2).
 *
 * Reads paired scan + report rows (pl-paired-layout.h). The image is cut into
 * p x p patches, each a token: image.patch_embed (Linear P -> D) + image.pos_embed.
 * The report's ids become tokens through text.embed (an nn.Embedding [V, D]) +
 * text.pos_embed. Then, by mode:
 *
 *   shared       x = [image tokens; report tokens] -> `layers` pre-norm encoder
 *                blocks fusion.layers.<l> (ONE set of q/k/v/out projections and one
 *                FFN that both modalities' tokens go through and attend across)
 *                -> fusion.norm -> mean over all tokens -> head; with pooling =
 *                per-modality the image and report tokens are averaged apart and
 *                the two means concatenated [B, 2D] -> head
 *   image-only   image tokens -> image.layers.<l> -> image.norm -> mean -> head
 *   text-only    report tokens -> text.layers.<l> -> text.norm -> mean -> head
 *   late-fusion  each modality through its own blocks and norm (separate weights,
 *                no attention across modalities), the two means concatenated
 *                [B, 2D] -> head
 *
 * An encoder block is x += out_proj(attn(q_proj, k_proj, v_proj of norm1(x)));
 * x += ffn.2(act(ffn.0(norm2(x)))), FFN width 2D, the experiment's [model]
 * activation and dropout. Report padding (id 0) is a token like any other (no
 * attention mask). Linear weights go through pl_model_weight_tensor, so
 * quantizers and pruners see them; the model declares no gate units. */
#include <libpeas/peas.h>
#include <math.h>
#include <string.h>

#include "paramlab.h"
#include "plp-fusion-ops.h"

typedef enum {
  PLP_FUSION_SHARED,
  PLP_FUSION_IMAGE_ONLY,
  PLP_FUSION_TEXT_ONLY,
  PLP_FUSION_LATE,
} PlpFusionMode;

static const GEnumValue mode_values[] = {
  { PLP_FUSION_SHARED, "PLP_FUSION_SHARED", "shared" },
  { PLP_FUSION_IMAGE_ONLY, "PLP_FUSION_IMAGE_ONLY", "image-only" },
  { PLP_FUSION_TEXT_ONLY, "PLP_FUSION_TEXT_ONLY", "text-only" },
  { PLP_FUSION_LATE, "PLP_FUSION_LATE", "late-fusion" },
  { 0, NULL, NULL },
};

typedef enum {
  PLP_FUSION_POOL_JOINT,
  PLP_FUSION_POOL_PER_MODALITY,
} PlpFusionPooling;

static const GEnumValue pooling_values[] = {
  { PLP_FUSION_POOL_JOINT, "PLP_FUSION_POOL_JOINT", "joint" },
  { PLP_FUSION_POOL_PER_MODALITY, "PLP_FUSION_POOL_PER_MODALITY", "per-modality" },
  { 0, NULL, NULL },
};

static GType mode_type, pooling_type;

#define PLP_TYPE_FUSION_SHARED_ATTENTION (plp_fusion_shared_attention_get_type ())
G_DECLARE_FINAL_TYPE (PlpFusionSharedAttention, plp_fusion_shared_attention, PLP,
                      FUSION_SHARED_ATTENTION, GObject)

/* The ops of one model built by this plugin; they must outlive its graph. */
typedef struct {
  PlModel *model;            /* not owned: only compared */
  PlpPatchGather *gather;    /* NULL without the image */
  PlpTokenEmbed *embed;      /* NULL without the report */
  float *pool_masks;         /* shared mode, per-modality pooling: [2, T, D] */
} Build;

struct _PlpFusionSharedAttention {
  GObject parent_instance;
  PlpFusionMode mode;
  PlpFusionPooling pooling;
  int width, heads, patch, layers;
  GPtrArray *builds;         /* Build*, owned */
  Build *current;            /* the build of the attached run's model, or NULL */
};

enum { PROP_0, PROP_MODE, PROP_POOLING, PROP_WIDTH, PROP_HEADS, PROP_PATCH, PROP_LAYERS, N_PROPS };

static void plp_fusion_arch_iface_init (PlArchitectureInterface *iface);
static void plp_fusion_addin_iface_init (PlRunAddinInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (PlpFusionSharedAttention, plp_fusion_shared_attention,
                                G_TYPE_OBJECT, G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (PL_TYPE_ARCHITECTURE,
                                                               plp_fusion_arch_iface_init)
                                G_IMPLEMENT_INTERFACE_DYNAMIC (PL_TYPE_RUN_ADDIN,
                                                               plp_fusion_addin_iface_init))

static void
build_free (gpointer data)
{
  Build *b = data;
  plp_patch_gather_free (b->gather);
  plp_token_embed_free (b->embed);
  g_free (b->pool_masks);
  g_free (b);
}

/* ---- declaring parameters -------------------------------------------------- */

static void
declare_linear (PlModel *m, PlParamGroup group, int out, int in, const char *prefix)
{
  g_autofree char *w = g_strdup_printf ("%s.weight", prefix);
  g_autofree char *b = g_strdup_printf ("%s.bias", prefix);
  pl_model_add_param (m, w, PL_PARAM_WEIGHT, group, PL_LAYER_DENSE, 2, (int[]) { out, in });
  pl_model_add_param (m, b, PL_PARAM_BIAS, group, PL_LAYER_DENSE, 1, (int[]) { out });
}

static void
declare_norm (PlModel *m, int c, const char *prefix)
{
  g_autofree char *w = g_strdup_printf ("%s.weight", prefix);
  g_autofree char *b = g_strdup_printf ("%s.bias", prefix);
  pl_model_add_param (m, w, PL_PARAM_NORM, PL_GROUP_BASE, PL_LAYER_NORM, 1, (int[]) { c });
  pl_model_add_param (m, b, PL_PARAM_NORM, PL_GROUP_BASE, PL_LAYER_NORM, 1, (int[]) { c });
}

/* the blocks <prefix>.layers.<l>.* and the final <prefix>.norm */
static void
declare_encoder (PlModel *m, const char *prefix, int layers, int d)
{
  static const char *const proj[] = { "q_proj", "k_proj", "v_proj", "out_proj" };
  for (int l = 0; l < layers; l++)
    {
      g_autofree char *n1 = g_strdup_printf ("%s.layers.%d.norm1", prefix, l);
      declare_norm (m, d, n1);
      for (guint k = 0; k < G_N_ELEMENTS (proj); k++)
        {
          g_autofree char *p = g_strdup_printf ("%s.layers.%d.attn.%s", prefix, l, proj[k]);
          declare_linear (m, PL_GROUP_BASE, d, d, p);
        }
      g_autofree char *n2 = g_strdup_printf ("%s.layers.%d.norm2", prefix, l);
      g_autofree char *f0 = g_strdup_printf ("%s.layers.%d.ffn.0", prefix, l);
      g_autofree char *f2 = g_strdup_printf ("%s.layers.%d.ffn.2", prefix, l);
      declare_norm (m, d, n2);
      declare_linear (m, PL_GROUP_BASE, 2 * d, d, f0);
      declare_linear (m, PL_GROUP_BASE, d, 2 * d, f2);
    }
  g_autofree char *norm = g_strdup_printf ("%s.norm", prefix);
  declare_norm (m, d, norm);
}

/* ---- building the graph ---------------------------------------------------- */

typedef struct {
  PlModel *m;
  PlGraph *g;
  const PlModelSpec *spec;
  int heads;
} Ctx;

static PlParam *
param (Ctx *c, const char *prefix, const char *suffix)
{
  g_autofree char *name = g_strdup_printf ("%s%s", prefix, suffix);
  PlParam *p = pl_model_lookup_param (c->m, name);
  g_assert (p != NULL);
  return p;
}

/* y = x W^T + b over the last dim, through the build hooks */
static PlTensor *
linear (Ctx *c, const char *prefix, PlTensor *x)
{
  PlParam *wp = param (c, prefix, ".weight");
  PlTensor *w = pl_model_weight_tensor (c->m, c->g, wp);
  PlTensor *b = pl_model_param_tensor (c->m, c->g, param (c, prefix, ".bias"));
  return pl_graph_linear (c->g, pl_model_input_tensor (c->m, c->g, wp, x), w, b);
}

static PlTensor *
norm (Ctx *c, const char *prefix, PlTensor *x)
{
  PlTensor *w = pl_model_param_tensor (c->m, c->g, param (c, prefix, ".weight"));
  PlTensor *b = pl_model_param_tensor (c->m, c->g, param (c, prefix, ".bias"));
  return pl_graph_layernorm (c->g, x, w, b, 1e-5f);
}

static PlTensor *
dropout (Ctx *c, PlTensor *x)
{
  return c->spec->dropout > 0 ? pl_graph_dropout (c->g, x, c->spec->dropout) : x;
}

/* x [B, T, D] through the blocks of @prefix and its final norm: [B, T, D] */
static PlTensor *
encode (Ctx *c, const char *prefix, int layers, PlTensor *x)
{
  for (int l = 0; l < layers; l++)
    {
      g_autofree char *b = g_strdup_printf ("%s.layers.%d.", prefix, l);
      g_autofree char *n1 = g_strconcat (b, "norm1", NULL);
      g_autofree char *q = g_strconcat (b, "attn.q_proj", NULL);
      g_autofree char *k = g_strconcat (b, "attn.k_proj", NULL);
      g_autofree char *v = g_strconcat (b, "attn.v_proj", NULL);
      g_autofree char *o = g_strconcat (b, "attn.out_proj", NULL);
      g_autofree char *n2 = g_strconcat (b, "norm2", NULL);
      g_autofree char *f0 = g_strconcat (b, "ffn.0", NULL);
      g_autofree char *f2 = g_strconcat (b, "ffn.2", NULL);
      PlTensor *h = norm (c, n1, x);
      PlTensor *a = pl_graph_attention (c->g, linear (c, q, h), linear (c, k, h),
                                        linear (c, v, h), c->heads);
      x = pl_graph_add (c->g, x, dropout (c, linear (c, o, a)));
      h = pl_graph_activation (c->g, linear (c, f0, norm (c, n2, x)), c->spec->activation);
      x = pl_graph_add (c->g, x, dropout (c, linear (c, f2, h)));
    }
  g_autofree char *fn = g_strdup_printf ("%s.norm", prefix);
  return norm (c, fn, x);
}

/* The means of the first @t_a tokens and of the other ones of x [B, T, D],
 * concatenated: [B, 2D]. mean_a = mean_t (x[:, t] * T / t_a * [t < t_a]), and
 * likewise for the rest; @masks [2, T, D] holds the two constant factors. */
static PlTensor *
mean_per_part (Ctx *c, PlTensor *x, int t_a, float *masks)
{
  int t = x->shape[1], d = x->shape[2];
  for (int i = 0; i < t; i++)
    for (int k = 0; k < d; k++)
      {
        masks[i * d + k] = i < t_a ? (float) t / t_a : 0.0f;
        masks[(size_t) t * d + i * d + k] = i < t_a ? 0.0f : (float) t / (t - t_a);
      }
  PlTensor *ma = pl_graph_param (c->g, "pool.mask.image", masks, NULL, 1, (int[]) { t * d });
  PlTensor *mb = pl_graph_param (c->g, "pool.mask.text", masks + (size_t) t * d, NULL, 1,
                                 (int[]) { t * d });
  return pl_graph_concat (c->g, pl_graph_mean_tokens (c->g, pl_graph_mul_cols (c->g, x, ma)),
                          pl_graph_mean_tokens (c->g, pl_graph_mul_cols (c->g, x, mb)));
}

static gboolean
check_options (PlpFusionSharedAttention *self, const PlExperiment *exp,
               const PlPairedLayout *lay, GError **error)
{
  g_autofree char *where = NULL;
  g_autofree char *msg = NULL;
  if (self->width % self->heads != 0)
    {
      where = pl_experiment_get_location (exp, "arch", "heads");
      msg = g_strdup_printf ("[arch] heads: fusion-shared-attention heads %d must divide "
                             "width %d", self->heads, self->width);
    }
  else if (self->mode != PLP_FUSION_TEXT_ONLY
           && (lay->height % self->patch != 0 || lay->width % self->patch != 0))
    {
      where = pl_experiment_get_location (exp, "arch", "patch");
      msg = g_strdup_printf ("[arch] patch: fusion-shared-attention patch %d must divide "
                             "the %dx%d image", self->patch, lay->height, lay->width);
    }
  if (!msg)
    return TRUE;
  g_set_error (error, PL_ERROR, PL_ERROR_CONFIG, "%s: %s", where, msg);
  return FALSE;
}

static PlModel *
fusion_build (PlArchitecture *arch, const PlExperiment *exp, const PlDataset *like,
              const PlModelSpec *spec, GError **error)
{
  PlpFusionSharedAttention *self = PLP_FUSION_SHARED_ATTENTION (arch);
  PlPairedLayout lay;
  if (!pl_paired_layout_from_dataset (like, &lay, error)
      || !pl_paired_layout_check_ids (&lay, like, error))
    {
      g_prefix_error (error, "fusion-shared-attention: ");
      return NULL;
    }
  if (!check_options (self, exp, &lay, error))
    return NULL;

  gboolean image = self->mode != PLP_FUSION_TEXT_ONLY;
  gboolean text = self->mode != PLP_FUSION_IMAGE_ONLY;
  int d = self->width, p = self->patch, hw = lay.height * lay.width;
  int t_img = (lay.height / p) * (lay.width / p), t_txt = lay.report_length;
  gboolean per_modality = self->mode == PLP_FUSION_LATE
                          || (self->mode == PLP_FUSION_SHARED
                              && self->pooling == PLP_FUSION_POOL_PER_MODALITY);
  int pooled = per_modality ? 2 * d : d;

  g_autofree char *arch_name = g_strdup_printf ("fusion-shared-attention/%s",
                                                mode_values[self->mode].value_nick);
  g_autoptr (PlModel) m = pl_model_new (arch_name, spec);
  if (image)
    {
      declare_linear (m, PL_GROUP_BASE, d, p * p, "image.patch_embed");
      pl_model_add_param (m, "image.pos_embed", PL_PARAM_EMBEDDING, PL_GROUP_BASE,
                          PL_LAYER_EMBEDDING, 2, (int[]) { t_img, d });
    }
  if (text)
    {
      pl_model_add_param (m, "text.embed.weight", PL_PARAM_EMBEDDING, PL_GROUP_BASE,
                          PL_LAYER_EMBEDDING, 2, (int[]) { lay.vocab_size, d });
      pl_model_add_param (m, "text.pos_embed", PL_PARAM_EMBEDDING, PL_GROUP_BASE,
                          PL_LAYER_EMBEDDING, 2, (int[]) { t_txt, d });
    }
  switch (self->mode)
    {
    case PLP_FUSION_SHARED:
      declare_encoder (m, "fusion", self->layers, d);
      break;
    case PLP_FUSION_IMAGE_ONLY:
      declare_encoder (m, "image", self->layers, d);
      break;
    case PLP_FUSION_TEXT_ONLY:
      declare_encoder (m, "text", self->layers, d);
      break;
    case PLP_FUSION_LATE:
      declare_encoder (m, "image", self->layers, d);
      declare_encoder (m, "text", self->layers, d);
      break;
    default:
      g_assert_not_reached ();
    }
  declare_linear (m, PL_GROUP_TASK, spec->n_classes, pooled, "head");
  if (!pl_model_finalize_params (m, error))
    return NULL;

  Build *build = g_new0 (Build, 1);
  build->model = m;
  g_ptr_array_add (self->builds, build);
  Ctx c = { m, pl_graph_new (spec->max_batch, spec->seed), spec, self->heads };
  PlTensor *input = pl_graph_input (c.g, "input", 1, (int[]) { (int) like->n_features });
  PlTensor *xi = NULL, *xt = NULL;
  if (image)
    {
      PlTensor *slots = pl_graph_input (c.g, "image.slots", 2, (int[]) { t_img, p * p });
      build->gather = plp_patch_gather_new (input, 0, lay.height, lay.width, p);
      xi = pl_graph_custom (c.g, slots, &plp_patch_gather_op, build->gather);
      xi = linear (&c, "image.patch_embed", xi);
      xi = pl_graph_add_broadcast (c.g, xi, pl_model_param_tensor (
                                     m, c.g, pl_model_lookup_param (m, "image.pos_embed")));
    }
  if (text)
    {
      PlTensor *slots = pl_graph_input (c.g, "text.slots", 2, (int[]) { t_txt, d });
      PlTensor *table = pl_model_param_tensor (m, c.g,
                                               pl_model_lookup_param (m, "text.embed.weight"));
      build->embed = plp_token_embed_new (input, hw, t_txt, table, spec->max_batch);
      xt = pl_graph_custom (c.g, slots, &plp_token_embed_op, build->embed);
      xt = pl_graph_add_broadcast (c.g, xt, pl_model_param_tensor (
                                     m, c.g, pl_model_lookup_param (m, "text.pos_embed")));
    }
  PlTensor *pooled_x = NULL;
  switch (self->mode)
    {
    case PLP_FUSION_SHARED:
      pooled_x = encode (&c, "fusion", self->layers, pl_graph_concat (c.g, xi, xt));
      if (per_modality)
        {
          build->pool_masks = g_new (float, (gsize) 2 * (t_img + t_txt) * d);
          pooled_x = mean_per_part (&c, pooled_x, t_img, build->pool_masks);
        }
      else
        pooled_x = pl_graph_mean_tokens (c.g, pooled_x);
      break;
    case PLP_FUSION_IMAGE_ONLY:
      pooled_x = pl_graph_mean_tokens (c.g, encode (&c, "image", self->layers, xi));
      break;
    case PLP_FUSION_TEXT_ONLY:
      pooled_x = pl_graph_mean_tokens (c.g, encode (&c, "text", self->layers, xt));
      break;
    case PLP_FUSION_LATE:
      pooled_x = pl_graph_concat (
        c.g, pl_graph_mean_tokens (c.g, encode (&c, "image", self->layers, xi)),
        pl_graph_mean_tokens (c.g, encode (&c, "text", self->layers, xt)));
      break;
    default:
      g_assert_not_reached ();
    }
  PlTensor *logits = linear (&c, "head", pooled_x);
  if (!pl_model_finish_graph (m, c.g, input, logits, error))
    {
      g_ptr_array_remove (self->builds, build);
      return NULL;
    }
  /* the engine initializes only the built-in architectures */
  pl_model_init_default (m, spec->seed);
  return g_steal_pointer (&m);
}

static void
plp_fusion_arch_iface_init (PlArchitectureInterface *iface)
{
  iface->build = fusion_build;
}

/* ---- the run ----------------------------------------------------------------- */

static gboolean
fusion_run_start (PlRunAddin *addin, PlRun *run, GError **error)
{
  PlpFusionSharedAttention *self = PLP_FUSION_SHARED_ATTENTION (addin);
  PlModel *m = pl_run_get_model (run);
  self->current = NULL;
  for (guint i = self->builds->len; i-- > 0;)
    {
      Build *b = g_ptr_array_index (self->builds, i);
      if (b->model == m)
        {
          self->current = b;
          break;
        }
    }
  if (!self->current)
    return TRUE;
  size_t total = 0;
  for (guint i = 0; i < pl_model_get_n_params (m); i++)
    total += pl_model_get_param (m, i)->numel;
  pl_run_log_metric (run, "params/total", (double) total);
  return TRUE;
}

/* A bad token id met in a training forward fails the run after the step. */
static void
fusion_after_step (PlRunAddin *addin, PlRun *run, gint64 step)
{
  PlpFusionSharedAttention *self = PLP_FUSION_SHARED_ATTENTION (addin);
  g_autoptr (GError) error = NULL;
  if (self->current && self->current->embed
      && !plp_token_embed_take_error (self->current->embed, &error))
    {
      g_autofree char *msg = g_strdup_printf ("fusion-shared-attention: training step %"
                                              G_GINT64_FORMAT ": %s", step, error->message);
      pl_run_fail_soon (run, msg);
    }
}

/* ... and one met while evaluating fails it at the end of the epoch. */
static gboolean
fusion_epoch_end (PlRunAddin *addin, PlRun *run, int epoch, GError **error)
{
  PlpFusionSharedAttention *self = PLP_FUSION_SHARED_ATTENTION (addin);
  if (self->current && self->current->embed
      && !plp_token_embed_take_error (self->current->embed, error))
    {
      g_prefix_error (error, "evaluation after epoch %d: ", epoch);
      return FALSE;
    }
  return TRUE;
}

static void
plp_fusion_addin_iface_init (PlRunAddinInterface *iface)
{
  iface->run_start = fusion_run_start;
  iface->after_step = fusion_after_step;
  iface->epoch_end = fusion_epoch_end;
}

/* ---- GObject ----------------------------------------------------------------- */

static void
plp_fusion_shared_attention_get_property (GObject *object, guint id, GValue *value,
                                          GParamSpec *pspec)
{
  PlpFusionSharedAttention *self = PLP_FUSION_SHARED_ATTENTION (object);
  switch (id)
    {
    case PROP_MODE: g_value_set_enum (value, self->mode); break;
    case PROP_POOLING: g_value_set_enum (value, self->pooling); break;
    case PROP_WIDTH: g_value_set_int (value, self->width); break;
    case PROP_HEADS: g_value_set_int (value, self->heads); break;
    case PROP_PATCH: g_value_set_int (value, self->patch); break;
    case PROP_LAYERS: g_value_set_int (value, self->layers); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_fusion_shared_attention_set_property (GObject *object, guint id, const GValue *value,
                                          GParamSpec *pspec)
{
  PlpFusionSharedAttention *self = PLP_FUSION_SHARED_ATTENTION (object);
  switch (id)
    {
    case PROP_MODE: self->mode = g_value_get_enum (value); break;
    case PROP_POOLING: self->pooling = g_value_get_enum (value); break;
    case PROP_WIDTH: self->width = g_value_get_int (value); break;
    case PROP_HEADS: self->heads = g_value_get_int (value); break;
    case PROP_PATCH: self->patch = g_value_get_int (value); break;
    case PROP_LAYERS: self->layers = g_value_get_int (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_fusion_shared_attention_finalize (GObject *object)
{
  PlpFusionSharedAttention *self = PLP_FUSION_SHARED_ATTENTION (object);
  g_ptr_array_unref (self->builds);
  G_OBJECT_CLASS (plp_fusion_shared_attention_parent_class)->finalize (object);
}

#define PARAM_FLAGS (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS)

static void
plp_fusion_shared_attention_class_init (PlpFusionSharedAttentionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->get_property = plp_fusion_shared_attention_get_property;
  object_class->set_property = plp_fusion_shared_attention_set_property;
  object_class->finalize = plp_fusion_shared_attention_finalize;
  g_object_class_install_property (object_class, PROP_MODE,
    g_param_spec_enum ("mode", "Mode",
                       "shared: image and report tokens go through one attention block "
                       "with shared q/k/v/out and FFN weights; image-only and text-only: "
                       "one modality; late-fusion: a block per modality with its own "
                       "weights, pooled features concatenated",
                       mode_type, PLP_FUSION_SHARED, PARAM_FLAGS));
  g_object_class_install_property (object_class, PROP_POOLING,
    g_param_spec_enum ("pooling", "Pooling",
                       "shared mode only: joint averages all tokens into one D-vector; "
                       "per-modality averages the image and the report tokens apart and "
                       "concatenates the two (as late-fusion does)",
                       pooling_type, PLP_FUSION_POOL_JOINT, PARAM_FLAGS));
  g_object_class_install_property (object_class, PROP_WIDTH,
    g_param_spec_int ("width", "Width", "Token width D of both modalities", 4, 1024, 32,
                      PARAM_FLAGS));
  g_object_class_install_property (object_class, PROP_HEADS,
    g_param_spec_int ("heads", "Heads", "Attention heads; must divide width", 1, 64, 2,
                      PARAM_FLAGS));
  g_object_class_install_property (object_class, PROP_PATCH,
    g_param_spec_int ("patch", "Patch",
                      "Side of the square image patches that become tokens; must divide "
                      "the image's height and width", 1, 64, 4, PARAM_FLAGS));
  g_object_class_install_property (object_class, PROP_LAYERS,
    g_param_spec_int ("layers", "Layers", "Encoder blocks (attention + FFN) per stack",
                      1, 8, 1, PARAM_FLAGS));
}

static void
plp_fusion_shared_attention_class_finalize (PlpFusionSharedAttentionClass *klass)
{
}

static void
plp_fusion_shared_attention_init (PlpFusionSharedAttention *self)
{
  self->mode = PLP_FUSION_SHARED;
  self->width = 32;
  self->heads = 2;
  self->patch = 4;
  self->layers = 1;
  self->builds = g_ptr_array_new_with_free_func (build_free);
}

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  GTypeModule *tm = G_TYPE_MODULE (module);
  mode_type = g_type_module_register_enum (tm, "PlpFusionMode", mode_values);
  pooling_type = g_type_module_register_enum (tm, "PlpFusionPooling", pooling_values);
  plp_fusion_shared_attention_register_type (tm);
  peas_object_module_register_extension_type (module, PL_TYPE_ARCHITECTURE,
                                              PLP_TYPE_FUSION_SHARED_ATTENTION);
}
