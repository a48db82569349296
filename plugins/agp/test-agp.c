/* The AGP schedule: Zhu & Gupta's cubic formula, the plan it derives from its
 * options and the run length, its errors, and a short AGP run on digits through
 * the engine: the final sparsity counted from the (exported) weights, monotone
 * sparsity, zeros that stay, and per-layer versus global scope. */
#include <math.h>
#include <string.h>

#include "../pruning-test-util.h"

static void
test_listed (void)
{
  g_autoptr (GObject) p = pt_create_listed (PL_SLOT_PRUNE_SCHEDULE, "agp");
  g_autofree char *json = pl_plugin_options_to_json (p);
  g_assert_cmpstr (json, ==, "{\"final-sparsity\":0.5,\"initial-sparsity\":0,\"scope\":\"layer\","
                             "\"start-step\":-1,\"end-step\":-1,\"frequency\":0,\"n\":0}");
}

/* s_t = s_f + (s_i - s_f)(1 - (t - t0)/(n dt))^3 at t = t0 + k dt, held between
 * updates; t counts updates made (step + 1) */
static void
test_formula (void)
{
  static const struct {
    double s_i;
    gint64 t;
    double expect;
  } cases[] = {
    { 0.0, 1, 0.0 },
    { 0.0, 9, 0.0 },
    { 0.0, 10, 0.0 },                            /* k = 0: s_i */
    { 0.0, 14, 0.0 },
    { 0.0, 15, 0.8 * (1.0 - 0.75 * 0.75 * 0.75) }, /* k = 1 */
    { 0.0, 19, 0.8 * (1.0 - 0.75 * 0.75 * 0.75) },
    { 0.0, 20, 0.8 * (1.0 - 0.125) },            /* k = 2 */
    { 0.0, 25, 0.8 * (1.0 - 0.25 * 0.25 * 0.25) },
    { 0.0, 30, 0.8 },                            /* k = n */
    { 0.0, 100, 0.8 },
    { 0.2, 9, 0.0 },
    { 0.2, 10, 0.2 },
    { 0.2, 20, 0.8 + (0.2 - 0.8) * 0.125 },
    { 0.2, 30, 0.8 },
  };
  g_autoptr (GObject) p = pl_plugin_engine_create (pt_engine (), PL_SLOT_PRUNE_SCHEDULE, "agp",
                                                   NULL);
  g_object_set (p, "final-sparsity", 0.8, "start-step", 10, "frequency", 5, "n", 4, NULL);
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_object_set (p, "initial-sparsity", cases[c].s_i, NULL);
      pt_assert_target (c, p, cases[c].t - 1, 100, cases[c].expect, 1e-12);
    }
}

/* The plan from the options and the run length: first update t0, last update
 * (which reaches s_f exactly) and the step before it (which does not). */
