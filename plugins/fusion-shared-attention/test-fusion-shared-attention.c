/* The shared-attention fusion architecture: its ops (finite differences), the
 * model each mode builds, that the shared mode really shares its attention
 * weights between the modalities, bad token ids, and short runs on the
 * synthetic scan + report data through the engine. */
#include <math.h>
#include <string.h>

#include "paramlab.h"
#include "pl-test-util.h"
#include "plp-fusion-ops.h"

static PlPluginEngine *
engine (void)
{
  static PlPluginEngine *e;
  if (!e)
    e = pl_plugin_engine_new ();
  return e;
}

/* ---- the ops ----------------------------------------------------------------- */

/* patches come out in grid order, pixels row-major inside each */
static void
test_patch_gather (void)
{
  enum { B = 2, H = 4, W = 6, P = 2, F = 3 + H * W };
  g_autoptr (PlGraph) g = pl_graph_new (B, 1);
  PlTensor *in = pl_graph_input (g, "input", 1, (int[]) { F });
  PlTensor *slots = pl_graph_input (g, "slots", 2, (int[]) { 6, P * P });
  g_autoptr (PlpPatchGather) op = plp_patch_gather_new (in, 3, H, W, P);
  PlTensor *out = pl_graph_custom (g, slots, &plp_patch_gather_op, op);
  g_assert_true (pl_graph_finalize (g, NULL));
  for (int b = 0; b < B; b++)
    for (int j = 0; j < F; j++)
      in->data[b * F + j] = (float) (100 * b + j - 3);
  pl_graph_forward (g, B, FALSE);
  /* patch (pr, pc), pixel (i, k) is image pixel (2 pr + i, 2 pc + k) */
  for (int b = 0; b < B; b++)
    for (int pr = 0; pr < 2; pr++)
      for (int pc = 0; pc < 3; pc++)
        for (int i = 0; i < P; i++)
          for (int k = 0; k < P; k++)
            {
              float got = out->data[b * 24 + (pr * 3 + pc) * 4 + i * 2 + k];
              g_assert_cmpfloat (got, ==, (float) (100 * b + (2 * pr + i) * W + 2 * pc + k));
            }
}

typedef struct {
  PlGraph *g;
  PlTensor *in;
  PlpTokenEmbed *op;
  float *table, *dtable, *w, *dw;
} EmbedGraph;

/* ids at columns 2..2+L of [B, 2 + L] rows -> embedding [B, L, D] -> flat -> linear to
 * 3 classes -> cross-entropy */
static EmbedGraph
embed_graph (int batch, int len, int vocab, int dim)
{
  EmbedGraph e = { 0 };
  PlRng rng;
  pl_rng_init (&rng, 7);
  e.table = g_new (float, vocab * dim);
  e.dtable = g_new0 (float, vocab * dim);
  e.w = g_new (float, 3 * len * dim);
  e.dw = g_new0 (float, 3 * len * dim);
  for (int i = 0; i < vocab * dim; i++)
    e.table[i] = (float) pl_rng_normal (&rng);
  for (int i = 0; i < 3 * len * dim; i++)
    e.w[i] = (float) pl_rng_normal (&rng) * 0.5f;
  e.g = pl_graph_new (batch, 1);
  e.in = pl_graph_input (e.g, "input", 1, (int[]) { 2 + len });
  PlTensor *slots = pl_graph_input (e.g, "slots", 2, (int[]) { len, dim });
  PlTensor *table = pl_graph_param (e.g, "text.embed.weight", e.table, e.dtable, 2,
                                    (int[]) { vocab, dim });
  e.op = plp_token_embed_new (e.in, 2, len, table, batch);
  PlTensor *y = pl_graph_custom (e.g, slots, &plp_token_embed_op, e.op);
  y = pl_graph_reshape (e.g, y, 1, (int[]) { len * dim });
  PlTensor *w = pl_graph_param (e.g, "head.weight", e.w, e.dw, 2, (int[]) { 3, len * dim });
  pl_graph_softmax_xent (e.g, pl_graph_linear (e.g, y, w, NULL));
  g_assert_true (pl_graph_finalize (e.g, NULL));
  return e;
}

static void
embed_graph_clear (EmbedGraph *e)
{
  pl_graph_free (e->g);
  plp_token_embed_free (e->op);
  g_free (e->table);
  g_free (e->dtable);
  g_free (e->w);
  g_free (e->dw);
}

