/* The taylor criterion: |w * dL/dw| accumulated (sum or EMA), reset after a prune,
 * checked against finite differences of the loss, its options, and a run. */
#include <math.h>
#include <string.h>

#include "../pruning-test-util.h"
#include "pl-state-test-util.h"

#define TAYLOR_RUN "[prune]\ncriterion=taylor\nschedule=one-shot\n"

static void
test_listed (void)
{
  g_autoptr (GObject) p = pt_create_listed (PL_SLOT_PRUNE_CRITERION, "taylor");
  g_assert_true (PL_IS_PRUNING_CRITERION (p));
  g_assert_true (PL_IS_RUN_ADDIN (p));
  GParamSpec *acc = g_object_class_find_property (G_OBJECT_GET_CLASS (p), "accumulate");
  g_autofree char *allowed = pl_plugin_describe_option (acc);
  g_assert_cmpstr (allowed, ==, "one of sum, ema");
  g_autofree char *def = pl_plugin_option_default_text (acc);
  g_assert_cmpstr (def, ==, "sum");
  g_autofree char *json = pl_plugin_options_to_json (p);
  g_assert_nonnull (strstr (json, "\"reset-after-prune\":true"));
}

/* Two accumulated steps with hand-picked w and g: S is the sum of |w g| or its
 * EMA, as configured. */
static void
test_accumulate (void)
{
  static const float w1[4] = { 0.5f, -0.5f, 2.0f, 0.0f }, g1[4] = { 0.1f, 0.1f, -0.25f, 3.0f };
  static const float w2[4] = { 1.0f, -0.25f, 1.0f, 0.5f }, g2[4] = { -0.2f, -0.4f, 0.0f, 1.0f };
  static const struct {
    const char *opts;
    float expect[4];
  } cases[] = {
    /* |w1 g1| + |w2 g2| */
    { "accumulate=sum\n", { 0.05f + 0.2f, 0.05f + 0.1f, 0.5f + 0.0f, 0.0f + 0.5f } },
    /* S1 = (1 - d) t1; S2 = d S1 + (1 - d) t2 with d = 0.5 */
    { "accumulate=ema\ndecay=0.5\n",
      { 0.25f * 0.05f + 0.5f * 0.2f, 0.25f * 0.05f + 0.5f * 0.1f, 0.25f * 0.5f,
        0.5f * 0.5f } },
    /* decay only applies to ema */
    { "accumulate=sum\ndecay=0.5\n", { 0.25f, 0.15f, 0.5f, 0.5f } },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autofree char *extra = g_strconcat (TAYLOR_RUN, cases[c].opts, NULL);
      g_autoptr (PtRun) r = pt_run_started (extra);
      GObject *crit = pt_criterion (r);
      PlParam *p = pl_model_lookup_param (pl_run_get_model (r->run), "hidden.1.weight");
      pt_set_wg (p, w1, g1);
      pt_addin_after_backward (crit, r->run, 0);
      pt_set_wg (p, w2, g2);
      pt_addin_after_backward (crit, r->run, 1);
      g_autofree float *s = g_new (float, p->numel);
      pt_score_ok (r, p, s);
      for (int j = 0; j < 4; j++)
        pl_assert_close (s[j], cases[c].expect[j], 1e-7, 1e-6);
    }
}

/* After a prune (a score call) the statistics start over, unless
 * reset-after-prune=false. */
static void
test_reset_after_prune (void)
{
  static const float w[4] = { 1.0f, 2.0f, -1.0f, 0.5f }, g[4] = { 1.0f, 1.0f, 1.0f, 1.0f };
  static const struct {
    const char *opts;
    float factor;   /* S after steps, score, step: factor * |w g| */
  } cases[] = {
    { "", 1.0f },
    { "reset-after-prune=true\n", 1.0f },
    { "reset-after-prune=false\n", 2.0f },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autofree char *extra = g_strconcat (TAYLOR_RUN, cases[c].opts, NULL);
      g_autoptr (PtRun) r = pt_run_started (extra);
      GObject *crit = pt_criterion (r);
      PlParam *p = pl_model_lookup_param (pl_run_get_model (r->run), "head.weight");
      g_autofree float *s = g_new (float, p->numel);
      pt_set_wg (p, w, g);
      pt_addin_after_backward (crit, r->run, 0);
      pt_score_ok (r, p, s);
      /* a second tensor of the same prune reads the same statistics */
      pt_score_ok (r, p, s);
      g_assert_cmpfloat (s[1], ==, 2.0f);
      pt_addin_after_backward (crit, r->run, 1);
      pt_score_ok (r, p, s);
      for (int j = 0; j < 4; j++)
        g_assert_cmpfloat (s[j], ==, cases[c].factor * fabsf (w[j] * g[j]));
    }
}

/* The statistics use the gradient of the training loss: after one real backward
 * pass, S = |w dL/dw| with dL/dw from central differences of the loss. */
static void
test_finite_difference (void)
{
  g_autoptr (PtRun) r = pt_run_started (TAYLOR_RUN);
  GObject *crit = pt_criterion (r);
  PlModel *m = pl_run_get_model (r->run);
  const int batch = 32;
  pt_forward_backward (r->run, batch);
  pt_addin_after_backward (crit, r->run, 0);
  const char *names[] = { "hidden.0.weight", "hidden.1.weight", "head.weight" };
  PlRng rng;
  pl_rng_init (&rng, 3);
  int checked = 0;
  for (guint t = 0; t < G_N_ELEMENTS (names); t++)
    {
      PlParam *p = pl_model_lookup_param (m, names[t]);
      g_autofree float *s = g_new (float, p->numel);
      pt_score_ok (r, p, s);
      /* float losses: h = 1e-3 keeps clear of ReLU kinks and rounding noise
       * (~1e-4 in dL/dw); weights with a gradient well above that noise */
      for (int k = 0; k < 12; k++)
        {
          size_t j = pt_pick_with_gradient (&rng, p, 1e-3f);
          const float w = p->data[j];
          double expect = fabs (w * pt_loss_slope (r->run, p, j, 1e-3f, batch));
          if (!(fabs (s[j] - expect) <= 3e-4 * fabs (w) + 0.05 * expect))
            g_error ("%s[%zu]: taylor score %g, |w * dL/dw| by finite differences %g",
                     names[t], j, s[j], expect);
          checked++;
        }
    }
  g_assert_cmpint (checked, ==, 36);
}

