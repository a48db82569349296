/* The adapter architecture: a frozen pretrained base from [model] init-from under a
 * new task layer. The base stays bit-identical through training, the counts of
 * trainable and frozen parameters, a head of another shape in the checkpoint,
 * mismatched bases, build hooks, and the few-shot fraud transfer it exists for. */
#include <math.h>
#include <string.h>

#include "paramlab.h"
#include "pl-test-util.h"

static PlPluginEngine *
engine (void)
{
  static PlPluginEngine *e;
  if (!e)
    e = pl_plugin_engine_new ();
  return e;
}

typedef struct {
  PlExperiment *exp;
  PlPluginSelection *sel;
  PlRun *run;
} Run;

static void
run_clear (Run *r)
{
  g_clear_pointer (&r->run, pl_run_free);
  g_clear_pointer (&r->sel, pl_plugin_selection_free);
  g_clear_pointer (&r->exp, pl_experiment_unref);
}

/* Builds a run from @text; returns FALSE with @error when building fails. */
static gboolean
run_build (Run *r, const char *text, GError **error)
{
  r->exp = pl_experiment_load_data (text, -1, "adapter.ini", error);
  g_assert_nonnull (r->exp);
  r->sel = pl_plugin_selection_new (engine (), r->exp, error);
  g_assert_nonnull (r->sel);
  r->run = pl_run_new_with_plugins (r->exp, NULL, r->sel, error);
  return r->run != NULL;
}

static void
run_execute (Run *r)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (pl_run_execute (r->run, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (pl_run_get_status (r->run), ==, "finished");
}

/* A digits MLP of hidden 32, 16 trained for two epochs; its last checkpoint. */
static const char *
pretrained_digits (void)
{
  static char *path;
  if (path)
    return path;
  g_autofree char *dir = g_build_filename (pl_test_tmpdir (), "pretrain", NULL);
  Run r = { 0 };
  g_autoptr (GError) error = NULL;
  g_assert_true (run_build (&r, "[experiment]\nseed=2\n[data]\ndataset=digits\n"
                                "[model]\nhidden=32,16\n[train]\nepochs=2\nlr=3e-3\n",
                            &error));
  pl_run_set_checkpoint_dir (r.run, dir);
  run_execute (&r);
  run_clear (&r);
  path = g_build_filename (dir, "last.safetensors", NULL);
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
  return path;
}

/* A checkpoint of an untrained MLP on 64 inputs with @classes classes. */
static char *
hand_made (const char *leaf, const int *hidden, int n_hidden, int classes)
{
  PlModelSpec s = { .in_features = 64, .sample_shape = { 64, 1, 1 }, .n_classes = classes,
                    .max_batch = 4, .seed = 9, .activation = PL_ACT_RELU };
  g_autoptr (GError) error = NULL;
  g_autoptr (PlModel) m = pl_model_new_mlp (&s, hidden, n_hidden, &error);
  g_assert_no_error (error);
  pl_model_init_default (m, 9);
  char *path = g_build_filename (pl_test_tmpdir (), leaf, NULL);
  g_assert_true (pl_model_save_safetensors (m, path, NULL, &error));
  return path;
}

static char *
adapter_text (const char *init_from, const char *hidden, const char *arch_lines,
              const char *extra)
{
  return g_strdup_printf ("[experiment]\nseed=4\n[data]\ndataset=digits\n"
                          "[model]\nhidden=%s\n%s%s\n[train]\nepochs=3\noptimizer=adamw\n"
                          "weight-decay=0.01\nlr=1e-2\n%s"
                          "[arch]\nplugin=adapter\n%s\n",
                          hidden, init_from ? "init-from=" : "", init_from ? init_from : "",
                          extra ? extra : "", arch_lines);
}

/* the values of tensor @name in the checkpoint at @path */
static float *
file_tensor (const char *path, const char *name, gsize *n)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PlSafetensors) st = pl_safetensors_load (path, &error);
  g_assert_no_error (error);
  const PlTensorInfo *t = pl_safetensors_lookup (st, name);
  g_assert_nonnull (t);
  float *v = g_new (float, t->numel);
  g_assert_true (pl_safetensors_read_f32 (t, v, t->numel, &error));
  *n = t->numel;
  return v;
}