/* forward copies table rows; backward matches central differences, repeated ids
 * included */
static void
test_embed_fd (void)
{
  enum { B = 3, L = 4, V = 5, D = 3 };
  EmbedGraph e = embed_graph (B, L, V, D);
  static const float ids[B][L] = { { 0, 4, 4, 2 }, { 1, 1, 1, 3 }, { 4, 0, 2, 0 } };
  for (int b = 0; b < B; b++)
    {
      e.in->data[b * (2 + L)] = 99.5f;  /* not ids: never read */
      e.in->data[b * (2 + L) + 1] = -7.0f;
      for (int i = 0; i < L; i++)
        e.in->data[b * (2 + L) + 2 + i] = ids[b][i];
    }
  int32_t *labels = pl_graph_labels (e.g);
  labels[0] = 0, labels[1] = 2, labels[2] = 1;
  pl_graph_forward (e.g, B, TRUE);
  g_autoptr (GError) error = NULL;
  g_assert_true (plp_token_embed_take_error (e.op, &error));
  pl_graph_backward (e.g);
  /* V * D entries; id 3 appears once, id 1 three times, every id at least once */
  double max_err = 0;
  for (int j = 0; j < V * D; j++)
    {
      float keep = e.table[j];
      const float h = 1e-2f;
      e.table[j] = keep + h;
      double lp = pl_graph_forward (e.g, B, TRUE);
      e.table[j] = keep - h;
      double lm = pl_graph_forward (e.g, B, TRUE);
      e.table[j] = keep;
      double fd = (lp - lm) / (2 * h);
      pl_assert_close (e.dtable[j], fd, 2e-3, 2e-2);
      max_err = MAX (max_err, fabs (e.dtable[j] - fd));
      g_assert_cmpfloat (fabs (e.dtable[j]), >, 0.0);
    }
  g_test_message ("embedding backward: max |analytic - fd| = %g", max_err);
  embed_graph_clear (&e);
}

/* a bad id gives a zero vector, no gradient and an error naming it, once */
static void
test_embed_bad_id (void)
{
  enum { B = 2, L = 3, V = 4, D = 2 };
  static const struct { float v; const char *text; } bad[] = {
    { 4.0f, "holds 4" }, { -1.0f, "holds -1" }, { 2.5f, "holds 2.5" }, { NAN, "nan" },
    { 1e30f, "holds 1e+30" },
  };
  for (guint k = 0; k < G_N_ELEMENTS (bad); k++)
    {
      EmbedGraph e = embed_graph (B, L, V, D);
      for (int j = 0; j < B * (2 + L); j++)
        e.in->data[j] = 1.0f;
      e.in->data[(2 + L) + 2 + 1] = bad[k].v;  /* row 1, token 1 */
      float loss = pl_graph_forward (e.g, B, TRUE);
      g_assert_true (isfinite (loss));
      pl_graph_backward (e.g);
      g_autoptr (GError) error = NULL;
      g_assert_false (plp_token_embed_take_error (e.op, &error));
      g_assert_error (error, PL_ERROR, PL_ERROR_DATA);
      g_assert_nonnull (strstr (error->message, "text.embed.weight"));
      g_assert_nonnull (strstr (error->message, "row 1 of the batch: report token 1"));
      g_assert_nonnull (strstr (error->message, bad[k].text));
      g_assert_nonnull (strstr (error->message, "[0, 4)"));
      g_clear_error (&error);
      /* reported once */
      g_assert_true (plp_token_embed_take_error (e.op, &error));
      embed_graph_clear (&e);
    }
}

/* ---- models ------------------------------------------------------------------ */

/* An experiment on small synthetic data: @arch_opts are more lines of its [arch]
 * section (the file's last lines, from line 22), @overrides "section.key=value"
 * assignments, one a line, applied as --set would. */
static PlExperiment *
experiment (const char *arch_opts, const char *overrides, GError **error)
{
  g_autofree char *text = g_strdup_printf (
    "[experiment]\nseed=3\n"
    "[data]\nnormalize=none\n"
    "[model]\ndropout=0\nactivation=gelu\n"
    "[train]\nepochs=1\nbatch-size=16\noptimizer=adamw\nlr=2e-3\n"
    "[dataset]\nplugin=synthetic-scan-report\nn-train=64\nn-val=32\nimage-size=8\n"
    "report-length=6\n"
    "[arch]\nplugin=fusion-shared-attention\nwidth=8\n%s", arch_opts);
  g_autoptr (PlExperiment) exp = pl_experiment_load_data (text, -1, "fusion.ini", error);
  if (!exp)
    return NULL;
  g_auto (GStrv) lines = g_strsplit (overrides ? overrides : "", "\n", -1);
  for (char **l = lines; *l; l++)
    if (**l && !pl_experiment_set (exp, *l, error))
      return NULL;
  return g_steal_pointer (&exp);
}

