/* Training state for resume: the state tensors, the optimizer's state, and a run
 * stopped part way and resumed through pl_run_new_resumed() against the same run
 * trained without a break (bitwise equal parameters and curves). */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "paramlab.h"
#include "pl-test-util.h"

/* ---- state tensors ---------------------------------------------------------- */

static void
test_tensors (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PlSafetensorsWriter) w = pl_safetensors_writer_new ();
  float f[3] = { 1.5f, -2.0f, 0x1.fffffep+127f };
  double d[2] = { 0.1, -INFINITY };
  gint64 i[2] = { G_MAXINT64, -7 };
  g_assert_true (pl_state_write_f32 (w, "state.x.", "f", f, 3, &error));
  g_assert_true (pl_state_write_f64 (w, "state.x.", "d", d, 2, &error));
  g_assert_true (pl_state_write_i64 (w, "state.x.", "i", i, 2, &error));
  g_assert_true (pl_state_write_f32 (w, "state.x.", "empty", NULL, 0, &error));
  g_assert_no_error (error);
  g_autofree char *path = g_build_filename (pl_test_tmpdir (), "tensors.safetensors", NULL);
  g_assert_true (pl_safetensors_writer_write (w, path, &error));
  g_autoptr (PlSafetensors) st = pl_safetensors_load (path, &error);
  g_assert_no_error (error);

  float f2[3];
  double d2[2];
  gint64 i2[2];
  g_assert_true (pl_state_read_f32 (st, "state.x.", "f", f2, 3, &error));
  g_assert_true (pl_state_read_f64 (st, "state.x.", "d", d2, 2, &error));
  g_assert_true (pl_state_read_i64 (st, "state.x.", "i", i2, 2, &error));
  g_assert_true (pl_state_read_f32 (st, "state.x.", "empty", NULL, 0, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (f, sizeof f, f2, sizeof f2);
  g_assert_cmpmem (d, sizeof d, d2, sizeof d2);
  g_assert_cmpmem (i, sizeof i, i2, sizeof i2);

  /* each refusal names the tensor and what was expected */
  g_assert_false (pl_state_read_f32 (st, "state.y.", "f", f2, 3, &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "\"state.y.f\""));
  g_clear_error (&error);
  g_assert_false (pl_state_read_f64 (st, "state.x.", "f", d2, 3, &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "\"state.x.f\" is F32, expected F64"));
  g_clear_error (&error);
  g_assert_false (pl_state_read_f32 (st, "state.x.", "f", f2, 2, &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "\"state.x.f\" has shape [3], expected [2]"));
}

/* ---- runs ------------------------------------------------------------------- */

static PlRun *
new_run (const char *text, PlRunStore *store, PlExperiment **exp_out)
{
  g_autoptr (GError) error = NULL;
  *exp_out = pl_experiment_load_data (text, -1, "state.ini", &error);
  g_assert_no_error (error);
  PlRun *run = pl_run_new (*exp_out, store, &error);
  g_assert_no_error (error);
  return run;
}

/* a small digits MLP with hidden layers @hidden and more [train] lines */
static char *
small_text (const char *hidden, const char *train)
{
  return g_strdup_printf ("[experiment]\nseed=11\n[data]\ndataset=digits\n"
                          "[model]\nhidden=%s\ndropout=0.2\n"
                          "[train]\nbatch-size=32\n%s", hidden, train);
}

/* The optimizer's buffers and step count carry the update on exactly: two copies
 * of a model, one with the other's optimizer state loaded, take the same update;
 * without the state they would not. */
static void
test_optimizer (void)
{
  static const char *const configs[] = {
    "optimizer=adam\nlr=1e-2\n",
    "optimizer=adamw\nlr=1e-2\nweight-decay=0.01\n",
    "optimizer=sgd\nlr=0.1\nmomentum=0.9\nnesterov=true\n",
  };
  for (guint c = 0; c < G_N_ELEMENTS (configs); c++)
    {
      g_autofree char *text = small_text ("16, 8", configs[c]);
      g_autoptr (GError) error = NULL;
      PlExperiment *ea, *eb, *ec;
      g_autoptr (PlRun) a = new_run (text, NULL, &ea);
      g_autoptr (PlRun) b = new_run (text, NULL, &eb);
      g_autoptr (PlRun) fresh = new_run (text, NULL, &ec);
      PlModel *ma = pl_run_get_model (a), *mb = pl_run_get_model (b);
      PlModel *mc = pl_run_get_model (fresh);
      size_t n = pl_model_get_n_floats (ma);
      float *ga = pl_model_get_grads (ma), *gb = pl_model_get_grads (mb);
      float *gc = pl_model_get_grads (mc);
      for (int s = 0; s < 5; s++)
        {
          for (size_t j = 0; j < n; j++)
            ga[j] = sinf ((float) (j + 7 * s));
          pl_optimizer_step (pl_run_get_optimizer (a), 0.01);
        }
      g_autoptr (PlSafetensorsWriter) w = pl_safetensors_writer_new ();
      g_assert_true (pl_optimizer_save_state (pl_run_get_optimizer (a), w, "o.", &error));
      g_autofree char *path = g_build_filename (pl_test_tmpdir (), "opt.safetensors", NULL);
      g_assert_true (pl_safetensors_writer_write (w, path, &error));
      g_autoptr (PlSafetensors) st = pl_safetensors_load (path, &error);
      g_assert_no_error (error);
      g_assert_true (pl_optimizer_load_state (pl_run_get_optimizer (b), st, "o.", &error));
      g_assert_no_error (error);
      g_assert_cmpint (pl_optimizer_get_step (pl_run_get_optimizer (b)), ==, 5);
      memcpy (pl_model_get_params (mb), pl_model_get_params (ma), n * sizeof (float));
      memcpy (pl_model_get_params (mc), pl_model_get_params (ma), n * sizeof (float));
      for (size_t j = 0; j < n; j++)
        ga[j] = gb[j] = gc[j] = cosf ((float) j);
      pl_optimizer_step (pl_run_get_optimizer (a), 0.01);
      pl_optimizer_step (pl_run_get_optimizer (b), 0.01);
      pl_optimizer_step (pl_run_get_optimizer (fresh), 0.01);
      g_assert_cmpmem (pl_model_get_params (ma), n * sizeof (float), pl_model_get_params (mb),
                       n * sizeof (float));
      g_assert_true (memcmp (pl_model_get_params (ma), pl_model_get_params (mc),
                             n * sizeof (float)) != 0);
      /* a state of another size is refused, naming the tensor */
      g_autoptr (PlRun) other = NULL;
      PlExperiment *eo;
      g_autofree char *text2 = small_text ("4", configs[c]);
      other = new_run (text2, NULL, &eo);
      g_assert_false (pl_optimizer_load_state (pl_run_get_optimizer (other), st, "o.", &error));
      g_assert_error (error, PL_ERROR, PL_ERROR_SHAPE);
      g_assert_nonnull (strstr (error->message, "\"o.buf1\""));
      pl_experiment_unref (ea);
      pl_experiment_unref (eb);
      pl_experiment_unref (ec);
      pl_experiment_unref (eo);
    }
}

static void
stop_after (PlRun *run, gint64 step, gpointer ud)
{
  if (step + 1 == GPOINTER_TO_INT (ud))
    pl_run_stop (run);
}

typedef struct {
  const char *name;
  const char *train;   /* [train] lines */
  int stop_after;      /* steps; 45 per epoch */
} ResumeCase;

/* Every stored curve of run @ia in @a equals that of @ib in @b, point for point
 * and bitwise, except the wall-clock perf/samples_per_s. Returns the points
 * compared. */
static guint
assert_same_curves (PlRunStore *a, gint64 ia, PlRunStore *b, gint64 ib)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) ka = pl_run_store_get_metric_keys (a, ia, &error);
  g_auto (GStrv) kb = pl_run_store_get_metric_keys (b, ib, &error);
  g_assert_no_error (error);
  g_assert_cmpstrv (ka, kb);
  guint points = 0;
  for (guint k = 0; ka[k]; k++)
    {
      if (g_str_equal (ka[k], "perf/samples_per_s"))
        continue;
      g_autoptr (PlSeries) sa = pl_run_store_get_metric (a, ia, ka[k], &error);
      g_autoptr (PlSeries) sb = pl_run_store_get_metric (b, ib, ka[k], &error);
      g_assert_no_error (error);
      if (sa->steps->len != sb->steps->len)
        g_error ("%s: %u points uninterrupted, %u resumed", ka[k], sa->steps->len,
                 sb->steps->len);
      for (guint i = 0; i < sa->steps->len; i++)
        {
          gint64 sta = g_array_index (sa->steps, gint64, i);
          gint64 stb = g_array_index (sb->steps, gint64, i);
          double va = g_array_index (sa->values, double, i);
          double vb = g_array_index (sb->values, double, i);
          if (sta != stb || memcmp (&va, &vb, sizeof va) != 0)
            g_error ("%s point %u: step %" G_GINT64_FORMAT " = %.17g uninterrupted, step %"
                     G_GINT64_FORMAT " = %.17g resumed", ka[k], i, sta, va, stb, vb);
        }
      points += sa->steps->len;
    }
  return points;
}

