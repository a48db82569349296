/* The xavier init plugin, loaded through the plugin engine as a run would. */
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
  GObject *p = pl_plugin_engine_create (engine (), PL_SLOT_INIT, "xavier", &error);
  g_assert_no_error (error);
  va_list ap;
  va_start (ap, first_name);
  for (const char *k = first_name; k; k = va_arg (ap, const char *))
    {
      const char *v = va_arg (ap, const char *);
      g_assert_true (pl_plugin_set_option (p, "xavier", k, v, "test", &error));
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
  const PlPluginDesc *d = pl_plugin_engine_lookup (engine (), PL_SLOT_INIT, "xavier");
  g_assert_nonnull (d);
  g_assert_true (d->loaded);
  g_assert_null (d->error);
}

/* var = gain^2 * 2 / (fan_in + fan_out), torch's fans (conv: times kh*kw) */
static void
test_variance (void)
{
  static const struct {
    const char *distribution;
    const char *gain;
    gboolean conv;
  } cases[] = {
    { "uniform", "1", FALSE },
    { "normal", "1", FALSE },
    { "uniform", "1.6667", FALSE },
    { "normal", "2", TRUE },
    { "uniform", "1", TRUE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GObject) p = create ("distribution", cases[i].distribution,
                                      "gain", cases[i].gain, NULL);
      g_autoptr (PlModel) m = cases[i].conv ? cnn (32, 64) : mlp (512, 256);
      init (p, m, 3);
      PlParam *w = pl_model_get_param (m, 0);
      int fan_in = cases[i].conv ? 32 * 9 : 512, fan_out = cases[i].conv ? 64 * 9 : 256;
      g_assert_cmpint (w->fan_in, ==, fan_in);
      g_assert_cmpint (w->fan_out, ==, fan_out);
      double gain = g_ascii_strtod (cases[i].gain, NULL);
      assert_distribution (w, gain * gain * 2.0 / (fan_in + fan_out),
                           g_str_equal (cases[i].distribution, "uniform"));
      /* the head has its own fans: 10 outputs read 256 (dense) units */
      PlParam *head = pl_model_lookup_param (m, "head.weight");
      double hb = gain * sqrt (6.0 / (head->fan_in + head->fan_out));
      for (size_t j = 0; j < head->numel; j++)
        g_assert_cmpfloat (fabs (head->data[j]), <=, 4 * hb);
    }
}

static void
test_bias (void)
{
  g_autoptr (GObject) zero = create (NULL);
  g_autoptr (GObject) dflt = create ("bias", "default", NULL);
  g_autoptr (PlModel) m = mlp (64, 32);
  PlParam *b = pl_model_lookup_param (m, "hidden.0.bias");
  init (zero, m, 1);
  for (size_t j = 0; j < b->numel; j++)
    g_assert_cmpfloat (b->data[j], ==, 0.0f);
  init (dflt, m, 1);
  double bound = 1.0 / sqrt (64.0), mx = 0;
  for (size_t j = 0; j < b->numel; j++)
    mx = MAX (mx, fabs (b->data[j]));
  g_assert_cmpfloat (mx, <=, bound);
  g_assert_cmpfloat (mx, >, 0.5 * bound);
}

static void
test_deterministic (void)
{
  g_autoptr (GObject) p = create ("distribution", "normal", NULL);
  g_autoptr (PlModel) a = mlp (64, 32);
  g_autoptr (PlModel) b = mlp (64, 32);
  init (p, a, 11);
  init (p, b, 11);
  size_t n = pl_model_get_n_floats (a);
  g_assert_cmpmem (pl_model_get_params (a), n * sizeof (float),
                   pl_model_get_params (b), n * sizeof (float));
  init (p, b, 12);
  g_assert_true (memcmp (pl_model_get_params (a), pl_model_get_params (b),
                         n * sizeof (float)) != 0);
}

static void
test_bad_options (void)
{
  static const struct {
    const char *key, *value, *expect;
  } cases[] = {
    { "distribution", "cauchy", "uniform" },
    { "distribution", "cauchy", "normal" },
    { "gain", "-1", "between 0 and 100" },
    { "gain", "lots", "gain" },
    { "bias", "one", "zero" },
    { "gian", "1", "gain" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GObject) p = create (NULL);
      g_assert_false (pl_plugin_set_option (p, "xavier", cases[i].key, cases[i].value,
                                            "x.ini:4", &error));
      g_assert_error (error, PL_ERROR, PL_ERROR_CONFIG);
      g_assert_nonnull (strstr (error->message, "x.ini:4"));
      g_assert_nonnull (strstr (error->message, "xavier"));
      if (!strstr (error->message, cases[i].expect))
        g_error ("%s=%s: \"%s\" does not say %s", cases[i].key, cases[i].value,
                 error->message, cases[i].expect);
    }
}

/* through the engine on digits: the run's model starts with Glorot weights and
 * learns */
static void
test_run_on_digits (void)
{
  const char *text = "[experiment]\nseed=5\n[data]\ndataset=digits\n[model]\nhidden=64\n"
                     "[train]\nepochs=3\nlr=0.003\n"
                     "[init]\nplugin=xavier\ndistribution=normal\ngain=1.4142\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (PlExperiment) exp = pl_experiment_load_data (text, -1, "xavier.ini", &error);
  g_assert_no_error (error);
  g_autoptr (PlPluginSelection) sel = pl_plugin_selection_new (engine (), exp, &error);
  g_assert_no_error (error);
  g_autoptr (PlRun) run = pl_run_new_with_plugins (exp, NULL, sel, &error);
  g_assert_no_error (error);
  PlParam *w = pl_model_lookup_param (pl_run_get_model (run), "hidden.0.weight");
  g_assert_cmpint (w->fan_in, ==, 64);
  /* 4096 draws: a looser band, still far from the default's 1/(3*64) */
  double s2 = 0;
  for (size_t j = 0; j < w->numel; j++)
    s2 += (double) w->data[j] * w->data[j];
  pl_assert_close (s2 / w->numel, 2.0 * 2.0 / (64 + 64), 0, 0.1);
  g_assert_true (pl_run_execute (run, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (pl_run_get_metric (run, "val/acc"), >, 0.9);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  pl_test_tmpdir ();
  g_test_add_func ("/plugins/xavier/listed", test_listed);
  g_test_add_func ("/plugins/xavier/variance", test_variance);
  g_test_add_func ("/plugins/xavier/bias", test_bias);
  g_test_add_func ("/plugins/xavier/deterministic", test_deterministic);
  g_test_add_func ("/plugins/xavier/bad-options", test_bad_options);
  g_test_add_func ("/plugins/xavier/run-on-digits", test_run_on_digits);
  return g_test_run ();
}
