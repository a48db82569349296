/* The uniform init plugin, loaded through the plugin engine as a run would. */
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

static void
test_listed (void)
{
  const PlPluginDesc *d = pl_plugin_engine_lookup (engine (), PL_SLOT_INIT, "uniform");
  g_assert_nonnull (d);
  g_assert_true (d->loaded);
  g_assert_null (d->error);
}

static void
test_bad_option (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GObject) p = pl_plugin_engine_create (engine (), PL_SLOT_INIT, "uniform", &error);
  g_assert_no_error (error);
  g_assert_false (pl_plugin_set_option (p, "uniform", "gain", "-1", "x.ini:3", &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "x.ini:3"));
  g_assert_nonnull (strstr (error->message, "uniform"));
  g_assert_nonnull (strstr (error->message, "between 0 and 100"));
  g_clear_error (&error);
  g_assert_false (pl_plugin_set_option (p, "uniform", "gian", "1", "x.ini:3", &error));
  g_assert_nonnull (strstr (error->message, "gain"));
}

/* gain scales PyTorch's bound 1/sqrt(fan_in), and the draw reaches it */
static void
test_bounds_in_a_run (void)
{
  const char *text = "[experiment]\nseed=5\n[model]\nhidden=64\n[train]\nepochs=1\n"
                     "[init]\nplugin=uniform\ngain=0.5\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (PlExperiment) exp = pl_experiment_load_data (text, -1, "uniform.ini", &error);
  g_assert_no_error (error);
  g_autoptr (PlPluginSelection) sel = pl_plugin_selection_new (engine (), exp, &error);
  g_assert_no_error (error);
  g_autoptr (PlRun) run = pl_run_new_with_plugins (exp, NULL, sel, &error);
  g_assert_no_error (error);
  PlParam *w = pl_model_lookup_param (pl_run_get_model (run), "hidden.0.weight");
  double bound = 0.5 / sqrt (64.0), mx = 0;
  for (size_t j = 0; j < w->numel; j++)
    mx = MAX (mx, fabs (w->data[j]));
  g_assert_cmpfloat (mx, <=, bound);
  g_assert_cmpfloat (mx, >, 0.95 * bound);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  pl_test_tmpdir ();
  g_test_add_func ("/plugins/uniform/listed", test_listed);
  g_test_add_func ("/plugins/uniform/bad-option", test_bad_option);
  g_test_add_func ("/plugins/uniform/bounds", test_bounds_in_a_run);
  return g_test_run ();
}
