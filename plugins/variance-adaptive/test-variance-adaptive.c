/* The variance-adaptive lr policy: the article's rule on hand-made gradient
 * sequences, clamping, frozen parameters, no allocation in steps, and runs on
 * digits through the engine. */
#include <math.h>
#include <string.h>

#include "paramlab.h"
#include "pl-test-util.h"
#include "pl-state-test-util.h"

/* ---- allocation counting (as tests/test-model.c) --------------------------- */
#if defined(__SANITIZE_ADDRESS__)
#define PL_COUNT_ALLOCS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PL_COUNT_ALLOCS 0
#endif
#endif
#ifndef PL_COUNT_ALLOCS
#define PL_COUNT_ALLOCS 1
#endif

#if PL_COUNT_ALLOCS
extern void *__libc_malloc (size_t);
extern void *__libc_calloc (size_t, size_t);
extern void *__libc_realloc (void *, size_t);
extern void *__libc_memalign (size_t, size_t);
extern void __libc_free (void *);
static volatile gint alloc_count;
void *malloc (size_t n) { g_atomic_int_inc (&alloc_count); return __libc_malloc (n); }
void *calloc (size_t a, size_t b) { g_atomic_int_inc (&alloc_count); return __libc_calloc (a, b); }
void *realloc (void *p, size_t n) { g_atomic_int_inc (&alloc_count); return __libc_realloc (p, n); }
void free (void *p) { if (p) g_atomic_int_inc (&alloc_count); __libc_free (p); }
int posix_memalign (void **p, size_t a, size_t n)
{
  g_atomic_int_inc (&alloc_count);
  *p = __libc_memalign (a, n);
  return *p ? 0 : 12;
}
void *aligned_alloc (size_t a, size_t n) { g_atomic_int_inc (&alloc_count); return __libc_memalign (a, n); }
void *memalign (size_t a, size_t n) { g_atomic_int_inc (&alloc_count); return __libc_memalign (a, n); }
#endif

static PlPluginEngine *
engine (void)
{
  static PlPluginEngine *e;
  if (!e)
    e = pl_plugin_engine_new ();
  return e;
}

/* A run of a small digits MLP with [lr-policy] plugin=variance-adaptive and the
 * extra lines @policy (and @extra anywhere else). */
typedef struct {
  PlExperiment *exp;
  PlPluginSelection *sel;
  PlRun *run;
} Fixture;

static void
fixture_clear (Fixture *f)
{
  g_clear_pointer (&f->run, pl_run_free);
  g_clear_pointer (&f->sel, pl_plugin_selection_free);
  g_clear_pointer (&f->exp, pl_experiment_unref);
}

static void
fixture_init (Fixture *f, const char *policy, const char *extra)
{
  g_autofree char *text = g_strdup_printf (
    "[experiment]\nseed=3\n[data]\ndataset=digits\n[model]\nhidden=4\n"
    "[train]\nepochs=1\nbatch-size=64\nlr=0.01\nschedule=constant\nwarmup-steps=0\n%s\n"
    "[lr-policy]\nplugin=variance-adaptive\n%s\n", extra ? extra : "", policy);
  g_autoptr (GError) error = NULL;
  f->exp = pl_experiment_load_data (text, -1, "va.ini", &error);
  g_assert_no_error (error);
  f->sel = pl_plugin_selection_new (engine (), f->exp, &error);
  g_assert_no_error (error);
  f->run = pl_run_new_with_plugins (f->exp, NULL, f->sel, &error);
  g_assert_no_error (error);
}

static PlLrPolicy *
fixture_policy (Fixture *f)
{
  return PL_LR_POLICY (pl_plugin_selection_get (f->sel, PL_SLOT_LR_POLICY));
}

/* The hand-made gradient of element j at step s, the same in every tensor:
 * j % 3 == 0 constant 0.3 (variance 0), 1 alternating +-0.1 (small variance),
 * 2 alternating +-1 (large variance). */
