/* pl-application.c: the Paramlab application. */
#include "pl-application.h"

#include <glib/gi18n.h>
#include <math.h>

#include "pl-config.h"
#include "pl-gui.h"
#include "pl-preferences-window.h"
#include "pl-window.h"

struct _PlApplication {
  AdwApplication parent_instance;

  GSettings *settings;
  PlRunManager *manager;
  PlRunStore *store;
  char *store_path;        /* what store was opened from */
  GError *store_error;
  gboolean can_notify;     /* a notification service is on the session bus */
};

G_DEFINE_FINAL_TYPE (PlApplication, pl_application, ADW_TYPE_APPLICATION)

enum {
  SIGNAL_STORE_CHANGED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

const char *
pl_application_get_data_dir (void)
{
  static char *dir;
  if (g_once_init_enter (&dir))
    {
      char *found = NULL;
      const char *env = g_getenv ("PARAMLAB_DATA_DIR");
      g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
      if (env && *env)
        found = g_strdup (env);
      else if (exe && g_str_has_prefix (exe, PL_BUILD_DIR))
        found = g_build_filename (PL_SOURCE_DIR, "data", NULL);
      else if (g_file_test (PL_INSTALL_DATADIR, G_FILE_TEST_IS_DIR))
        found = g_strdup (PL_INSTALL_DATADIR);
      else
        found = g_build_filename (PL_SOURCE_DIR, "data", NULL);
      g_once_init_leave (&dir, found);
    }
  return dir;
}

char *
pl_application_dup_db_path (PlApplication *self)
{
  g_return_val_if_fail (PL_IS_APPLICATION (self), NULL);
  g_autofree char *path = g_settings_get_string (self->settings, "database-path");
  if (path && *path)
    return g_steal_pointer (&path);
  return pl_run_store_default_path ();
}

PlRunStore *
pl_application_get_store (PlApplication  *self,
                          GError        **error)
{
  g_return_val_if_fail (PL_IS_APPLICATION (self), NULL);
  g_autofree char *path = pl_application_dup_db_path (self);
  if (g_strcmp0 (path, self->store_path) != 0)
    {
      if (self->store)
        pl_run_store_close (self->store, NULL);
      g_clear_object (&self->store);
      g_clear_error (&self->store_error);
      g_free (self->store_path);
      self->store_path = g_strdup (path);
      self->store = pl_run_store_open (path, &self->store_error);
      pl_run_manager_set_db_path (self->manager, path);
    }
  if (!self->store && error)
    *error = g_error_copy (self->store_error);
  return self->store;
}

static void
on_db_path_changed (GSettings     *settings,
                    const char    *key,
                    PlApplication *self)
{
  g_autoptr (GError) error = NULL;
  pl_application_get_store (self, &error);
  g_signal_emit (self, signals[SIGNAL_STORE_CHANGED], 0);
}

/* A run's child died without telling the store: record why. */
static void
record_failure (PlApplication *self,
                PlLiveRun     *run)
{
  gint64 id = pl_live_run_get_id (run);
  PlRunStore *store = pl_application_get_store (self, NULL);
  if (id <= 0 || !store)
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (PlRunInfo) info = pl_run_store_get_run (store, id, &error);
  if (!info || (g_strcmp0 (info->status, "running") != 0
                && g_strcmp0 (info->status, "queued") != 0))
    return;
  if (!pl_run_store_set_status (store, id, "failed", pl_live_run_get_error (run), &error)
      || !pl_run_store_update_summary (store, id, &error))
    g_warning ("Could not record that run %" G_GINT64_FORMAT " failed: %s", id, error->message);
}

static void
send_notification (PlApplication *self,
                   PlLiveRun     *run)
{
  if (!g_settings_get_boolean (self->settings, "notify-on-finish"))
    return;
  /* Without a notification service there is nobody to show it. */
  if (!self->can_notify)
    return;

  const char *title;
  g_autofree char *body = NULL;
  double acc = pl_live_run_get_best_val_acc (run);
  switch (pl_live_run_get_state (run))
    {
    case PL_LIVE_RUN_FINISHED:
      title = _("Run finished");
      if (!isnan (acc))
        body = g_strdup_printf (_("%s reached a validation accuracy of %.1f%%."),
                                pl_live_run_get_name (run), acc * 100);
      else
        body = g_strdup_printf (_("%s has finished."), pl_live_run_get_name (run));
      break;
    case PL_LIVE_RUN_STOPPED:
      title = _("Run stopped");
      body = g_strdup_printf (_("%s was stopped."), pl_live_run_get_name (run));
      break;
    default:
      title = _("Run failed");
      body = g_strdup_printf ("%s: %s", pl_live_run_get_name (run),
                              pl_live_run_get_error (run) ? pl_live_run_get_error (run) : "");
      break;
    }
  g_autoptr (GNotification) n = g_notification_new (title);
  g_notification_set_body (n, body);
  g_notification_set_default_action_and_target (n, "app.show-run", "x",
                                                pl_live_run_get_id (run));
  g_autofree char *nid = g_strdup_printf ("run-%p", (void *) run);
  g_application_send_notification (G_APPLICATION (self), nid, n);
}

static void
on_run_ended (PlRunManager  *manager,
              PlLiveRun     *run,
              PlApplication *self)
{
  if (pl_live_run_get_state (run) == PL_LIVE_RUN_FAILED)
    record_failure (self, run);
  send_notification (self, run);
  if (pl_run_manager_get_n_active (manager) == 0
      && g_object_get_data (G_OBJECT (self), "pl-quit-when-idle"))
    {
      g_object_set_data (G_OBJECT (self), "pl-quit-when-idle", NULL);
      g_application_release (G_APPLICATION (self));
    }
}

/* A run again started: link it to the run it repeats. */
static void
on_run_identified (PlRunManager  *manager,
                   PlLiveRun     *run,
                   PlApplication *self)
{
  gint64 parent = pl_live_run_get_parent_run (run);
  PlRunStore *store = pl_application_get_store (self, NULL);
  g_autoptr (GError) error = NULL;
  if (parent > 0 && store
      && !pl_run_store_set_parent_run (store, pl_live_run_get_id (run), parent, &error))
    g_warning ("Could not record that run %" G_GINT64_FORMAT " repeats run %" G_GINT64_FORMAT
               ": %s", pl_live_run_get_id (run), parent, error->message);
}

static PlWindow *
get_window (PlApplication *self)
{
  GtkWindow *win = gtk_application_get_active_window (GTK_APPLICATION (self));
  if (PL_IS_WINDOW (win))
    return PL_WINDOW (win);
  return pl_window_new (self);
}

static void
pl_application_activate (GApplication *app)
{
  pl_gui_trace ("application: activate");
  gtk_window_present (GTK_WINDOW (get_window (PL_APPLICATION (app))));
}

static void
pl_application_open (GApplication  *app,
                     GFile        **files,
                     int            n_files,
                     const char    *hint)
{
  PlWindow *win = get_window (PL_APPLICATION (app));
  if (n_files > 0)
    pl_window_open_file (win, files[0]);
  gtk_window_present (GTK_WINDOW (win));
}

static void
action_quit (GSimpleAction *action,
             GVariant      *param,
             gpointer       user_data)
{
  PlApplication *self = user_data;
  GList *windows = gtk_application_get_windows (GTK_APPLICATION (self));
  if (windows)
    gtk_window_close (GTK_WINDOW (windows->data));   /* asks about active runs */
  else
    g_application_quit (G_APPLICATION (self));
}

static void
action_preferences (GSimpleAction *action,
                    GVariant      *param,
                    gpointer       user_data)
{
  PlApplication *self = user_data;
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (self));
  PlPreferencesWindow *prefs = pl_preferences_window_new (self->settings, parent);
  gtk_window_present (GTK_WINDOW (prefs));
}