static void
test_resume (gconstpointer data)
{
  const ResumeCase *rc = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_build_filename (pl_test_tmpdir (), rc->name, NULL);
  g_autofree char *db_a = g_build_filename (dir, "a", "runs.db", NULL);
  g_autofree char *db_b = g_build_filename (dir, "b", "runs.db", NULL);
  g_autofree char *train = g_strconcat ("epochs=3\n", rc->train, NULL);
  g_autofree char *text = small_text ("16, 8", train);
  g_autoptr (PlRunStore) sa = pl_run_store_open (db_a, &error);
  g_autoptr (PlRunStore) sb = pl_run_store_open (db_b, &error);
  g_assert_no_error (error);

  PlExperiment *ea, *eb;
  g_autoptr (PlRun) a = new_run (text, sa, &ea);
  g_assert_true (pl_run_execute (a, &error));
  g_assert_no_error (error);

  g_autoptr (PlRun) b = new_run (text, sb, &eb);
  PlRunHooks hooks = { .name = "test-stop", .after_step = stop_after };
  pl_run_add_hooks (b, &hooks, GINT_TO_POINTER (rc->stop_after), NULL);
  g_assert_true (pl_run_execute (b, &error));
  g_assert_cmpstr (pl_run_get_status (b), ==, "stopped");
  g_assert_cmpint (pl_run_get_step (b), ==, rc->stop_after);
  gint64 id = pl_run_get_id (b);
  g_clear_pointer (&b, pl_run_free);

  g_autoptr (PlExperiment) stored = NULL;
  {
    g_autoptr (PlRunInfo) info = pl_run_store_get_run (sb, id, &error);
    g_assert_no_error (error);
    stored = pl_experiment_load_data (info->experiment, -1, "stored", &error);
    g_assert_no_error (error);
  }
  g_autoptr (PlRun) c = pl_run_new_resumed (stored, sb, NULL, id, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (pl_run_get_resume_step (c), ==, rc->stop_after);
  g_assert_true (pl_run_execute (c, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (pl_run_get_status (c), ==, "finished");
  g_assert_cmpint (pl_run_get_id (c), ==, id);

  PlModel *ma = pl_run_get_model (a), *mc = pl_run_get_model (c);
  size_t n = pl_model_get_n_floats (ma);
  g_assert_cmpmem (pl_model_get_params (ma), n * sizeof (float), pl_model_get_params (mc),
                   n * sizeof (float));
  g_assert_cmpfloat (pl_run_get_best_val_acc (a), ==, pl_run_get_best_val_acc (c));
  g_assert_true (pl_run_store_flush (sa, &error) && pl_run_store_flush (sb, &error));
  guint points = assert_same_curves (sa, pl_run_get_id (a), sb, id);
  g_assert_cmpuint (points, >, 3 * 45 * 2);
  g_test_message ("%s: %u points equal", rc->name, points);

  /* best.safetensors holds the same tensors (its metadata names the run) */
  g_autofree char *best_a = g_build_filename (dir, "a", "checkpoints", "run-1",
                                              "best.safetensors", NULL);
  g_autofree char *best_b = g_build_filename (dir, "b", "checkpoints", "run-1",
                                              "best.safetensors", NULL);
  g_autoptr (PlSafetensors) ba = pl_safetensors_load (best_a, &error);
  g_autoptr (PlSafetensors) bb = pl_safetensors_load (best_b, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pl_safetensors_get_n_tensors (ba), ==, pl_safetensors_get_n_tensors (bb));
  for (guint i = 0; i < pl_safetensors_get_n_tensors (ba); i++)
    {
      const PlTensorInfo *ta = pl_safetensors_get_tensor_at (ba, i);
      const PlTensorInfo *tb = pl_safetensors_lookup (bb, ta->name);
      g_assert_nonnull (tb);
      g_assert_cmpmem (ta->data, ta->nbytes, tb->data, tb->nbytes);
    }
  pl_experiment_unref (ea);
  pl_experiment_unref (eb);
}

/* Without a state file, and with the state of another model, resume is refused
 * before anything is recorded; the message names the tensor and its shape. */
static void
test_refused (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *db = g_build_filename (pl_test_tmpdir (), "refused", "runs.db", NULL);
  g_autoptr (PlRunStore) store = pl_run_store_open (db, &error);
  g_assert_no_error (error);
  g_autofree char *text = small_text ("16, 8", "epochs=1\n");
  PlExperiment *e1, *e2;
  g_autoptr (PlRun) never = new_run (text, store, &e1);
  gint64 id = pl_run_get_id (never);
  g_autoptr (PlRun) r = pl_run_new_resumed (e1, store, NULL, id, NULL, &error);
  g_assert_null (r);
  g_assert_error (error, PL_ERROR, PL_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "has no training-state checkpoint"));
  g_clear_error (&error);

  /* a state of the same run id written by a wider model */
  g_autofree char *wide_text = small_text ("20, 8", "epochs=1\n");
  g_autoptr (PlRun) wide = new_run (wide_text, NULL, &e2);
  g_autofree char *dir = g_build_filename (pl_test_tmpdir (), "refused", "wide", NULL);
  pl_run_set_checkpoint_dir (wide, dir);
  g_assert_true (pl_run_execute (wide, &error));
  g_assert_no_error (error);
  g_autofree char *state = g_build_filename (dir, "state.safetensors", NULL);
  g_assert_true (g_file_test (state, G_FILE_TEST_IS_REGULAR));
  r = pl_run_new_resumed (e1, store, NULL, id, state, &error);
  g_assert_null (r);
  g_assert_error (error, PL_ERROR, PL_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "tensor \"hidden.0.weight\" has shape [20, 64], "
                                            "this run's model expects [16, 64]"));
  g_clear_error (&error);

  /* the same model from another experiment (another lr), then another run */
  g_autofree char *lr_text = small_text ("16, 8", "epochs=1\nlr=0.003\n");
  PlExperiment *e3;
  g_autoptr (PlRun) other_lr = new_run (lr_text, NULL, &e3);
  g_autofree char *dir3 = g_build_filename (pl_test_tmpdir (), "refused", "lr", NULL);
  pl_run_set_checkpoint_dir (other_lr, dir3);
  g_assert_true (pl_run_execute (other_lr, &error));
  g_autofree char *state3 = g_build_filename (dir3, "state.safetensors", NULL);
  r = pl_run_new_resumed (e1, store, NULL, id, state3, &error);
  g_assert_null (r);
  g_assert_error (error, PL_ERROR, PL_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "was written by another experiment"));
  g_clear_error (&error);
  PlExperiment *e4;
  g_autoptr (PlRun) same = new_run (text, NULL, &e4);
  g_autofree char *dir4 = g_build_filename (pl_test_tmpdir (), "refused", "same", NULL);
  pl_run_set_checkpoint_dir (same, dir4);
  g_assert_true (pl_run_execute (same, &error));
  g_autofree char *state4 = g_build_filename (dir4, "state.safetensors", NULL);
  r = pl_run_new_resumed (e1, store, NULL, id, state4, &error);
  g_assert_null (r);
  g_assert_error (error, PL_ERROR, PL_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "belongs to run 0, not to run 1"));
  g_clear_error (&error);
  /* nothing was recorded: the run is still queued */
  g_autoptr (PlRunInfo) info = pl_run_store_get_run (store, id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (info->status, ==, "queued");
  pl_experiment_unref (e3);
  pl_experiment_unref (e4);
  pl_experiment_unref (e1);
  pl_experiment_unref (e2);
}

