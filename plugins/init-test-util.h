/* init-test-util.h: what the tests of the init plugins (uniform, xavier, kaiming,
 * orthogonal) share: configured instances from the plugin engine, small MLPs and
 * CNNs with torch's fans, the distribution and determinism checks, and runs on
 * the bundled digits built from experiment text. Test code only. */
#pragma once

#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "paramlab.h"
#include "pl-test-util.h"

static inline PlPluginEngine *
it_engine (void)
{
  static PlPluginEngine *e;
  if (!e)
    e = pl_plugin_engine_new ();
  return e;
}

/* An instance of the init plugin @id configured with name, value, ..., NULL; every
 * option must be accepted. (transfer full) */
static inline GObject *
it_create (const char *id, const char *first_name, ...)
{
  g_autoptr (GError) error = NULL;
  GObject *p = pl_plugin_engine_create (it_engine (), PL_SLOT_INIT, id, &error);
  g_assert_no_error (error);
  va_list ap;
  va_start (ap, first_name);
  for (const char *k = first_name; k; k = va_arg (ap, const char *))
    {
      const char *v = va_arg (ap, const char *);
      g_assert_true (pl_plugin_set_option (p, id, k, v, "test", &error));
      g_assert_no_error (error);
    }
  va_end (ap);
  return p;
}

/* A g_test data function: the engine lists the plugin named by @data as loaded. */
static inline void
it_test_listed (gconstpointer data)
{
  const PlPluginDesc *d = pl_plugin_engine_lookup (it_engine (), PL_SLOT_INIT, data);
  g_assert_nonnull (d);
  g_assert_true (d->loaded);
  g_assert_null (d->error);
}

/* An MLP in -> hidden[0] -> ... -> hidden[n_hidden - 1] -> 10. (transfer full) */
static inline PlModel *
it_mlp_layers (int in, const int *hidden, int n_hidden)
{
  PlModelSpec spec = { .in_features = in, .sample_shape = { in, 1, 1 }, .n_classes = 10,
                       .max_batch = 1, .seed = 1 };
  g_autoptr (GError) error = NULL;
  PlModel *m = pl_model_new_mlp (&spec, hidden, n_hidden, &error);
  g_assert_no_error (error);
  return m;
}

/* An MLP in -> hidden -> 10. (transfer full) */
static inline PlModel *
it_mlp (int in, int hidden)
{
  return it_mlp_layers (in, &hidden, 1);
}

/* A CNN over [c, 8, 8] with one conv layer of k 3x3 filters. (transfer full) */
static inline PlModel *
it_cnn (int c, int k)
{
  PlModelSpec spec = { .in_features = c * 64, .sample_shape = { c, 8, 8 }, .n_classes = 10,
                       .max_batch = 1, .seed = 1 };
  g_autoptr (GError) error = NULL;
  PlModel *m = pl_model_new_cnn (&spec, &k, 1, 3, &error);
  g_assert_no_error (error);
  return m;
}

/* Initializes @m with @plugin from @seed; must succeed. */
static inline void
it_init (GObject *plugin, PlModel *m, guint64 seed)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (pl_init_strategy_init_model (PL_INIT_STRATEGY (plugin), m, seed, &error));
  g_assert_no_error (error);
}

/* The model of the variance tables: a CNN over [32, 8, 8] with 64 filters
 * (@conv) or an MLP 512 -> 256 -> 10. Its first weight goes to @w, and that
 * weight's fans, checked against torch's (conv: times kh*kw), to @fan_in and
 * @fan_out. (transfer full) */
static inline PlModel *
it_variance_model (gboolean conv, PlParam **w, int *fan_in, int *fan_out)
{
  PlModel *m = conv ? it_cnn (32, 64) : it_mlp (512, 256);
  *w = pl_model_get_param (m, 0);
  *fan_in = conv ? 32 * 9 : 512;
  *fan_out = conv ? 64 * 9 : 256;
  g_assert_cmpint ((*w)->fan_in, ==, *fan_in);
  g_assert_cmpint ((*w)->fan_out, ==, *fan_out);
  return m;
}