static void
test_errors (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PtRun) r = pt_run_new (TAYLOR_RUN, &error);
  g_assert_no_error (error);
  GObject *crit = pt_criterion (r);
  PlParam *p = pl_model_lookup_param (pl_run_get_model (r->run), "hidden.0.weight");
  g_autofree float *s = g_new (float, p->numel);
  /* not attached to a started run */
  g_assert_false (pl_pruning_criterion_score (PL_PRUNING_CRITERION (crit), r->run, p, s,
                                              &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_PLUGIN);
  g_assert_nonnull (strstr (error->message, "taylor"));
  g_assert_nonnull (strstr (error->message, "hidden.0.weight"));
  g_clear_error (&error);
  /* started, no step yet: the pruner reports it instead of ranking zeros */
  g_assert_true (pt_addin_run_start (crit, r->run, &error));
  g_autoptr (PlPruner) pr = pl_pruner_new (r->run, PL_PRUNING_CRITERION (crit));
  g_assert_false (pl_pruner_prune_to (pr, 0.5, PL_PRUNE_SCOPE_LAYER, &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_PLUGIN);
  g_assert_nonnull (strstr (error->message, "no gradient statistics for tensor hidden.0.weight"));
  g_assert_cmpfloat (pl_model_weight_sparsity (pl_run_get_model (r->run)), ==, 0.0);
  g_clear_error (&error);
  /* a bias is not a prunable weight */
  pt_addin_after_backward (crit, r->run, 0);
  PlParam *b = pl_model_lookup_param (pl_run_get_model (r->run), "hidden.0.bias");
  g_assert_false (pl_pruning_criterion_score (PL_PRUNING_CRITERION (crit), r->run, b, s,
                                              &error));
  g_assert_nonnull (strstr (error->message, "hidden.0.bias is not a prunable weight"));
}

static void
test_bad_options (void)
{
  static const struct {
    const char *line;
    const char *expect;
  } cases[] = {
    { "accumulate=median\n", "option accumulate: expected one of sum, ema, got \"median\"" },
    { "decay=1\n", "option decay: expected a number between 0 and 0.999, got \"1\"" },
    { "reset-after-prune=maybe\n", "option reset-after-prune: expected true or false" },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autofree char *extra = g_strconcat (TAYLOR_RUN, cases[c].line, NULL);
      g_autofree char *expect = g_strconcat ("plugin taylor ", cases[c].expect, NULL);
      /* refused before the run is built */
      g_assert_false (pt_assert_config_error (c, extra, cases[c].line, expect));
    }
}

/* Iterative pruning ranked by taylor on digits: the target is reached, the masks
 * are not the ones magnitude picks from the same start, and the model works. */
static void
test_iterative_run (void)
{
  const char *crit[] = { "taylor", "magnitude" };
  float *masks[2] = { NULL, NULL };
  size_t n = 0;
  for (int c = 0; c < 2; c++)
    {
      g_autofree char *extra = g_strdup_printf ("[train]\nepochs=3\n[prune]\ncriterion=%s\n"
                                                "schedule=iterative\nfinal-sparsity=0.7\n"
                                                "n=4\n", crit[c]);
      g_autoptr (PtRun) r = pt_run_execute_ok (extra);
      PlModel *m = pl_run_get_model (r->run);
      pl_assert_close (pl_model_weight_sparsity (m), 0.7, 1e-3, 0);
      pt_assert_masked_zero (m);
      masks[c] = pt_mask_dup (r->run, "hidden.0.weight", &n);
      g_assert_cmpfloat (pl_run_get_metric (r->run, "val/acc"), >, 0.85);
    }
  g_assert_cmpuint (pt_count_differ (masks[0], masks[1], n), >, n / 20);
  g_free (masks[0]);
  g_free (masks[1]);
}

/* The training state for resume: the accumulated |w * dL/dw| survive
 * save_state / load_state exactly (tests/pl-state-test-util.h). */
static void
test_state_round_trip (void)
{
  pl_test_state_round_trip (pt_engine (),
    PT_DIGITS_BASE PT_DEFAULT_OPTIMIZER "[train]\nepochs=1\nmax-steps=30\n"
    "[prune]\ncriterion=taylor\nschedule=agp\nfinal-sparsity=0.5\nend-step=25\n",
    PL_SLOT_PRUNE_CRITERION);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  pl_test_tmpdir ();
  g_test_add_func ("/plugins/taylor/listed", test_listed);
  g_test_add_func ("/plugins/taylor/accumulate", test_accumulate);
  g_test_add_func ("/plugins/taylor/reset-after-prune", test_reset_after_prune);
  g_test_add_func ("/plugins/taylor/finite-difference", test_finite_difference);
  g_test_add_func ("/plugins/taylor/errors", test_errors);
  g_test_add_func ("/plugins/taylor/bad-options", test_bad_options);
  g_test_add_func ("/plugins/taylor/iterative-run", test_iterative_run);
  g_test_add_func ("/plugins/taylor/state-round-trip", test_state_round_trip);
  return g_test_run ();
}