static void
action_about (GSimpleAction *action,
              GVariant      *param,
              gpointer       user_data)
{
  PlApplication *self = user_data;
  static const char *developers[] = { "The Paramlab authors", NULL };
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (self));
  GtkWidget *about = g_object_new (ADW_TYPE_ABOUT_WINDOW,
                                   "transient-for", parent,
                                   "application-icon", PL_APPLICATION_ID,
                                   "application-name", "Paramlab",
                                   "developer-name", "The Paramlab authors",
                                   "version", PL_VERSION,
                                   "comments", _("A workbench for the parameters of neural networks: "
                                                 "initialization, sparsity, pruning, quantization."),
                                   "website", "https://github.com/paramlab/paramlab",
                                   "issue-url", "https://github.com/paramlab/paramlab/issues",
                                   "license-type", GTK_LICENSE_GPL_3_0,
                                   "developers", developers,
                                   /* Translators: your name, shown in the About window */
                                   "translator-credits", _("translator-credits"),
                                   NULL);
  gtk_window_present (GTK_WINDOW (about));
}

static void
action_help (GSimpleAction *action,
             GVariant      *param,
             gpointer       user_data)
{
  PlApplication *self = user_data;
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (self));
  g_autofree char *local = g_build_filename (PL_SOURCE_DIR, "docs", "window.md", NULL);
  g_autofree char *installed = g_build_filename (PL_INSTALL_DATADIR, "..", "doc", "paramlab",
                                                 "window.md", NULL);
  g_autofree char *uri = NULL;
  if (g_file_test (installed, G_FILE_TEST_EXISTS))
    uri = g_filename_to_uri (installed, NULL, NULL);
  else if (g_file_test (local, G_FILE_TEST_EXISTS))
    uri = g_filename_to_uri (local, NULL, NULL);
  else
    uri = g_strdup ("https://github.com/paramlab/paramlab/blob/main/docs/window.md");
  gtk_show_uri (parent, uri, GDK_CURRENT_TIME);
}