static float
hand_gradient (size_t j, gint64 s)
{
  float sign = s % 2 ? -1.0f : 1.0f;
  switch (j % 3)
    {
    case 0: return 0.3f;
    case 1: return 0.1f * sign;
    default: return sign;
    }
}

static void
feed (Fixture *f, float *scale, gint64 from, gint64 to)
{
  PlModel *m = pl_run_get_model (f->run);
  for (gint64 s = from; s < to; s++)
    {
      for (guint i = 0; i < pl_model_get_n_params (m); i++)
        {
          PlParam *p = pl_model_get_param (m, i);
          for (size_t j = 0; j < p->numel; j++)
            p->grad[j] = hand_gradient (j, s);
        }
      pl_lr_policy_adjust (fixture_policy (f), f->run, scale, s);
    }
}

/* s after k applications of factor, clamped each time, as the rule computes it */
static float
expected_scale (double factor, int k, double lo, double hi)
{
  float s = 1.0f;
  for (int i = 0; i < k; i++)
    s = (float) CLAMP (s * factor, lo, hi);
  return s;
}

static void
test_listed (void)
{
  const PlPluginDesc *d = pl_plugin_engine_lookup (engine (), PL_SLOT_LR_POLICY,
                                                   "variance-adaptive");
  g_assert_nonnull (d);
  g_assert_true (d->loaded);
  g_assert_null (d->error);
}

static void
test_bad_options (void)
{
  struct { const char *name, *value, *expect; } cases[] = {
    { "interval", "0", "interval" },
    { "shrink", "1.5", "shrink" },
    { "grow", "0.5", "grow" },
    { "min-scale", "2", "min-scale" },
    { "beta", "1", "beta" },
    { "granularity", "layer", "element" },
    { "threshold-mode", "mean", "median" },
    { "thresold", "1", "threshold" },
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (GObject) p = pl_plugin_engine_create (engine (), PL_SLOT_LR_POLICY,
                                                   "variance-adaptive", &error);
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_assert_false (pl_plugin_set_option (p, "variance-adaptive", cases[i].name,
                                            cases[i].value, "va.ini:7", &error));
      g_assert_error (error, PL_ERROR, PL_ERROR_CONFIG);
      g_test_message ("%s=%s: %s", cases[i].name, cases[i].value, error->message);
      g_assert_nonnull (strstr (error->message, "va.ini:7"));
      g_assert_nonnull (strstr (error->message, "variance-adaptive"));
      g_assert_nonnull (strstr (error->message, cases[i].expect));
      g_clear_error (&error);
    }
}

/* The rule on hand-made gradients: after k intervals every scale is exactly
 * shrink^k or grow^k (clamped), by the variance class of its element. */
