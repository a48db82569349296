/* The synthetic scan + report generator, loaded through the plugin engine as a
 * run loads it: determinism, the packed layout, and that each modality depends
 * on the label, only partly at the default noise. */
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

/* The run's data for an experiment with [dataset] plugin=synthetic-scan-report and
 * the extra lines @opts; FALSE with @error when loading fails. */
static gboolean
load (const char *opts, guint64 seed, PlRunData *data, GError **error)
{
  g_autofree char *text = g_strdup_printf ("[experiment]\nseed=%" G_GUINT64_FORMAT "\n"
                                           "[data]\nnormalize=none\n"
                                           "[dataset]\nplugin=synthetic-scan-report\n%s",
                                           seed, opts);
  g_autoptr (PlExperiment) exp = pl_experiment_load_data (text, -1, "scan.ini", error);
  if (!exp)
    return FALSE;
  g_autoptr (PlPluginSelection) sel = pl_plugin_selection_new (engine (), exp, error);
  if (!sel)
    return FALSE;
  return pl_run_data_load (exp, sel, data, error);
}

static PlRunData
load_ok (const char *opts, guint64 seed)
{
  g_autoptr (GError) error = NULL;
  PlRunData data = { 0 };
  g_assert_true (load (opts, seed, &data, &error));
  g_assert_no_error (error);
  return data;
}

static gboolean
same_data (const PlDataset *a, const PlDataset *b)
{
  return a->n == b->n && a->n_features == b->n_features
         && memcmp (a->x, b->x, sizeof (float) * a->n * a->n_features) == 0
         && memcmp (a->y, b->y, sizeof (int32_t) * a->n) == 0;
}

static void
test_listed (void)
{
  const PlPluginDesc *d = pl_plugin_engine_lookup (engine (), PL_SLOT_DATASET,
                                                   "synthetic-scan-report");
  g_assert_nonnull (d);
  g_assert_true (d->loaded);
  g_assert_null (d->error);
}

static void
test_determinism (void)
{
  PlRunData a = load_ok ("n-train=200\nn-val=100\n", 3);
  PlRunData b = load_ok ("n-train=200\nn-val=100\n", 3);
  PlRunData c = load_ok ("n-train=200\nn-val=100\n", 4);
  /* data-seed overrides the experiment's seed */
  PlRunData d = load_ok ("n-train=200\nn-val=100\ndata-seed=3\n", 99);
  g_assert_true (same_data (a.train, b.train));
  g_assert_true (same_data (a.val, b.val));
  g_assert_false (same_data (a.train, c.train));
  g_assert_false (same_data (a.val, c.val));
  g_assert_true (same_data (a.train, d.train));
  /* the splits are different draws */
  g_assert_false (memcmp (a.train->x, a.val->x, sizeof (float) * a.val->n_features * 50) == 0);
  PlRunData *all[] = { &a, &b, &c, &d };
  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    pl_run_data_clear (all[i]);
}

