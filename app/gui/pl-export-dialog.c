/* pl-export-dialog.c: export a run's weights as safetensors. */
#include "pl-export-dialog.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

#include "pl-gui.h"

struct _PlExportDialog {
  AdwWindow parent_instance;

  PlRunStore *store;
  char *db_path;
  char *cli;
  gint64 run_id;
  gboolean int8_supported;
  char *path;
  char *result;

  AdwComboRow *format_row;
  GtkLabel *format_note;
  AdwComboRow *which_row;
  AdwActionRow *dest_row;
  GtkButton *export_button;
  GtkLabel *result_label;
  GtkSpinner *spinner;
};

G_DEFINE_FINAL_TYPE (PlExportDialog, pl_export_dialog, ADW_TYPE_WINDOW)

static void
set_result (PlExportDialog *self,
            const char     *text,
            gboolean        failed)
{
  g_free (self->result);
  self->result = g_strdup (text);
  gtk_label_set_text (self->result_label, text);
  gtk_widget_set_visible (GTK_WIDGET (self->result_label), text != NULL);
  if (failed)
    gtk_widget_add_css_class (GTK_WIDGET (self->result_label), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->result_label), "error");
}

static gboolean
want_best (PlExportDialog *self)
{
  return adw_combo_row_get_selected (self->which_row) == 1;
}

static gboolean
want_int8 (PlExportDialog *self)
{
  return self->int8_supported && adw_combo_row_get_selected (self->format_row) == 1;
}

/* The val/acc recorded for the weights of the chosen checkpoint. */
static double
checkpoint_accuracy (PlExportDialog *self,
                     gint64         *step_out)
{
  g_autoptr (GPtrArray) ckpts = pl_run_store_list_checkpoints (self->store, self->run_id, NULL);
  const char *want = want_best (self) ? "best" : "last";
  PlCheckpointInfo *chosen = NULL;
  for (guint i = 0; ckpts && i < ckpts->len; i++)
    {
      PlCheckpointInfo *c = g_ptr_array_index (ckpts, i);
      if (g_str_equal (c->kind, want))
        chosen = c;
    }
  if (!chosen)
    return NAN;
  *step_out = chosen->step;
  if (g_strcmp0 (chosen->metric_key, "val/acc") == 0 && isfinite (chosen->metric_value))
    return chosen->metric_value;
  g_autoptr (PlSeries) s = pl_run_store_get_metric (self->store, self->run_id, "val/acc", NULL);
  double acc = NAN;
  for (guint i = 0; s && i < s->steps->len; i++)
    if (g_array_index (s->steps, gint64, i) <= chosen->step)
      acc = g_array_index (s->values, double, i);
  return acc;
}

/* `paramlab-cli evaluate FILE` measured the written weights: its "val/acc:"
 * line, or NAN. */
static double
parse_evaluated_acc (const char *out)
{
  const char *line = out ? strstr (out, "val/acc:") : NULL;
  if (!line)
    return NAN;
  char *end = NULL;
  double v = g_ascii_strtod (line + strlen ("val/acc:"), &end);
  return end && end != line + strlen ("val/acc:") ? v : NAN;
}

static void
report (PlExportDialog *self,
        double          acc,
        gboolean        measured)
{
  g_autoptr (GFile) file = g_file_new_for_path (self->path);
  g_autoptr (GFileInfo) info = g_file_query_info (file, G_FILE_ATTRIBUTE_STANDARD_SIZE,
                                                  G_FILE_QUERY_INFO_NONE, NULL, NULL);
  g_autofree char *size = g_format_size (info ? g_file_info_get_size (info) : 0);
  g_autofree char *base = g_path_get_basename (self->path);
  g_autofree char *acc_text = pl_gui_format_percent (acc);
  const char *format = want_int8 (self) ? "INT8" : "FP32";
  g_autofree char *msg = measured
    ? g_strdup_printf (_("Wrote %s (%s, %s). Validation accuracy of the weights in the file: %s."),
                       base, size, format, acc_text)
    : g_strdup_printf (_("Wrote %s (%s, %s). Validation accuracy recorded for these weights: %s."),
                       base, size, format, acc_text);
  set_result (self, msg, FALSE);
}