static void
action_show_run (GSimpleAction *action,
                 GVariant      *param,
                 gpointer       user_data)
{
  PlApplication *self = user_data;
  PlWindow *win = get_window (self);
  pl_window_show_run (win, g_variant_get_int64 (param));
  gtk_window_present (GTK_WINDOW (win));
}

/* Is there a service that shows notifications (a desktop session has one; a
 * bare D-Bus session under a test does not, and GIO would warn)? */
static void
on_names_listed (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr (PlApplication) self = user_data;
  g_autoptr (GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source),
                                                              result, NULL);
  if (!reply)
    return;
  g_autoptr (GVariant) names = g_variant_get_child_value (reply, 0);
  static const char * const services[] = {
    "org.freedesktop.Notifications", "org.gtk.Notifications", "org.freedesktop.portal.Desktop",
  };
  for (gsize i = 0; i < g_variant_n_children (names); i++)
    {
      g_autoptr (GVariant) name = g_variant_get_child_value (names, i);
      for (guint k = 0; k < G_N_ELEMENTS (services); k++)
        if (g_str_equal (g_variant_get_string (name, NULL), services[k]))
          self->can_notify = TRUE;
    }
}

static void
probe_notifications (PlApplication *self)
{
  GDBusConnection *bus = g_application_get_dbus_connection (G_APPLICATION (self));
  if (!bus)
    return;
  static const char * const methods[] = { "ListNames", "ListActivatableNames" };
  for (guint i = 0; i < G_N_ELEMENTS (methods); i++)
    g_dbus_connection_call (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                            "org.freedesktop.DBus", methods[i], NULL, G_VARIANT_TYPE ("(as)"),
                            G_DBUS_CALL_FLAGS_NONE, -1, NULL, on_names_listed,
                            g_object_ref (self));
}

static const GActionEntry app_actions[] = {
  { "quit", action_quit },
  { "preferences", action_preferences },
  { "about", action_about },
  { "help", action_help },
  { "show-run", action_show_run, "x" },
};