static void
test_layout (void)
{
  PlRunData data = load_ok ("n-train=300\nn-val=50\nimage-size=12\nreport-length=9\n"
                            "positive-rate=0.2\n", 1);
  g_autoptr (GError) error = NULL;
  PlPairedLayout lay;
  g_assert_true (pl_paired_layout_from_dataset (data.train, &lay, &error));
  g_assert_no_error (error);
  g_assert_cmpint (lay.height, ==, 12);
  g_assert_cmpint (lay.width, ==, 12);
  g_assert_cmpint (lay.report_length, ==, 9);
  g_assert_cmpint (lay.vocab_size, ==, 40);
  g_assert_cmpuint (data.train->n_features, ==, 12 * 12 + 9);
  g_assert_cmpint (data.train->sample_shape[0], ==, 1);
  g_assert_cmpint (data.train->sample_shape[1], ==, 12);
  g_assert_cmpstr (data.train->class_names[1], ==, "malignant");
  g_assert_true (pl_paired_layout_check_ids (&lay, data.train, &error));
  g_assert_true (pl_paired_layout_check_ids (&lay, data.val, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (data.train->n, ==, 300);
  g_assert_cmpuint (data.val->n, ==, 50);
  gsize counts[2];
  pl_dataset_class_counts (data.train, counts);
  g_assert_cmpuint (counts[1], ==, 60);
  pl_dataset_class_counts (data.val, counts);
  g_assert_cmpuint (counts[1], ==, 10);
  /* pixels in [0, 1]; the images are not constant; normalize=none kept them */
  float lo = 1, hi = 0;
  for (gsize i = 0; i < data.train->n; i++)
    for (int j = 0; j < 144; j++)
      {
        float v = data.train->x[i * data.train->n_features + j];
        lo = MIN (lo, v);
        hi = MAX (hi, v);
      }
  g_assert_cmpfloat (lo, >=, 0.0f);
  g_assert_cmpfloat (hi, <=, 1.0f);
  g_assert_cmpfloat (hi - lo, >, 0.5f);
  pl_run_data_clear (&data);
}

/* the balanced accuracy (mean recall of the two classes) of score >= thr */
static double
balanced_accuracy (const double *score, const int32_t *y, gsize n, double thr)
{
  gsize tp = 0, tn = 0, np = 0, nn = 0;
  for (gsize i = 0; i < n; i++)
    {
      gboolean pos = score[i] >= thr;
      if (y[i])
        np++, tp += pos;
      else
        nn++, tn += !pos;
    }
  return 0.5 * ((double) tp / MAX (np, 1) + (double) tn / MAX (nn, 1));
}

/* the threshold best on @train, applied to @val */
static double
rule_accuracy (const double *s_train, const PlDataset *train, const double *s_val,
               const PlDataset *val)
{
  double best = -1, thr = 0;
  for (gsize i = 0; i < train->n; i++)
    {
      double a = balanced_accuracy (s_train, train->y, train->n, s_train[i]);
      if (a > best)
        best = a, thr = s_train[i];
    }
  return balanced_accuracy (s_val, val->y, val->n, thr);
}

/* malignant minus benign keywords in each report */
static double *
keyword_scores (const PlDataset *ds)
{
  PlPairedLayout lay;
  g_assert_true (pl_paired_layout_from_dataset (ds, &lay, NULL));
  double *s = g_new0 (double, ds->n);
  for (gsize i = 0; i < ds->n; i++)
    for (int t = 0; t < lay.report_length; t++)
      {
        int id = (int) ds->x[i * ds->n_features + lay.height * lay.width + t];
        s[i] += id >= 32 && id < 36 ? 1 : id >= 36 ? -1 : 0;
      }
  return s;
}

/* the elongation of the bright blob: the ratio of the principal second moments
 * of the pixels of the 3x3-smoothed image above halfway between its median and
 * its maximum */
static double *
elongation_scores (const PlDataset *ds)
{
  PlPairedLayout lay;
  g_assert_true (pl_paired_layout_from_dataset (ds, &lay, NULL));
  int h = lay.height, w = lay.width;
  double *s = g_new0 (double, ds->n);
  g_autofree float *sm = g_new (float, h * w);
  g_autofree float *sorted = g_new (float, h * w);
  for (gsize i = 0; i < ds->n; i++)
    {
      const float *px = ds->x + i * ds->n_features;
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
          {
            double sum = 0;
            int cnt = 0;
            for (int dy = -1; dy <= 1; dy++)
              for (int dx = -1; dx <= 1; dx++)
                if (y + dy >= 0 && y + dy < h && x + dx >= 0 && x + dx < w)
                  sum += px[(y + dy) * w + x + dx], cnt++;
            sm[y * w + x] = (float) (sum / cnt);
          }
      memcpy (sorted, sm, sizeof (float) * h * w);
      for (int a = 1; a < h * w; a++)
        for (int b = a; b > 0 && sorted[b - 1] > sorted[b]; b--)
          {
            float t = sorted[b];
            sorted[b] = sorted[b - 1];
            sorted[b - 1] = t;
          }
      double thr = 0.5 * (sorted[h * w / 2] + sorted[h * w - 1]);
      double m = 0, mx = 0, my = 0, sxx = 0, syy = 0, sxy = 0;
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
          if (sm[y * w + x] > thr)
            m++, mx += x, my += y;
      mx /= m, my /= m;
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
          if (sm[y * w + x] > thr)
            {
              sxx += (x - mx) * (x - mx);
              syy += (y - my) * (y - my);
              sxy += (x - mx) * (y - my);
            }
      double tr = sxx + syy, det = sxx * syy - sxy * sxy;
      double disc = sqrt (MAX (tr * tr / 4 - det, 0.0));
      s[i] = (tr / 2 + disc) / MAX (tr / 2 - disc, 1e-3);
    }
  return s;
}

typedef struct {
  const char *opts;
  double lo, hi;  /* bounds of the balanced accuracy of the rule on val */
} ModalityCase;

static void
check_modality (const ModalityCase *cases, guint n, double *(*scores) (const PlDataset *))
{
  for (guint k = 0; k < n; k++)
    {
      g_autofree char *opts = g_strdup_printf ("n-train=600\nn-val=600\n%s", cases[k].opts);
      PlRunData data = load_ok (opts, 11);
      g_autofree double *st = scores (data.train);
      g_autofree double *sv = scores (data.val);
      double acc = rule_accuracy (st, data.train, sv, data.val);
      g_autofree char *what = g_strchomp (g_strdup (*cases[k].opts ? cases[k].opts
                                                                   : "defaults"));
      g_test_message ("%s: balanced accuracy %.3f", what, acc);
      if (acc < cases[k].lo || acc > cases[k].hi)
        g_error ("%s: balanced accuracy %.3f outside [%.2f, %.2f]", what, acc,
                 cases[k].lo, cases[k].hi);
      pl_run_data_clear (&data);
    }
}

/* the report's keywords tell the class, imperfectly at the default noise */
static void
test_report_informative (void)
{
  static const ModalityCase cases[] = {
    { "", 0.65, 0.92 },                 /* default report-noise 0.25 */
    { "report-noise=0\n", 0.99, 1.0 },  /* every keyword honest */
    { "report-noise=0.5\n", 0.40, 0.60 },
  };
  check_modality (cases, G_N_ELEMENTS (cases), keyword_scores);
}

/* the blob's shape tells the class, imperfectly at the default noise */
static void
test_image_informative (void)
{
  static const ModalityCase cases[] = {
    { "", 0.65, 0.92 },                   /* default image-noise 0.05 */
    { "image-noise=0\n", 0.70, 0.97 },    /* the shapes still overlap */
    { "image-noise=1\n", 0.35, 0.65 },
  };
  check_modality (cases, G_N_ELEMENTS (cases), elongation_scores);
}

static void
test_bad_options (void)
{
  static const struct {
    const char *opts;
    const char *expect[3];
  } cases[] = {
    { "image-size=7\n", { "image-size", "between 8 and 64", "scan.ini:7" } },
    { "report-noise=0.9\n", { "report-noise", "0.5", "synthetic-scan-report" } },
    { "positive-rate=abc\n", { "positive-rate", "scan.ini", NULL } },
    { "n-trian=5\n", { "n-trian", "n-train", NULL } },
  };
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
    {
      g_autoptr (GError) error = NULL;
      PlRunData data = { 0 };
      g_assert_false (load (cases[k].opts, 1, &data, &error));
      g_assert_error (error, PL_ERROR, PL_ERROR_CONFIG);
      for (guint j = 0; j < 3 && cases[k].expect[j]; j++)
        if (!strstr (error->message, cases[k].expect[j]))
          g_error ("%s: \"%s\" lacks \"%s\"", cases[k].opts, error->message,
                   cases[k].expect[j]);
      pl_run_data_clear (&data);
    }
}

/* standard normalization would turn token ids into fractions */
static void
test_normalize_refused (void)
{
  static const char *const texts[] = {
    "[data]\nnormalize=standard\n[dataset]\nplugin=synthetic-scan-report\n",
    "[dataset]\nplugin=synthetic-scan-report\n",  /* standard by default */
  };
  for (guint k = 0; k < G_N_ELEMENTS (texts); k++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PlExperiment) exp = pl_experiment_load_data (texts[k], -1, "n.ini", &error);
      g_assert_no_error (error);
      g_autoptr (PlPluginSelection) sel = pl_plugin_selection_new (engine (), exp, &error);
      g_assert_no_error (error);
      PlRunData data = { 0 };
      g_assert_false (pl_run_data_load (exp, sel, &data, &error));
      g_assert_error (error, PL_ERROR, PL_ERROR_CONFIG);
      g_assert_nonnull (strstr (error->message, "[data] normalize"));
      g_assert_nonnull (strstr (error->message, "normalize = none"));
      if (k == 0)
        g_assert_nonnull (strstr (error->message, "n.ini:2"));
      pl_run_data_clear (&data);
    }
}

/* the layout helpers refuse data that is not paired, naming what is wrong */
static void
test_layout_errors (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PlDataset) digits = pl_dataset_load_builtin ("digits", &error);
  g_assert_no_error (error);
  PlPairedLayout lay;
  g_assert_false (pl_paired_layout_from_dataset (digits, &lay, &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_DATA);
  g_assert_nonnull (strstr (error->message, "digits"));
  g_assert_nonnull (strstr (error->message, "not paired"));
  g_clear_error (&error);

  PlPairedLayout l2 = { 2, 2, 3, 10 };
  g_autoptr (PlDataset) ds = pl_dataset_new (2, 7, 2);
  ds->name = g_strdup ("tiny");
  pl_paired_layout_describe (&l2, ds);
  g_assert_cmpstr (ds->feature_names[4], ==, "report.0:vocab=10");
  g_assert_true (pl_paired_layout_from_dataset (ds, &lay, &error));
  g_assert_cmpint (lay.vocab_size, ==, 10);
  g_assert_cmpint (lay.report_length, ==, 3);
  static const struct { float v; const char *text; } bad[] = {
    { 1.5f, "holds 1.5" }, { 10.0f, "holds 10" }, { -1.0f, "holds -1" }, { NAN, "nan" },
  };
  for (guint k = 0; k < G_N_ELEMENTS (bad); k++)
    {
      ds->x[7 + 6] = bad[k].v;  /* row 1, token 2 */
      g_assert_false (pl_paired_layout_check_ids (&lay, ds, &error));
      g_assert_error (error, PL_ERROR, PL_ERROR_DATA);
      g_assert_nonnull (strstr (error->message, "tiny: row 1: report token 2"));
      g_assert_nonnull (strstr (error->message, bad[k].text));
      g_assert_nonnull (strstr (error->message, "normalize=none"));
      g_clear_error (&error);
    }
  ds->x[7 + 6] = 9.0f;
  g_assert_true (pl_paired_layout_check_ids (&lay, ds, &error));
  /* a renamed token column is not the layout */
  g_free (ds->feature_names[5]);
  ds->feature_names[5] = g_strdup ("report.1:vocab=11");
  g_assert_false (pl_paired_layout_from_dataset (ds, &lay, &error));
  g_assert_nonnull (strstr (error->message, "feature 5"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  pl_test_tmpdir ();
  g_test_add_func ("/plugins/synthetic-scan-report/listed", test_listed);
  g_test_add_func ("/plugins/synthetic-scan-report/determinism", test_determinism);
  g_test_add_func ("/plugins/synthetic-scan-report/layout", test_layout);
  g_test_add_func ("/plugins/synthetic-scan-report/report-informative",
                   test_report_informative);
  g_test_add_func ("/plugins/synthetic-scan-report/image-informative",
                   test_image_informative);
  g_test_add_func ("/plugins/synthetic-scan-report/bad-options", test_bad_options);
  g_test_add_func ("/plugins/synthetic-scan-report/normalize-refused",
                   test_normalize_refused);
  g_test_add_func ("/plugins/synthetic-scan-report/layout-errors", test_layout_errors);
  return g_test_run ();
}
