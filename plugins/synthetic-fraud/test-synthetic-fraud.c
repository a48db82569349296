/* The synthetic-fraud dataset plugin: determinism by seed, the fraud rate, the
 * label fraction, the target's shift, that the features carry the fraud signal,
 * the recall-at-precision report, and the errors of impossible sizes. */
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

static PlExperiment *
experiment (guint64 seed, const char *dataset_lines, const char *extra)
{
  g_autofree char *text = g_strdup_printf (
    "[experiment]\nseed=%" G_GUINT64_FORMAT "\n[data]\nnormalize=none\nval-fraction=0.2\n"
    "[model]\nhidden=32,16\n[train]\nepochs=4\nbatch-size=64\nlr=2e-3\n%s"
    "[dataset]\nplugin=synthetic-fraud\n%s\n", seed, extra ? extra : "", dataset_lines);
  g_autoptr (GError) error = NULL;
  PlExperiment *exp = pl_experiment_load_data (text, -1, "fraud.ini", &error);
  g_assert_no_error (error);
  return exp;
}

/* Loads the splits of @dataset_lines with seed @seed straight from the plugin. */
static void
load (guint64 seed, const char *dataset_lines, PlDataset **train, PlDataset **val)
{
  g_autoptr (PlExperiment) exp = experiment (seed, dataset_lines, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (PlPluginSelection) sel = pl_plugin_selection_new (engine (), exp, &error);
  g_assert_no_error (error);
  GObject *src = pl_plugin_selection_get (sel, PL_SLOT_DATASET);
  g_assert_true (pl_dataset_source_load (PL_DATASET_SOURCE (src), exp, train, val, &error));
  g_assert_no_error (error);
  g_assert_true (pl_dataset_check (*train, &error));
  g_assert_true (pl_dataset_check (*val, &error));
  g_assert_no_error (error);
}

static gboolean
same_data (const PlDataset *a, const PlDataset *b)
{
  return a->n == b->n && a->n_features == b->n_features
         && memcmp (a->x, b->x, a->n * a->n_features * sizeof (float)) == 0
         && memcmp (a->y, b->y, a->n * sizeof (int32_t)) == 0;
}

static gsize
positives (const PlDataset *ds)
{
  gsize n = 0;
  for (gsize i = 0; i < ds->n; i++)
    n += ds->y[i] == 1;
  return n;
}

/* best precision of {score >= t} over thresholds t with recall >= r, by brute force */
static double
brute_precision_at_recall (const float *scores, const int32_t *y, gsize n, double r)
{
  gsize pos = 0;
  for (gsize i = 0; i < n; i++)
    pos += y[i] == 1;
  double best = 0;
  for (gsize t = 0; t < n; t++)
    {
      gsize tp = 0, fp = 0;
      for (gsize i = 0; i < n; i++)
        if (scores[i] >= scores[t])
          {
            tp += y[i] == 1;
            fp += y[i] != 1;
          }
      if (pos && (double) tp / (double) pos >= r)
        best = MAX (best, (double) tp / (double) (tp + fp));
    }
  return best;
}

static void
test_listed (void)
{
  const PlPluginDesc *d = pl_plugin_engine_lookup (engine (), PL_SLOT_DATASET,
                                                   "synthetic-fraud");
  g_assert_nonnull (d);
  g_assert_true (d->loaded);
  g_assert_nonnull (strstr (d->description, "SYNTHETIC"));
}

static void
test_bad_options (void)
{
  struct { const char *name, *value, *expect; } cases[] = {
    { "fraud-rate", "0.9", "0.5" },
    { "label-fraction", "0", "label-fraction" },
    { "split", "both", "source, target" },
    { "shift", "-1", "shift" },
    { "n-target", "10", "n-target" },
    { "precision", "1.5", "precision" },
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (GObject) p = pl_plugin_engine_create (engine (), PL_SLOT_DATASET,
                                                   "synthetic-fraud", &error);
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_assert_false (pl_plugin_set_option (p, "synthetic-fraud", cases[i].name,
                                            cases[i].value, "fraud.ini:9", &error));
      g_assert_error (error, PL_ERROR, PL_ERROR_CONFIG);
      g_test_message ("%s", error->message);
      g_assert_nonnull (strstr (error->message, "fraud.ini:9"));
      g_assert_nonnull (strstr (error->message, "synthetic-fraud"));
      g_assert_nonnull (strstr (error->message, cases[i].expect));
      g_clear_error (&error);
    }
}

/* Same seed, same transactions; another seed, others; seed-offset adds to the seed. */
static void
test_deterministic (void)
{
  const char *lines = "n-source=3000";
  g_autoptr (PlDataset) t1 = NULL, v1 = NULL, t2 = NULL, v2 = NULL, t3 = NULL, v3 = NULL;
  g_autoptr (PlDataset) t4 = NULL, v4 = NULL;
  load (5, lines, &t1, &v1);
  load (5, lines, &t2, &v2);
  load (6, lines, &t3, &v3);
  load (5, "n-source=3000\nseed-offset=1", &t4, &v4);
  g_assert_true (same_data (t1, t2));
  g_assert_true (same_data (v1, v2));
  g_assert_false (same_data (t1, t3));
  g_assert_true (same_data (t3, t4));
  g_assert_true (same_data (v3, v4));
  g_assert_cmpuint (t1->n_features, ==, 13);
  g_assert_cmpstr (t1->feature_names[1], ==, "amount_z");
  g_assert_cmpstr (t1->class_names[1], ==, "fraud");
  g_assert_cmpuint (v1->n, ==, 600);
  g_assert_cmpuint (t1->n, ==, 2400);
}

/* The share of fraud in a population is fraud-rate within 4 binomial standard
 * deviations. */
static void
test_fraud_rate (void)
{
  const double rates[] = { 0.02, 0.005, 0.1 };
  for (guint i = 0; i < G_N_ELEMENTS (rates); i++)
    for (int target = 0; target < 2; target++)
      {
        g_autofree char *lines = g_strdup_printf (
          "n-source=20000\nn-target=20000\nlabel-fraction=1\nsplit=%s\nfraud-rate=%g",
          target ? "target" : "source", rates[i]);
        g_autoptr (PlDataset) train = NULL, val = NULL;
        load (17, lines, &train, &val);
        gsize n = train->n + val->n;
        double got = (double) (positives (train) + positives (val)) / (double) n;
        double sd = sqrt (rates[i] * (1 - rates[i]) / (double) n);
        g_test_message ("%s rate %g: %g (sd %g)", target ? "target" : "source", rates[i], got,
                        sd);
        g_assert_cmpuint (n, ==, 20000);
        g_assert_cmpfloat (fabs (got - rates[i]), <, 4 * sd);
      }
}

/* On the target only label-fraction of the training rows are returned; validation
 * keeps every row. */
static void
test_label_fraction (void)
{
  struct { double fraction; gsize train; } cases[] = {
    { 0.01, 160 }, { 0.05, 800 }, { 0.333, 5328 }, { 1.0, 16000 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *lines = g_strdup_printf ("split=target\nn-target=20000\n"
                                                "label-fraction=%g", cases[i].fraction);
      g_autoptr (PlDataset) train = NULL, val = NULL;
      load (8, lines, &train, &val);
      g_assert_cmpuint (train->n, ==, cases[i].train);
      g_assert_cmpuint (val->n, ==, 4000);
    }
  /* the labelled rows are a subset of the full training part */
  g_autoptr (PlDataset) few = NULL, fv = NULL, all = NULL, av = NULL;
  load (8, "split=target\nn-target=20000\nlabel-fraction=0.01", &few, &fv);
  load (8, "split=target\nn-target=20000\nlabel-fraction=1", &all, &av);
  g_assert_true (same_data (fv, av));
  gsize found = 0;
  for (gsize i = 0, j = 0; i < few->n && j < all->n; j++)
    if (memcmp (few->x + i * 13, all->x + j * 13, 13 * sizeof (float)) == 0)
      {
        g_assert_cmpint (few->y[i], ==, all->y[j]);
        found++;
        i++;
      }
  g_assert_cmpuint (found, ==, few->n);
}

static double
column_mean (const PlDataset *ds, int col)
{
  double s = 0;
  for (gsize i = 0; i < ds->n; i++)
    s += ds->x[i * ds->n_features + col];
  return s / (double) ds->n;
}

/* The target differs from the source by `shift`: larger amounts, more velocity. */
static void
test_shift (void)
{
  g_autoptr (PlDataset) st = NULL, sv = NULL, t0 = NULL, v0 = NULL, t1 = NULL, v1 = NULL;
  load (4, "n-source=20000", &st, &sv);
  load (4, "split=target\nn-target=20000\nlabel-fraction=1\nshift=0", &t0, &v0);
  load (4, "split=target\nn-target=20000\nlabel-fraction=1\nshift=1", &t1, &v1);
  double amount_s = column_mean (st, 0), amount_0 = column_mean (t0, 0);
  double amount_1 = column_mean (t1, 0);
  g_test_message ("log amount: source %g, target shift 0 %g, shift 1 %g", amount_s, amount_0,
                  amount_1);
  g_assert_cmpfloat (fabs (amount_0 - amount_s), <, 0.12);
  g_assert_cmpfloat (amount_1 - amount_s, >, 0.35);
  g_assert_cmpfloat (column_mean (t1, 7), >, column_mean (st, 7) + 0.05);
}

/* Through the engine: an MLP learns fraud from the features far above chance
 * (PR-AUC of a random ranking is the fraud rate), stays under the oracle's ceiling,
 * and with signal = 0 (labels independent of the features) it cannot. The
 * recall-at-precision report equals a recomputation from the model's scores. */
static void
test_features_informative (void)
{
  struct { const char *lines; double min_pr_auc, max_pr_auc; } cases[] = {
    { "n-source=8000", 0.5, 1.0 },
    { "n-source=8000\nsignal=0", 0.0, 0.08 },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autoptr (PlExperiment) exp = experiment (21, cases[c].lines, NULL);
      g_autoptr (GError) error = NULL;
      g_autoptr (PlPluginSelection) sel = pl_plugin_selection_new (engine (), exp, &error);
      g_assert_no_error (error);
      g_autoptr (PlRun) run = pl_run_new_with_plugins (exp, NULL, sel, &error);
      g_assert_no_error (error);
      g_assert_true (pl_run_execute (run, &error));
      g_assert_no_error (error);
      double pr = pl_run_get_metric (run, "val/pr_auc");
      double oracle = pl_run_get_metric (run, "data/oracle_pr_auc");
      double recall = pl_run_get_metric (run, "val/recall_at_p90");
      g_test_message ("%s: val/pr_auc %g, oracle %g, recall@p90 %g, roc %g", cases[c].lines,
                      pr, oracle, recall, pl_run_get_metric (run, "val/roc_auc"));
      g_assert_cmpfloat (pr, >=, cases[c].min_pr_auc);
      g_assert_cmpfloat (pr, <=, cases[c].max_pr_auc);
      g_assert_cmpfloat (pr, <=, oracle + 0.05);

      const PlDataset *val = pl_run_get_data (run)->val;
      g_autofree float *scores = g_new (float, val->n);
      g_autofree uint32_t *scratch = g_new (uint32_t, val->n);
      g_assert_true (pl_model_predict_scores (pl_run_get_model (run), val, 1, scores, &error));
      g_assert_cmpfloat (recall, ==,
                         pl_metrics_recall_at_precision (scores, val->y, val->n, scratch, 0.9));
      double prec = pl_run_get_metric (run, "val/precision_at_r95");
      g_test_message ("precision at 95%% recall %g (oracle %g)", prec,
                      pl_run_get_metric (run, "data/oracle_precision_at_r95"));
      pl_assert_close (prec, brute_precision_at_recall (scores, val->y, val->n, 0.95), 1e-12,
                       1e-12);
      g_assert_cmpfloat (pl_run_get_metric (run, "data/oracle_precision_at_r95"), >=,
                         (double) positives (val) / (double) val->n);
      g_assert_cmpfloat (pl_run_get_metric (run, "data/train_frauds"), ==,
                         (double) positives (pl_run_get_data (run)->train));
      g_assert_cmpfloat (pl_run_get_metric (run, "data/val_frauds"), ==,
                         (double) positives (val));
    }
}

/* precision = 0.8 reports val/recall_at_p80, which is at least the recall at 0.9 */
static void
test_precision_option (void)
{
  g_autoptr (PlExperiment) exp = experiment (21, "n-source=4000\nprecision=0.8",
                                             "max-steps=60\n");
  g_autoptr (GError) error = NULL;
  g_autoptr (PlPluginSelection) sel = pl_plugin_selection_new (engine (), exp, &error);
  g_autoptr (PlRun) run = pl_run_new_with_plugins (exp, NULL, sel, &error);
  g_assert_no_error (error);
  g_assert_true (pl_run_execute (run, &error));
  double r80 = pl_run_get_metric (run, "val/recall_at_p80");
  g_assert_false (isnan (r80));
  g_assert_true (isnan (pl_run_get_metric (run, "val/recall_at_p90")));
  const PlDataset *val = pl_run_get_data (run)->val;
  g_autofree float *scores = g_new (float, val->n);
  g_autofree uint32_t *scratch = g_new (uint32_t, val->n);
  g_assert_true (pl_model_predict_scores (pl_run_get_model (run), val, 1, scores, &error));
  g_assert_cmpfloat (r80, >=,
                     pl_metrics_recall_at_precision (scores, val->y, val->n, scratch, 0.9));
  g_assert_false (isnan (pl_run_get_metric (run, "data/oracle_recall_at_p80")));
}

/* Sizes that leave a split empty are errors that name the options to change. */
static void
test_impossible_sizes (void)
{
  struct { const char *lines; const char *extra; const char *expect[3]; } cases[] = {
    { "split=target\nn-target=1000\nlabel-fraction=0.0001", NULL,
      { "bad.ini:9: ", "label-fraction", "n-target" } },
    { "n-source=100", "[data]\nval-fraction=0.001\n", { "bad.ini:9: ", "n-source", "validation" } },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autofree char *text = g_strdup_printf (
        "[experiment]\nseed=1\n[model]\nhidden=8\n%s[dataset]\nplugin=synthetic-fraud\n%s\n",
        cases[c].extra ? cases[c].extra : "", cases[c].lines);
      g_autoptr (GError) error = NULL;
      g_autoptr (PlExperiment) exp = pl_experiment_load_data (text, -1, "bad.ini", &error);
      g_assert_no_error (error);
      g_autoptr (PlPluginSelection) sel = pl_plugin_selection_new (engine (), exp, &error);
      g_assert_no_error (error);
      g_autoptr (PlRun) run = pl_run_new_with_plugins (exp, NULL, sel, &error);
      g_assert_null (run);
      g_assert_error (error, PL_ERROR, PL_ERROR_CONFIG);
      g_test_message ("%s", error->message);
      for (int k = 0; k < 3; k++)
        g_assert_nonnull (strstr (error->message, cases[c].expect[k]));
    }
}

/* The scenario's presets load and choose the right plugins. */
static void
test_presets (void)
{
  struct { const char *file, *split, *arch; } cases[] = {
    { "fraud-pretrain.ini", "source", NULL },
    { "fraud-adapter-1pct.ini", "target", "adapter" },
    { "fraud-scratch-1pct.ini", "target", NULL },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autofree char *path = g_build_filename (pl_test_srcdir (), "data", "experiments",
                                                cases[c].file, NULL);
      g_autoptr (GError) error = NULL;
      g_autoptr (PlExperiment) exp = pl_experiment_load_file (path, &error);
      g_assert_no_error (error);
      g_assert_true (pl_experiment_validate (exp, &error));
      g_autoptr (PlPluginSelection) sel = pl_plugin_selection_new (engine (), exp, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (pl_plugin_selection_get_id (sel, PL_SLOT_DATASET), ==,
                       "synthetic-fraud");
      g_assert_cmpstr (pl_plugin_selection_get_id (sel, PL_SLOT_ARCH), ==, cases[c].arch);
      g_assert_cmpstr (pl_experiment_get_raw (exp, "dataset", "split"), ==, cases[c].split);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  pl_test_tmpdir ();
  g_test_add_func ("/plugins/synthetic-fraud/listed", test_listed);
  g_test_add_func ("/plugins/synthetic-fraud/bad-options", test_bad_options);
  g_test_add_func ("/plugins/synthetic-fraud/deterministic", test_deterministic);
  g_test_add_func ("/plugins/synthetic-fraud/fraud-rate", test_fraud_rate);
  g_test_add_func ("/plugins/synthetic-fraud/label-fraction", test_label_fraction);
  g_test_add_func ("/plugins/synthetic-fraud/shift", test_shift);
  g_test_add_func ("/plugins/synthetic-fraud/features-informative", test_features_informative);
  g_test_add_func ("/plugins/synthetic-fraud/precision-option", test_precision_option);
  g_test_add_func ("/plugins/synthetic-fraud/impossible-sizes", test_impossible_sizes);
  g_test_add_func ("/plugins/synthetic-fraud/presets", test_presets);
  return g_test_run ();
}
