/* The coarse-fine schedule: a magnitude threshold at coarse-step, then the
 * configured criterion in n equal steps to the final sparsity at end-step. */
#include <math.h>
#include <string.h>

#include "../pruning-test-util.h"
#include "pl-state-test-util.h"

static void
test_listed (void)
{
  g_autoptr (GObject) p = pt_create_listed (PL_SLOT_PRUNE_SCHEDULE, "coarse-fine");
  g_autofree char *json = pl_plugin_options_to_json (p);
  g_assert_cmpstr (json, ==, "{\"final-sparsity\":0.5,\"scope\":\"layer\",\"threshold\":0.01,"
                             "\"coarse-step\":-1,\"end-step\":-1,\"n\":10}");
}

/* Before any run the preview starts the fine stage from zero. */
static void
test_target_at (void)
{
  static const struct {
    int coarse, end, n;
    gint64 total, t;
    double expect;
  } cases[] = {
    /* fine prunes at 15, 20, 25, 30 */
    { 10, 30, 4, 100, 9, 0.0 },
    { 10, 30, 4, 100, 10, 0.0 },
    { 10, 30, 4, 100, 14, 0.0 },
    { 10, 30, 4, 100, 15, 0.125 },
    { 10, 30, 4, 100, 29, 0.375 },
    { 10, 30, 4, 100, 30, 0.5 },
    { 10, 30, 4, 100, 99, 0.5 },
    /* auto: 25% and 75% of 200 = 50 .. 150 */
    { -1, -1, 10, 200, 59, 0.0 },
    { -1, -1, 10, 200, 60, 0.05 },
    { -1, -1, 10, 200, 150, 0.5 },
    /* end not after coarse: invalid, no pruning */
    { 30, 30, 4, 100, 99, 0.0 },
  };
  g_autoptr (GObject) p = pl_plugin_engine_create (pt_engine (), PL_SLOT_PRUNE_SCHEDULE,
                                                   "coarse-fine", NULL);
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_object_set (p, "coarse-step", cases[c].coarse, "end-step", cases[c].end, "n",
                    cases[c].n, NULL);
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
    { "[prune]\nschedule=coarse-fine\n", "schedule=coarse",
      "[prune] schedule=coarse-fine ranks its fine stage by the chosen criterion, and none is "
      "chosen: add criterion=taylor" },
    { "[prune]\ncriterion=taylor\nschedule=coarse-fine\ncoarse-step=40\nend-step=40\n",
      "end-step", "[prune] end-step: coarse-fine: end-step 40 is not after coarse-step 40" },
    { "[prune]\ncriterion=taylor\nschedule=coarse-fine\nend-step=95\n", "end-step",
      "[prune] end-step: coarse-fine: end-step 95 is after the run's last step (90)" },
    { "[prune]\ncriterion=taylor\nschedule=coarse-fine\ncoarse-step=80\n", "coarse-step",
      "[prune] coarse-step: coarse-fine: end-step 68 is not after coarse-step 80" },
    { "[prune]\ncriterion=taylor\nschedule=coarse-fine\nthreshold=-0.01\n", "threshold",
      "[prune] threshold: plugin coarse-fine option threshold: expected a number between 0 "
      "and 1000000" },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autofree char *extra = g_strconcat ("[train]\nepochs=2\n", cases[c].extra, NULL);
      pt_assert_config_error (c, extra, cases[c].key, cases[c].expect);
    }
}

/* Right after the coarse stage (step 20): the smallest surviving |w|. */
typedef struct {
  double min_kept;
  double sparsity;
} CoarseProbe;

static void
probe_after_step (PlRun *run, gint64 step, gpointer ud)
{
  CoarseProbe *probe = ud;
  if (step + 1 != 20)
    return;
  PlModel *m = pl_run_get_model (run);
  probe->min_kept = INFINITY;
  for (guint i = 0; i < pl_model_get_n_params (m); i++)
    {
      PlParam *p = pl_model_get_param (m, i);
      if (p->kind != PL_PARAM_WEIGHT)
        continue;
      for (size_t j = 0; j < p->numel; j++)
        if (p->data[j] != 0.0f)
          probe->min_kept = MIN (probe->min_kept, fabsf (p->data[j]));
    }
  probe->sparsity = pl_model_weight_sparsity (m);
}

#define COARSE_FINE_RUN                                                        \
  "[train]\nepochs=2\n[prune]\nschedule=coarse-fine\nthreshold=0.05\n"         \
  "coarse-step=20\nend-step=70\nn=5\nfinal-sparsity=0.8\n"

/* The two stages in a run: at step 20 exactly the weights under the threshold
 * go; the fine stage then rises in 5 equal steps to exactly 80% at step 70,
 * ranked by the criterion (taylor and magnitude pick different weights from the
 * same coarse result). */
