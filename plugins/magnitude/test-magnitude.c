/* The magnitude criterion: scores, the hard threshold, options, and a one-shot
 * run on digits. */
#include <math.h>
#include <string.h>

#include "../pruning-test-util.h"

static void
test_listed (void)
{
  const PlPluginDesc *d = pl_plugin_engine_lookup (pt_engine (), PL_SLOT_PRUNE_CRITERION,
                                                   "magnitude");
  g_assert_nonnull (d);
  g_assert_true (d->loaded);
  g_assert_null (d->error);
  g_autoptr (GObject) p = pl_plugin_engine_create (pt_engine (), PL_SLOT_PRUNE_CRITERION,
                                                   "magnitude", NULL);
  g_assert_true (PL_IS_PRUNING_CRITERION (p));
  g_autoptr (GPtrArray) opts = pl_plugin_list_options (p);
  g_assert_cmpuint (opts->len, ==, 1);
  g_assert_cmpstr (g_param_spec_get_name (opts->pdata[0]), ==, "threshold");
}

/* score = |w|; with a threshold, -inf below it */
static void
test_scores (void)
{
  static const struct {
    const char *threshold;
    float w[6];
    float expect[6];
  } cases[] = {
    { "0", { 0.5f, -0.25f, 0.0f, -2.0f, 0.004f, -0.009f },
      { 0.5f, 0.25f, 0.0f, 2.0f, 0.004f, 0.009f } },
    { "0.01", { 0.5f, -0.25f, 0.0f, -2.0f, 0.004f, -0.01f },
      { 0.5f, 0.25f, -INFINITY, 2.0f, -INFINITY, 0.01f } },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autofree char *extra = g_strdup_printf ("[prune]\ncriterion=magnitude\n"
                                                "schedule=one-shot\nthreshold=%s\n",
                                                cases[c].threshold);
      g_autoptr (GError) error = NULL;
      g_autoptr (PtRun) r = pt_run_new (extra, &error);
      g_assert_no_error (error);
      PlParam *w = pl_model_lookup_param (pl_run_get_model (r->run), "hidden.0.weight");
      memcpy (w->data, cases[c].w, sizeof cases[c].w);
      g_autofree float *s = g_new (float, w->numel);
      g_assert_true (pl_pruning_criterion_score (PL_PRUNING_CRITERION (pt_criterion (r)),
                                                 r->run, w, s, &error));
      g_assert_no_error (error);
      for (int j = 0; j < 6; j++)
        g_assert_cmpfloat (s[j], ==, cases[c].expect[j]);
    }
}

/* Through the pruner: per layer exactly round(s n) weights go, and they are the
 * smallest; a threshold removes everything below it even beyond the target. */
