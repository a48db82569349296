/* The iterative schedule: n equal increments from start-step to end-step. */
#include <math.h>
#include <string.h>

#include "../pruning-test-util.h"

static void
test_listed (void)
{
  g_autoptr (GObject) p = pt_create_listed (PL_SLOT_PRUNE_SCHEDULE, "iterative");
  g_autofree char *json = pl_plugin_options_to_json (p);
  g_assert_cmpstr (json, ==, "{\"final-sparsity\":0.5,\"scope\":\"layer\",\"start-step\":-1,"
                             "\"end-step\":-1,\"n\":10}");
}

/* target after t updates (t = step + 1) */
static void
test_target_at (void)
{
  static const struct {
    int start, end, n;
    gint64 total, t;
    double expect;
  } cases[] = {
    /* prunes at 10, 15, 20, 25, 30 to 0.1 .. 0.5 */
    { 10, 30, 5, 100, 9, 0.0 },
    { 10, 30, 5, 100, 10, 0.1 },
    { 10, 30, 5, 100, 14, 0.1 },
    { 10, 30, 5, 100, 15, 0.2 },
    { 10, 30, 5, 100, 29, 0.4 },
    { 10, 30, 5, 100, 30, 0.5 },
    { 10, 30, 5, 100, 100, 0.5 },
    /* one prune: at start-step, to s_f */
    { 10, 30, 1, 100, 9, 0.0 },
    { 10, 30, 1, 100, 10, 0.5 },
    /* auto: 10% and 75% of 200 = 20 .. 150; prunes at 20 + floor(i 130 / 9) */
    { -1, -1, 10, 200, 19, 0.0 },
    { -1, -1, 10, 200, 20, 0.05 },
    { -1, -1, 10, 200, 34, 0.10 },   /* 20 + floor(130 / 9) = 34 */
    { -1, -1, 10, 200, 149, 0.45 },
    { -1, -1, 10, 200, 150, 0.5 },
    /* more prunes than steps: several at one step */
    { 10, 11, 4, 100, 10, 0.375 },  /* prunes 0, 1, 2 at step 10 */
    { 10, 11, 4, 100, 11, 0.5 },
    /* start 0: the first prune after the first update */
    { 0, 10, 2, 100, 1, 0.25 },
    { 0, 10, 2, 100, 10, 0.5 },
  };
  g_autoptr (GObject) p = pl_plugin_engine_create (pt_engine (), PL_SLOT_PRUNE_SCHEDULE,
                                                   "iterative", NULL);
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_object_set (p, "start-step", cases[c].start, "end-step", cases[c].end, "n", cases[c].n,
                    NULL);
      pt_assert_target (c, p, cases[c].t - 1, cases[c].total, cases[c].expect, 1e-12);
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
    { "start-step=50\nend-step=40\n", "end-step",
      "[prune] end-step: iterative: end-step 40 is before start-step 50" },
    { "start-step=80\n", "start-step",
      "[prune] start-step: iterative: end-step 68 is before start-step 80" },
    { "end-step=91\n", "end-step",
      "[prune] end-step: iterative: end-step 91 is after the run's last step (90)" },
    { "n=0\n", "n=0", "plugin iterative option n: expected an integer between 1 and 100000" },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autofree char *extra = g_strconcat ("[train]\nepochs=2\n[prune]\nschedule=iterative\n",
                                            cases[c].extra, NULL);
      pt_assert_config_error (c, extra, cases[c].key, cases[c].expect);
    }
}

/* In a run: exactly n rises, at the planned steps, each by s_f / n, and the
 * final sparsity from the weights. */
static void
test_run (void)
{
  g_autoptr (PtRun) r = pt_run_execute_ok ("[train]\nepochs=2\n[prune]\nschedule=iterative\n"
                                           "final-sparsity=0.6\nstart-step=10\nend-step=70\n"
                                           "n=4\nscope=global\n");
  static const int at[] = { 10, 30, 50, 70 };
  int rises = 0;
  double prev = 0.0;
  for (guint i = 0; i < r->total->len; i++)
    {
      double s = g_array_index (r->total, double, i);
      g_assert_cmpfloat (s, >=, prev);
      if (s > prev)
        {
          g_assert_cmpint (rises, <, 4);
          g_assert_cmpint (i + 1, ==, at[rises]);
          rises++;
          pl_assert_close (s, 0.15 * rises, 1e-3, 0);
        }
      prev = s;
    }
  g_assert_cmpint (rises, ==, 4);
  pl_assert_close (pl_model_weight_sparsity (pl_run_get_model (r->run)), 0.6, 1e-3, 0);
  pt_assert_masked_zero (pl_run_get_model (r->run));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  pl_test_tmpdir ();
  g_test_add_func ("/plugins/iterative/listed", test_listed);
  g_test_add_func ("/plugins/iterative/target-at", test_target_at);
  g_test_add_func ("/plugins/iterative/errors", test_errors);
  g_test_add_func ("/plugins/iterative/run", test_run);
  return g_test_run ();
}