static void
test_plan (void)
{
  static const struct {
    int start, end, frequency, n;
    gint64 total;
    gint64 first, last;
  } cases[] = {
    /* all auto: 10% .. 75% in about 20 updates: dt = 877 / 20 = 43, n = 20 */
    { -1, -1, 0, 0, 1350, 135, 135 + 20 * 43 },
    /* frequency given: n = 650 / 100 = 6 */
    { -1, -1, 100, 0, 1000, 100, 700 },
    /* n given: dt = 650 / 5 = 130 */
    { -1, -1, 0, 5, 1000, 100, 750 },
    /* end-step given: dt = 400 / 20 = 20 */
    { -1, 500, 0, 0, 1000, 100, 500 },
    /* n and frequency: the end follows */
    { 0, -1, 10, 10, 1000, 0, 100 },
    /* all three, consistent */
    { 50, 150, 25, 4, 1000, 50, 150 },
  };
  g_autoptr (GObject) p = pl_plugin_engine_create (pt_engine (), PL_SLOT_PRUNE_SCHEDULE, "agp",
                                                   NULL);
  PlPruningSchedule *s = PL_PRUNING_SCHEDULE (p);
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_object_set (p, "final-sparsity", 0.9, "start-step", cases[c].start, "end-step",
                    cases[c].end, "frequency", cases[c].frequency, "n", cases[c].n, NULL);
      gint64 T = cases[c].total;
      /* nothing before t0 (t0 = 0 prunes s_i = 0 at the first update: nothing) */
      if (cases[c].first > 1)
        g_assert_cmpfloat (pl_pruning_schedule_target_at (s, cases[c].first - 2, T), ==, 0.0);
      g_assert_cmpfloat (pl_pruning_schedule_target_at (s, cases[c].last - 1, T), ==, 0.9);
      g_assert_cmpfloat (pl_pruning_schedule_target_at (s, cases[c].last - 2, T), <, 0.9);
      g_assert_cmpfloat (pl_pruning_schedule_target_at (s, T - 1, T), ==, 0.9);
      /* non-decreasing */
      double prev = 0;
      for (gint64 step = 0; step < T; step++)
        {
          double t = pl_pruning_schedule_target_at (s, step, T);
          if (t < prev)
            g_error ("case %u: target falls at step %" G_GINT64_FORMAT, c, step);
          prev = t;
        }
    }
}

static void
test_errors (void)
{
  static const struct {
    const char *extra;
    const char *key;
    const char *expect;
  } cases[] = {
    { "end-step=60\nn=4\nfrequency=20\n", "end-step",
      "[prune] end-step: agp: end-step 60 disagrees with start-step + n * frequency = 9 + 4 * "
      "20 = 89; give two of end-step, n and frequency" },
    { "initial-sparsity=0.9\nfinal-sparsity=0.8\n", "initial-sparsity",
      "[prune] initial-sparsity: agp: initial-sparsity 0.9 is above final-sparsity 0.8" },
    { "n=100\nfrequency=10\n", "n=100",
      "[prune] n: agp: the last update at step 1009 (start-step 9 + n 100 * frequency 10) is "
      "after the run's last step (90); expected at most 90" },
    { "start-step=50\nend-step=40\n", "end-step",
      "[prune] end-step: agp: the last update (step 40) is not after start-step 50" },
    { "end-step=200\n", "end-step", "after the run's last step (90)" },
    { "frequency=-1\n", "frequency",
      "plugin agp option frequency: expected an integer between 0 and 100000000, got \"-1\"" },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autofree char *extra = g_strconcat ("[train]\nepochs=2\n[prune]\ncriterion=magnitude\n"
                                            "schedule=agp\n", cases[c].extra, NULL);
      pt_assert_config_error (c, extra, cases[c].key, cases[c].expect);
    }
}

/* Sparsity of the weight tensors of a safetensors file, counted from its bytes. */
static double
exported_sparsity (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PlSafetensors) st = pl_safetensors_load (path, &error);
  g_assert_no_error (error);
  gsize zeros = 0, n = 0;
  for (guint i = 0; i < pl_safetensors_get_n_tensors (st); i++)
    {
      const PlTensorInfo *ti = pl_safetensors_get_tensor_at (st, i);
      if (!g_str_has_suffix (ti->name, ".weight"))
        continue;
      g_assert_cmpint (ti->dtype, ==, PL_DTYPE_F32);
      for (gsize j = 0; j < ti->nbytes / 4; j++)
        {
          float v;
          memcpy (&v, (const char *) ti->data + 4 * j, 4);
          zeros += v == 0.0f;
        }
      n += ti->nbytes / 4;
    }
  return (double) zeros / (double) n;
}

#define AGP_RUN                                                                \
  "[train]\nepochs=3\n[prune]\ncriterion=magnitude\nschedule=agp\n"            \
  "final-sparsity=0.8\nstart-step=10\nend-step=60\nfrequency=5\n"

