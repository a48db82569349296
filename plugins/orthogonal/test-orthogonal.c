/* The orthogonal init plugin, loaded through the plugin engine as a run would. */
#include "../init-test-util.h"

/* an MLP in -> h1 -> h2 -> 10 */
static PlModel *
mlp2 (int in, int h1, int h2)
{
  return it_mlp_layers (in, (int[]) { h1, h2 }, 2);
}

/* max |G - gain^2 I| over the Gram matrix G of @w's rows (@rows_gram) or columns */
static double
gram_error (const PlParam *w, gboolean rows_gram, double gain)
{
  int r = w->shape[0], c = (int) (w->numel / r);
  int n = rows_gram ? r : c;
  double worst = 0;
  for (int a = 0; a < n; a++)
    for (int b = 0; b < n; b++)
      {
        double s = 0;
        if (rows_gram)
          for (int k = 0; k < c; k++)
            s += (double) w->data[a * c + k] * w->data[b * c + k];
        else
          for (int k = 0; k < r; k++)
            s += (double) w->data[k * c + a] * w->data[k * c + b];
        worst = MAX (worst, fabs (s - (a == b ? gain * gain : 0.0)));
      }
  return worst;
}

static double
sum_of_squares (const PlParam *w)
{
  /* = trace(W W^T) = trace(W^T W) */
  double s = 0;
  for (size_t j = 0; j < w->numel; j++)
    s += (double) w->data[j] * w->data[j];
  return s;
}

/* W [out, in]: out <= in has orthonormal rows (W W^T = gain^2 I), out >= in
 * orthonormal columns (W^T W = gain^2 I); the other product is a projection of
 * rank min(out, in), not the identity */
static void
test_dense_orthogonal (void)
{
  static const struct {
    int in, h1, h2;
    const char *gain;
  } cases[] = {
    { 64, 64, 64, "1" },        /* square */
    { 96, 32, 128, "1" },       /* wide [32, 96], tall [128, 32] */
    { 20, 200, 7, "1.41421356" },
    { 1, 5, 1, "0.5" },         /* a column [5, 1] and a row [1, 5] */
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GObject) p = it_create ("orthogonal", "gain", cases[i].gain, NULL);
      g_autoptr (PlModel) m = mlp2 (cases[i].in, cases[i].h1, cases[i].h2);
      double gain = g_ascii_strtod (cases[i].gain, NULL);
      it_init (p, m, 17);
      const char *names[] = { "hidden.0.weight", "hidden.1.weight", "head.weight" };
      for (guint k = 0; k < G_N_ELEMENTS (names); k++)
        {
          PlParam *w = pl_model_lookup_param (m, names[k]);
          int out = w->shape[0], in = w->shape[1];
          gboolean rows = out <= in;
          double err = gram_error (w, rows, gain);
          if (err > 2e-6 * MAX (in, out) * gain * gain + 1e-6)
            g_error ("%s [%d, %d] gain %g: |%s - gain^2 I| = %g", names[k], out, in, gain,
                     rows ? "W W^T" : "W^T W", err);
          pl_assert_close (sum_of_squares (w), gain * gain * MIN (in, out), 1e-4, 1e-4);
          if (out != in)
            g_assert_cmpfloat (gram_error (w, !rows, gain), >, 0.5 * gain * gain);
        }
    }
}

/* Q is drawn from a gaussian, not a fixed basis: entries of a 128x128 orthogonal
 * matrix are about N(0, 1/128), and both signs appear on the diagonal */
static void
test_dense_is_random (void)
{
  g_autoptr (GObject) p = it_create ("orthogonal", NULL);
  g_autoptr (PlModel) m = mlp2 (128, 128, 128);
  it_init (p, m, 4);
  PlParam *w = pl_model_lookup_param (m, "hidden.1.weight");
  double s2 = 0, mx = 0;
  int negative_diag = 0;
  for (size_t j = 0; j < w->numel; j++)
    {
      s2 += (double) w->data[j] * w->data[j];
      mx = MAX (mx, fabs (w->data[j]));
    }
  for (int d = 0; d < 128; d++)
    negative_diag += w->data[d * 128 + d] < 0;
  pl_assert_close (s2 / w->numel, 1.0 / 128, 1e-6, 1e-3);
  g_assert_cmpfloat (mx, <, 0.5);
  g_assert_cmpint (negative_diag, >, 30);
  g_assert_cmpint (negative_diag, <, 98);
}

/* conv W [out, in, kh, kw]: every filter has L2 norm gain; entries are gaussian
 * with variance gain^2 / (in kh kw) */