static PlRun *
new_run (const char *arch_opts, const char *more, PlPluginSelection **sel_out,
         GError **error)
{
  g_autoptr (PlExperiment) exp = experiment (arch_opts, more, error);
  if (!exp)
    return NULL;
  g_autoptr (PlPluginSelection) sel = pl_plugin_selection_new (engine (), exp, error);
  if (!sel)
    return NULL;
  PlRun *run = pl_run_new_with_plugins (exp, NULL, sel, error);
  if (run)
    *sel_out = g_steal_pointer (&sel);
  return run;
}

static size_t
count_params (PlModel *m)
{
  size_t n = 0;
  for (guint i = 0; i < pl_model_get_n_params (m); i++)
    n += pl_model_get_param (m, i)->numel;
  return n;
}

typedef struct {
  const char *name;
  int ndim;
  int shape[2];
} ParamShape;

/* width 8, 8x8 image in 4x4 patches (4 tokens of 16), 6 report tokens, vocab 40 */
static void
test_shapes (void)
{
  static const ParamShape shared[] = {
    { "image.patch_embed.weight", 2, { 8, 16 } }, { "image.patch_embed.bias", 1, { 8 } },
    { "image.pos_embed", 2, { 4, 8 } }, { "text.embed.weight", 2, { 40, 8 } },
    { "text.pos_embed", 2, { 6, 8 } }, { "fusion.layers.0.norm1.weight", 1, { 8 } },
    { "fusion.layers.0.attn.q_proj.weight", 2, { 8, 8 } },
    { "fusion.layers.0.attn.k_proj.weight", 2, { 8, 8 } },
    { "fusion.layers.0.attn.v_proj.weight", 2, { 8, 8 } },
    { "fusion.layers.0.attn.out_proj.weight", 2, { 8, 8 } },
    { "fusion.layers.0.ffn.0.weight", 2, { 16, 8 } },
    { "fusion.layers.0.ffn.2.weight", 2, { 8, 16 } }, { "fusion.norm.bias", 1, { 8 } },
    { "head.weight", 2, { 2, 8 } }, { "head.bias", 1, { 2 } }, { NULL } };
  static const ParamShape image_only[] = {
    { "image.patch_embed.weight", 2, { 8, 16 } },
    { "image.layers.0.attn.q_proj.weight", 2, { 8, 8 } }, { "head.weight", 2, { 2, 8 } },
    { NULL } };
  static const ParamShape text_only[] = {
    { "text.embed.weight", 2, { 40, 8 } },
    { "text.layers.0.attn.v_proj.weight", 2, { 8, 8 } }, { "head.weight", 2, { 2, 8 } },
    { NULL } };
  static const ParamShape late[] = {
    { "image.layers.0.attn.q_proj.weight", 2, { 8, 8 } },
    { "text.layers.0.attn.q_proj.weight", 2, { 8, 8 } },
    { "image.norm.weight", 1, { 8 } }, { "text.norm.weight", 1, { 8 } },
    { "head.weight", 2, { 2, 16 } }, { NULL } };
  static const ParamShape per_modality[] = {
    { "fusion.layers.1.attn.q_proj.weight", 2, { 8, 8 } },
    { "head.weight", 2, { 2, 16 } }, { NULL } };
  /* per-layer floats: 2 norms (32) + 4 projections (4 * 72) + ffn (144 + 136) */
  const size_t block = 32 + 4 * 72 + 144 + 136, fnorm = 16;
  const size_t img = 8 * 16 + 8 + 4 * 8, txt = 40 * 8 + 6 * 8;
  static const struct {
    const char *opts;
    const ParamShape *has;
    const char *lacks[3];
    guint n_qproj;
  } cases[] = {
    { "mode=shared\n", shared, { "image.layers.0.norm1.weight", "text.norm.weight", NULL }, 1 },
    { "mode=image-only\n", image_only, { "text.embed.weight", "fusion.norm.weight", NULL }, 1 },
    { "mode=text-only\n", text_only, { "image.patch_embed.weight", "image.pos_embed", NULL }, 1 },
    { "mode=late-fusion\n", late, { "fusion.layers.0.attn.q_proj.weight", NULL }, 2 },
    { "mode=shared\npooling=per-modality\nlayers=2\n", per_modality,
      { "fusion.layers.2.norm1.weight", NULL }, 2 },
  };
  const size_t floats[] = {
    img + txt + block + fnorm + 18, img + block + fnorm + 18, txt + block + fnorm + 18,
    img + txt + 2 * (block + fnorm) + 34, img + txt + 2 * block + fnorm + 34,
  };
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PlPluginSelection) sel = NULL;
      g_autoptr (PlRun) run = new_run (cases[k].opts, NULL, &sel, &error);
      g_assert_no_error (error);
      PlModel *m = pl_run_get_model (run);
      for (const ParamShape *s = cases[k].has; s->name; s++)
        {
          PlParam *p = pl_model_lookup_param (m, s->name);
          if (!p)
            g_error ("%s: no parameter %s", cases[k].opts, s->name);
          g_assert_cmpint (p->ndim, ==, s->ndim);
          for (int d = 0; d < s->ndim; d++)
            g_assert_cmpint (p->shape[d], ==, s->shape[d]);
        }
      for (guint j = 0; j < 3 && cases[k].lacks[j]; j++)
        g_assert_null (pl_model_lookup_param (m, cases[k].lacks[j]));
      guint n_q = 0;
      for (guint i = 0; i < pl_model_get_n_params (m); i++)
        n_q += g_str_has_suffix (pl_model_get_param (m, i)->name, "attn.q_proj.weight");
      g_assert_cmpuint (n_q, ==, cases[k].n_qproj);
      g_assert_cmpuint (count_params (m), ==, floats[k]);
      PlTensor *logits = pl_model_get_logits (m);
      g_assert_cmpint (logits->ndim, ==, 2);
      g_assert_cmpint (logits->shape[1], ==, 2);
    }
}