/* Purging a deleted run hands out its training state with its checkpoints: the
 * engine's own state path (pl_run_get_state_path ()), so that a caller that
 * deletes the files handed out leaves no resume state behind. */
static void
test_purge (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *db = g_build_filename (pl_test_tmpdir (), "purge", "runs.db", NULL);
  g_autofree char *text = small_text ("16", "epochs=2\noptimizer=sgd\nlr=0.05\n");
  g_autoptr (PlRunStore) store = pl_run_store_open (db, &error);
  g_assert_no_error (error);

  PlExperiment *e1, *e2;
  g_autoptr (PlRun) kept = new_run (text, store, &e1);
  g_autoptr (PlRun) gone = new_run (text, store, &e2);
  /* one run keeps its checkpoints outside the store's default directory */
  g_autofree char *elsewhere = g_build_filename (pl_test_tmpdir (), "purge", "elsewhere", NULL);
  pl_run_set_checkpoint_dir (kept, elsewhere);
  PlRunHooks hooks = { .name = "test-stop", .after_step = stop_after };
  pl_run_add_hooks (kept, &hooks, GINT_TO_POINTER (50), NULL);
  pl_run_add_hooks (gone, &hooks, GINT_TO_POINTER (50), NULL);
  g_assert_true (pl_run_execute (kept, &error) && pl_run_execute (gone, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (pl_run_get_status (gone), ==, "stopped");
  g_autofree char *state = pl_run_get_state_path (gone);
  g_autofree char *kept_state = pl_run_get_state_path (kept);
  g_assert_true (g_file_test (state, G_FILE_TEST_IS_REGULAR));
  g_assert_true (g_file_test (kept_state, G_FILE_TEST_IS_REGULAR));
  g_assert_true (g_str_has_prefix (kept_state, elsewhere));

  /* what the window asks before it offers Resume: both states are found */
  g_autofree char *found_gone = pl_run_store_find_state_file (store, pl_run_get_id (gone), &error);
  g_assert_no_error (error);
  g_autofree char *found_kept = pl_run_store_find_state_file (store, pl_run_get_id (kept), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (found_gone, ==, state);
  g_assert_cmpstr (found_kept, ==, kept_state);
  g_autofree char *none = pl_run_store_find_state_file (store, 9999, &error);
  g_assert_no_error (error);
  g_assert_null (none);

  g_assert_true (pl_run_store_delete_run (store, pl_run_get_id (gone), &error));
  g_autoptr (GPtrArray) paths = NULL;
  g_assert_cmpint (pl_run_store_purge_deleted (store, &paths, &error), ==, 1);
  g_assert_no_error (error);
  gboolean found = FALSE;
  for (guint i = 0; i < paths->len; i++)
    {
      const char *p = g_ptr_array_index (paths, i);
      g_assert_cmpstr (p, !=, kept_state);
      if (g_str_equal (p, state))
        found = TRUE;
      g_assert_cmpint (g_remove (p), ==, 0);
    }
  g_assert_true (found);
  g_assert_false (g_file_test (state, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (kept_state, G_FILE_TEST_IS_REGULAR));
  g_autofree char *after = pl_run_store_find_state_file (store, pl_run_get_id (gone), &error);
  g_assert_no_error (error);
  g_assert_null (after);
  pl_experiment_unref (e1);
  pl_experiment_unref (e2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  pl_test_tmpdir ();
  /* bitwise equality needs the same summation order in every BLAS call */
  openblas_set_num_threads (1);
  static const ResumeCase cases[] = {
    /* dropout, cosine with warmup, a stop in the middle of epoch 2 */
    { "adam-mid-epoch", "optimizer=adam\nlr=1e-2\nschedule=cosine\nwarmup-steps=10\n", 60 },
    /* momentum, step schedule, a stop at the end of epoch 1 */
    { "sgd-epoch-end", "optimizer=sgd\nlr=0.05\nmomentum=0.9\nschedule=step\nstep-size=1\n"
                       "gamma=0.5\n", 45 },
  };
  g_test_add_func ("/core/run-state/tensors", test_tensors);
  g_test_add_func ("/core/run-state/optimizer", test_optimizer);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/core/run-state/resume/%s", cases[i].name);
      g_test_add_data_func (path, &cases[i], test_resume);
    }
  g_test_add_func ("/core/run-state/refused", test_refused);
  g_test_add_func ("/core/run-state/purge", test_purge);
  return g_test_run ();
}
