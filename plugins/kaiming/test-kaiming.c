/* The kaiming init plugin, loaded through the plugin engine as a run would. */
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

/* a configured instance; @opts is name, value, ..., NULL */
static GObject *
create (const char *first_name, ...)
{
  g_autoptr (GError) error = NULL;
  GObject *p = pl_plugin_engine_create (engine (), PL_SLOT_INIT, "kaiming", &error);
  g_assert_no_error (error);
  va_list ap;
  va_start (ap, first_name);
  for (const char *k = first_name; k; k = va_arg (ap, const char *))
    {
      const char *v = va_arg (ap, const char *);
      g_assert_true (pl_plugin_set_option (p, "kaiming", k, v, "test", &error));
      g_assert_no_error (error);
    }
  va_end (ap);
  return p;
}

/* an MLP in -> hidden -> 10 */
static PlModel *
mlp (int in, int hidden)
{
  PlModelSpec spec = { .in_features = in, .sample_shape = { in, 1, 1 }, .n_classes = 10,
                       .max_batch = 1, .seed = 1 };
  g_autoptr (GError) error = NULL;
  PlModel *m = pl_model_new_mlp (&spec, &hidden, 1, &error);
  g_assert_no_error (error);
  return m;
}

/* a CNN over [c, 8, 8] with one conv layer of k filters */
static PlModel *
cnn (int c, int k)
{
  PlModelSpec spec = { .in_features = c * 64, .sample_shape = { c, 8, 8 }, .n_classes = 10,
                       .max_batch = 1, .seed = 1 };
  g_autoptr (GError) error = NULL;
  PlModel *m = pl_model_new_cnn (&spec, &k, 1, 3, &error);
  g_assert_no_error (error);
  return m;
}

static void
init (GObject *plugin, PlModel *m, guint64 seed)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (pl_init_strategy_init_model (PL_INIT_STRATEGY (plugin), m, seed, &error));
  g_assert_no_error (error);
}

/* The sample variance of @p within 6 standard errors of @var (a sample variance
 * of n draws has relative standard error sqrt((kurtosis - 1) / n): 2 for normal,
 * 0.8 for uniform); the mean near 0; and the shape of the distribution: uniform
 * stays within sqrt(3) sigma and reaches it, normal has ~8% of its mass beyond. */
static void
assert_distribution (const PlParam *p, double var, gboolean uniform)
{
  double s = 0, s2 = 0, mx = 0;
  size_t beyond = 0, n = p->numel;
  double bound = sqrt (3.0 * var);
  for (size_t j = 0; j < n; j++)
    {
      double x = p->data[j];
      s += x;
      s2 += x * x;
      mx = MAX (mx, fabs (x));
      beyond += fabs (x) > bound;
    }
  double mean = s / n, v = s2 / n - mean * mean;
  double rel_se = sqrt ((uniform ? 0.8 : 2.0) / n);
  if (fabs (v / var - 1.0) > 6 * rel_se)
    g_error ("%s: variance %.6g, expected %.6g (+-%.1f%%)", p->name, v, var, 600 * rel_se);
  g_assert_cmpfloat (fabs (mean), <, 6 * sqrt (var / n));
  if (uniform)
    {
      g_assert_cmpfloat (mx, <=, bound * (1 + 1e-6));
      g_assert_cmpfloat (mx, >, 0.99 * bound);
    }
  else
    g_assert_cmpfloat ((double) beyond / n, >, 0.06);
}

static void
test_listed (void)
{
  const PlPluginDesc *d = pl_plugin_engine_lookup (engine (), PL_SLOT_INIT, "kaiming");
  g_assert_nonnull (d);
  g_assert_true (d->loaded);
  g_assert_null (d->error);
}

/* var = gain^2 / fan with torch.nn.init.calculate_gain's gains */
static void
test_variance (void)
{
  static const struct {
    const char *mode, *nonlinearity, *slope, *distribution;
    gboolean conv;
    double gain2;
  } cases[] = {
    { "fan-in", "relu", "0.01", "normal", FALSE, 2.0 },
    { "fan-in", "relu", "0.01", "uniform", FALSE, 2.0 },
    { "fan-out", "relu", "0.01", "normal", FALSE, 2.0 },
    { "fan-in", "leaky-relu", "0.2", "normal", FALSE, 2.0 / 1.04 },
    { "fan-out", "leaky-relu", "0.01", "uniform", FALSE, 2.0 / 1.0001 },
    { "fan-in", "tanh", "0.01", "normal", FALSE, 25.0 / 9.0 },
    { "fan-in", "linear", "0.01", "uniform", FALSE, 1.0 },
    { "fan-in", "relu", "0.01", "normal", TRUE, 2.0 },
    { "fan-out", "tanh", "0.01", "uniform", TRUE, 25.0 / 9.0 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GObject) p = create ("mode", cases[i].mode,
                                      "nonlinearity", cases[i].nonlinearity,
                                      "negative-slope", cases[i].slope,
                                      "distribution", cases[i].distribution, NULL);
      g_autoptr (PlModel) m = cases[i].conv ? cnn (32, 64) : mlp (512, 256);
      init (p, m, 3);
      PlParam *w = pl_model_get_param (m, 0);
      int fan_in = cases[i].conv ? 32 * 9 : 512, fan_out = cases[i].conv ? 64 * 9 : 256;
      int fan = g_str_equal (cases[i].mode, "fan-in") ? fan_in : fan_out;
      assert_distribution (w, cases[i].gain2 / fan,
                           g_str_equal (cases[i].distribution, "uniform"));
    }
}