/* Gradients of the attention weights with one modality's tokens silenced.
 * A token whose embedding is all zeros reaches norm1 as zeros and leaves it as
 * norm1's bias, zero after the default init; q/k/v_proj's weight gradient is
 * sum_t dq_t h_t^T, so such tokens add nothing to it. */
static double
qkv_grad_norm (PlModel *m, const PlDataset *ds, const char *prefix)
{
  PlGraph *g = pl_model_get_graph (m);
  int batch = MIN ((int) ds->n, pl_graph_get_max_batch (g));
  memcpy (pl_model_get_input_buffer (m), ds->x, sizeof (float) * batch * ds->n_features);
  memcpy (pl_graph_labels (g), ds->y, sizeof (int32_t) * batch);
  pl_model_zero_grads (m);
  pl_graph_forward (g, batch, TRUE);
  pl_graph_backward (g);
  double sum = 0;
  static const char *const proj[] = { "q_proj", "k_proj", "v_proj" };
  for (guint k = 0; k < G_N_ELEMENTS (proj); k++)
    {
      g_autofree char *name = g_strdup_printf ("%s.layers.0.attn.%s.weight", prefix, proj[k]);
      PlParam *p = pl_model_lookup_param (m, name);
      g_assert_nonnull (p);
      for (size_t j = 0; j < p->numel; j++)
        sum += (double) p->grad[j] * p->grad[j];
    }
  return sqrt (sum);
}

static void
zero_params (PlModel *m, const char *const *names)
{
  for (; *names; names++)
    {
      PlParam *p = pl_model_lookup_param (m, *names);
      g_assert_nonnull (p);
      memset (p->data, 0, sizeof (float) * p->numel);
    }
}

static const char *const image_params[] = { "image.patch_embed.weight",
                                            "image.patch_embed.bias", "image.pos_embed",
                                            NULL };
static const char *const text_params[] = { "text.embed.weight", "text.pos_embed", NULL };

/* shared: both modalities' tokens reach the one set of q/k/v weights;
 * late-fusion: each modality reaches only its own */