/* The run a user relies on: 90 steps, AGP from step 10 to 60 every 5 steps. */
static void
test_run (void)
{
  static const char *scopes[] = { "layer", "global" };
  double spread[2];
  g_autoptr (PtRun) dense = pt_run_execute_ok ("[train]\nepochs=3\n");
  double dense_acc = pl_run_get_metric (dense->run, "val/acc");
  for (int sc = 0; sc < 2; sc++)
    {
      g_autofree char *extra = g_strdup_printf (AGP_RUN "scope=%s\n", scopes[sc]);
      g_autoptr (PtRun) r = pt_run_execute_ok (extra);
      g_autoptr (GError) error = NULL;
      PlModel *m = pl_run_get_model (r->run);
      g_assert_cmpuint (r->total->len, ==, 135);

      double prev = 0.0;
      int rises = 0;
      for (guint i = 0; i < r->total->len; i++)
        {
          double s = g_array_index (r->total, double, i);
          /* monotone non-decreasing, and rising only at updates */
          g_assert_cmpfloat (s, >=, prev);
          if (s > prev)
            {
              rises++;
              g_assert_cmpint ((i + 1 - 10) % 5, ==, 0);
            }
          prev = s;
          /* on the schedule, and reported when it changed */
          pl_assert_close (s, g_array_index (r->target, double, i), 1e-3, 0);
          if (s > 0)
            g_assert_cmpfloat (g_array_index (r->reported, double, i), ==, s);
          /* after the last update (step 60) 30 more steps: nothing moves */
          if (i + 1 >= 60)
            g_assert_cmpfloat (s, ==, g_array_index (r->total, double, 59));
        }
      g_assert_cmpint (rises, ==, 10);

      /* the target, counted from the weights and from the exported file */
      g_assert_cmpfloat (fabs (pl_model_weight_sparsity (m) - 0.8), <=, 0.005);
      pl_assert_close (pl_model_weight_sparsity (m), 0.8, 1e-3, 0);
      g_autofree char *path = g_build_filename (pl_test_tmpdir (), "agp.safetensors", NULL);
      g_assert_true (pl_model_save_safetensors (m, path, NULL, &error));
      g_assert_no_error (error);
      g_assert_cmpfloat (exported_sparsity (path), ==, pl_model_weight_sparsity (m));
      pt_assert_masked_zero (m);
      g_assert_cmpfloat (pl_run_get_metric (r->run, "sparsity/total"), ==,
                         pl_model_weight_sparsity (m));

      /* per layer: every tensor at 80%; global: only the total is */
      double lo = 1, hi = 0;
      for (guint i = 0; i < pl_model_get_n_params (m); i++)
        {
          PlParam *p = pl_model_get_param (m, i);
          if (p->kind != PL_PARAM_WEIGHT)
            continue;
          double s = pt_param_sparsity (p);
          g_autofree char *key = g_strdup_printf ("sparsity/%s", p->name);
          g_assert_cmpfloat (pl_run_get_metric (r->run, key), ==, s);
          if (sc == 0)
            pl_assert_close (s, 0.8, 0.5 / p->numel, 0);
          lo = MIN (lo, s);
          hi = MAX (hi, s);
        }
      spread[sc] = hi - lo;
      /* a 32-16 MLP at 80% keeps ~540 weights; still within 10 points of dense */
      g_assert_cmpfloat (pl_run_get_metric (r->run, "val/acc"), >, dense_acc - 0.10);
    }
  g_assert_cmpfloat (spread[0], <, 0.01);
  g_assert_cmpfloat (spread[1], >, 0.05);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  pl_test_tmpdir ();
  g_test_add_func ("/plugins/agp/listed", test_listed);
  g_test_add_func ("/plugins/agp/formula", test_formula);
  g_test_add_func ("/plugins/agp/plan", test_plan);
  g_test_add_func ("/plugins/agp/errors", test_errors);
  g_test_add_func ("/plugins/agp/run", test_run);
  return g_test_run ();
}
