/* Reliability of file writes and of the divergence check (issue 6,
 * docs/reliability.md):
 *  - pl_file_write_atomic() killed (SIGKILL) half-way leaves the old file and a
 *    hidden temporary file, which the next write (or the sweep) removes;
 *  - PL_FILE_WRITE_NO_REPLACE never replaces an existing file;
 *  - a write that hits the file size limit (EFBIG) names the file and leaves
 *    nothing behind;
 *  - a parameter that becomes Inf while the loss is still finite stops the run
 *    as "diverged", naming the step and the tensor. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "paramlab.h"
#include "pl-test-util.h"

static char *
test_dir (const char *name)
{
  char *dir = g_build_filename (pl_test_tmpdir (), name, NULL);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  return dir;
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* The names in dir, sorted and joined with ' ' ("" for none). */
static char *
dir_listing (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  g_assert_nonnull (d);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  while ((name = g_dir_read_name (d)))
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (" ", (char **) names->pdata);
}

typedef struct {
  gsize size;
  gboolean die_half_way;
} Payload;

/* PlFileWriteFunc: size bytes of 'x', or half of them and then SIGKILL */
static gboolean
write_payload (int fd, const char *path, gpointer user_data, GError **error)
{
  Payload *p = user_data;
  g_autofree char *buf = g_malloc (p->size);
  memset (buf, 'x', p->size);
  if (p->die_half_way)
    {
      if (!pl_file_write_all (fd, buf, p->size / 2, path, error))
        return FALSE;
      kill (getpid (), SIGKILL);
    }
  return pl_file_write_all (fd, buf, p->size, path, error);
}

static void
test_killed_mid_write (void)
{
  g_autofree char *dir = test_dir ("killed");
  g_autofree char *path = g_build_filename (dir, "last.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_set_contents (path, "old", 3, &error));

  pid_t child = fork ();
  g_assert_cmpint (child, >=, 0);
  if (child == 0)
    {
      Payload p = { 1 << 20, TRUE };
      pl_file_write_atomic (path, PL_FILE_WRITE_REPLACE, write_payload, &p, NULL);
      _exit (3); /* not reached: the write kills the process */
    }
  int status = 0;
  g_assert_cmpint (waitpid (child, &status, 0), ==, child);
  g_assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);

  /* the old file is whole; the half-written bytes sit in a hidden temporary file */
  g_autofree char *contents = NULL;
  g_assert_true (g_file_get_contents (path, &contents, NULL, &error));
  g_assert_cmpstr (contents, ==, "old");
  g_autofree char *listing = dir_listing (dir);
  g_test_message ("after the kill: %s", listing);
  g_auto (GStrv) names = g_strsplit (listing, " ", -1);
  g_assert_cmpuint (g_strv_length (names), ==, 2);
  g_assert_cmpstr (names[1], ==, "last.safetensors");
  g_assert_true (names[0][0] == '.' && pl_file_is_temp_name (names[0]));
  g_autofree char *expected_prefix = g_strdup_printf (".last.safetensors.tmp-%d-", (int) child);
  g_assert_true (g_str_has_prefix (names[0], expected_prefix));
  g_assert_false (pl_file_is_temp_name ("last.safetensors"));
  g_assert_false (pl_file_is_temp_name (".last.safetensors.tmp-12-abc"));

  /* the next atomic write into the directory removes it */
  Payload p = { 4096, FALSE };
  g_assert_true (pl_file_write_atomic (path, PL_FILE_WRITE_REPLACE, write_payload, &p, &error));
  g_assert_no_error (error);
  g_autofree char *after = dir_listing (dir);
  g_assert_cmpstr (after, ==, "last.safetensors");

  /* and so does the sweep, which leaves the temporary files of live processes */
  g_autofree char *stale = g_build_filename (dir, ".x.tmp-999999999-AbC123", NULL);
  g_autofree char *live = g_strdup_printf ("%s/.x.tmp-%d-AbC123", dir, (int) getppid ());
  g_assert_true (g_file_set_contents (stale, "", 0, NULL));
  g_assert_true (g_file_set_contents (live, "", 0, NULL));
  g_assert_cmpuint (pl_file_remove_stale_temps (dir), ==, 1);
  g_assert_false (g_file_test (stale, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (live, G_FILE_TEST_EXISTS));
  g_unlink (live);
}

static void
test_no_replace (void)
{
  g_autofree char *dir = test_dir ("noreplace");
  g_autofree char *path = g_build_filename (dir, "export.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  Payload p = { 100, FALSE };

  /* a new file is created */
  g_assert_true (pl_file_write_atomic (path, PL_FILE_WRITE_NO_REPLACE, write_payload, &p,
                                       &error));
  g_assert_no_error (error);
  GStatBuf st;
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_size, ==, 100);

  /* an existing one stays, and the error names it */
  p.size = 200;
  g_assert_false (pl_file_write_atomic (path, PL_FILE_WRITE_NO_REPLACE, write_payload, &p,
                                        &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_IO);
  g_test_message ("%s", error->message);
  g_assert_true (g_str_has_prefix (error->message, path));
  g_assert_nonnull (strstr (error->message, "already exists"));
  g_clear_error (&error);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_size, ==, 100);
  g_autofree char *listing = dir_listing (dir);
  g_assert_cmpstr (listing, ==, "export.safetensors");

  /* replacing is explicit */
  g_assert_true (pl_file_write_atomic (path, PL_FILE_WRITE_REPLACE, write_payload, &p, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_size, ==, 200);
}

static void
test_file_too_large (void)
{
  g_autofree char *dir = test_dir ("efbig");
  g_autofree char *path = g_build_filename (dir, "big.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_set_contents (path, "old", 3, &error));

  struct rlimit saved, small;
  g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  small = saved;
  small.rlim_cur = 64 * 1024;
  void (*old_handler) (int) = signal (SIGXFSZ, SIG_IGN);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &small), ==, 0);
  Payload p = { 1 << 20, FALSE };
  gboolean ok = pl_file_write_atomic (path, PL_FILE_WRITE_REPLACE, write_payload, &p, &error);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  signal (SIGXFSZ, old_handler);

  g_assert_false (ok);
  g_assert_error (error, PL_ERROR, PL_ERROR_IO);
  g_test_message ("%s", error->message);
  g_assert_true (g_str_has_prefix (error->message, path));
  g_assert_nonnull (strstr (error->message, g_strerror (EFBIG)));
  g_autofree char *contents = NULL;
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "old");
  g_autofree char *listing = dir_listing (dir);
  g_assert_cmpstr (listing, ==, "big.safetensors");
}

