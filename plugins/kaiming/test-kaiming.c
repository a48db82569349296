/* The kaiming init plugin, loaded through the plugin engine as a run would. */
#include "../init-test-util.h"

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
      g_autoptr (GObject) p = it_create ("kaiming", "mode", cases[i].mode,
                                         "nonlinearity", cases[i].nonlinearity,
                                         "negative-slope", cases[i].slope,
                                         "distribution", cases[i].distribution, NULL);
      PlParam *w;
      int fan_in, fan_out;
      g_autoptr (PlModel) m = it_variance_model (cases[i].conv, &w, &fan_in, &fan_out);
      it_init (p, m, 3);
      int fan = g_str_equal (cases[i].mode, "fan-in") ? fan_in : fan_out;
      it_assert_distribution (w, cases[i].gain2 / fan,
                              g_str_equal (cases[i].distribution, "uniform"));
    }
}

/* relu, fan-in, normal, zero biases: torch.nn.init.kaiming_normal_'s defaults */
static void
test_defaults (void)
{
  g_autoptr (GObject) p = it_create ("kaiming", NULL);
  g_autoptr (PlModel) m = it_mlp (512, 256);
  it_init (p, m, 8);
  it_assert_distribution (pl_model_get_param (m, 0), 2.0 / 512, FALSE);
  PlParam *b = pl_model_lookup_param (m, "hidden.0.bias");
  it_assert_zero (b);
  g_autoptr (GObject) d = it_create ("kaiming", "bias", "default", NULL);
  it_init (d, m, 8);
  double mx = it_max_abs (b);
  g_assert_cmpfloat (mx, <=, 1.0 / sqrt (512.0));
  g_assert_cmpfloat (mx, >, 0.5 / sqrt (512.0));
}

static void
test_deterministic (void)
{
  g_autoptr (GObject) p = it_create ("kaiming", "distribution", "uniform", NULL);
  g_autoptr (PlModel) a = it_cnn (4, 8);
  g_autoptr (PlModel) b = it_cnn (4, 8);
  it_assert_deterministic (p, a, b, 21);
}

/* a refused option names the file line, the plugin, the key and what is allowed */
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
    it_assert_bad_option ("kaiming", cases[i].key, cases[i].value, "k.ini:9", cases[i].expect);
}

/* through the engine on digits with a CNN: He-initialized filters, and it learns */
static void
test_run_on_digits (void)
{
  const char *text = "[experiment]\nseed=9\n[data]\ndataset=digits\nnormalize=minmax\n"
                     "[model]\narchitecture=cnn\nchannels=32\n"
                     "[train]\nepochs=3\nlr=0.003\n"
                     "[init]\nplugin=kaiming\nmode=fan-out\n";
  g_auto (ItRun) r = it_run_new (text, "kaiming.ini");
  PlParam *w = pl_model_lookup_param (pl_run_get_model (r.run), "conv.0.weight");
  /* [32, 1, 3, 3]: fan_out = 288, var = 2/288; the default U(+-1/3) has 1/27 */
  g_assert_cmpint (w->fan_out, ==, 288);
  pl_assert_close (it_mean_square (w), 2.0 / 288, 0, 0.3);
  it_run_learns (r.run, 0.85);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  pl_test_tmpdir ();
  g_test_add_data_func ("/plugins/kaiming/listed", "kaiming", it_test_listed);
  g_test_add_func ("/plugins/kaiming/variance", test_variance);
  g_test_add_func ("/plugins/kaiming/defaults", test_defaults);
  g_test_add_func ("/plugins/kaiming/deterministic", test_deterministic);
  g_test_add_func ("/plugins/kaiming/bad-options", test_bad_options);
  g_test_add_func ("/plugins/kaiming/run-on-digits", test_run_on_digits);
  return g_test_run ();
}