static void
test_rule_exact (void)
{
  struct {
    const char *policy;
    int k;
    double f0, f1, f2;   /* factor per interval for element classes 0, 1, 2 */
  } cases[] = {
    /* small alternation (variance ~0.004 .. 0.01) is under 0.1, large (~0.3 .. 1) over */
    { "interval=5\nthreshold=0.1\nmin-scale=0.01\nmax-scale=100", 3, 0.9, 0.9, 1.1 },
    /* 0.001 is under both alternations' variances */
    { "interval=5\nthreshold=0.001\nmin-scale=0.01\nmax-scale=100", 3, 0.9, 1.1, 1.1 },
    /* the median variance is the small alternation's: 1.5x it splits small and large */
    { "interval=5\nthreshold=1.5\nthreshold-mode=median\nmin-scale=0.01\nmax-scale=100", 4,
      0.9, 0.9, 1.1 },
    /* clamping: 0.9^10 and 1.1^10 leave [0.5, 1.5] */
    { "interval=5\nthreshold=0.1\nmin-scale=0.5\nmax-scale=1.5", 10, 0.9, 0.9, 1.1 },
    /* other factors, interval 1 */
    { "interval=1\nthreshold=0.1\nshrink=0.5\ngrow=2\nmin-scale=0.001\nmax-scale=1000", 6,
      0.5, 0.5, 2.0 },
  };
  /* with interval 1 the first step only starts the statistics (a variance needs two
   * gradients): k intervals are k - 1 applications */
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      Fixture f = { 0 };
      fixture_init (&f, cases[c].policy, NULL);
      GObject *pol = G_OBJECT (fixture_policy (&f));
      int interval;
      double lo, hi;
      g_object_get (pol, "interval", &interval, "min-scale", &lo, "max-scale", &hi, NULL);
      PlModel *m = pl_run_get_model (f.run);
      float *scale = pl_optimizer_get_lr_scale (pl_run_get_optimizer (f.run));
      feed (&f, scale, 0, (gint64) cases[c].k * interval);
      double factors[3] = { cases[c].f0, cases[c].f1, cases[c].f2 };
      float want[3];
      int applied = interval == 1 ? cases[c].k - 1 : cases[c].k;
      for (int cls = 0; cls < 3; cls++)
        want[cls] = expected_scale (factors[cls], applied, lo, hi);
      for (guint i = 0; i < pl_model_get_n_params (m); i++)
        {
          PlParam *p = pl_model_get_param (m, i);
          for (size_t j = 0; j < p->numel; j++)
            if (scale[p->offset + j] != want[j % 3])
              g_error ("case %u: %s[%zu] scale %.9g, expected %.9g", c, p->name, j,
                       scale[p->offset + j], want[j % 3]);
        }
      /* hidden.0.bias holds classes 0, 1, 2, 0: its median rate is the mean of the
       * middle two of those four scales */
      {
        float b[4] = { want[0], want[1], want[2], want[0] };
        for (int x = 0; x < 4; x++)
          for (int y = x + 1; y < 4; y++)
            if (b[y] < b[x])
              {
                float t = b[x];
                b[x] = b[y];
                b[y] = t;
              }
        pl_assert_close (pl_run_get_metric (f.run, "lr/hidden.0.bias"),
                         pl_run_get_lr (f.run) * 0.5 * ((double) b[1] + b[2]), 1e-12, 1e-6);
      }
      /* one step short of the next interval changes nothing */
      feed (&f, scale, (gint64) cases[c].k * interval,
            (gint64) (cases[c].k + 1) * interval - 1);
      if (interval > 1)
        g_assert_cmpfloat (scale[pl_model_get_param (m, 0)->offset + 2], ==, want[2]);
      /* the reported spread is lr times the scales */
      double lr = pl_run_get_lr (f.run);
      pl_assert_close (pl_run_get_metric (f.run, "lr/min"), lr * MIN (want[0], want[2]),
                       1e-12, 1e-6);
      pl_assert_close (pl_run_get_metric (f.run, "lr/max"), lr * MAX (want[0], want[2]),
                       1e-12, 1e-6);
      fixture_clear (&f);
    }
}

/* tensor granularity: one rate per tensor from the mean variance of its elements
 * (here every tensor mixes the three classes, mean ~v_large/3 > 0.1 -> all grow;
 * with threshold 0.9 every tensor's mean is under it -> all shrink) */
static void
test_rule_tensor (void)
{
  struct { const char *policy; double factor; } cases[] = {
    { "interval=4\nthreshold=0.1\ngranularity=tensor\nmin-scale=0.01\nmax-scale=100", 1.1 },
    { "interval=4\nthreshold=0.9\ngranularity=tensor\nmin-scale=0.01\nmax-scale=100", 0.9 },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      Fixture f = { 0 };
      fixture_init (&f, cases[c].policy, NULL);
      float *scale = pl_optimizer_get_lr_scale (pl_run_get_optimizer (f.run));
      feed (&f, scale, 0, 12);
      float want = expected_scale (cases[c].factor, 3, 0.01, 100);
      PlModel *m = pl_run_get_model (f.run);
      for (guint i = 0; i < pl_model_get_n_params (m); i++)
        {
          PlParam *p = pl_model_get_param (m, i);
          for (size_t j = 0; j < p->numel; j++)
            if (scale[p->offset + j] != want)
              g_error ("case %u: %s[%zu] scale %.9g, expected %.9g", c, p->name, j,
                       scale[p->offset + j], want);
        }
      fixture_clear (&f);
    }
}

