/* The movement criterion: S = -sum_t w dL/dw, what it prunes first, finite
 * differences, options, and a run. */
#include <math.h>
#include <string.h>

#include "../pruning-test-util.h"
#include "pl-state-test-util.h"

#define MOVEMENT_RUN "[prune]\ncriterion=movement\nschedule=one-shot\n"

static void
test_listed (void)
{
  g_autoptr (GObject) p = pt_create_listed (PL_SLOT_PRUNE_CRITERION, "movement");
  g_assert_true (PL_IS_PRUNING_CRITERION (p));
  g_assert_true (PL_IS_RUN_ADDIN (p));
  g_autofree char *json = pl_plugin_options_to_json (p);
  g_assert_cmpstr (json, ==, "{\"reset-after-prune\":false}");
}

/* S = -(w1 g1 + w2 g2); accumulated across prunes by default, restarted with
 * reset-after-prune=true */
static void
test_accumulate (void)
{
  static const float w1[4] = { 0.5f, 0.5f, -1.0f, -1.0f }, g1[4] = { -1.0f, 1.0f, -1.0f, 1.0f };
  static const float w2[4] = { 0.75f, 0.25f, -1.5f, -0.5f }, g2[4] = { -2.0f, 2.0f, 0.5f, 0.5f };
  static const struct {
    const char *opts;
    float expect[4];
  } cases[] = {
    /* after step 1 a score (a prune), then step 2: both steps count */
    { "", { 0.5f + 1.5f, -0.5f - 0.5f, -1.0f + 0.75f, 1.0f + 0.25f } },
    { "reset-after-prune=false\n", { 2.0f, -1.0f, -0.25f, 1.25f } },
    /* only step 2 */
    { "reset-after-prune=true\n", { 1.5f, -0.5f, 0.75f, 0.25f } },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autofree char *extra = g_strconcat (MOVEMENT_RUN, cases[c].opts, NULL);
      g_autoptr (PtRun) r = pt_run_started (extra);
      GObject *crit = pt_criterion (r);
      PlParam *p = pl_model_lookup_param (pl_run_get_model (r->run), "hidden.1.weight");
      g_autofree float *s = g_new (float, p->numel);
      pt_set_wg (p, w1, g1);
      pt_addin_after_backward (crit, r->run, 0);
      pt_score_ok (r, p, s);
      pt_set_wg (p, w2, g2);
      pt_addin_after_backward (crit, r->run, 1);
      pt_score_ok (r, p, s);
      for (int j = 0; j < 4; j++)
        pl_assert_close (s[j], cases[c].expect[j], 1e-7, 1e-6);
    }
}

/* Weights that the gradient pushes toward zero go first, whatever their size:
 * a large weight shrinking is pruned before a small one growing. */
static void
test_prunes_shrinking_first (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PtRun) r = pt_run_new (MOVEMENT_RUN, &error);
  g_assert_no_error (error);
  GObject *crit = pt_criterion (r);
  PlModel *m = pl_run_get_model (r->run);
  PlParam *p = pl_model_lookup_param (m, "head.weight");
  /* w g > 0 (shrinking) for the even entries, < 0 (growing) for the odd ones;
   * the shrinking ones are the larger weights */
  for (size_t j = 0; j < p->numel; j++)
    {
      p->data[j] = j % 2 == 0 ? 1.0f + 0.01f * j : 0.01f;
      p->grad[j] = j % 2 == 0 ? 0.1f : -0.1f;
    }
  g_assert_true (pt_addin_run_start (crit, r->run, &error));
  pt_addin_after_backward (crit, r->run, 0);
  g_autoptr (PlPruner) pr = pl_pruner_new (r->run, PL_PRUNING_CRITERION (crit));
  g_assert_true (pl_pruner_prune_to (pr, 0.5, PL_PRUNE_SCOPE_LAYER, &error));
  g_assert_no_error (error);
  for (size_t j = 0; j < p->numel; j++)
    g_assert_cmpfloat (p->mask[j], ==, j % 2 == 0 ? 0.0f : 1.0f);
  pt_assert_masked_zero (m);
}