static void
test_prune (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PtRun) r = pt_run_new ("[prune]\ncriterion=magnitude\nschedule=one-shot\n", &error);
  g_assert_no_error (error);
  PlModel *m = pl_run_get_model (r->run);
  g_autofree float *before = g_memdup2 (pl_model_get_params (m),
                                        sizeof (float) * pl_model_get_n_floats (m));
  g_autoptr (PlPruner) pr = pl_pruner_new (r->run, PL_PRUNING_CRITERION (pt_criterion (r)));
  g_assert_true (pl_pruner_prune_to (pr, 0.3, PL_PRUNE_SCOPE_LAYER, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (pl_pruner_get_target (pr), ==, 0.3);
  for (guint i = 0; i < pl_model_get_n_params (m); i++)
    {
      PlParam *p = pl_model_get_param (m, i);
      if (p->kind != PL_PARAM_WEIGHT)
        {
          g_assert_cmpfloat (pt_param_sparsity (p), ==, 0.0);
          continue;
        }
      const float *w0 = before + p->offset;
      size_t zeros = 0;
      float pruned_max = 0.0f, kept_min = INFINITY;
      for (size_t j = 0; j < p->numel; j++)
        {
          zeros += p->mask[j] == 0.0f;
          if (p->mask[j] == 0.0f)
            pruned_max = MAX (pruned_max, fabsf (w0[j]));
          else
            kept_min = MIN (kept_min, fabsf (w0[j]));
        }
      g_assert_cmpuint (zeros, ==, (size_t) llround (0.3 * p->numel));
      g_assert_cmpfloat (pl_pruner_get_sparsity (pr, p), ==, (double) zeros / p->numel);
      g_assert_cmpfloat (pruned_max, <=, kept_min);
    }
  pt_assert_masked_zero (m);
  g_assert_cmpfloat (pl_run_get_metric (r->run, "sparsity/total"), ==,
                     pl_pruner_get_sparsity (pr, NULL));
  g_assert_false (isnan (pl_run_get_metric (r->run, "sparsity/hidden.0.weight")));
}

/* threshold: weights below it go at any prune, even past the target; above the
 * target's count the lowest fraction still decides */
static void
test_threshold_beyond_target (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PtRun) r = pt_run_new ("[prune]\ncriterion=magnitude\nschedule=one-shot\n"
                                    "threshold=0.05\n", &error);
  g_assert_no_error (error);
  PlModel *m = pl_run_get_model (r->run);
  size_t below = 0, total = 0;
  for (guint i = 0; i < pl_model_get_n_params (m); i++)
    {
      PlParam *p = pl_model_get_param (m, i);
      if (p->kind != PL_PARAM_WEIGHT)
        continue;
      for (size_t j = 0; j < p->numel; j++)
        below += fabsf (p->data[j]) < 0.05f;
      total += p->numel;
    }
  double frac = (double) below / (double) total;
  /* PyTorch's default init of 64->32->16->10: a sizeable share under 0.05 */
  g_assert_cmpfloat (frac, >, 0.15);
  g_assert_cmpfloat (frac, <, 0.6);
  g_autoptr (PlPruner) pr = pl_pruner_new (r->run, PL_PRUNING_CRITERION (pt_criterion (r)));
  g_assert_true (pl_pruner_prune_to (pr, 0.05, PL_PRUNE_SCOPE_GLOBAL, &error));
  pl_assert_close (pl_pruner_get_sparsity (pr, NULL), frac, 1e-12, 0);
  g_assert_true (pl_pruner_prune_to (pr, 0.7, PL_PRUNE_SCOPE_GLOBAL, &error));
  pl_assert_close (pl_pruner_get_sparsity (pr, NULL), 0.7, 0.5 / total, 0);
  pt_assert_masked_zero (m);
}

/* The pruner's selection (pl-pruner.c: only the scores that are not already -inf
 * ranked, by a radix select on the float bits, then the ties at the threshold in
 * position order) against a reference written from its definition: rank all
 * scores (masked ones and threshold ones as -inf) by (score, position) with a
 * stable sort and mask the first max(k, count of -inf). Weights with many ties
 * (multiples of 1/16, both zeros, signs), large and subnormal values; rising
 * targets so later prunes start with most scores at -inf; layer and global. */
typedef struct {
  float score;
  size_t pos;
} RefItem;