static void
test_shared_gradients (void)
{
  static const struct {
    const char *opts;
    const char *silenced_image_prefix;  /* whose q/k/v still get gradient */
    const char *silenced_text_prefix;
    const char *other_image_prefix;     /* ... and whose get none */
    const char *other_text_prefix;
  } cases[] = {
    { "mode=shared\n", "fusion", "fusion", NULL, NULL },
    { "mode=late-fusion\n", "text", "image", "image", "text" },
  };
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PlPluginSelection) sel = NULL;
      g_autoptr (PlRun) run = new_run (cases[k].opts, NULL, &sel, &error);
      g_assert_no_error (error);
      PlModel *m = pl_run_get_model (run);
      const PlDataset *ds = pl_run_get_data (run)->train;
      g_autofree float *saved = g_memdup2 (pl_model_get_params (m),
                                           sizeof (float) * pl_model_get_n_floats (m));
      const char *p_img = cases[k].silenced_image_prefix;
      const char *p_txt = cases[k].silenced_text_prefix;
      g_assert_cmpfloat (qkv_grad_norm (m, ds, p_img), >, 1e-6);

      /* only the report's tokens speak */
      zero_params (m, image_params);
      g_assert_cmpfloat (qkv_grad_norm (m, ds, p_img), >, 1e-6);
      if (cases[k].other_image_prefix)
        g_assert_cmpfloat (qkv_grad_norm (m, ds, cases[k].other_image_prefix), ==, 0.0);

      /* only the image's tokens speak */
      memcpy (pl_model_get_params (m), saved, sizeof (float) * pl_model_get_n_floats (m));
      zero_params (m, text_params);
      g_assert_cmpfloat (qkv_grad_norm (m, ds, p_txt), >, 1e-6);
      if (cases[k].other_text_prefix)
        g_assert_cmpfloat (qkv_grad_norm (m, ds, cases[k].other_text_prefix), ==, 0.0);

      /* control: with both silenced nothing reaches them */
      zero_params (m, image_params);
      g_assert_cmpfloat (qkv_grad_norm (m, ds, p_img), ==, 0.0);
      g_assert_cmpfloat (qkv_grad_norm (m, ds, p_txt), ==, 0.0);
    }
}

/* the whole model's backward against central differences, for a few entries of
 * every parameter (gather, embedding, shared attention, pooling masks) */
static void
test_model_fd (void)
{
  static const char *const modes[] = { "mode=shared\n", "mode=shared\npooling=per-modality\n",
                                       "mode=late-fusion\n" };
  for (guint k = 0; k < G_N_ELEMENTS (modes); k++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PlPluginSelection) sel = NULL;
      g_autoptr (PlRun) run = new_run (modes[k], NULL, &sel, &error);
      g_assert_no_error (error);
      PlModel *m = pl_run_get_model (run);
      PlGraph *g = pl_model_get_graph (m);
      const PlDataset *ds = pl_run_get_data (run)->train;
      int batch = 8;
      memcpy (pl_model_get_input_buffer (m), ds->x, sizeof (float) * batch * ds->n_features);
      memcpy (pl_graph_labels (g), ds->y, sizeof (int32_t) * batch);
      pl_model_zero_grads (m);
      pl_graph_forward (g, batch, FALSE);
      pl_graph_backward (g);
      for (guint i = 0; i < pl_model_get_n_params (m); i++)
        {
          PlParam *p = pl_model_get_param (m, i);
          for (size_t j = 0; j < p->numel; j += MAX (p->numel / 3, 1))
            {
              float keep = p->data[j];
              /* embeddings start near 0.02, where layernorm bends sharply */
              const float h = p->kind == PL_PARAM_EMBEDDING ? 1e-3f : 1e-2f;
              p->data[j] = keep + h;
              double lp = pl_graph_forward (g, batch, FALSE);
              p->data[j] = keep - h;
              double lm = pl_graph_forward (g, batch, FALSE);
              p->data[j] = keep;
              double fd = (lp - lm) / (2 * h);
              if (!(fabs (p->grad[j] - fd) <= 2e-3 + 5e-2 * fabs (fd)))
                g_error ("%s%s[%zu]: backward %g, central difference %g", modes[k], p->name,
                         j, (double) p->grad[j], fd);
            }
        }
    }
}

