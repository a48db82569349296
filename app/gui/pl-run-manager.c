/* pl-run-manager.c: the queue of runs started from the window. */
#include "pl-run-manager.h"

#include "pl-config.h"

struct _PlRunManager {
  GObject parent_instance;

  GSettings *settings;
  GListStore *runs;
  GQueue queue;             /* PlLiveRun * waiting, not owned (runs owns them) */
  char *cli_path;
  char *db_path;
};

G_DEFINE_FINAL_TYPE (PlRunManager, pl_run_manager, G_TYPE_OBJECT)

enum {
  SIGNAL_RUN_ADDED,
  SIGNAL_RUN_STATE_CHANGED,
  SIGNAL_RUN_IDENTIFIED,
  SIGNAL_RUN_ENDED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void start_queued (PlRunManager *self);

static void
pl_run_manager_dispose (GObject *object)
{
  PlRunManager *self = PL_RUN_MANAGER (object);
  guint n = self->runs ? g_list_model_get_n_items (G_LIST_MODEL (self->runs)) : 0;
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PlLiveRun) run = g_list_model_get_item (G_LIST_MODEL (self->runs), i);
      g_signal_handlers_disconnect_by_data (run, self);
    }
  g_queue_clear (&self->queue);
  g_clear_object (&self->runs);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (pl_run_manager_parent_class)->dispose (object);
}

static void
pl_run_manager_finalize (GObject *object)
{
  PlRunManager *self = PL_RUN_MANAGER (object);
  g_free (self->cli_path);
  g_free (self->db_path);
  G_OBJECT_CLASS (pl_run_manager_parent_class)->finalize (object);
}

