/* The one-shot schedule: when it prunes, its errors, and that pruned weights stay
 * zero under SGD with momentum, nesterov and weight decay. */
#include <math.h>
#include <string.h>

#include "../pruning-test-util.h"

static void
test_listed (void)
{
  g_autoptr (GObject) p = pt_create_listed (PL_SLOT_PRUNE_SCHEDULE, "one-shot");
  g_autofree char *json = pl_plugin_options_to_json (p);
  g_assert_cmpstr (json, ==, "{\"final-sparsity\":0.5,\"scope\":\"layer\",\"start-step\":-1}");
  GParamSpec *scope = g_object_class_find_property (G_OBJECT_GET_CLASS (p), "scope");
  g_autofree char *allowed = pl_plugin_describe_option (scope);
  g_assert_cmpstr (allowed, ==, "one of layer, global");
}

/* target after 0-based step `step` of `total` */
static void
test_target_at (void)
{
  static const struct {
    int start;
    gint64 total, step;
    double expect;
  } cases[] = {
    { -1, 100, 48, 0.0 },   /* auto: half of the run, after 50 updates */
    { -1, 100, 49, 0.8 },
    { -1, 100, 99, 0.8 },
    { -1, 135, 66, 0.0 },   /* 67.5 rounds to 68 */
    { -1, 135, 67, 0.8 },
    { 0, 100, 0, 0.8 },     /* start 0: after the first update */
    { 10, 100, 8, 0.0 },
    { 10, 100, 9, 0.8 },
    { 100, 100, 98, 0.0 },
    { 100, 100, 99, 0.8 },
    { 101, 100, 99, 0.0 },  /* beyond the run: never (run_start reports it) */
  };
  g_autoptr (GObject) p = pl_plugin_engine_create (pt_engine (), PL_SLOT_PRUNE_SCHEDULE,
                                                   "one-shot", NULL);
  g_object_set (p, "final-sparsity", 0.8, NULL);
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_object_set (p, "start-step", cases[c].start, NULL);
      pt_assert_target (c, p, cases[c].step, cases[c].total, cases[c].expect, 0.0);
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
    { "[prune]\nschedule=one-shot\nstart-step=1000\n", "start-step",
      "[prune] start-step: one-shot: start-step 1000 is after the run's last step (90); "
      "expected at most 90" },
    { "[prune]\nschedule=one-shot\nfinal-sparsity=1\n", "final-sparsity",
      "plugin one-shot option final-sparsity: expected a number between 0 and 0.99, got \"1\"" },
    { "[prune]\nschedule=one-shot\nscope=local\n", "scope",
      "plugin one-shot option scope: expected one of layer, global, got \"local\"" },
    { "[prune]\nschedule=one-shot\nstart-step=-2\n", "start-step",
      "expected an integer between -1 and 100000000" },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autofree char *extra = g_strconcat ("[train]\nepochs=2\n", cases[c].extra, NULL);
      /* a problem with the run's length shows when the run starts (case 0), a bad
       * option value when the run is built */
      gboolean at_start = pt_assert_config_error (c, extra, cases[c].key, cases[c].expect);
      g_assert_true (at_start == (c == 0));
    }
}

/* Pruned at step 20 to 60% of every layer; from then on the weights under the
 * mask stay exactly zero although SGD keeps momentum buffers and weight decay,
 * and the mask never changes again. */
static void
test_momentum_run (void)
{
  static const char *optimizers[] = {
    "optimizer=sgd\nmomentum=0.9\nnesterov=true\nweight-decay=1e-3\nlr=0.05\n",
    "optimizer=sgd\nmomentum=0.9\nlr=0.05\n",
    "optimizer=adamw\nweight-decay=0.01\n",
  };
  for (guint o = 0; o < G_N_ELEMENTS (optimizers); o++)
    {
      g_autofree char *extra = g_strdup_printf ("[train]\nepochs=2\n%s[prune]\n"
                                                "criterion=magnitude\nschedule=one-shot\n"
                                                "start-step=20\nfinal-sparsity=0.6\n",
                                                optimizers[o]);
      g_autoptr (PtRun) r = pt_run_execute_ok (extra);
      g_assert_cmpuint (r->total->len, ==, 90);
      for (guint i = 0; i < r->total->len; i++)
        {
          double s = g_array_index (r->total, double, i);
          if (i + 1 < 20)
            g_assert_cmpfloat (s, ==, 0.0);
          else
            {
              pl_assert_close (s, 0.6, 1e-3, 0);
              /* the engine's sparsity metric follows what the weights say */
              g_assert_cmpfloat (g_array_index (r->reported, double, i), ==,
                                 g_array_index (r->total, double, 19));
            }
          g_assert_cmpfloat (g_array_index (r->target, double, i), ==, i + 1 < 20 ? 0.0 : 0.6);
        }
      PlModel *m = pl_run_get_model (r->run);
      pt_assert_masked_zero (m);
      for (guint i = 0; i < pl_model_get_n_params (m); i++)
        {
          PlParam *p = pl_model_get_param (m, i);
          if (p->kind == PL_PARAM_WEIGHT)
            pl_assert_close (pt_param_sparsity (p), 0.6, 0.5 / p->numel, 0);
        }
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  pl_test_tmpdir ();
  g_test_add_func ("/plugins/one-shot/listed", test_listed);
  g_test_add_func ("/plugins/one-shot/target-at", test_target_at);
  g_test_add_func ("/plugins/one-shot/errors", test_errors);
  g_test_add_func ("/plugins/one-shot/momentum-run", test_momentum_run);
  return g_test_run ();
}