/* [train] freeze = base: the hidden layers' scales stay 1, the head's move, and
 * the reported spread covers only trainable elements */
static void
test_frozen_untouched (void)
{
  Fixture f = { 0 };
  fixture_init (&f, "interval=2\nthreshold=0.1\nmin-scale=0.01\nmax-scale=100",
                "freeze=base\n");
  PlModel *m = pl_run_get_model (f.run);
  g_assert_true (pl_model_lookup_param (m, "hidden.0.weight")->frozen);
  float *scale = pl_optimizer_get_lr_scale (pl_run_get_optimizer (f.run));
  feed (&f, scale, 0, 8);
  for (guint i = 0; i < pl_model_get_n_params (m); i++)
    {
      PlParam *p = pl_model_get_param (m, i);
      for (size_t j = 0; j < p->numel; j++)
        {
          float want = p->frozen ? 1.0f
                                 : expected_scale (j % 3 == 2 ? 1.1 : 0.9, 4, 0.01, 100);
          if (scale[p->offset + j] != want)
            g_error ("%s[%zu] (frozen %d) scale %.9g, expected %.9g", p->name, j, p->frozen,
                     scale[p->offset + j], want);
        }
    }
  /* the head's 10 x 4 weights and 10 biases: 3 of 10 bias elements and 13 of
   * 40 weights grow; the median is a shrunk one, never the frozen 1 */
  double lr = pl_run_get_lr (f.run);
  float shrunk = expected_scale (0.9, 4, 0.01, 100);
  pl_assert_close (pl_run_get_metric (f.run, "lr/median"), lr * shrunk, 1e-12, 1e-6);
  /* per tensor: frozen ones are not reported; a bias whose ten elements are three
   * growing and seven shrinking has a shrunk median */
  g_assert_true (isnan (pl_run_get_metric (f.run, "lr/hidden.0.weight")));
  pl_assert_close (pl_run_get_metric (f.run, "lr/head.bias"), lr * shrunk, 1e-12, 1e-6);
  pl_assert_close (pl_run_get_metric (f.run, "lr/head.weight"), lr * shrunk, 1e-12, 1e-6);
  fixture_clear (&f);
}

/* adjust allocates only on its first call (statistics) and first report (metric
 * keys); after that, never */
static void
test_no_allocation (void)
{
#if PL_COUNT_ALLOCS
  const char *policies[] = {
    "interval=3\nthreshold=0.1",
    "interval=3\nthreshold=1\nthreshold-mode=median\ngranularity=tensor",
  };
  for (guint c = 0; c < G_N_ELEMENTS (policies); c++)
    {
      Fixture f = { 0 };
      fixture_init (&f, policies[c], NULL);
      float *scale = pl_optimizer_get_lr_scale (pl_run_get_optimizer (f.run));
      feed (&f, scale, 0, 3);
      gint probe = g_atomic_int_get (&alloc_count);
      g_free (g_malloc (16));
      g_assert_cmpint (g_atomic_int_get (&alloc_count), >=, probe + 2);
      gint before = g_atomic_int_get (&alloc_count);
      feed (&f, scale, 3, 30);
      gint after = g_atomic_int_get (&alloc_count);
      if (after != before)
        g_error ("%s: %d allocator calls in 27 adjust calls", policies[c], after - before);
      fixture_clear (&f);
    }
#else
  g_test_skip ("the sanitizer owns malloc");
#endif
}

static gboolean
params_equal (PlModel *a, PlModel *b)
{
  size_t n = pl_model_get_n_floats (a);
  return n == pl_model_get_n_floats (b)
         && memcmp (pl_model_get_params (a), pl_model_get_params (b), n * sizeof (float)) == 0;
}