static void
test_bad_options (void)
{
  static const struct {
    const char *opts;
    const char *expect[3];
  } cases[] = {
    { "mode=early\n", { "mode", "shared, image-only, text-only, late-fusion", "fusion.ini" } },
    { "heads=3\n", { "[arch] heads", "must divide width 8", "fusion.ini:22" } },
    { "patch=3\n", { "[arch] patch", "must divide the 8x8 image", "fusion.ini:22" } },
    { "layers=9\n", { "layers", "between 1 and 8", "fusion.ini:22" } },
    { "pooling=max\n", { "pooling", "joint, per-modality", NULL } },
  };
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PlPluginSelection) sel = NULL;
      g_autoptr (PlRun) run = new_run (cases[k].opts, NULL, &sel, &error);
      g_assert_null (run);
      g_assert_error (error, PL_ERROR, PL_ERROR_CONFIG);
      for (guint j = 0; j < 3 && cases[k].expect[j]; j++)
        if (!strstr (error->message, cases[k].expect[j]))
          g_error ("%s: \"%s\" lacks \"%s\"", cases[k].opts, error->message,
                   cases[k].expect[j]);
    }
}

/* data that is not paired, or whose ids were mangled, is refused when the model
 * is built */
static void
test_bad_data (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PlExperiment) exp = experiment ("", NULL, &error);
  g_assert_no_error (error);
  g_autoptr (GObject) arch = pl_plugin_engine_create (engine (), PL_SLOT_ARCH,
                                                      "fusion-shared-attention", &error);
  g_assert_no_error (error);
  PlModelSpec spec = { .n_classes = 2, .max_batch = 4, .seed = 1,
                       .activation = PL_ACT_GELU };

  g_autoptr (PlDataset) digits = pl_dataset_load_builtin ("digits", &error);
  g_assert_no_error (error);
  spec.in_features = (int) digits->n_features;
  g_assert_null (pl_architecture_build (PL_ARCHITECTURE (arch), exp, digits, &spec, &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_DATA);
  g_assert_nonnull (strstr (error->message, "fusion-shared-attention: dataset digits"));
  g_assert_nonnull (strstr (error->message, "not paired"));
  g_clear_error (&error);

  PlPairedLayout lay = { 4, 4, 3, 10 };
  g_autoptr (PlDataset) ds = pl_dataset_new (3, 19, 2);
  ds->name = g_strdup ("scaled");
  pl_paired_layout_describe (&lay, ds);
  ds->x[2 * 19 + 17] = 0.37f;  /* a standardized id */
  spec.in_features = 19;
  g_assert_null (pl_architecture_build (PL_ARCHITECTURE (arch), exp, ds, &spec, &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_DATA);
  g_assert_nonnull (strstr (error->message, "scaled: row 2: report token 1 holds 0.37"));
  g_clear_error (&error);
  ds->x[2 * 19 + 17] = 9.0f;
  g_autoptr (PlModel) m = pl_architecture_build (PL_ARCHITECTURE (arch), exp, ds, &spec,
                                                 &error);
  g_assert_no_error (error);
  g_assert_nonnull (m);
}

/* an id that goes bad after the model was built fails the run with a message,
 * in training (after the step) and in evaluation (at the epoch's end) */
static void
test_bad_id_fails_run (void)
{
  for (int which = 0; which < 2; which++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PlPluginSelection) sel = NULL;
      g_autoptr (PlRun) run = new_run ("mode=shared\n", NULL, &sel, &error);
      g_assert_no_error (error);
      const PlRunData *data = pl_run_get_data (run);
      PlDataset *ds = which == 0 ? data->train : data->val;
      PlPairedLayout lay;
      g_assert_true (pl_paired_layout_from_dataset (ds, &lay, NULL));
      for (gsize r = 0; r < ds->n; r++)
        ds->x[r * ds->n_features + 64 + 2] = 40.0f;  /* one past the vocabulary */
      g_assert_false (pl_run_execute (run, &error));
      g_assert_nonnull (error);
      g_test_message ("%s", error->message);
      g_assert_nonnull (strstr (error->message, "text.embed.weight"));
      g_assert_nonnull (strstr (error->message, "report token 2 holds 40"));
      if (which == 1)
        g_assert_nonnull (strstr (error->message, "evaluation after epoch"));
      g_assert_cmpstr (pl_run_get_status (run), ==, "failed");
    }
}