/* The sample variance of @p within 6 standard errors of @var (a sample variance
 * of n draws has relative standard error sqrt((kurtosis - 1) / n): 2 for normal,
 * 0.8 for uniform); the mean near 0; and the shape of the distribution: uniform
 * stays within sqrt(3) sigma and reaches it, normal has ~8% of its mass beyond. */
static inline void
it_assert_distribution (const PlParam *p, double var, gboolean uniform)
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

/* Asserts that every entry of @p is exactly zero. */
static inline void
it_assert_zero (const PlParam *p)
{
  for (size_t j = 0; j < p->numel; j++)
    g_assert_cmpfloat (p->data[j], ==, 0.0f);
}

/* The largest |x| over the entries of @p. */
static inline double
it_max_abs (const PlParam *p)
{
  double mx = 0;
  for (size_t j = 0; j < p->numel; j++)
    mx = MAX (mx, fabs (p->data[j]));
  return mx;
}

/* The mean of x^2 over the entries of @p. */
static inline double
it_mean_square (const PlParam *p)
{
  double s2 = 0;
  for (size_t j = 0; j < p->numel; j++)
    s2 += (double) p->data[j] * p->data[j];
  return s2 / p->numel;
}

/* @plugin fills @a and @b (models of one shape) identically from @seed, and
 * @b differently from @seed + 1. */
static inline void
it_assert_deterministic (GObject *plugin, PlModel *a, PlModel *b, guint64 seed)
{
  it_init (plugin, a, seed);
  it_init (plugin, b, seed);
  size_t n = pl_model_get_n_floats (a);
  g_assert_cmpuint (pl_model_get_n_floats (b), ==, n);
  g_assert_cmpmem (pl_model_get_params (a), n * sizeof (float),
                   pl_model_get_params (b), n * sizeof (float));
  it_init (plugin, b, seed + 1);
  g_assert_true (memcmp (pl_model_get_params (a), pl_model_get_params (b),
                         n * sizeof (float)) != 0);
}

/* Asserts that option @key=@value of a fresh instance of @id is refused with
 * PL_ERROR_CONFIG, in a message that names @where, @id and @key and says
 * @expect. */
static inline void
it_assert_bad_option (const char *id, const char *key, const char *value, const char *where,
                      const char *expect)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GObject) p = it_create (id, NULL);
  if (pl_plugin_set_option (p, id, key, value, where, &error))
    g_error ("%s: %s=%s was accepted", id, key, value);
  g_assert_error (error, PL_ERROR, PL_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, where));
  g_assert_nonnull (strstr (error->message, id));
  g_assert_nonnull (strstr (error->message, key));
  if (!strstr (error->message, expect))
    g_error ("%s=%s: \"%s\" does not say %s", key, value, error->message, expect);
}

/* A run with the experiment and the plugin selection it borrows, on the stack:
 * g_auto (ItRun) r = it_run_new (...). */
typedef struct {
  PlExperiment *exp;
  PlPluginSelection *sel;
  PlRun *run;
} ItRun;

static inline void
it_run_clear (ItRun *r)
{
  g_clear_pointer (&r->run, pl_run_free);
  g_clear_pointer (&r->sel, pl_plugin_selection_free);
  g_clear_pointer (&r->exp, pl_experiment_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ItRun, it_run_clear)

/* A run of the experiment @text (named @file in messages) with its plugins,
 * built but not started; every step must succeed. */
static inline ItRun
it_run_new (const char *text, const char *file)
{
  g_autoptr (GError) error = NULL;
  ItRun r = { NULL, NULL, NULL };
  r.exp = pl_experiment_load_data (text, -1, file, &error);
  g_assert_no_error (error);
  r.sel = pl_plugin_selection_new (it_engine (), r.exp, &error);
  g_assert_no_error (error);
  r.run = pl_run_new_with_plugins (r.exp, NULL, r.sel, &error);
  g_assert_no_error (error);
  return r;
}

/* Runs @run to the end and asserts that its val/acc is above @min_acc. */
static inline void
it_run_learns (PlRun *run, double min_acc)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (pl_run_execute (run, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (pl_run_get_metric (run, "val/acc"), >, min_acc);
}