static void
test_conv_unit_norm (void)
{
  static const char *gains[] = { "1", "1.41421356", "0.3" };
  for (guint i = 0; i < G_N_ELEMENTS (gains); i++)
    {
      g_autoptr (GObject) p = it_create ("orthogonal", "gain", gains[i], NULL);
      g_autoptr (PlModel) m = it_cnn (16, 256);
      it_init (p, m, 5);
      double gain = g_ascii_strtod (gains[i], NULL);
      PlParam *w = pl_model_lookup_param (m, "conv.0.weight");
      g_assert_cmpint (w->ndim, ==, 4);
      int k = w->shape[0], per = (int) (w->numel / k);
      g_assert_cmpint (per, ==, 16 * 9);
      double s2 = 0, s4 = 0;
      for (int f = 0; f < k; f++)
        {
          double norm = 0;
          for (int j = 0; j < per; j++)
            {
              double x = w->data[f * per + j];
              norm += x * x;
              s2 += x * x;
              s4 += x * x * x * x;
            }
          pl_assert_close (sqrt (norm), gain, 1e-6, 1e-5);
        }
      /* gaussian: kurtosis 3 (uniform would give 1.8) */
      double var = s2 / w->numel, kurt = s4 / w->numel / (var * var);
      pl_assert_close (var, gain * gain / per, 0, 1e-5);
      pl_assert_close (kurt, 3.0, 0.15, 0);
      /* the dense head of the CNN is orthogonal */
      PlParam *head = pl_model_lookup_param (m, "head.weight");
      g_assert_cmpfloat (gram_error (head, TRUE, gain), <, 1e-4);
    }
}

static void
test_bias (void)
{
  g_autoptr (GObject) zero = it_create ("orthogonal", NULL);
  g_autoptr (GObject) dflt = it_create ("orthogonal", "bias", "default", NULL);
  g_autoptr (PlModel) m = it_cnn (4, 8);
  PlParam *cb = pl_model_lookup_param (m, "conv.0.bias");
  PlParam *hb = pl_model_lookup_param (m, "head.bias");
  it_init (zero, m, 1);
  it_assert_zero (cb);
  it_assert_zero (hb);
  it_init (dflt, m, 1);
  double bound = 1.0 / sqrt (4.0 * 9), mx = it_max_abs (cb);
  g_assert_cmpfloat (mx, <=, bound);
  g_assert_cmpfloat (mx, >, 0.3 * bound);
}

static void
test_deterministic (void)
{
  g_autoptr (GObject) p = it_create ("orthogonal", NULL);
  for (int conv = 0; conv < 2; conv++)
    {
      g_autoptr (PlModel) a = conv ? it_cnn (4, 8) : mlp2 (30, 40, 20);
      g_autoptr (PlModel) b = conv ? it_cnn (4, 8) : mlp2 (30, 40, 20);
      it_assert_deterministic (p, a, b, 99);
    }
}

static void
test_bad_options (void)
{
  static const struct {
    const char *key, *value, *expect;
  } cases[] = {
    { "gain", "-2", "between 0 and 100" },
    { "gain", "101", "between 0 and 100" },
    { "gain", "one", "gain" },
    { "bias", "random", "zero" },
    { "bias", "random", "default" },
    { "distribution", "normal", "gain" },   /* not an option of orthogonal */
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    it_assert_bad_option ("orthogonal", cases[i].key, cases[i].value, "o.ini:2",
                          cases[i].expect);
}

/* A bad option in an experiment file names the file line, through the selection. */
static void
test_bad_option_in_file (void)
{
  const char *text = "[experiment]\nseed=1\n[init]\nplugin=orthogonal\ngain=-3\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (PlExperiment) exp = pl_experiment_load_data (text, -1, "ortho.ini", &error);
  g_assert_no_error (error);
  g_autoptr (PlPluginSelection) sel = pl_plugin_selection_new (it_engine (), exp, &error);
  g_assert_null (sel);
  g_assert_error (error, PL_ERROR, PL_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "ortho.ini:5"));
  g_assert_nonnull (strstr (error->message, "gain"));
}

/* through the engine on digits: the run's MLP starts orthogonal and learns */
static void
test_run_on_digits (void)
{
  const char *text = "[experiment]\nseed=5\n[data]\ndataset=digits\n[model]\nhidden=96, 48\n"
                     "[train]\nepochs=3\nlr=0.003\n"
                     "[init]\nplugin=orthogonal\ngain=1.41421356\n";
  g_auto (ItRun) r = it_run_new (text, "orthogonal.ini");
  PlModel *m = pl_run_get_model (r.run);
  g_assert_cmpfloat (gram_error (pl_model_lookup_param (m, "hidden.0.weight"), FALSE, sqrt (2)),
                     <, 1e-4);
  g_assert_cmpfloat (gram_error (pl_model_lookup_param (m, "hidden.1.weight"), TRUE, sqrt (2)),
                     <, 1e-4);
  it_run_learns (r.run, 0.9);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  pl_test_tmpdir ();
  g_test_add_data_func ("/plugins/orthogonal/listed", "orthogonal", it_test_listed);
  g_test_add_func ("/plugins/orthogonal/dense", test_dense_orthogonal);
  g_test_add_func ("/plugins/orthogonal/dense-random", test_dense_is_random);
  g_test_add_func ("/plugins/orthogonal/conv-unit-norm", test_conv_unit_norm);
  g_test_add_func ("/plugins/orthogonal/bias", test_bias);
  g_test_add_func ("/plugins/orthogonal/deterministic", test_deterministic);
  g_test_add_func ("/plugins/orthogonal/bad-options", test_bad_options);
  g_test_add_func ("/plugins/orthogonal/bad-option-in-file", test_bad_option_in_file);
  g_test_add_func ("/plugins/orthogonal/run-on-digits", test_run_on_digits);
  return g_test_run ();
}