static void
test_listed_and_options (void)
{
  const PlPluginDesc *d = pl_plugin_engine_lookup (engine (), PL_SLOT_ARCH, "adapter");
  g_assert_nonnull (d);
  g_assert_true (d->loaded);
  struct { const char *name, *value, *expect; } cases[] = {
    { "adapter-width", "-1", "between 0" },
    { "freeze-base", "maybe", "true or false" },
    { "width", "8", "adapter-width" },
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (GObject) p = pl_plugin_engine_create (engine (), PL_SLOT_ARCH, "adapter", &error);
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_assert_false (pl_plugin_set_option (p, "adapter", cases[i].name, cases[i].value,
                                            "adapter.ini:12", &error));
      g_assert_error (error, PL_ERROR, PL_ERROR_CONFIG);
      g_test_message ("%s", error->message);
      g_assert_nonnull (strstr (error->message, "adapter.ini:12"));
      g_assert_nonnull (strstr (error->message, cases[i].expect));
      g_clear_error (&error);
    }
}

/* Training moves the task layer and leaves every base tensor bit-identical to the
 * checkpoint (AdamW with weight decay, which would shrink any weight it touched),
 * and the frozen pretrained features are good enough for digits. */
static void
test_base_frozen (void)
{
  const char *base = pretrained_digits ();
  const int widths[] = { 0, 8 };
  for (guint c = 0; c < G_N_ELEMENTS (widths); c++)
    {
      g_autofree char *lines = g_strdup_printf ("adapter-width=%d", widths[c]);
      g_autofree char *text = adapter_text (base, "32,16", lines, NULL);
      Run r = { 0 };
      g_autoptr (GError) error = NULL;
      g_assert_true (run_build (&r, text, &error));
      g_assert_no_error (error);
      PlModel *m = pl_run_get_model (r.run);
      g_assert_cmpstr (pl_model_get_architecture (m), ==, "adapter");
      PlParam *head = pl_model_lookup_param (m, "head.weight");
      g_autofree float *head0 = g_memdup2 (head->data, head->numel * sizeof (float));
      run_execute (&r);

      const char *base_names[] = { "hidden.0.weight", "hidden.0.bias", "hidden.1.weight",
                                   "hidden.1.bias" };
      for (guint k = 0; k < G_N_ELEMENTS (base_names); k++)
        {
          PlParam *p = pl_model_lookup_param (m, base_names[k]);
          gsize n;
          g_autofree float *want = file_tensor (base, base_names[k], &n);
          g_assert_true (p->frozen);
          g_assert_cmpuint (n, ==, p->numel);
          if (memcmp (p->data, want, n * sizeof (float)) != 0)
            g_error ("width %d: %s changed in training", widths[c], base_names[k]);
        }
      g_assert_false (head->frozen);
      g_assert_true (memcmp (head->data, head0, head->numel * sizeof (float)) != 0);
      g_assert_cmpint (head->shape[1], ==, widths[c] ? widths[c] : 16);
      double acc = pl_run_get_metric (r.run, "val/acc");
      g_test_message ("adapter-width %d: val/acc %g", widths[c], acc);
      g_assert_cmpfloat (acc, >, 0.85);
      run_clear (&r);
    }
}

/* params/trainable and params/frozen for each width, frozen or not:
 * base 64-32-16 = 2080 + 528 = 2608; head 10 x 16 + 10 = 170;
 * adapter 8: 8 x 16 + 8 + 10 x 8 + 10 = 226 */
static void
test_counts (void)
{
  const char *base = pretrained_digits ();
  struct { int width; gboolean freeze; double trainable, frozen; } cases[] = {
    { 0, TRUE, 170, 2608 },
    { 8, TRUE, 226, 2608 },
    { 0, FALSE, 2778, 0 },
    { 8, FALSE, 2834, 0 },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autofree char *lines = g_strdup_printf ("adapter-width=%d\nfreeze-base=%s",
                                                cases[c].width,
                                                cases[c].freeze ? "true" : "false");
      g_autofree char *text = adapter_text (base, "32,16", lines, "max-steps=1\n");
      Run r = { 0 };
      g_autoptr (GError) error = NULL;
      g_assert_true (run_build (&r, text, &error));
      g_assert_cmpuint (pl_model_count_trainable (pl_run_get_model (r.run)), ==,
                        (gsize) cases[c].trainable);
      run_execute (&r);
      g_assert_cmpfloat (pl_run_get_metric (r.run, "params/trainable"), ==, cases[c].trainable);
      g_assert_cmpfloat (pl_run_get_metric (r.run, "params/frozen"), ==, cases[c].frozen);
      run_clear (&r);
    }
}

