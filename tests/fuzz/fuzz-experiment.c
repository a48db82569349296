/* fuzz-experiment.c: fuzz target for the experiment parser (GKeyFile-style .ini,
 * pl_experiment_load_data) and for --set overrides (pl_experiment_set).
 *
 * The bytes up to the first NUL are an experiment file; what follows, up to the
 * next NUL, is an override applied to it. A file that loads must print
 * (pl_experiment_to_text) to a text that loads to an equal experiment and
 * prints the same again. Errors must name the file. */
#include "fuzz-common.h"
#include "pl-experiment.h"

#define NAME "fuzz.ini"

static void
check_round_trip (const PlExperiment *exp)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *text = pl_experiment_to_text (exp);
  g_assert (g_utf8_validate (text, -1, NULL));
  PlExperiment *back = pl_experiment_load_data (text, -1, NAME, &error);
  if (!back)
    g_error ("to_text does not load back: %s\n%s", error->message, text);
  g_assert (pl_experiment_equal (exp, back));
  g_autofree char *again = pl_experiment_to_text (back);
  g_assert_cmpstr (text, ==, again);
  pl_experiment_unref (back);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  const uint8_t *nul = memchr (data, 0, size);
  size_t file_len = nul ? (size_t) (nul - data) : size;

  PlExperiment *exp = pl_experiment_load_data ((const char *) data, file_len, NAME, &error);
  g_assert ((exp == NULL) == (error != NULL));
  if (!exp)
    {
      fuzz_check_error (error, NAME);
      fuzz_n_refused++;
      g_clear_error (&error);
      exp = pl_experiment_new_default ();
    }
  else
    {
      fuzz_n_accepted++;
      check_round_trip (exp);
    }

  if (nul)
    {
      g_autofree char *assignment = g_strndup ((const char *) nul + 1, size - file_len - 1);
      if (pl_experiment_set (exp, assignment, &error))
        check_round_trip (exp);
      else
        fuzz_check_error (error, "--set ");
    }
  pl_experiment_unref (exp);
  return 0;
}