/* the exported checkpoint loads into a fresh model of the same mode */
static void
test_checkpoint_roundtrip (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PlPluginSelection) sel = NULL;
  g_autoptr (PlRun) run = new_run ("mode=late-fusion\n", NULL, &sel, &error);
  g_assert_no_error (error);
  PlModel *m = pl_run_get_model (run);
  g_autofree char *path = g_build_filename (pl_test_tmpdir (), "fusion.safetensors", NULL);
  g_assert_true (pl_model_save_safetensors (m, path, NULL, &error));
  g_assert_no_error (error);
  g_autoptr (PlPluginSelection) sel2 = NULL;
  g_autoptr (PlRun) run2 = new_run ("mode=late-fusion\n", "experiment.seed=9", &sel2,
                                    &error);
  g_assert_no_error (error);
  PlModel *m2 = pl_run_get_model (run2);
  g_assert_true (memcmp (pl_model_get_params (m), pl_model_get_params (m2),
                         sizeof (float) * pl_model_get_n_floats (m)) != 0);
  g_assert_true (pl_model_load_safetensors (m2, path, FALSE, &error));
  g_assert_no_error (error);
  g_assert_true (memcmp (pl_model_get_params (m), pl_model_get_params (m2),
                         sizeof (float) * pl_model_get_n_floats (m)) == 0);
}

/* ---- short runs ---------------------------------------------------------------- */

typedef struct {
  const char *opts;
  double min_auc, max_acc;
} RunCase;

/* Each mode learns from 1000 samples in 8 epochs: better than chance, and a
 * single modality is not perfect at the default noise. params/total is logged
 * at the start. */
static void
test_runs (void)
{
  static const RunCase cases[] = {
    { "mode=image-only\n", 0.65, 0.95 },
    { "mode=text-only\n", 0.70, 0.95 },
    { "mode=late-fusion\n", 0.75, 1.0 },
    { "mode=shared\n", 0.70, 1.0 },
  };
  const char *more = "train.epochs=8\ntrain.batch-size=32\ntrain.warmup-steps=20\n"
                     "train.schedule=cosine\ndataset.n-train=1000\ndataset.n-val=400\n"
                     "dataset.image-size=16\ndataset.report-length=12\narch.width=32\n";
  double params[G_N_ELEMENTS (cases)];
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PlPluginSelection) sel = NULL;
      g_autoptr (PlRun) run = new_run (cases[k].opts, more, &sel, &error);
      g_assert_no_error (error);
      g_assert_true (pl_run_execute (run, &error));
      g_assert_no_error (error);
      double auc = pl_run_get_metric (run, "val/roc_auc");
      double acc = pl_run_get_metric (run, "val/acc");
      double f1 = pl_run_get_metric (run, "val/f1");
      params[k] = pl_run_get_metric (run, "params/total");
      g_autofree char *what = g_strchomp (g_strdup (cases[k].opts));
      g_test_message ("%s: val/acc %.3f val/f1 %.3f val/roc_auc %.3f params %g", what, acc,
                      f1, auc, params[k]);
      g_assert_cmpfloat (params[k], ==,
                         (double) count_params (pl_run_get_model (run)));
      if (!(auc >= cases[k].min_auc && acc <= cases[k].max_acc && f1 > 0.2))
        g_error ("%s: val/roc_auc %.3f (want >= %.2f), val/acc %.3f (want <= %.2f), "
                 "val/f1 %.3f", what, auc, cases[k].min_auc, acc,
                 cases[k].max_acc, f1);
    }
  /* one shared stack is smaller than two separate ones */
  g_assert_cmpfloat (params[3], <, params[2]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  pl_test_tmpdir ();
  g_test_add_func ("/plugins/fusion-shared-attention/ops/patch-gather", test_patch_gather);
  g_test_add_func ("/plugins/fusion-shared-attention/ops/embedding-fd", test_embed_fd);
  g_test_add_func ("/plugins/fusion-shared-attention/ops/embedding-bad-id", test_embed_bad_id);
  g_test_add_func ("/plugins/fusion-shared-attention/shapes", test_shapes);
  g_test_add_func ("/plugins/fusion-shared-attention/shared-gradients", test_shared_gradients);
  g_test_add_func ("/plugins/fusion-shared-attention/model-fd", test_model_fd);
  g_test_add_func ("/plugins/fusion-shared-attention/bad-options", test_bad_options);
  g_test_add_func ("/plugins/fusion-shared-attention/bad-data", test_bad_data);
  g_test_add_func ("/plugins/fusion-shared-attention/bad-id-fails-run", test_bad_id_fails_run);
  g_test_add_func ("/plugins/fusion-shared-attention/checkpoint", test_checkpoint_roundtrip);
  g_test_add_func ("/plugins/fusion-shared-attention/runs", test_runs);
  return g_test_run ();
}
