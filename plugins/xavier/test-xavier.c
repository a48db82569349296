/* The xavier init plugin, loaded through the plugin engine as a run would. */
#include "../init-test-util.h"

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
      g_autoptr (GObject) p = it_create ("xavier", "distribution", cases[i].distribution,
                                         "gain", cases[i].gain, NULL);
      PlParam *w;
      int fan_in, fan_out;
      g_autoptr (PlModel) m = it_variance_model (cases[i].conv, &w, &fan_in, &fan_out);
      it_init (p, m, 3);
      double gain = g_ascii_strtod (cases[i].gain, NULL);
      it_assert_distribution (w, gain * gain * 2.0 / (fan_in + fan_out),
                              g_str_equal (cases[i].distribution, "uniform"));
      /* the head has its own fans: 10 outputs read 256 (dense) units */
      PlParam *head = pl_model_lookup_param (m, "head.weight");
      double hb = gain * sqrt (6.0 / (head->fan_in + head->fan_out));
      g_assert_cmpfloat (it_max_abs (head), <=, 4 * hb);
    }
}

static void
test_bias (void)
{
  g_autoptr (GObject) zero = it_create ("xavier", NULL);
  g_autoptr (GObject) dflt = it_create ("xavier", "bias", "default", NULL);
  g_autoptr (PlModel) m = it_mlp (64, 32);
  PlParam *b = pl_model_lookup_param (m, "hidden.0.bias");
  it_init (zero, m, 1);
  it_assert_zero (b);
  it_init (dflt, m, 1);
  double bound = 1.0 / sqrt (64.0), mx = it_max_abs (b);
  g_assert_cmpfloat (mx, <=, bound);
  g_assert_cmpfloat (mx, >, 0.5 * bound);
}

static void
test_deterministic (void)
{
  g_autoptr (GObject) p = it_create ("xavier", "distribution", "normal", NULL);
  g_autoptr (PlModel) a = it_mlp (64, 32);
  g_autoptr (PlModel) b = it_mlp (64, 32);
  it_assert_deterministic (p, a, b, 11);
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
    it_assert_bad_option ("xavier", cases[i].key, cases[i].value, "x.ini:4", cases[i].expect);
}

/* through the engine on digits: the run's model starts with Glorot weights and
 * learns */
static void
test_run_on_digits (void)
{
  const char *text = "[experiment]\nseed=5\n[data]\ndataset=digits\n[model]\nhidden=64\n"
                     "[train]\nepochs=3\nlr=0.003\n"
                     "[init]\nplugin=xavier\ndistribution=normal\ngain=1.4142\n";
  g_auto (ItRun) r = it_run_new (text, "xavier.ini");
  PlParam *w = pl_model_lookup_param (pl_run_get_model (r.run), "hidden.0.weight");
  g_assert_cmpint (w->fan_in, ==, 64);
  /* 4096 draws: a looser band, still far from the default's 1/(3*64) */
  pl_assert_close (it_mean_square (w), 2.0 * 2.0 / (64 + 64), 0, 0.1);
  it_run_learns (r.run, 0.9);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  pl_test_tmpdir ();
  g_test_add_data_func ("/plugins/xavier/listed", "xavier", it_test_listed);
  g_test_add_func ("/plugins/xavier/variance", test_variance);
  g_test_add_func ("/plugins/xavier/bias", test_bias);
  g_test_add_func ("/plugins/xavier/deterministic", test_deterministic);
  g_test_add_func ("/plugins/xavier/bad-options", test_bad_options);
  g_test_add_func ("/plugins/xavier/run-on-digits", test_run_on_digits);
  return g_test_run ();
}