static void
on_evaluated (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr (PlExportDialog) self = user_data;
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr (GError) error = NULL;
  gtk_spinner_stop (self->spinner);
  gtk_widget_set_sensitive (GTK_WIDGET (self->export_button), TRUE);
  double acc = NAN;
  if (g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &out, &err, &error)
      && g_subprocess_get_successful (G_SUBPROCESS (source)))
    acc = parse_evaluated_acc (out);
  if (!isnan (acc))
    report (self, acc, TRUE);
  else
    {
      gint64 step = -1;
      report (self, checkpoint_accuracy (self, &step), FALSE);
    }
}

static void
on_export_done (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr (PlExportDialog) self = user_data;
  GSubprocess *proc = G_SUBPROCESS (source);
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr (GError) error = NULL;
  if (!g_subprocess_communicate_utf8_finish (proc, result, &out, &err, &error)
      || !g_subprocess_get_successful (proc))
    {
      gtk_spinner_stop (self->spinner);
      gtk_widget_set_sensitive (GTK_WIDGET (self->export_button), TRUE);
      g_autofree char *msg = g_strdup_printf (_("The export failed: %s"),
                                              error ? error->message
                                              : err && *err ? g_strstrip (err) : _("unknown error"));
      set_result (self, msg, TRUE);
      return;
    }
  /* measure what was written: the accuracy of the file's own weights (for
   * INT8, of the int8 weights, not of the float model they came from) */
  g_autoptr (GSubprocess) eval = NULL;
  if (self->db_path)
    eval = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, NULL,
                             self->cli, "evaluate", self->path, "--db", self->db_path, NULL);
  else
    eval = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, NULL,
                             self->cli, "evaluate", self->path, NULL);
  if (!eval)
    {
      gint64 step = -1;
      gtk_spinner_stop (self->spinner);
      gtk_widget_set_sensitive (GTK_WIDGET (self->export_button), TRUE);
      report (self, checkpoint_accuracy (self, &step), FALSE);
      return;
    }
  g_subprocess_communicate_utf8_async (eval, NULL, NULL, on_evaluated, g_object_ref (self));
}

void
pl_export_dialog_export_to (PlExportDialog *self,
                            const char     *path)
{
  g_return_if_fail (PL_IS_EXPORT_DIALOG (self));
  g_free (self->path);
  self->path = g_strdup (path);
  adw_action_row_set_subtitle (self->dest_row, path);

  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (argv, g_strdup (self->cli));
  g_ptr_array_add (argv, g_strdup ("export"));
  g_ptr_array_add (argv, g_strdup_printf ("%" G_GINT64_FORMAT, self->run_id));
  g_ptr_array_add (argv, g_strdup ("--out"));
  g_ptr_array_add (argv, g_strdup (path));
  /* the save dialog has already asked before replacing an existing file */
  g_ptr_array_add (argv, g_strdup ("--force"));
  if (want_best (self))
    g_ptr_array_add (argv, g_strdup ("--best"));
  if (want_int8 (self))
    {
      g_ptr_array_add (argv, g_strdup ("--format"));
      g_ptr_array_add (argv, g_strdup ("int8"));
    }
  if (self->db_path)
    {
      g_ptr_array_add (argv, g_strdup ("--db"));
      g_ptr_array_add (argv, g_strdup (self->db_path));
    }
  g_ptr_array_add (argv, NULL);

  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) proc =
    g_subprocess_newv ((const char * const *) argv->pdata,
                       G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  if (!proc)
    {
      set_result (self, error->message, TRUE);
      return;
    }
  set_result (self, NULL, FALSE);
  gtk_spinner_start (self->spinner);
  gtk_widget_set_sensitive (GTK_WIDGET (self->export_button), FALSE);
  g_subprocess_communicate_utf8_async (proc, NULL, NULL, on_export_done, g_object_ref (self));
}