static void
test_run (void)
{
  static const char *criteria[] = { "taylor", "magnitude" };
  float *masks[2] = { NULL, NULL };
  double coarse[2];
  size_t n = 0;
  for (int c = 0; c < 2; c++)
    {
      g_autofree char *extra = g_strdup_printf (COARSE_FINE_RUN "criterion=%s\n", criteria[c]);
      g_autoptr (GError) error = NULL;
      g_autoptr (PtRun) r = pt_run_new (extra, &error);
      g_assert_no_error (error);
      CoarseProbe probe = { 0 };
      PlRunHooks h = { .name = "probe", .after_step = probe_after_step };
      pl_run_add_hooks (r->run, &h, &probe, NULL);
      g_assert_true (pl_run_execute (r->run, &error));
      g_assert_no_error (error);
      PlModel *m = pl_run_get_model (r->run);

      /* coarse: from dense to the share under 0.05, nothing under it left */
      g_assert_cmpfloat (g_array_index (r->total, double, 18), ==, 0.0);
      double s_c = g_array_index (r->total, double, 19);
      g_assert_cmpfloat (s_c, ==, probe.sparsity);
      g_assert_cmpfloat (s_c, >, 0.05);
      g_assert_cmpfloat (s_c, <, 0.6);
      g_assert_cmpfloat (probe.min_kept, >=, 0.05f);
      coarse[c] = s_c;
      /* the preview now knows the coarse result */
      GObject *sched = pt_schedule (r);
      g_assert_cmpfloat (pl_pruning_schedule_target_at (PL_PRUNING_SCHEDULE (sched), 19, 90),
                         ==, s_c);

      /* fine: rises at 30, 40, 50, 60, 70 to s_c + (0.8 - s_c) i / 5 */
      int rises = 0;
      double prev = s_c;
      for (guint i = 20; i < r->total->len; i++)
        {
          double s = g_array_index (r->total, double, i);
          g_assert_cmpfloat (s, >=, prev);
          if (s > prev)
            {
              rises++;
              g_assert_cmpint (i + 1, ==, 20 + 10 * rises);
              pl_assert_close (s, s_c + (0.8 - s_c) * rises / 5.0, 2e-3, 0);
            }
          prev = s;
        }
      g_assert_cmpint (rises, ==, 5);
      pl_assert_close (pl_model_weight_sparsity (m), 0.8, 1e-3, 0);
      pt_assert_masked_zero (m);
      masks[c] = pt_mask_dup (r->run, "hidden.0.weight", &n);
    }
  g_assert_cmpfloat (coarse[0], ==, coarse[1]);
  g_assert_cmpuint (pt_count_differ (masks[0], masks[1], n), >, n / 20);
  g_free (masks[0]);
  g_free (masks[1]);
}

/* A threshold that removes more than the target: that sparsity stays, no fine
 * prune undoes or adds to it, the run finishes. */
static void
test_coarse_beyond_target (void)
{
  g_autoptr (PtRun) r = pt_run_execute_ok ("[train]\nepochs=2\n[prune]\ncriterion=taylor\n"
                                           "schedule=coarse-fine\nthreshold=0.2\n"
                                           "coarse-step=20\nfinal-sparsity=0.3\n");
  double s_c = g_array_index (r->total, double, 19);
  g_assert_cmpfloat (s_c, >, 0.3);
  g_assert_cmpfloat (pl_model_weight_sparsity (pl_run_get_model (r->run)), ==, s_c);
  g_assert_cmpfloat (pl_pruning_schedule_target_at (PL_PRUNING_SCHEDULE (pt_schedule (r)), 89,
                                                    90), ==, s_c);
}

/* The training state for resume: the sparsity the coarse stage left survives
 * save_state / load_state exactly (tests/pl-state-test-util.h). */
static void
test_state_round_trip (void)
{
  pl_test_state_round_trip (pt_engine (),
    PT_DIGITS_BASE PT_DEFAULT_OPTIMIZER "[train]\nepochs=1\nmax-steps=30\n"
    "[prune]\ncriterion=taylor\nschedule=coarse-fine\nthreshold=0.05\n"
    "coarse-step=10\nend-step=28\n",
    PL_SLOT_PRUNE_SCHEDULE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  pl_test_tmpdir ();
  g_test_add_func ("/plugins/coarse-fine/listed", test_listed);
  g_test_add_func ("/plugins/coarse-fine/target-at", test_target_at);
  g_test_add_func ("/plugins/coarse-fine/errors", test_errors);
  g_test_add_func ("/plugins/coarse-fine/run", test_run);
  g_test_add_func ("/plugins/coarse-fine/coarse-beyond-target", test_coarse_beyond_target);
  g_test_add_func ("/plugins/coarse-fine/state-round-trip", test_state_round_trip);
  return g_test_run ();
}
