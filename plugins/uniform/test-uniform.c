/* The uniform init plugin, loaded through the plugin engine as a run would. */
#include "../init-test-util.h"

static void
test_bad_option (void)
{
  it_assert_bad_option ("uniform", "gain", "-1", "x.ini:3", "between 0 and 100");
  it_assert_bad_option ("uniform", "gian", "1", "x.ini:3", "gain");
}

/* gain scales PyTorch's bound 1/sqrt(fan_in), and the draw reaches it */
static void
test_bounds_in_a_run (void)
{
  const char *text = "[experiment]\nseed=5\n[model]\nhidden=64\n[train]\nepochs=1\n"
                     "[init]\nplugin=uniform\ngain=0.5\n";
  g_auto (ItRun) r = it_run_new (text, "uniform.ini");
  PlParam *w = pl_model_lookup_param (pl_run_get_model (r.run), "hidden.0.weight");
  double bound = 0.5 / sqrt (64.0), mx = it_max_abs (w);
  g_assert_cmpfloat (mx, <=, bound);
  g_assert_cmpfloat (mx, >, 0.95 * bound);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  pl_test_tmpdir ();
  g_test_add_data_func ("/plugins/uniform/listed", "uniform", it_test_listed);
  g_test_add_func ("/plugins/uniform/bad-option", test_bad_option);
  g_test_add_func ("/plugins/uniform/bounds", test_bounds_in_a_run);
  return g_test_run ();
}
