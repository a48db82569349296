/* Partial checkpoint loads (pl-model-load.h) and per-row class scores
 * (pl-model-predict.h). */
#include <string.h>

#include "paramlab.h"
#include "pl-test-util.h"

static PlModelSpec
spec_for (int in, int classes, int batch)
{
  PlModelSpec s = { 0 };
  s.in_features = in;
  s.sample_shape[0] = in;
  s.sample_shape[1] = s.sample_shape[2] = 1;
  s.n_classes = classes;
  s.max_batch = batch;
  s.seed = 3;
  s.activation = PL_ACT_RELU;
  return s;
}

/* an MLP in -> hidden... -> classes, initialized from @seed */
static PlModel *
mlp (int in, const int *hidden, int n_hidden, int classes, guint64 seed)
{
  PlModelSpec s = spec_for (in, classes, 8);
  g_autoptr (GError) error = NULL;
  PlModel *m = pl_model_new_mlp (&s, hidden, n_hidden, &error);
  g_assert_no_error (error);
  pl_model_init_default (m, seed);
  return m;
}

static char *
save (PlModel *m, const char *leaf)
{
  char *path = g_build_filename (pl_test_tmpdir (), leaf, NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (pl_model_save_safetensors (m, path, NULL, &error));
  g_assert_no_error (error);
  return path;
}

static gboolean
same_values (const PlParam *a, const PlParam *b)
{
  return a->numel == b->numel && memcmp (a->data, b->data, a->numel * sizeof (float)) == 0;
}

static PlLoadRule
rule_base_only (const PlParam *p, gpointer user_data)
{
  return g_str_has_prefix (p->name, "head.") ? PL_LOAD_SKIP : PL_LOAD_REQUIRED;
}

static PlLoadRule
rule_if_matching (const PlParam *p, gpointer user_data)
{
  return PL_LOAD_IF_MATCHING;
}

/* The base of a 5-class model goes into a 3-class model; the head stays. */
static void
test_rules_take_the_base (void)
{
  g_autoptr (PlModel) src = mlp (6, (int[]) { 4 }, 1, 5, 1);
  g_autoptr (PlModel) dst = mlp (6, (int[]) { 4 }, 1, 3, 2);
  g_autofree char *path = save (src, "five.safetensors");
  g_autofree float *head = g_memdup2 (pl_model_lookup_param (dst, "head.weight")->data,
                                      12 * sizeof (float));
  static const char *const ignore[] = { "head.*", NULL };
  guint n = 99;
  g_autoptr (GError) error = NULL;
  g_assert_true (pl_model_load_safetensors_with_rules (dst, path, rule_base_only, NULL,
                                                       ignore, &n, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 2);
  g_assert_true (same_values (pl_model_lookup_param (src, "hidden.0.weight"),
                              pl_model_lookup_param (dst, "hidden.0.weight")));
  g_assert_true (same_values (pl_model_lookup_param (src, "hidden.0.bias"),
                              pl_model_lookup_param (dst, "hidden.0.bias")));
  g_assert_cmpmem (pl_model_lookup_param (dst, "head.weight")->data, 12 * sizeof (float),
                   head, 12 * sizeof (float));

  /* IF_MATCHING everywhere: the base is taken, the differently shaped head not,
   * and the file's head needs no ignore pattern since the model has that name */
  g_autoptr (PlModel) dst2 = mlp (6, (int[]) { 4 }, 1, 3, 2);
  g_assert_true (pl_model_load_safetensors_with_rules (dst2, path, rule_if_matching, NULL,
                                                       NULL, &n, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpmem (pl_model_lookup_param (dst2, "head.weight")->data, 12 * sizeof (float),
                   head, 12 * sizeof (float));

  /* no rule: like pl_model_load_safetensors, everything required */
  g_autoptr (PlModel) dst3 = mlp (6, (int[]) { 4 }, 1, 5, 9);
  g_assert_true (pl_model_load_safetensors_with_rules (dst3, path, NULL, NULL, NULL, &n,
                                                       &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 4);
  g_assert_true (same_values (pl_model_lookup_param (src, "head.weight"),
                              pl_model_lookup_param (dst3, "head.weight")));
}

/* Every failure names the file and the tensor, and leaves the model untouched. */
static void
test_rules_errors (void)
{
  g_autoptr (PlModel) two = mlp (6, (int[]) { 4, 4 }, 2, 3, 1);
  g_autoptr (PlModel) wide = mlp (6, (int[]) { 8 }, 1, 3, 1);
  g_autofree char *two_path = save (two, "two-layers.safetensors");
  g_autofree char *wide_path = save (wide, "wide.safetensors");
  g_autofree char *missing = g_build_filename (pl_test_tmpdir (), "nope.safetensors", NULL);
  g_autofree char *garbage = g_build_filename (pl_test_tmpdir (), "garbage.safetensors", NULL);
  g_assert_true (g_file_set_contents (garbage, "not a checkpoint", -1, NULL));

  /* an int8 tensor where the model needs f32 */
  g_autofree char *int8_path = g_build_filename (pl_test_tmpdir (), "int8.safetensors", NULL);
  {
    g_autoptr (PlSafetensorsWriter) w = pl_safetensors_writer_new ();
    int8_t q[24] = { 0 };
    float b[4] = { 0 };
    g_assert_true (pl_safetensors_writer_add (w, "hidden.0.weight", PL_DTYPE_I8,
                                              (gint64[]) { 4, 6 }, 2, q, 24, NULL));
    g_assert_true (pl_safetensors_writer_add (w, "hidden.0.bias", PL_DTYPE_F32,
                                              (gint64[]) { 4 }, 1, b, sizeof b, NULL));
    g_assert_true (pl_safetensors_writer_write (w, int8_path, NULL));
  }

  static const char *const ignore_head[] = { "head.*", NULL };
  struct {
    const char *path;
    PlLoadRuleFunc rule;
    const char *const *ignore;
    int code;
    const char *names[3];
  } cases[] = {
    /* the file has a second layer the model lacks */
    { two_path, rule_base_only, ignore_head, PL_ERROR_SHAPE, { "hidden.1.weight", "does not match", NULL } },
    /* the base is wider in the file */
    { wide_path, rule_base_only, ignore_head, PL_ERROR_SHAPE, { "hidden.0.weight", "[8, 6]", "[4, 6]" } },
    /* without an ignore pattern for it, a differently shaped head is an error too */
    { wide_path, NULL, NULL, PL_ERROR_SHAPE, { "hidden.0.weight", "[8, 6]", NULL } },
    { int8_path, rule_base_only, ignore_head, PL_ERROR_FORMAT, { "hidden.0.weight", "I8", "F32" } },
    { missing, rule_base_only, NULL, PL_ERROR_IO, { "nope.safetensors", NULL, NULL } },
    { garbage, rule_base_only, NULL, PL_ERROR_FORMAT, { "garbage.safetensors", NULL, NULL } },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autoptr (PlModel) m = mlp (6, (int[]) { 4 }, 1, 3, 7);
      size_t nf = pl_model_get_n_floats (m);
      g_autofree float *before = g_memdup2 (pl_model_get_params (m), nf * sizeof (float));
      g_autoptr (GError) error = NULL;
      guint n = 99;
      g_assert_false (pl_model_load_safetensors_with_rules (m, cases[c].path, cases[c].rule,
                                                            NULL, cases[c].ignore, &n, &error));
      g_assert_nonnull (error);
      g_test_message ("case %u: %s", c, error->message);
      g_assert_error (error, PL_ERROR, cases[c].code);
      for (int k = 0; k < 3 && cases[c].names[k]; k++)
        if (!strstr (error->message, cases[c].names[k]))
          g_error ("case %u: \"%s\" does not name %s", c, error->message, cases[c].names[k]);
      g_assert_cmpuint (n, ==, 0);
      g_assert_cmpmem (pl_model_get_params (m), nf * sizeof (float), before,
                       nf * sizeof (float));
    }

  /* a required parameter the file lacks */
  g_autoptr (PlModel) deeper = mlp (6, (int[]) { 4, 4, 4 }, 3, 3, 7);
  g_autoptr (GError) error = NULL;
  g_assert_false (pl_model_load_safetensors_with_rules (deeper, two_path, rule_base_only, NULL,
                                                        ignore_head, NULL, &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "hidden.2.weight"));
  g_assert_nonnull (strstr (error->message, "two-layers.safetensors"));
}

/* Masks are re-applied after a load. */
static void
test_rules_masks (void)
{
  g_autoptr (PlModel) src = mlp (6, (int[]) { 4 }, 1, 3, 1);
  g_autofree char *path = save (src, "masked-src.safetensors");
  g_autoptr (PlModel) dst = mlp (6, (int[]) { 4 }, 1, 3, 2);
  PlParam *w = pl_model_lookup_param (dst, "hidden.0.weight");
  pl_model_ensure_mask (dst, w)[5] = 0.0f;
  g_autoptr (GError) error = NULL;
  g_assert_true (pl_model_load_safetensors_with_rules (dst, path, NULL, NULL, NULL, NULL,
                                                       &error));
  g_assert_cmpfloat (w->data[5], ==, 0.0f);
  g_assert_cmpfloat (w->data[4], ==, pl_model_lookup_param (src, "hidden.0.weight")->data[4]);
}

/* Scores equal the softmax rows of a forward over the same rows, across batch
 * boundaries (n not a multiple of the batch). */
static void
test_predict_scores (void)
{
  const int in = 5, classes = 3, batch = 8;
  const gsize n = 21;
  PlModelSpec s = spec_for (in, classes, batch);
  g_autoptr (GError) error = NULL;
  g_autoptr (PlModel) m = pl_model_new_mlp (&s, (int[]) { 6 }, 1, &error);
  g_assert_no_error (error);
  pl_model_init_default (m, 4);
  g_autoptr (PlDataset) ds = pl_dataset_new (n, in, classes);
  ds->name = g_strdup ("rows");
  PlRng rng;
  pl_rng_init (&rng, 9);
  for (gsize i = 0; i < n * in; i++)
    ds->x[i] = (float) pl_rng_normal (&rng);
  for (gsize i = 0; i < n; i++)
    ds->y[i] = (int32_t) (i % classes);

  for (int cls = 0; cls < classes; cls++)
    {
      g_autofree float *scores = g_new (float, n);
      g_assert_true (pl_model_predict_scores (m, ds, cls, scores, &error));
      g_assert_no_error (error);
      /* reference: one row at a time */
      for (gsize i = 0; i < n; i++)
        {
          memcpy (pl_model_get_input_buffer (m), ds->x + i * in, in * sizeof (float));
          pl_model_get_label_buffer (m)[0] = ds->y[i];
          pl_graph_forward (pl_model_get_graph (m), 1, FALSE);
          float want = pl_graph_get_probs (pl_model_get_graph (m))[cls];
          pl_assert_close (scores[i], want, 1e-6, 1e-5);
        }
    }

  g_autofree float *scores = g_new (float, n);
  g_assert_false (pl_model_predict_scores (m, ds, 3, scores, &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "class 3"));
  g_clear_error (&error);
  g_autoptr (PlDataset) narrow = pl_dataset_new (4, in - 1, classes);
  narrow->name = g_strdup ("narrow");
  g_assert_false (pl_model_predict_scores (m, narrow, 0, scores, &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "narrow"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  pl_test_tmpdir ();
  g_test_add_func ("/core/model-load/rules/base", test_rules_take_the_base);
  g_test_add_func ("/core/model-load/rules/errors", test_rules_errors);
  g_test_add_func ("/core/model-load/rules/masks", test_rules_masks);
  g_test_add_func ("/core/model-load/predict-scores", test_predict_scores);
  return g_test_run ();
}