const char *
pl_export_dialog_get_result (PlExportDialog *self)
{
  g_return_val_if_fail (PL_IS_EXPORT_DIALOG (self), NULL);
  return self->result;
}

static void
on_save_chosen (GtkNativeDialog *dialog,
                int              response,
                PlExportDialog  *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = g_file_get_path (file);
      if (path)
        pl_export_dialog_export_to (self, path);
    }
  g_object_unref (dialog);
}

static void
on_export_clicked (GtkButton      *button,
                   PlExportDialog *self)
{
  GtkFileChooserNative *chooser =
    gtk_file_chooser_native_new (_("Export Weights"), GTK_WINDOW (self),
                                 GTK_FILE_CHOOSER_ACTION_SAVE, _("_Export"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_autofree char *name = g_strdup_printf ("run-%" G_GINT64_FORMAT "-%s%s.safetensors",
                                           self->run_id, want_best (self) ? "best" : "last",
                                           want_int8 (self) ? "-int8" : "");
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser), name);
  GtkFileFilter *filter = gtk_file_filter_new ();
  gtk_file_filter_set_name (filter, _("Safetensors files"));
  gtk_file_filter_add_pattern (filter, "*.safetensors");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), filter);
  g_object_unref (filter);
  g_signal_connect (chooser, "response", G_CALLBACK (on_save_chosen), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

/* Does this CLI offer `export --format int8`? Its usage (printed when no
 * command is given) or export's --help says so. */
static void
on_help_read (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr (PlExportDialog) self = user_data;
  g_autofree char *out = NULL, *err = NULL;
  if (!g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &out, &err, NULL))
    return;
  self->int8_supported = (out && strstr (out, "fp32|int8")) || (err && strstr (err, "fp32|int8"));
  if (self->int8_supported)
    {
      gtk_widget_set_sensitive (GTK_WIDGET (self->format_row), TRUE);
      gtk_label_set_text (self->format_note,
                          _("INT8 stores each weight in one byte, with a scale per tensor or channel."));
    }
}

static void
pl_export_dialog_dispose (GObject *object)
{
  PlExportDialog *self = PL_EXPORT_DIALOG (object);
  g_clear_object (&self->store);
  G_OBJECT_CLASS (pl_export_dialog_parent_class)->dispose (object);
}

static void
pl_export_dialog_finalize (GObject *object)
{
  PlExportDialog *self = PL_EXPORT_DIALOG (object);
  g_free (self->db_path);
  g_free (self->cli);
  g_free (self->path);
  g_free (self->result);
  G_OBJECT_CLASS (pl_export_dialog_parent_class)->finalize (object);
}

static void
pl_export_dialog_class_init (PlExportDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->dispose = pl_export_dialog_dispose;
  object_class->finalize = pl_export_dialog_finalize;
}