/* after_step hook: at update 16 (a multiple of the check interval) one weight
 * becomes +Inf. The loss of that step was finite; only the parameter check can
 * see it before the next forward pass. */
static void
poison_after_step (PlRun *run, gint64 step, gpointer user_data)
{
  if (step + 1 == 16)
    {
      PlParam *p = pl_model_lookup_param (pl_run_get_model (run), user_data);
      g_assert_nonnull (p);
      p->data[3] = INFINITY;
    }
}

static void
test_param_inf_diverges (void)
{
  g_autofree char *dir = test_dir ("diverge");
  g_autofree char *db = g_build_filename (dir, "runs.db", NULL);
  g_autoptr (GError) error = NULL;
  const char *text = "[experiment]\nname = poisoned\nseed = 1\n"
                     "[data]\ndataset = digits\n"
                     "[model]\narchitecture = mlp\nhidden = 16\n"
                     "[train]\nepochs = 1\nbatch-size = 32\n";
  g_autoptr (PlExperiment) exp = pl_experiment_load_data (text, -1, "poisoned.ini", &error);
  g_assert_no_error (error);
  g_autoptr (PlRunStore) store = pl_run_store_open (db, &error);
  g_assert_no_error (error);
  g_autoptr (PlRun) run = pl_run_new (exp, store, &error);
  g_assert_no_error (error);
  PlModel *model = pl_run_get_model (run);
  const char *target = pl_model_get_param (model, 0)->name;
  PlRunHooks hooks = { .name = "poison", .after_step = poison_after_step };
  pl_run_add_hooks (run, &hooks, g_strdup (target), g_free);

  g_assert_false (pl_run_execute (run, &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_DIVERGED);
  g_test_message ("%s", error->message);
  g_autofree char *want = g_strdup_printf ("step 16: parameter '%s' has Inf", target);
  g_assert_true (g_str_has_prefix (error->message, want));
  g_assert_cmpstr (pl_run_get_status (run), ==, "diverged");
  g_clear_error (&error);

  g_autoptr (PlRunInfo) info = pl_run_store_get_run (store, pl_run_get_id (run), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (info->status, ==, "diverged");
  g_assert_true (g_str_has_prefix (info->error, want));
  g_autoptr (GPtrArray) events = pl_run_store_get_events (store, pl_run_get_id (run), &error);
  g_assert_no_error (error);
  PlRunEvent *last = events->pdata[events->len - 1];
  g_assert_cmpstr (last->kind, ==, "failed");
  g_assert_nonnull (strstr (last->payload_json, "\"status\":\"diverged\""));
  g_assert_nonnull (strstr (last->payload_json, want));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/reliability/atomic/killed-mid-write", test_killed_mid_write);
  g_test_add_func ("/reliability/atomic/no-replace", test_no_replace);
  g_test_add_func ("/reliability/atomic/file-too-large", test_file_too_large);
  g_test_add_func ("/reliability/diverged/parameter-inf", test_param_inf_diverges);
  return g_test_run ();
}