static int
ref_item_cmp (const void *a, const void *b)
{
  const RefItem *x = a, *y = b;
  if (x->score < y->score)
    return -1;
  if (x->score > y->score)
    return 1;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* mask (n) of the reference for the scores of weights w under mask m0 */
static void
ref_mask_lowest (const float *w, const float *m0, float *mask, size_t n, double sparsity,
                 float thr_crit)
{
  RefItem *it = g_new (RefItem, n);
  size_t forced = 0;
  for (size_t j = 0; j < n; j++)
    {
      float a = fabsf (w[j]);
      float sc = a < thr_crit ? -INFINITY : a;
      if (m0[j] == 0.0f || isnan (sc))
        sc = -INFINITY;
      forced += sc == -INFINITY;
      it[j] = (RefItem) { sc, j };
    }
  qsort (it, n, sizeof *it, ref_item_cmp);
  size_t k = MAX ((size_t) llround (sparsity * (double) n), forced);
  for (size_t j = 0; j < n; j++)
    mask[j] = m0[j];
  for (size_t j = 0; j < MIN (k, n); j++)
    mask[it[j].pos] = 0.0f;
  g_free (it);
}

static void
fill_tied (float *w, size_t n, guint32 seed, int variant)
{
  GRand *rng = g_rand_new_with_seed (seed);
  for (size_t j = 0; j < n; j++)
    {
      double u = g_rand_double (rng);
      float v;
      if (variant == 0)
        v = (float) g_rand_int_range (rng, -24, 25) / 16.0f;   /* many ties */
      else if (u < 0.05)
        v = (g_rand_boolean (rng) ? -1.0f : 1.0f) * 1e-40f;   /* subnormal */
      else if (u < 0.1)
        v = g_rand_boolean (rng) ? -0.0f : 0.0f;
      else if (u < 0.12)
        v = (g_rand_boolean (rng) ? -1.0f : 1.0f) * 3e30f;
      else
        v = (float) g_rand_double_range (rng, -1.0, 1.0);
      w[j] = v;
    }
  g_rand_free (rng);
}

static void
check_against_reference (PlPruneScope scope, const char *threshold, int variant)
{
  g_autofree char *extra = g_strdup_printf ("[prune]\ncriterion=magnitude\nschedule=one-shot\n"
                                            "threshold=%s\n", threshold);
  g_autoptr (GError) error = NULL;
  g_autoptr (PtRun) r = pt_run_new (extra, &error);
  g_assert_no_error (error);
  PlModel *m = pl_run_get_model (r->run);
  const float thr_crit = (float) g_ascii_strtod (threshold, NULL);
  g_autoptr (GPtrArray) ws = g_ptr_array_new ();
  size_t total = 0;
  for (guint i = 0; i < pl_model_get_n_params (m); i++)
    {
      PlParam *p = pl_model_get_param (m, i);
      if (p->kind != PL_PARAM_WEIGHT || p->frozen)
        continue;
      fill_tied (p->data, p->numel, 17 + i + 100 * variant, variant);
      g_ptr_array_add (ws, p);
      total += p->numel;
    }
  g_autoptr (PlPruner) pr = pl_pruner_new (r->run, PL_PRUNING_CRITERION (pt_criterion (r)));
  /* some weights masked before the first prune (as a resumed or shared mask) */
  PlParam *first = ws->pdata[0];
  for (size_t j = 0; j < first->numel; j += 7)
    first->mask[j] = 0.0f;
  pl_model_apply_masks (m);
  static const double targets[] = { 0.0, 0.03, 0.1, 0.3, 0.3, 0.5, 0.62, 0.8, 0.9, 0.97, 1.0 };
  g_autofree float *flat_w = g_new (float, total);
  g_autofree float *flat_m0 = g_new (float, total);
  g_autofree float *flat_ref = g_new (float, total);
  for (guint t = 0; t < G_N_ELEMENTS (targets); t++)
    {
      /* the reference from the state before this prune */
      size_t off = 0;
      for (guint i = 0; i < ws->len; i++)
        {
          PlParam *p = ws->pdata[i];
          memcpy (flat_w + off, p->data, p->numel * sizeof (float));
          memcpy (flat_m0 + off, p->mask, p->numel * sizeof (float));
          if (scope == PL_PRUNE_SCOPE_LAYER)
            ref_mask_lowest (flat_w + off, flat_m0 + off, flat_ref + off, p->numel,
                             targets[t], thr_crit);
          off += p->numel;
        }
      if (scope == PL_PRUNE_SCOPE_GLOBAL)
        ref_mask_lowest (flat_w, flat_m0, flat_ref, total, targets[t], thr_crit);
      g_assert_true (pl_pruner_prune_to (pr, targets[t], scope, &error));
      g_assert_no_error (error);
      off = 0;
      for (guint i = 0; i < ws->len; i++)
        {
          PlParam *p = ws->pdata[i];
          for (size_t j = 0; j < p->numel; j++)
            {
              if (p->mask[j] != flat_ref[off + j])
                g_error ("scope %d thr %s variant %d target %g: %s[%zu] mask %g, "
                         "reference %g (w %g)", scope, threshold, variant, targets[t],
                         p->name, j, p->mask[j], flat_ref[off + j], flat_w[off + j]);
              g_assert_true (memcmp (&p->data[j], &(float) { flat_w[off + j] * flat_ref[off + j] },
                                     sizeof (float)) == 0);
            }
          off += p->numel;
        }
    }
}

static void
test_prune_reference (void)
{
  for (int variant = 0; variant < 2; variant++)
    {
      check_against_reference (PL_PRUNE_SCOPE_LAYER, "0", variant);
      check_against_reference (PL_PRUNE_SCOPE_GLOBAL, "0", variant);
      check_against_reference (PL_PRUNE_SCOPE_LAYER, "0.25", variant);
      check_against_reference (PL_PRUNE_SCOPE_GLOBAL, "0.25", variant);
    }
}

static void
test_bad_options (void)
{
  static const struct {
    const char *extra;
    const char *key;
    const char *expect;
  } cases[] = {
    { "[prune]\ncriterion=magnitude\nschedule=one-shot\nthreshold=-1\n", "threshold=",
      "plugin magnitude option threshold: expected a number between 0 and 1000000, got \"-1\"" },
    { "[prune]\ncriterion=magnitude\nschedule=one-shot\nthreshold=small\n", "threshold=",
      "expected a number between 0 and 1000000, got \"small\"" },
    { "[prune]\ncriterion=magnitude\nschedule=one-shot\nthreshhold=0.1\n", "threshhold=",
      "has no option \"threshhold\"" },
    { "[prune]\ncriterion=magnitude\n", "criterion=", "a criterion needs a schedule" },
    { "[prune]\ncriterion=magnitud\nschedule=one-shot\n", "criterion=",
      "no prune-criterion plugin called \"magnitud\"" },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PtRun) r = pt_run_new (cases[c].extra, &error);
      g_assert_null (r);
      g_assert_error (error, PL_ERROR, PL_ERROR_CONFIG);
      g_autofree char *where = g_strdup_printf ("x.ini:%d",
                                                pt_line_of (cases[c].extra, cases[c].key));
      if (!strstr (error->message, where) || !strstr (error->message, cases[c].expect))
        g_error ("case %u: \"%s\" lacks \"%s\" or \"%s\"", c, error->message, where,
                 cases[c].expect);
    }
}