/* A checkpoint whose head has another shape (3 classes) gives the base; the head
 * is the adapter's own. */
static void
test_head_mismatch (void)
{
  g_autofree char *path = hand_made ("three-classes.safetensors", (int[]) { 32, 16 }, 2, 3);
  g_autofree char *text = adapter_text (path, "32,16", "adapter-width=0", NULL);
  Run r = { 0 };
  g_autoptr (GError) error = NULL;
  g_assert_true (run_build (&r, text, &error));
  g_assert_no_error (error);
  PlModel *m = pl_run_get_model (r.run);
  gsize n;
  g_autofree float *w = file_tensor (path, "hidden.1.weight", &n);
  g_assert_cmpmem (pl_model_lookup_param (m, "hidden.1.weight")->data, n * sizeof (float), w,
                   n * sizeof (float));
  PlParam *head = pl_model_lookup_param (m, "head.weight");
  g_assert_cmpint (head->shape[0], ==, 10);
  g_assert_cmpint (head->shape[1], ==, 16);
  run_execute (&r);
  run_clear (&r);
}

/* Bases that do not fit the model are errors naming the file line, the tensor and
 * the widths to set; a frozen base needs init-from. */
static void
test_bad_bases (void)
{
  const char *base = pretrained_digits ();
  struct {
    const char *init_from, *hidden, *arch;
    const char *expect[4];
  } cases[] = {
    { base, "24,16", "adapter-width=0",
      { "adapter.ini:7", "hidden.0.weight", "[32, 64]", "hidden = 32, 16" } },
    { base, "32", "adapter-width=0",
      { "adapter.ini:7", "hidden.1.weight", "does not match", "hidden = 32, 16" } },
    { base, "32,16,8", "adapter-width=0",
      { "adapter.ini:7", "hidden.2.weight", "has no tensor", "hidden = 32, 16" } },
    { NULL, "32,16", "adapter-width=4",
      { "adapter.ini:", "init-from", "freeze-base", "paramlab-cli export" } },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autofree char *text = adapter_text (cases[c].init_from, cases[c].hidden, cases[c].arch,
                                            NULL);
      Run r = { 0 };
      g_autoptr (GError) error = NULL;
      g_assert_false (run_build (&r, text, &error));
      g_assert_nonnull (error);
      g_test_message ("case %u: %s", c, error->message);
      for (int k = 0; k < 4; k++)
        if (!strstr (error->message, cases[c].expect[k]))
          g_error ("case %u: \"%s\" does not name %s", c, error->message, cases[c].expect[k]);
      run_clear (&r);
    }
}

/* freeze-base = false without init-from: a plain trainable model whose base moves */
static void
test_unfrozen_scratch (void)
{
  g_autofree char *text = adapter_text (NULL, "16", "adapter-width=4\nfreeze-base=false",
                                        "max-steps=20\n");
  Run r = { 0 };
  g_autoptr (GError) error = NULL;
  g_assert_true (run_build (&r, text, &error));
  g_assert_no_error (error);
  PlParam *w = pl_model_lookup_param (pl_run_get_model (r.run), "hidden.0.weight");
  g_assert_false (w->frozen);
  g_autofree float *w0 = g_memdup2 (w->data, w->numel * sizeof (float));
  run_execute (&r);
  g_assert_true (memcmp (w->data, w0, w->numel * sizeof (float)) != 0);
  run_clear (&r);
}

