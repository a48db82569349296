/* pl-preferences-window.c: the preferences window. */
#include "pl-preferences-window.h"

#include <glib/gi18n.h>

#include "pl-run-store.h"

struct _PlPreferencesWindow {
  AdwPreferencesWindow parent_instance;

  GSettings *settings;
  AdwActionRow *db_row;
  GtkWidget *db_reset;
  GtkSpinButton *concurrent_spin;
  GtkSpinButton *threads_spin;
  GtkSwitch *notify_switch;
  GtkSpinButton *refresh_spin;
  GtkScale *smoothing_scale;
};

G_DEFINE_FINAL_TYPE (PlPreferencesWindow, pl_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

static void
update_db_row (PlPreferencesWindow *self)
{
  g_autofree char *path = g_settings_get_string (self->settings, "database-path");
  gboolean custom = path && *path;
  if (!custom)
    {
      g_free (path);
      path = pl_run_store_default_path ();
    }
  adw_action_row_set_subtitle (self->db_row, path);
  gtk_widget_set_sensitive (self->db_reset, custom);
}

static void
on_db_reset (GtkButton           *button,
             PlPreferencesWindow *self)
{
  g_settings_reset (self->settings, "database-path");
}

static void
on_db_chosen (GtkNativeDialog     *dialog,
              int                  response,
              PlPreferencesWindow *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = g_file_get_path (file);
      if (path)
        g_settings_set_string (self->settings, "database-path", path);
    }
  g_object_unref (dialog);
}

/* A database file, new or existing: a save dialog lets the user type a new
 * name or pick an existing runs.db. */
static void
on_db_choose (GtkButton           *button,
              PlPreferencesWindow *self)
{
  GtkFileChooserNative *chooser =
    gtk_file_chooser_native_new (_("Choose the Run Database"), GTK_WINDOW (self),
                                 GTK_FILE_CHOOSER_ACTION_SAVE, _("_Use"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser), "runs.db");
  g_signal_connect (chooser, "response", G_CALLBACK (on_db_chosen), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
pl_preferences_window_dispose (GObject *object)
{
  PlPreferencesWindow *self = PL_PREFERENCES_WINDOW (object);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (pl_preferences_window_parent_class)->dispose (object);
}

static void
pl_preferences_window_class_init (PlPreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->dispose = pl_preferences_window_dispose;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/paramlab/Paramlab/pl-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, PlPreferencesWindow, db_row);
  gtk_widget_class_bind_template_child (widget_class, PlPreferencesWindow, db_reset);
  gtk_widget_class_bind_template_child (widget_class, PlPreferencesWindow, concurrent_spin);
  gtk_widget_class_bind_template_child (widget_class, PlPreferencesWindow, threads_spin);
  gtk_widget_class_bind_template_child (widget_class, PlPreferencesWindow, notify_switch);
  gtk_widget_class_bind_template_child (widget_class, PlPreferencesWindow, refresh_spin);
  gtk_widget_class_bind_template_child (widget_class, PlPreferencesWindow, smoothing_scale);
  gtk_widget_class_bind_template_callback (widget_class, on_db_reset);
  gtk_widget_class_bind_template_callback (widget_class, on_db_choose);
}

static void
pl_preferences_window_init (PlPreferencesWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

PlPreferencesWindow *
pl_preferences_window_new (GSettings *settings,
                           GtkWindow *parent)
{
  PlPreferencesWindow *self = g_object_new (PL_TYPE_PREFERENCES_WINDOW,
                                            "transient-for", parent, NULL);
  self->settings = g_object_ref (settings);
  g_settings_bind (settings, "max-concurrent-runs", self->concurrent_spin, "value",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "threads", self->threads_spin, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "notify-on-finish", self->notify_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "plot-refresh-rate", self->refresh_spin, "value",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "plot-smoothing",
                   gtk_range_get_adjustment (GTK_RANGE (self->smoothing_scale)), "value",
                   G_SETTINGS_BIND_DEFAULT);
  g_signal_connect_object (settings, "changed::database-path", G_CALLBACK (update_db_row),
                           self, G_CONNECT_SWAPPED);
  update_db_row (self);
  return self;
}