static void
pl_application_startup (GApplication *app)
{
  PlApplication *self = PL_APPLICATION (app);
  pl_gui_trace ("application: startup");
  G_APPLICATION_CLASS (pl_application_parent_class)->startup (app);
  pl_gui_trace ("application: GTK and libadwaita initialized");

  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions,
                                   G_N_ELEMENTS (app_actions), self);
  probe_notifications (self);
  static const struct { const char *action; const char *accels[3]; } accels[] = {
    { "app.quit", { "<Control>q", NULL } },
    { "app.preferences", { "<Control>comma", NULL } },
    { "app.help", { "F1", NULL } },
    { "win.show-help-overlay", { "<Control>question", "<Control>slash" } },
    { "win.run", { "<Control>r", NULL } },
    { "win.open", { "<Control>o", NULL } },
    { "win.save", { "<Control>s", NULL } },
    { "win.save-as", { "<Control><Shift>s", NULL } },
    { "win.search", { "<Control>f", NULL } },
    { "win.pause-resume", { "<Control>p", NULL } },
    { "win.stop", { "<Control>period", NULL } },
    { "win.compare", { "<Control>d", NULL } },
    { "win.export", { "<Control>e", NULL } },
    { "win.show-page('editor')", { "<Alt>1", NULL } },
    { "win.show-page('run')", { "<Alt>2", NULL } },
    { "win.show-page('compare')", { "<Alt>3", NULL } },
    { "win.show-page('plugins')", { "<Alt>4", NULL } },
  };
  for (guint i = 0; i < G_N_ELEMENTS (accels); i++)
    gtk_application_set_accels_for_action (GTK_APPLICATION (self), accels[i].action,
                                           accels[i].accels);
}

static void
pl_application_shutdown (GApplication *app)
{
  PlApplication *self = PL_APPLICATION (app);
  if (self->manager)
    pl_run_manager_stop_all (self->manager);
  if (self->store)
    {
      g_autoptr (GError) error = NULL;
      if (!pl_run_store_close (self->store, &error))
        g_warning ("Closing the run store: %s", error->message);
    }
  G_APPLICATION_CLASS (pl_application_parent_class)->shutdown (app);
}

static void
pl_application_dispose (GObject *object)
{
  PlApplication *self = PL_APPLICATION (object);
  if (self->manager)
    g_signal_handlers_disconnect_by_data (self->manager, self);
  g_clear_object (&self->manager);
  g_clear_object (&self->store);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (pl_application_parent_class)->dispose (object);
}

static void
pl_application_finalize (GObject *object)
{
  PlApplication *self = PL_APPLICATION (object);
  g_free (self->store_path);
  g_clear_error (&self->store_error);
  G_OBJECT_CLASS (pl_application_parent_class)->finalize (object);
}

static void
pl_application_class_init (PlApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);
  object_class->dispose = pl_application_dispose;
  object_class->finalize = pl_application_finalize;
  app_class->startup = pl_application_startup;
  app_class->shutdown = pl_application_shutdown;
  app_class->activate = pl_application_activate;
  app_class->open = pl_application_open;

  /* The database preference changed: the store is a different file now. */
  signals[SIGNAL_STORE_CHANGED] =
    g_signal_new ("store-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
pl_application_init (PlApplication *self)
{
  self->settings = g_settings_new (PL_APPLICATION_ID);
  self->manager = pl_run_manager_new (self->settings);
  g_signal_connect (self->manager, "run-ended", G_CALLBACK (on_run_ended), self);
  g_signal_connect (self->manager, "run-identified", G_CALLBACK (on_run_identified), self);
  g_signal_connect (self->settings, "changed::database-path",
                    G_CALLBACK (on_db_path_changed), self);
}

PlApplication *
pl_application_new (GApplicationFlags flags)
{
  return g_object_new (PL_TYPE_APPLICATION,
                       "application-id", PL_APPLICATION_ID,
                       "flags", flags | G_APPLICATION_HANDLES_OPEN,
                       "resource-base-path", "/io/github/paramlab/Paramlab",
                       NULL);
}

GSettings *
pl_application_get_settings (PlApplication *self)
{
  g_return_val_if_fail (PL_IS_APPLICATION (self), NULL);
  return self->settings;
}

PlRunManager *
pl_application_get_run_manager (PlApplication *self)
{
  g_return_val_if_fail (PL_IS_APPLICATION (self), NULL);
  return self->manager;
}