/* Gates and quantizers reach the adapter's layers through the build hooks. */
static void
test_build_hooks (void)
{
  const char *base = pretrained_digits ();
  {
    g_autofree char *text = adapter_text (base, "32,16", "adapter-width=8",
                                          "max-steps=5\n[gate]\nplugin=sigmoid-gate\n");
    Run r = { 0 };
    g_autoptr (GError) error = NULL;
    g_assert_true (run_build (&r, text, &error));
    g_assert_no_error (error);
    PlModel *m = pl_run_get_model (r.run);
    g_assert_nonnull (pl_model_lookup_param (m, "hidden.0.gate.weight"));
    g_assert_nonnull (pl_model_lookup_param (m, "hidden.1.gate.weight"));
    run_execute (&r);
    run_clear (&r);
  }
  {
    g_autofree char *text = adapter_text (base, "32,16", "adapter-width=8",
                                          "max-steps=5\n[quant]\nplugin=qat-int8\n");
    g_autofree char *dir = g_build_filename (pl_test_tmpdir (), "quant", NULL);
    Run r = { 0 };
    g_autoptr (GError) error = NULL;
    g_assert_true (run_build (&r, text, &error));
    g_assert_no_error (error);
    pl_run_set_checkpoint_dir (r.run, dir);
    run_execute (&r);
    g_autofree char *int8 = g_build_filename (dir, "last-int8.safetensors", NULL);
    g_autoptr (PlSafetensors) st = pl_safetensors_load (int8, &error);
    g_assert_no_error (error);
    const char *names[] = { "hidden.0.weight", "adapter.0.weight", "head.weight" };
    for (guint k = 0; k < G_N_ELEMENTS (names); k++)
      {
        const PlTensorInfo *t = pl_safetensors_lookup (st, names[k]);
        g_assert_nonnull (t);
        g_assert_cmpint (t->dtype, ==, PL_DTYPE_I8);
      }
    run_clear (&r);
  }
}

/* The scenario it exists for, small: a base pretrained on the synthetic source
 * bank, frozen under a new head on 2% of the shifted target's labels, ranks the
 * target's fraud far better than the same MLP trained from scratch on those rows. */
static void
test_fraud_transfer (void)
{
  const char *world = "n-source=6000\nn-target=20000\nlabel-fraction=0.02\n";
  g_autofree char *dir = g_build_filename (pl_test_tmpdir (), "fraud", NULL);
  g_autofree char *pre = g_strdup_printf (
    "[experiment]\nseed=3\n[data]\nnormalize=none\n[model]\nhidden=32,16\n"
    "[train]\nepochs=8\nbatch-size=64\nlr=2e-3\n[dataset]\nplugin=synthetic-fraud\n"
    "split=source\n%s", world);
  Run r = { 0 };
  g_autoptr (GError) error = NULL;
  g_assert_true (run_build (&r, pre, &error));
  pl_run_set_checkpoint_dir (r.run, dir);
  run_execute (&r);
  run_clear (&r);
  g_autofree char *ckpt = g_build_filename (dir, "last.safetensors", NULL);

  const char *target = "[experiment]\nseed=3\n[data]\nnormalize=none\n[model]\nhidden=32,16\n"
                       "%s\n[train]\nepochs=30\nbatch-size=32\nlr=1e-3\n"
                       "[dataset]\nplugin=synthetic-fraud\nsplit=target\n%s%s";
  g_autofree char *init = g_strdup_printf ("init-from=%s", ckpt);
  g_autofree char *ta = g_strdup_printf (target, init, world, "[arch]\nplugin=adapter\n");
  g_autofree char *ts = g_strdup_printf (target, "", world, "");
  double pr[2], recall[2];
  const char *texts[2] = { ta, ts };
  for (int k = 0; k < 2; k++)
    {
      g_assert_true (run_build (&r, texts[k], &error));
      g_assert_no_error (error);
      run_execute (&r);
      pr[k] = pl_run_get_metric (r.run, "val/pr_auc");
      recall[k] = pl_run_get_metric (r.run, "val/recall_at_p90");
      g_assert_cmpfloat (pl_run_get_metric (r.run, "data/train_rows"), ==, 320);
      run_clear (&r);
    }
  g_test_message ("adapter: pr_auc %g recall@p90 %g; scratch: pr_auc %g recall@p90 %g", pr[0],
                  recall[0], pr[1], recall[1]);
  g_assert_cmpfloat (pr[0], >, pr[1] + 0.1);
  g_assert_cmpfloat (recall[0], >, recall[1]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  pl_test_tmpdir ();
  g_test_add_func ("/plugins/adapter/listed-and-options", test_listed_and_options);
  g_test_add_func ("/plugins/adapter/base-frozen", test_base_frozen);
  g_test_add_func ("/plugins/adapter/counts", test_counts);
  g_test_add_func ("/plugins/adapter/head-mismatch", test_head_mismatch);
  g_test_add_func ("/plugins/adapter/bad-bases", test_bad_bases);
  g_test_add_func ("/plugins/adapter/unfrozen-scratch", test_unfrozen_scratch);
  g_test_add_func ("/plugins/adapter/build-hooks", test_build_hooks);
  g_test_add_func ("/plugins/adapter/fraud-transfer", test_fraud_transfer);
  return g_test_run ();
}