static PlRun *
run_text (const char *text, PlPluginSelection **sel_out)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PlExperiment) exp = pl_experiment_load_data (text, -1, "e2e.ini", &error);
  g_assert_no_error (error);
  PlPluginSelection *sel = pl_plugin_selection_new (engine (), exp, &error);
  g_assert_no_error (error);
  PlRun *run = pl_run_new_with_plugins (exp, NULL, sel, &error);
  g_assert_no_error (error);
  g_assert_true (pl_run_execute (run, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (pl_run_get_status (run), ==, "finished");
  *sel_out = sel;
  return run;
}

/* Through the engine on digits: the scales reach the optimizer (a policy that
 * grows every rate to 4x from step 1 on trains differently from the plain run, and
 * its reported rates are the optimizer's scales), and a real run spreads the rates
 * within the bounds and still learns. */
static void
test_digits_end_to_end (void)
{
  const char *base = "[experiment]\nseed=11\n[data]\ndataset=digits\n[model]\nhidden=32\n"
                     "[train]\nepochs=4\nbatch-size=32\noptimizer=%s\nlr=%s\n"
                     "schedule=constant\nwarmup-steps=0\n%s";
  const char *algos[] = { "adam", "sgd" };
  for (guint a = 0; a < G_N_ELEMENTS (algos); a++)
    {
      g_autofree char *t1 = g_strdup_printf (base, algos[a], "0.001", "");
      g_autofree char *tp = g_strdup_printf (
        base, algos[a], "0.001",
        "[lr-policy]\nplugin=variance-adaptive\ninterval=1\nthreshold=0\ngrow=4\n"
        "max-scale=4\n");
      PlPluginSelection *s1 = NULL, *sp = NULL;
      PlRun *r1 = run_text (t1, &s1);
      PlRun *rp = run_text (tp, &sp);
      if (params_equal (pl_run_get_model (r1), pl_run_get_model (rp)))
        g_error ("%s: the policy's scales did not change training", algos[a]);
      float *scale = pl_optimizer_get_lr_scale (pl_run_get_optimizer (rp));
      PlModel *mp = pl_run_get_model (rp);
      for (guint i = 0; i < pl_model_get_n_params (mp); i++)
        {
          PlParam *p = pl_model_get_param (mp, i);
          for (size_t j = 0; j < p->numel; j++)
            g_assert_cmpfloat (scale[p->offset + j], ==, 4.0f);
        }
      g_assert_cmpfloat (pl_run_get_metric (rp, "lr/min"), ==, 0.001 * 4);
      g_assert_cmpfloat (pl_run_get_metric (rp, "lr/max"), ==, 0.001 * 4);
      /* 4x the rate from step 1 on: the plain run at 4x is closer than at 1x */
      g_autofree char *t4 = g_strdup_printf (base, algos[a], "0.004", "");
      PlPluginSelection *s4 = NULL;
      PlRun *r4 = run_text (t4, &s4);
      double d1 = 0, d4 = 0;
      const float *pp = pl_model_get_params (pl_run_get_model (rp));
      const float *p1 = pl_model_get_params (pl_run_get_model (r1));
      const float *p4 = pl_model_get_params (pl_run_get_model (r4));
      for (size_t i = 0; i < pl_model_get_n_floats (pl_run_get_model (rp)); i++)
        {
          d1 += fabs (pp[i] - p1[i]);
          d4 += fabs (pp[i] - p4[i]);
        }
      g_test_message ("%s: |policy - lr| %g, |policy - 4 lr| %g", algos[a], d1, d4);
      g_assert_cmpfloat (d4, <, 0.5 * d1);
      pl_run_free (r1);
      pl_run_free (rp);
      pl_run_free (r4);
      pl_plugin_selection_free (s1);
      pl_plugin_selection_free (sp);
      pl_plugin_selection_free (s4);
    }

  g_autofree char *plain = g_strdup_printf (base, "adam", "0.001", "");
  PlPluginSelection *sel0 = NULL;
  PlRun *run0 = run_text (plain, &sel0);
  double acc0 = pl_run_get_metric (run0, "val/acc");
  pl_run_free (run0);
  pl_plugin_selection_free (sel0);
  g_autofree char *text = g_strdup_printf (
    base, "adam", "0.001",
    "[lr-policy]\nplugin=variance-adaptive\ninterval=10\nthreshold=1\nthreshold-mode=median\n"
    "min-scale=0.25\nmax-scale=4\n");
  PlPluginSelection *sel = NULL;
  PlRun *run = run_text (text, &sel);
  double lo = pl_run_get_metric (run, "lr/min"), med = pl_run_get_metric (run, "lr/median");
  double hi = pl_run_get_metric (run, "lr/max");
  double acc = pl_run_get_metric (run, "val/acc");
  g_test_message ("lr/min %g lr/median %g lr/max %g val/acc %g (plain %g)", lo, med, hi,
                  acc, acc0);
  g_assert_cmpfloat (lo, >=, 0.001 * 0.25 * (1 - 1e-6));
  g_assert_cmpfloat (hi, <=, 0.001 * 4 * (1 + 1e-6));
  g_assert_cmpfloat (lo, <, med);
  g_assert_cmpfloat (med, <, hi);
  /* about half the elements grow at each interval with a median threshold */
  double grown = pl_run_get_metric (run, "lr/grown_fraction");
  g_assert_cmpfloat (grown, >, 0.3);
  g_assert_cmpfloat (grown, <, 0.7);
  g_assert_cmpfloat (acc, >, 0.85);
  g_assert_cmpfloat (acc, >, acc0 - 0.05);
  pl_run_free (run);
  pl_plugin_selection_free (sel);
}

/* the presets load and name the plugin */
static void
test_preset (void)
{
  g_autofree char *path = g_build_filename (pl_test_srcdir (), "data", "experiments",
                                            "digits-variance-lr.ini", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (PlExperiment) exp = pl_experiment_load_file (path, &error);
  g_assert_no_error (error);
  g_assert_true (pl_experiment_validate (exp, &error));
  g_autoptr (PlPluginSelection) sel = pl_plugin_selection_new (engine (), exp, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pl_plugin_selection_get_id (sel, PL_SLOT_LR_POLICY), ==,
                   "variance-adaptive");
}

/* The training state for resume: the gradient means and variances survive
 * save_state / load_state exactly (tests/pl-state-test-util.h). */
static void
test_state_round_trip (void)
{
  pl_test_state_round_trip (engine (),
    "[experiment]\nseed=5\n[data]\ndataset=digits\n[model]\nhidden=8\n"
    "[train]\nepochs=1\nmax-steps=30\nbatch-size=32\nlr=1e-2\n"
    "[lr-policy]\nplugin=variance-adaptive\ninterval=5\n",
    PL_SLOT_LR_POLICY);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  pl_test_tmpdir ();
  g_test_add_func ("/plugins/variance-adaptive/listed", test_listed);
  g_test_add_func ("/plugins/variance-adaptive/bad-options", test_bad_options);
  g_test_add_func ("/plugins/variance-adaptive/rule-exact", test_rule_exact);
  g_test_add_func ("/plugins/variance-adaptive/rule-tensor", test_rule_tensor);
  g_test_add_func ("/plugins/variance-adaptive/frozen-untouched", test_frozen_untouched);
  g_test_add_func ("/plugins/variance-adaptive/no-allocation", test_no_allocation);
  g_test_add_func ("/plugins/variance-adaptive/digits-end-to-end", test_digits_end_to_end);
  g_test_add_func ("/plugins/variance-adaptive/preset", test_preset);
  g_test_add_func ("/plugins/variance-adaptive/state-round-trip", test_state_round_trip);
  return g_test_run ();
}