/* One-shot by magnitude half-way through a 3-epoch run: each layer at exactly 50%
 * afterwards, the pruned weights zero, and the model still classifies. */
static void
test_one_shot_run (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PtRun) r = pt_run_new ("[train]\nepochs=3\n[prune]\ncriterion=magnitude\n"
                                    "schedule=one-shot\nfinal-sparsity=0.5\n", &error);
  g_assert_no_error (error);
  g_assert_true (pl_run_execute (r->run, &error));
  g_assert_no_error (error);
  gint64 total = pl_run_get_total_steps (r->run);
  g_assert_cmpint (total, ==, 135);
  g_assert_cmpuint (r->total->len, ==, total);
  /* before step 68 (half of 135, rounded) dense, from it on 50% */
  for (guint i = 0; i < r->total->len; i++)
    {
      double s = g_array_index (r->total, double, i);
      if (i + 1 < 68)
        g_assert_cmpfloat (s, ==, 0.0);
      else
        pl_assert_close (s, 0.5, 1e-3, 0);
    }
  PlModel *m = pl_run_get_model (r->run);
  for (guint i = 0; i < pl_model_get_n_params (m); i++)
    {
      PlParam *p = pl_model_get_param (m, i);
      if (p->kind == PL_PARAM_WEIGHT)
        pl_assert_close (pt_param_sparsity (p), 0.5, 0.5 / p->numel, 0);
    }
  pt_assert_masked_zero (m);
  g_assert_cmpfloat (pl_run_get_metric (r->run, "val/acc"), >, 0.85);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  pl_test_tmpdir ();
  g_test_add_func ("/plugins/magnitude/listed", test_listed);
  g_test_add_func ("/plugins/magnitude/scores", test_scores);
  g_test_add_func ("/plugins/magnitude/prune", test_prune);
  g_test_add_func ("/plugins/magnitude/threshold-beyond-target", test_threshold_beyond_target);
  g_test_add_func ("/plugins/magnitude/prune-reference", test_prune_reference);
  g_test_add_func ("/plugins/magnitude/bad-options", test_bad_options);
  g_test_add_func ("/plugins/magnitude/one-shot-run", test_one_shot_run);
  return g_test_run ();
}