/* After one real backward pass S = -w dL/dw with dL/dw by central differences. */
static void
test_finite_difference (void)
{
  g_autoptr (PtRun) r = pt_run_started (MOVEMENT_RUN);
  PlModel *m = pl_run_get_model (r->run);
  const int batch = 32;
  pt_forward_backward (r->run, batch);
  pt_addin_after_backward (pt_criterion (r), r->run, 0);
  PlParam *p = pl_model_lookup_param (m, "hidden.1.weight");
  g_autofree float *s = g_new (float, p->numel);
  pt_score_ok (r, p, s);
  PlRng rng;
  pl_rng_init (&rng, 5);
  for (int k = 0; k < 16; k++)
    {
      size_t j = pt_pick_with_gradient (&rng, p, 1e-3f);
      const float w = p->data[j];
      /* -w dL/dw, dL/dw by central differences */
      double expect = -w * pt_loss_slope (r->run, p, j, 1e-3f, batch);
      if (!(fabs (s[j] - expect) <= 3e-4 * fabs (w) + 0.05 * fabs (expect)))
        g_error ("hidden.1.weight[%zu]: movement score %g, -w * dL/dw by finite "
                 "differences %g", j, s[j], expect);
    }
}

static void
test_errors (void)
{
  /* refused before the run is built */
  g_assert_false (pt_assert_config_error (0, MOVEMENT_RUN "reset-after-prune=yes\n",
                                          "reset-after-prune",
                                          "plugin movement option reset-after-prune: "
                                          "expected true or false, got \"yes\""));
  g_autoptr (GError) error = NULL;
  g_autoptr (PtRun) r2 = pt_run_new (MOVEMENT_RUN, &error);
  PlParam *p = pl_model_lookup_param (pl_run_get_model (r2->run), "hidden.0.weight");
  g_autofree float *s = g_new (float, p->numel);
  g_assert_false (pl_pruning_criterion_score (PL_PRUNING_CRITERION (pt_criterion (r2)), r2->run,
                                              p, s, &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_PLUGIN);
  g_assert_nonnull (strstr (error->message, "movement: no gradient statistics for tensor "
                                            "hidden.0.weight"));
}

/* AGP ranked by movement on digits: exact target, zeros stay, the model works. */
static void
test_agp_run (void)
{
  g_autoptr (PtRun) r = pt_run_execute_ok ("[train]\nepochs=3\n[prune]\ncriterion=movement\n"
                                           "schedule=agp\nfinal-sparsity=0.6\n");
  PlModel *m = pl_run_get_model (r->run);
  pl_assert_close (pl_model_weight_sparsity (m), 0.6, 1e-3, 0);
  pt_assert_masked_zero (m);
  g_assert_cmpfloat (pl_run_get_metric (r->run, "val/acc"), >, 0.85);
}

/* The training state for resume: the accumulated movement scores survive
 * save_state / load_state exactly (tests/pl-state-test-util.h). */
static void
test_state_round_trip (void)
{
  pl_test_state_round_trip (pt_engine (),
    PT_DIGITS_BASE PT_DEFAULT_OPTIMIZER "[train]\nepochs=1\nmax-steps=30\n"
    "[prune]\ncriterion=movement\nschedule=agp\nfinal-sparsity=0.5\nend-step=25\n",
    PL_SLOT_PRUNE_CRITERION);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  pl_test_tmpdir ();
  g_test_add_func ("/plugins/movement/listed", test_listed);
  g_test_add_func ("/plugins/movement/accumulate", test_accumulate);
  g_test_add_func ("/plugins/movement/prunes-shrinking-first", test_prunes_shrinking_first);
  g_test_add_func ("/plugins/movement/finite-difference", test_finite_difference);
  g_test_add_func ("/plugins/movement/errors", test_errors);
  g_test_add_func ("/plugins/movement/agp-run", test_agp_run);
  g_test_add_func ("/plugins/movement/state-round-trip", test_state_round_trip);
  return g_test_run ();
}