static void
pl_export_dialog_init (PlExportDialog *self)
{
  gtk_window_set_title (GTK_WINDOW (self), _("Export Weights"));
  gtk_window_set_default_size (GTK_WINDOW (self), 500, 430);
  gtk_window_set_modal (GTK_WINDOW (self), TRUE);

  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *header = adw_header_bar_new ();
  gtk_box_append (GTK_BOX (box), header);

  GtkWidget *content = gtk_box_new (GTK_ORIENTATION_VERTICAL, 18);
  gtk_widget_set_margin_start (content, 18);
  gtk_widget_set_margin_end (content, 18);
  gtk_widget_set_margin_top (content, 18);
  gtk_widget_set_margin_bottom (content, 18);

  GtkWidget *group = adw_preferences_group_new ();
  self->format_row = ADW_COMBO_ROW (adw_combo_row_new ());
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (self->format_row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->format_row), _("Format"));
  const char *formats[] = { N_("FP32 safetensors"), N_("INT8 safetensors"), NULL };
  GtkStringList *fl = gtk_string_list_new (NULL);
  for (guint i = 0; formats[i]; i++)
    gtk_string_list_append (fl, _(formats[i]));
  adw_combo_row_set_model (self->format_row, G_LIST_MODEL (fl));
  g_object_unref (fl);
  gtk_widget_set_sensitive (GTK_WIDGET (self->format_row), FALSE);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (group), GTK_WIDGET (self->format_row));

  self->which_row = ADW_COMBO_ROW (adw_combo_row_new ());
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (self->which_row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->which_row), _("Weights"));
  const char *which[] = { N_("Last step"), N_("Best validation accuracy"), NULL };
  GtkStringList *wl = gtk_string_list_new (NULL);
  for (guint i = 0; which[i]; i++)
    gtk_string_list_append (wl, _(which[i]));
  adw_combo_row_set_model (self->which_row, G_LIST_MODEL (wl));
  g_object_unref (wl);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (group), GTK_WIDGET (self->which_row));

  self->dest_row = ADW_ACTION_ROW (adw_action_row_new ());
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (self->dest_row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->dest_row), _("Saved to"));
  adw_action_row_set_subtitle (self->dest_row, _("Chosen when you press Export"));
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (group), GTK_WIDGET (self->dest_row));
  gtk_box_append (GTK_BOX (content), group);

  self->format_note = GTK_LABEL (gtk_label_new (_("INT8 export needs a paramlab-cli that "
                                                  "supports export --format int8.")));
  gtk_label_set_wrap (self->format_note, TRUE);
  gtk_label_set_xalign (self->format_note, 0);
  gtk_widget_add_css_class (GTK_WIDGET (self->format_note), "dim-label");
  gtk_widget_add_css_class (GTK_WIDGET (self->format_note), "caption");
  gtk_box_append (GTK_BOX (content), GTK_WIDGET (self->format_note));

  self->result_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_wrap (self->result_label, TRUE);
  gtk_label_set_xalign (self->result_label, 0);
  gtk_label_set_selectable (self->result_label, TRUE);
  gtk_widget_set_visible (GTK_WIDGET (self->result_label), FALSE);
  gtk_box_append (GTK_BOX (content), GTK_WIDGET (self->result_label));

  GtkWidget *buttons = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  gtk_widget_set_halign (buttons, GTK_ALIGN_END);
  self->spinner = GTK_SPINNER (gtk_spinner_new ());
  gtk_box_append (GTK_BOX (buttons), GTK_WIDGET (self->spinner));
  self->export_button = GTK_BUTTON (gtk_button_new_with_mnemonic (_("_Export…")));
  gtk_widget_add_css_class (GTK_WIDGET (self->export_button), "suggested-action");
  gtk_widget_add_css_class (GTK_WIDGET (self->export_button), "pill");
  g_signal_connect (self->export_button, "clicked", G_CALLBACK (on_export_clicked), self);
  gtk_box_append (GTK_BOX (buttons), GTK_WIDGET (self->export_button));
  gtk_box_append (GTK_BOX (content), buttons);

  gtk_box_append (GTK_BOX (box), content);
  adw_window_set_content (ADW_WINDOW (self), box);
}

PlExportDialog *
pl_export_dialog_new (GtkWindow  *parent,
                      PlRunStore *store,
                      const char *db_path,
                      const char *cli,
                      gint64      run_id)
{
  PlExportDialog *self = g_object_new (PL_TYPE_EXPORT_DIALOG, "transient-for", parent, NULL);
  self->store = g_object_ref (store);
  self->db_path = g_strdup (db_path);
  self->cli = g_strdup (cli);
  self->run_id = run_id;
  g_autofree char *title = g_strdup_printf (_("Export Run %lld"), (long long) run_id);
  gtk_window_set_title (GTK_WINDOW (self), title);

  g_autoptr (GSubprocess) help = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                                   | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                                   NULL, cli, NULL);
  if (help)
    g_subprocess_communicate_utf8_async (help, NULL, NULL, on_help_read, g_object_ref (self));
  return self;
}