/* relu, fan-in, normal, zero biases: torch.nn.init.kaiming_normal_'s defaults */
static void
test_defaults (void)
{
  g_autoptr (GObject) p = create (NULL);
  g_autoptr (PlModel) m = mlp (512, 256);
  init (p, m, 8);
  assert_distribution (pl_model_get_param (m, 0), 2.0 / 512, FALSE);
  PlParam *b = pl_model_lookup_param (m, "hidden.0.bias");
  for (size_t j = 0; j < b->numel; j++)
    g_assert_cmpfloat (b->data[j], ==, 0.0f);
  g_autoptr (GObject) d = create ("bias", "default", NULL);
  init (d, m, 8);
  double mx = 0;
  for (size_t j = 0; j < b->numel; j++)
    mx = MAX (mx, fabs (b->data[j]));
  g_assert_cmpfloat (mx, <=, 1.0 / sqrt (512.0));
  g_assert_cmpfloat (mx, >, 0.5 / sqrt (512.0));
}

static void
test_deterministic (void)
{
  g_autoptr (GObject) p = create ("distribution", "uniform", NULL);
  g_autoptr (PlModel) a = cnn (4, 8);
  g_autoptr (PlModel) b = cnn (4, 8);
  init (p, a, 21);
  init (p, b, 21);
  size_t n = pl_model_get_n_floats (a);
  g_assert_cmpmem (pl_model_get_params (a), n * sizeof (float),
                   pl_model_get_params (b), n * sizeof (float));
  init (p, b, 22);
  g_assert_true (memcmp (pl_model_get_params (a), pl_model_get_params (b),
                         n * sizeof (float)) != 0);
}

static void
test_bad_options (void)
{
  static const struct {
    const char *key, *value, *expect;
  } cases[] = {
    { "mode", "fan-avg", "fan-in" },
    { "mode", "fan-avg", "fan-out" },
    { "nonlinearity", "selu", "leaky-relu" },
    { "nonlinearity", "selu", "tanh" },
    { "negative-slope", "-0.1", "between 0 and 100" },
    { "distribution", "laplace", "normal" },
    { "bias", "ones", "default" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GObject) p = create (NULL);
      g_assert_false (pl_plugin_set_option (p, "kaiming", cases[i].key, cases[i].value,
                                            "k.ini:9", &error));
      g_assert_error (error, PL_ERROR, PL_ERROR_CONFIG);
      g_assert_nonnull (strstr (error->message, "k.ini:9"));
      g_assert_nonnull (strstr (error->message, "kaiming"));
      g_assert_nonnull (strstr (error->message, cases[i].key));
      if (!strstr (error->message, cases[i].expect))
        g_error ("%s=%s: \"%s\" does not say %s", cases[i].key, cases[i].value,
                 error->message, cases[i].expect);
    }
}

/* through the engine on digits with a CNN: He-initialized filters, and it learns */
static void
test_run_on_digits (void)
{
  const char *text = "[experiment]\nseed=9\n[data]\ndataset=digits\nnormalize=minmax\n"
                     "[model]\narchitecture=cnn\nchannels=32\n"
                     "[train]\nepochs=3\nlr=0.003\n"
                     "[init]\nplugin=kaiming\nmode=fan-out\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (PlExperiment) exp = pl_experiment_load_data (text, -1, "kaiming.ini", &error);
  g_assert_no_error (error);
  g_autoptr (PlPluginSelection) sel = pl_plugin_selection_new (engine (), exp, &error);
  g_assert_no_error (error);
  g_autoptr (PlRun) run = pl_run_new_with_plugins (exp, NULL, sel, &error);
  g_assert_no_error (error);
  PlParam *w = pl_model_lookup_param (pl_run_get_model (run), "conv.0.weight");
  /* [32, 1, 3, 3]: fan_out = 288, var = 2/288; the default U(+-1/3) has 1/27 */
  g_assert_cmpint (w->fan_out, ==, 288);
  double s2 = 0;
  for (size_t j = 0; j < w->numel; j++)
    s2 += (double) w->data[j] * w->data[j];
  pl_assert_close (s2 / w->numel, 2.0 / 288, 0, 0.3);
  g_assert_true (pl_run_execute (run, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (pl_run_get_metric (run, "val/acc"), >, 0.85);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  pl_test_tmpdir ();
  g_test_add_func ("/plugins/kaiming/listed", test_listed);
  g_test_add_func ("/plugins/kaiming/variance", test_variance);
  g_test_add_func ("/plugins/kaiming/defaults", test_defaults);
  g_test_add_func ("/plugins/kaiming/deterministic", test_deterministic);
  g_test_add_func ("/plugins/kaiming/bad-options", test_bad_options);
  g_test_add_func ("/plugins/kaiming/run-on-digits", test_run_on_digits);
  return g_test_run ();
}
