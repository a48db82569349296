/* pl-state-test-util.h: the save/load round trip of a plugin's training state
 * (PlRunAddin save_state / load_state), shared by the plugin tests. */
#pragma once

#include <string.h>

#include "paramlab.h"
#include "pl-test-util.h"

/* @addin's state after pl_run_addin_save_state(), as the bytes of a
 * safetensors file. (transfer full) */
static inline GBytes *
pl_test_save_state (GObject *addin, PlRun *run)
{
  static int serial;
  g_autoptr (GError) error = NULL;
  g_autoptr (PlSafetensorsWriter) w = pl_safetensors_writer_new ();
  g_assert_true (pl_run_addin_save_state (PL_RUN_ADDIN (addin), run, w, "state.test.",
                                          &error));
  g_assert_no_error (error);
  g_autofree char *leaf = g_strdup_printf ("state-%d.safetensors", serial++);
  g_autofree char *path = g_build_filename (pl_test_tmpdir (), leaf, NULL);
  g_assert_true (pl_safetensors_writer_write (w, path, &error));
  g_assert_no_error (error);
  char *data = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (path, &data, &len, &error));
  return g_bytes_new_take (data, len);
}

/* A run of @exp_text without a store, its plugins chosen. */
static inline PlRun *
pl_test_state_run (PlPluginEngine *engine, const char *exp_text, PlExperiment **exp_out,
                   PlPluginSelection **sel_out)
{
  g_autoptr (GError) error = NULL;
  *exp_out = pl_experiment_load_data (exp_text, -1, "state-test.ini", &error);
  g_assert_no_error (error);
  *sel_out = pl_plugin_selection_new (engine, *exp_out, &error);
  g_assert_no_error (error);
  PlRun *run = pl_run_new_with_plugins (*exp_out, NULL, *sel_out, &error);
  g_assert_no_error (error);
  return run;
}

/* Trains a run of @exp_text to its end and saves the state S1 of its @slot
 * plugin; builds a second run of the same experiment, starts its plugin
 * (run_start, as the engine does before load_state), saves S0, loads S1 and
 * saves S2. S2 must equal S1 byte for byte (nothing lost or altered on the
 * way), and S0 must differ from S1 (the state moved during training, so the
 * round trip is not trivially equal). Also checks that a state without the
 * plugin's tensors is refused with an error naming a tensor. */
static inline void
pl_test_state_round_trip (PlPluginEngine *engine, const char *exp_text, const char *slot)
{
  g_autoptr (GError) error = NULL;
  PlExperiment *exp_a = NULL, *exp_b = NULL;
  PlPluginSelection *sel_a = NULL, *sel_b = NULL;
  PlRun *a = pl_test_state_run (engine, exp_text, &exp_a, &sel_a);
  g_assert_true (pl_run_execute (a, &error));
  g_assert_no_error (error);
  GObject *pa = pl_plugin_selection_get (sel_a, slot);
  g_assert_nonnull (pa);
  g_autoptr (GBytes) s1 = pl_test_save_state (pa, a);

  PlRun *b = pl_test_state_run (engine, exp_text, &exp_b, &sel_b);
  GObject *pb = pl_plugin_selection_get (sel_b, slot);
  g_assert_true (pa != pb);
  PlRunAddinInterface *iface = PL_RUN_ADDIN_GET_IFACE (pb);
  if (iface->run_start)
    {
      g_assert_true (iface->run_start (PL_RUN_ADDIN (pb), b, &error));
      g_assert_no_error (error);
    }
  g_autoptr (GBytes) s0 = pl_test_save_state (pb, b);
  g_assert_false (g_bytes_equal (s0, s1));

  g_autoptr (PlSafetensors) st = pl_safetensors_load_from_bytes (s1, "s1", &error);
  g_assert_no_error (error);
  g_assert_true (pl_run_addin_load_state (PL_RUN_ADDIN (pb), b, st, "state.test.", &error));
  g_assert_no_error (error);
  g_autoptr (GBytes) s2 = pl_test_save_state (pb, b);
  g_assert_true (g_bytes_equal (s1, s2));

  /* the same file under another prefix: every tensor is missing */
  g_assert_false (pl_run_addin_load_state (PL_RUN_ADDIN (pb), b, st, "state.other.", &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "state.other."));

  pl_run_free (b);
  pl_plugin_selection_free (sel_b);
  pl_experiment_unref (exp_b);
  pl_run_free (a);
  pl_plugin_selection_free (sel_a);
  pl_experiment_unref (exp_a);
}