static void
pl_run_manager_class_init (PlRunManagerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->dispose = pl_run_manager_dispose;
  object_class->finalize = pl_run_manager_finalize;

  signals[SIGNAL_RUN_ADDED] =
    g_signal_new ("run-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, PL_TYPE_LIVE_RUN);
  signals[SIGNAL_RUN_STATE_CHANGED] =
    g_signal_new ("run-state-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, PL_TYPE_LIVE_RUN);
  signals[SIGNAL_RUN_IDENTIFIED] =
    g_signal_new ("run-identified", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, PL_TYPE_LIVE_RUN);
  signals[SIGNAL_RUN_ENDED] =
    g_signal_new ("run-ended", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, PL_TYPE_LIVE_RUN);
}

static void
pl_run_manager_init (PlRunManager *self)
{
  self->runs = g_list_store_new (PL_TYPE_LIVE_RUN);
  g_queue_init (&self->queue);
}

static void
on_max_runs_changed (GSettings    *settings,
                     const char   *key,
                     PlRunManager *self)
{
  start_queued (self);
}

PlRunManager *
pl_run_manager_new (GSettings *settings)
{
  PlRunManager *self = g_object_new (PL_TYPE_RUN_MANAGER, NULL);
  if (settings)
    {
      self->settings = g_object_ref (settings);
      g_signal_connect_object (settings, "changed::max-concurrent-runs",
                               G_CALLBACK (on_max_runs_changed), self, 0);
    }
  self->cli_path = pl_find_cli ();
  return self;
}

void
pl_run_manager_set_cli_path (PlRunManager *self,
                             const char   *path)
{
  g_return_if_fail (PL_IS_RUN_MANAGER (self));
  g_free (self->cli_path);
  self->cli_path = path ? g_strdup (path) : pl_find_cli ();
}

const char *
pl_run_manager_get_cli_path (PlRunManager *self)
{
  g_return_val_if_fail (PL_IS_RUN_MANAGER (self), NULL);
  return self->cli_path;
}

void
pl_run_manager_set_db_path (PlRunManager *self,
                            const char   *path)
{
  g_return_if_fail (PL_IS_RUN_MANAGER (self));
  g_free (self->db_path);
  self->db_path = g_strdup (path);
}

GListModel *
pl_run_manager_get_runs (PlRunManager *self)
{
  g_return_val_if_fail (PL_IS_RUN_MANAGER (self), NULL);
  return G_LIST_MODEL (self->runs);
}

/* Runs that hold a slot: started and not ended. */
static guint
count_started (PlRunManager *self)
{
  guint n = 0, total = g_list_model_get_n_items (G_LIST_MODEL (self->runs));
  for (guint i = 0; i < total; i++)
    {
      g_autoptr (PlLiveRun) run = g_list_model_get_item (G_LIST_MODEL (self->runs), i);
      if (pl_live_run_is_active (run) && pl_live_run_get_state (run) != PL_LIVE_RUN_QUEUED)
        n++;
    }
  return n;
}

guint
pl_run_manager_get_n_active (PlRunManager *self)
{
  g_return_val_if_fail (PL_IS_RUN_MANAGER (self), 0);
  guint n = 0, total = g_list_model_get_n_items (G_LIST_MODEL (self->runs));
  for (guint i = 0; i < total; i++)
    {
      g_autoptr (PlLiveRun) run = g_list_model_get_item (G_LIST_MODEL (self->runs), i);
      if (pl_live_run_is_active (run))
        n++;
    }
  return n;
}

PlLiveRun *
pl_run_manager_lookup (PlRunManager *self,
                       gint64        id)
{
  g_return_val_if_fail (PL_IS_RUN_MANAGER (self), NULL);
  if (id <= 0)
    return NULL;
  guint total = g_list_model_get_n_items (G_LIST_MODEL (self->runs));
  for (guint i = total; i-- > 0;)
    {
      g_autoptr (PlLiveRun) run = g_list_model_get_item (G_LIST_MODEL (self->runs), i);
      if (pl_live_run_get_id (run) == id)
        return run;   /* still owned by self->runs */
    }
  return NULL;
}

static void
on_run_state_changed (PlLiveRun    *run,
                      PlRunManager *self)
{
  g_signal_emit (self, signals[SIGNAL_RUN_STATE_CHANGED], 0, run);
}

static void
on_run_identified (PlLiveRun    *run,
                   PlRunManager *self)
{
  g_signal_emit (self, signals[SIGNAL_RUN_IDENTIFIED], 0, run);
}

static void
on_run_ended (PlLiveRun    *run,
              PlRunManager *self)
{
  g_queue_remove (&self->queue, run);
  g_signal_emit (self, signals[SIGNAL_RUN_ENDED], 0, run);
  start_queued (self);
}

/* Starts queued runs while slots are free. A run that cannot be spawned ends
 * failed at once and frees its slot. */
static void
start_queued (PlRunManager *self)
{
  int max = self->settings ? g_settings_get_int (self->settings, "max-concurrent-runs") : 1;
  int threads = self->settings ? g_settings_get_int (self->settings, "threads") : 0;
  while (!g_queue_is_empty (&self->queue) && count_started (self) < (guint) MAX (max, 1))
    {
      PlLiveRun *run = g_queue_pop_head (&self->queue);
      g_autoptr (GError) error = NULL;
      if (!pl_live_run_start (run, self->cli_path, self->db_path, threads, &error))
        g_warning ("Could not start a run: %s", error->message);
    }
}

static PlLiveRun *
enqueue (PlRunManager *self,
         PlLiveRun    *run)
{
  g_signal_connect_object (run, "state-changed", G_CALLBACK (on_run_state_changed), self, 0);
  g_signal_connect_object (run, "identified", G_CALLBACK (on_run_identified), self, 0);
  g_signal_connect_object (run, "ended", G_CALLBACK (on_run_ended), self, 0);
  g_list_store_append (self->runs, run);
  g_queue_push_tail (&self->queue, run);
  g_signal_emit (self, signals[SIGNAL_RUN_ADDED], 0, run);
  start_queued (self);
  return run;
}

PlLiveRun *
pl_run_manager_submit (PlRunManager *self,
                       const char   *name,
                       const char   *experiment_text,
                       gint64        parent_run)
{
  g_return_val_if_fail (PL_IS_RUN_MANAGER (self), NULL);
  g_return_val_if_fail (experiment_text != NULL, NULL);
  g_autoptr (PlLiveRun) run = pl_live_run_new (name, experiment_text, parent_run);
  return enqueue (self, run);
}

PlLiveRun *
pl_run_manager_resume (PlRunManager *self,
                       const char   *name,
                       gint64        run_id,
                       const char   *experiment_text)
{
  g_return_val_if_fail (PL_IS_RUN_MANAGER (self), NULL);
  g_return_val_if_fail (run_id > 0, NULL);
  g_autoptr (PlLiveRun) run = pl_live_run_new_resume (name, run_id, experiment_text);
  return enqueue (self, run);
}

void
pl_run_manager_stop_all (PlRunManager *self)
{
  g_return_if_fail (PL_IS_RUN_MANAGER (self));
  /* Drop the queue first, so that stopping a running run starts nothing. */
  while (!g_queue_is_empty (&self->queue))
    pl_live_run_stop (g_queue_peek_head (&self->queue));
  guint total = g_list_model_get_n_items (G_LIST_MODEL (self->runs));
  for (guint i = 0; i < total; i++)
    {
      g_autoptr (PlLiveRun) run = g_list_model_get_item (G_LIST_MODEL (self->runs), i);
      pl_live_run_stop (run);
    }
}

static char *
self_exe_dir (void)
{
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
  return exe ? g_path_get_dirname (exe) : NULL;
}

char *
pl_find_cli (void)
{
  const char *env = g_getenv ("PARAMLAB_CLI");
  if (env && *env)
    return g_strdup (env);

  g_autofree char *dir = self_exe_dir ();
  if (dir)
    {
      /* uninstalled: app/gui/paramlab (or tests/) next to app/cli/paramlab-cli */
      if (g_str_has_prefix (dir, PL_BUILD_DIR))
        {
          g_autofree char *built = g_build_filename (PL_BUILD_DIR, "app", "cli",
                                                     "paramlab-cli", NULL);
          if (g_file_test (built, G_FILE_TEST_IS_EXECUTABLE))
            return g_steal_pointer (&built);
        }
      g_autofree char *sibling = g_build_filename (dir, "paramlab-cli", NULL);
      if (g_file_test (sibling, G_FILE_TEST_IS_EXECUTABLE))
        return g_steal_pointer (&sibling);
    }
  g_autofree char *installed = g_build_filename (PL_BINDIR, "paramlab-cli", NULL);
  if (g_file_test (installed, G_FILE_TEST_IS_EXECUTABLE))
    return g_steal_pointer (&installed);
  char *on_path = g_find_program_in_path ("paramlab-cli");
  return on_path ? on_path : g_strdup ("paramlab-cli");
}
