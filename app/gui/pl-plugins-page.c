/* pl-plugins-page.c: the plugins, by slot. */
#include "pl-plugins-page.h"

#include <glib/gi18n.h>
#include <string.h>

#include "pl-gui.h"

struct _PlPluginsPage {
  GtkWidget parent_instance;

  PlPluginCatalog *catalog;
  GSettings *settings;
  char *cli;

  GtkStack *stack;
  AdwStatusPage *empty;
  AdwPreferencesPage *page;
  GPtrArray *groups;         /* AdwPreferencesGroup in page */
  guint n_rows;
  GPtrArray *hidden_rows;    /* rows below the first screen, not shown yet */
  guint stage_id;            /* tick callback showing them */
  gboolean stale;            /* the catalog changed while the page was hidden */

  /* the new-plugin dialog */
  GtkDropDown *slot_choice;
  GtkEntry *name_entry;
  char *new_slot;
  char *new_name;
};

G_DEFINE_FINAL_TYPE (PlPluginsPage, pl_plugins_page, GTK_TYPE_WIDGET)

static gboolean
is_disabled (PlPluginsPage *self,
             const char    *id)
{
  g_auto (GStrv) disabled = g_settings_get_strv (self->settings, "disabled-plugins");
  return g_strv_contains ((const char * const *) disabled, id);
}

static void
on_enable_toggled (GtkSwitch     *sw,
                   GParamSpec    *pspec,
                   PlPluginsPage *self)
{
  const char *id = g_object_get_data (G_OBJECT (sw), "pl-id");
  g_auto (GStrv) disabled = g_settings_get_strv (self->settings, "disabled-plugins");
  GStrvBuilder *b = g_strv_builder_new ();
  for (guint i = 0; disabled[i]; i++)
    if (!g_str_equal (disabled[i], id))
      g_strv_builder_add (b, disabled[i]);
  if (!gtk_switch_get_active (sw))
    g_strv_builder_add (b, id);
  g_auto (GStrv) next = g_strv_builder_end (b);
  g_strv_builder_unref (b);
  g_settings_set_strv (self->settings, "disabled-plugins", (const char * const *) next);
}

/* The description's first sentence (at most about two lines), for a subtitle;
 * the whole text is shown when the row is expanded. (transfer full) */
static char *
first_sentence (const char *text)
{
  enum { MAX_CHARS = 150 };
  if (!text)
    return g_strdup ("");
  /* a sentence, not an abbreviation: "He et al. (2015)" */
  const char *end = strlen (text) > 40 ? strstr (text + 40, ". ") : NULL;
  glong n = end ? g_utf8_pointer_to_offset (text, end) + 1 : g_utf8_strlen (text, -1);
  if (n <= MAX_CHARS)
    return g_utf8_substring (text, 0, n);
  g_autofree char *cut = g_utf8_substring (text, 0, MAX_CHARS);
  char *space = strrchr (cut, ' ');
  if (space && space - cut > MAX_CHARS / 2)
    *space = '\0';
  return g_strconcat (cut, "…", NULL);
}

/* Adds the rows of @p's options to @row, once. */
static void
on_plugin_expanded (AdwExpanderRow *row,
                    GParamSpec     *pspec,
                    gpointer        data)
{
  const PlPluginInfo *p = g_object_get_data (G_OBJECT (row), "pl-plugin");
  if (!p || g_object_get_data (G_OBJECT (row), "pl-filled"))
    return;
  g_object_set_data (G_OBJECT (row), "pl-filled", GINT_TO_POINTER (1));
  if (p->description && *p->description)
    {
      GtkWidget *label = gtk_label_new (p->description);
      gtk_label_set_wrap (GTK_LABEL (label), TRUE);
      gtk_label_set_xalign (GTK_LABEL (label), 0);
      gtk_label_set_selectable (GTK_LABEL (label), TRUE);
      gtk_widget_set_margin_start (label, 12);
      gtk_widget_set_margin_end (label, 12);
      gtk_widget_set_margin_top (label, 10);
      gtk_widget_set_margin_bottom (label, 10);
      GtkWidget *desc = adw_preferences_row_new ();
      gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (desc), FALSE);
      gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (desc), label);
      adw_expander_row_add_row (row, desc);
    }
  for (guint i = 0; i < p->options->len; i++)
    {
      const PlPluginOption *opt = g_ptr_array_index (p->options, i);
      GtkWidget *orow = adw_action_row_new ();
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (orow), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (orow), opt->name);
      g_autoptr (GString) sub = g_string_new (opt->blurb ? opt->blurb : "");
      g_autofree char *range = NULL;
      if (opt->choices)
        {
          g_autofree char *list = g_strjoinv (", ", opt->choices);
          range = g_strdup_printf (_("one of %s"), list);
        }
      else if (opt->has_min && opt->has_max)
        range = g_strdup_printf (_("%g to %g"), opt->min, opt->max);
      if (range)
        g_string_append_printf (sub, "%s%s", sub->len ? " · " : "", range);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (orow), sub->str);
      g_autofree char *def = g_strdup_printf ("%s = %s", opt->type,
                                              opt->default_text ? opt->default_text : "");
      GtkWidget *d = gtk_label_new (def);
      gtk_widget_add_css_class (d, "monospace");
      gtk_widget_add_css_class (d, "dim-label");
      adw_action_row_add_suffix (ADW_ACTION_ROW (orow), d);
      adw_expander_row_add_row (row, orow);
    }
  if (p->options->len == 0)
    {
      GtkWidget *orow = adw_action_row_new ();
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (orow), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (orow), _("No options"));
      adw_expander_row_add_row (row, orow);
    }
}

static GtkWidget *
plugin_row (PlPluginsPage      *self,
            const PlPluginInfo *p)
{
  GtkWidget *row = adw_expander_row_new ();
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  g_autofree char *title = g_strdup_printf ("%s", p->name && *p->name ? p->name : p->id);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  g_autofree char *subtitle = NULL;
  if (!p->loaded)
    subtitle = g_strdup_printf (_("Not loaded: %s"), p->error ? p->error : _("unknown reason"));
  else
    subtitle = first_sentence (p->description);
  adw_expander_row_set_subtitle (ADW_EXPANDER_ROW (row), subtitle);

  /* action widgets are packed from the end: the switch goes rightmost */
  if (p->loaded)
    {
      GtkWidget *sw = gtk_switch_new ();
      gtk_widget_set_valign (sw, GTK_ALIGN_CENTER);
      gtk_switch_set_active (GTK_SWITCH (sw), !is_disabled (self, p->id));
      gtk_widget_set_tooltip_text (sw, _("Offer this plugin in the experiment editor"));
      g_object_set_data_full (G_OBJECT (sw), "pl-id", g_strdup (p->id), g_free);
      g_signal_connect (sw, "notify::active", G_CALLBACK (on_enable_toggled), self);
      adw_expander_row_add_action (ADW_EXPANDER_ROW (row), sw);
    }
  else
    {
      GtkWidget *icon = gtk_image_new_from_icon_name ("dialog-error-symbolic");
      gtk_widget_add_css_class (icon, "error");
      gtk_widget_set_tooltip_text (icon, p->error);
      adw_expander_row_add_prefix (ADW_EXPANDER_ROW (row), icon);
    }
  GtkWidget *version = gtk_label_new (p->version && *p->version ? p->version : "");
  gtk_widget_add_css_class (version, "dim-label");
  gtk_widget_add_css_class (version, "numeric");
  adw_expander_row_add_action (ADW_EXPANDER_ROW (row), version);
  GtkWidget *id = gtk_label_new (p->id);
  gtk_widget_add_css_class (id, "monospace");
  gtk_widget_add_css_class (id, "dim-label");
  adw_expander_row_add_action (ADW_EXPANDER_ROW (row), id);

  /* the option rows are made when the row is first expanded: hidden in a
   * collapsed row, they would still be measured */
  g_object_set_data (G_OBJECT (row), "pl-plugin", (gpointer) p);
  g_signal_connect (row, "notify::expanded", G_CALLBACK (on_plugin_expanded), NULL);
  return row;
}

/* Rows are laid out even below the fold, and each costs 30-40 ms the first
 * time (AdwActionRow's header box asks its wrapped subtitle for its width at
 * the row's height, and GtkLabel answers with two binary searches over
 * Pango layouts of the whole text). The first frame lays out the rows of
 * the first screen; the others are shown one per frame after it. */
enum { FIRST_ROWS = 7, ROWS_PER_FRAME = 1 };

static void
show_row (GtkWidget *row)
{
  gtk_widget_set_visible (row, TRUE);
  GtkWidget *group = gtk_widget_get_ancestor (row, ADW_TYPE_PREFERENCES_GROUP);
  if (group)
    gtk_widget_set_visible (group, TRUE);
}

static void
show_hidden_rows (PlPluginsPage *self,
                  guint          max)
{
  guint n = MIN (max, self->hidden_rows->len);
  for (guint i = 0; i < n; i++)
    show_row (g_ptr_array_index (self->hidden_rows, i));
  g_ptr_array_remove_range (self->hidden_rows, 0, n);
}

static gboolean
show_next_rows (GtkWidget     *widget,
                GdkFrameClock *clock,
                gpointer       data)
{
  PlPluginsPage *self = PL_PLUGINS_PAGE (widget);
  show_hidden_rows (self, ROWS_PER_FRAME);
  if (self->hidden_rows->len > 0)
    return G_SOURCE_CONTINUE;
  self->stage_id = 0;
  return G_SOURCE_REMOVE;
}

static void
stop_staging (PlPluginsPage *self)
{
  if (self->stage_id)
    gtk_widget_remove_tick_callback (GTK_WIDGET (self), self->stage_id);
  self->stage_id = 0;
  g_ptr_array_set_size (self->hidden_rows, 0);
}

/* Hides the rows after the first FIRST_ROWS (and the groups that have no
 * row shown), to be shown from the next frame on. */
static void
stage_rows (PlPluginsPage *self)
{
  guint n = 0;
  for (guint i = 0; i < self->groups->len; i++)
    {
      GtkWidget *group = g_ptr_array_index (self->groups, i);
      if (n >= FIRST_ROWS)
        gtk_widget_set_visible (group, FALSE);
      GPtrArray *rows = g_object_get_data (G_OBJECT (group), "pl-rows");
      for (guint j = 0; rows && j < rows->len; j++, n++)
        if (n >= FIRST_ROWS)
          {
            GtkWidget *row = g_ptr_array_index (rows, j);
            gtk_widget_set_visible (row, FALSE);
            g_ptr_array_add (self->hidden_rows, row);
          }
    }
  if (self->hidden_rows->len > 0)
    self->stage_id = gtk_widget_add_tick_callback (GTK_WIDGET (self), show_next_rows, NULL, NULL);
}

static void
add_row (AdwPreferencesGroup *group,
         GtkWidget           *row)
{
  GPtrArray *rows = g_object_get_data (G_OBJECT (group), "pl-rows");
  if (!rows)
    {
      rows = g_ptr_array_new ();
      g_object_set_data_full (G_OBJECT (group), "pl-rows", rows,
                              (GDestroyNotify) g_ptr_array_unref);
    }
  g_ptr_array_add (rows, row);
  adw_preferences_group_add (group, row);
}

static void
rebuild (PlPluginsPage *self)
{
  stop_staging (self);
  for (guint i = 0; i < self->groups->len; i++)
    adw_preferences_page_remove (self->page, g_ptr_array_index (self->groups, i));
  g_ptr_array_set_size (self->groups, 0);
  self->n_rows = 0;

  GPtrArray *plugins = pl_plugin_catalog_get_plugins (self->catalog);
  if (plugins->len == 0)
    {
      if (pl_plugin_catalog_is_loading (self->catalog))
        {
          adw_status_page_set_title (self->empty, _("Looking for Plugins…"));
          adw_status_page_set_description (self->empty, NULL);
        }
      else
        {
          const char *why = pl_plugin_catalog_get_error (self->catalog);
          g_autofree char *desc = g_strdup_printf ("%s\n\n%s",
                                                   why ? why : _("No plugin was found."),
                                                   _("Plugins are searched in the build tree, the "
                                                     "install folder and ~/.local/share/paramlab/plugins. "
                                                     "Write your own with New Plugin."));
          adw_status_page_set_title (self->empty, _("No Plugins"));
          adw_status_page_set_description (self->empty, desc);
        }
      gtk_stack_set_visible_child_name (self->stack, "empty");
      return;
    }

  for (const char * const *slot = pl_slot_list (); *slot; slot++)
    {
      AdwPreferencesGroup *group = NULL;
      for (guint i = 0; i < plugins->len; i++)
        {
          PlPluginInfo *p = g_ptr_array_index (plugins, i);
          if (!g_str_equal (p->slot, *slot))
            continue;
          if (!group)
            {
              group = ADW_PREFERENCES_GROUP (adw_preferences_group_new ());
              adw_preferences_group_set_title (group, pl_slot_title (*slot));
              adw_preferences_group_set_description (group, pl_slot_description (*slot));
            }
          add_row (group, plugin_row (self, p));
          self->n_rows++;
        }
      if (group)
        {
          adw_preferences_page_add (self->page, group);
          g_ptr_array_add (self->groups, group);
        }
    }
  /* plugins of slots this window does not know */
  AdwPreferencesGroup *other = NULL;
  for (guint i = 0; i < plugins->len; i++)
    {
      PlPluginInfo *p = g_ptr_array_index (plugins, i);
      if (pl_slot_section (p->slot, NULL))
        continue;
      if (!other)
        {
          other = ADW_PREFERENCES_GROUP (adw_preferences_group_new ());
          adw_preferences_group_set_title (other, _("Other"));
        }
      add_row (other, plugin_row (self, p));
      self->n_rows++;
    }
  if (other)
    {
      adw_preferences_page_add (self->page, other);
      g_ptr_array_add (self->groups, other);
    }
  stage_rows (self);
  gtk_stack_set_visible_child_name (self->stack, "list");
}

/* ---- new plugin ------------------------------------------------------------- */

static void
on_scaffold_done (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr (PlPluginsPage) self = user_data;
  GSubprocess *proc = G_SUBPROCESS (source);
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr (GError) error = NULL;
  if (!g_subprocess_communicate_utf8_finish (proc, result, &out, &err, &error))
    {
      pl_gui_show_error (GTK_WIDGET (self), _("Could Not Create the Plugin"), error->message);
      return;
    }
  if (!g_subprocess_get_successful (proc))
    {
      pl_gui_show_error (GTK_WIDGET (self), _("Could Not Create the Plugin"),
                         err && *err ? g_strstrip (err) : _("paramlab-cli new-plugin failed."));
      return;
    }
  g_autofree char *msg = g_strdup_printf (_("Plugin “%s” created. Build it with meson, then "
                                            "reload this page."), self->new_name);
  pl_gui_toast (GTK_WIDGET (self), msg);
}

static void
on_folder_chosen (GtkNativeDialog *dialog,
                  int              response,
                  PlPluginsPage   *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) folder = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *dir = g_file_get_path (folder);
      g_autofree char *target = g_build_filename (dir, self->new_name, NULL);
      g_autoptr (GError) error = NULL;
      g_autoptr (GSubprocess) proc =
        g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                          self->cli, "new-plugin", "--slot", self->new_slot, "--name",
                          self->new_name, target, NULL);
      if (!proc)
        pl_gui_show_error (GTK_WIDGET (self), _("Could Not Create the Plugin"), error->message);
      else
        g_subprocess_communicate_utf8_async (proc, NULL, NULL, on_scaffold_done,
                                             g_object_ref (self));
    }
  g_object_unref (dialog);
}

static void
on_new_plugin_response (AdwMessageDialog *dialog,
                        const char       *response,
                        PlPluginsPage    *self)
{
  if (!g_str_equal (response, "choose"))
    return;
  guint pos = gtk_drop_down_get_selected (self->slot_choice);
  g_free (self->new_slot);
  self->new_slot = g_strdup (pl_slot_list ()[pos]);
  g_free (self->new_name);
  self->new_name = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->name_entry))));

  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GtkFileChooserNative *chooser =
    gtk_file_chooser_native_new (_("Choose Where to Create the Plugin"),
                                 GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                 GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, _("_Create Here"),
                                 _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_signal_connect (chooser, "response", G_CALLBACK (on_folder_chosen), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static gboolean
valid_plugin_name (const char *name)
{
  if (!name || !g_ascii_isalpha (name[0]))
    return FALSE;
  for (const char *p = name; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_')
      return FALSE;
  return TRUE;
}

static void
on_name_changed (GtkEditable      *entry,
                 AdwMessageDialog *dialog)
{
  g_autofree char *name = g_strstrip (g_strdup (gtk_editable_get_text (entry)));
  adw_message_dialog_set_response_enabled (dialog, "choose", valid_plugin_name (name));
}

static void
on_new_plugin_clicked (GtkButton     *button,
                       PlPluginsPage *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GtkWidget *dialog = adw_message_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                              _("New Plugin"),
                                              _("Paramlab writes a meson project with the plugin's "
                                                "source, its .plugin file and a test, ready to build "
                                                "against the installed Paramlab."));
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  GtkStringList *titles = gtk_string_list_new (NULL);
  for (const char * const *slot = pl_slot_list (); *slot; slot++)
    gtk_string_list_append (titles, pl_slot_title (*slot));
  self->slot_choice = GTK_DROP_DOWN (gtk_drop_down_new (G_LIST_MODEL (titles), NULL));
  gtk_drop_down_set_selected (self->slot_choice, 3);
  self->name_entry = GTK_ENTRY (gtk_entry_new ());
  gtk_entry_set_placeholder_text (self->name_entry, _("Plugin name, e.g. my-schedule"));
  gtk_entry_set_activates_default (self->name_entry, TRUE);
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->slot_choice));
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->name_entry));
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), box);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "choose", _("_Choose Folder…"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "choose",
                                              ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "choose");
  adw_message_dialog_set_response_enabled (ADW_MESSAGE_DIALOG (dialog), "choose", FALSE);
  g_signal_connect (self->name_entry, "changed", G_CALLBACK (on_name_changed), dialog);
  g_signal_connect (dialog, "response", G_CALLBACK (on_new_plugin_response), self);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* The page is built when it is shown: dozens of rows of text cost nothing
 * while another page is in front. */
static void
on_catalog_changed (PlPluginCatalog *catalog,
                    PlPluginsPage   *self)
{
  if (gtk_widget_get_mapped (GTK_WIDGET (self)))
    rebuild (self);
  else
    self->stale = TRUE;
}

static void
pl_plugins_page_map (GtkWidget *widget)
{
  PlPluginsPage *self = PL_PLUGINS_PAGE (widget);
  GTK_WIDGET_CLASS (pl_plugins_page_parent_class)->map (widget);
  if (self->stale)
    {
      self->stale = FALSE;
      rebuild (self);
    }
}

static void
on_reload_clicked (GtkButton     *button,
                   PlPluginsPage *self)
{
  pl_plugin_catalog_reload (self->catalog, self->cli);
  rebuild (self);
}

/* ---- construction ------------------------------------------------------------ */

static void
pl_plugins_page_dispose (GObject *object)
{
  PlPluginsPage *self = PL_PLUGINS_PAGE (object);
  stop_staging (self);
  if (self->catalog)
    g_signal_handlers_disconnect_by_data (self->catalog, self);
  g_clear_object (&self->catalog);
  g_clear_object (&self->settings);
  GtkWidget *child;
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self))))
    gtk_widget_unparent (child);
  G_OBJECT_CLASS (pl_plugins_page_parent_class)->dispose (object);
}

static void
pl_plugins_page_finalize (GObject *object)
{
  PlPluginsPage *self = PL_PLUGINS_PAGE (object);
  g_ptr_array_unref (self->groups);
  g_ptr_array_unref (self->hidden_rows);
  g_free (self->cli);
  g_free (self->new_slot);
  g_free (self->new_name);
  G_OBJECT_CLASS (pl_plugins_page_parent_class)->finalize (object);
}

static void
pl_plugins_page_class_init (PlPluginsPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->dispose = pl_plugins_page_dispose;
  object_class->finalize = pl_plugins_page_finalize;
  widget_class->map = pl_plugins_page_map;
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BOX_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "pluginspage");
}

static void
pl_plugins_page_init (PlPluginsPage *self)
{
  self->groups = g_ptr_array_new ();
  self->hidden_rows = g_ptr_array_new ();
  gtk_orientable_set_orientation (GTK_ORIENTABLE (gtk_widget_get_layout_manager (GTK_WIDGET (self))),
                                  GTK_ORIENTATION_VERTICAL);

  GtkWidget *bar = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  gtk_widget_set_margin_start (bar, 12);
  gtk_widget_set_margin_end (bar, 12);
  gtk_widget_set_margin_top (bar, 12);
  gtk_widget_set_halign (bar, GTK_ALIGN_END);
  GtkWidget *reload = gtk_button_new_from_icon_name ("view-refresh-symbolic");
  gtk_widget_set_tooltip_text (reload, _("Look for plugins again"));
  g_signal_connect (reload, "clicked", G_CALLBACK (on_reload_clicked), self);
  GtkWidget *add = gtk_button_new_with_mnemonic (_("_New Plugin…"));
  g_signal_connect (add, "clicked", G_CALLBACK (on_new_plugin_clicked), self);
  gtk_box_append (GTK_BOX (bar), reload);
  gtk_box_append (GTK_BOX (bar), add);
  gtk_widget_set_parent (bar, GTK_WIDGET (self));

  self->stack = GTK_STACK (gtk_stack_new ());
  gtk_widget_set_vexpand (GTK_WIDGET (self->stack), TRUE);
  gtk_widget_set_parent (GTK_WIDGET (self->stack), GTK_WIDGET (self));
  self->empty = ADW_STATUS_PAGE (adw_status_page_new ());
  adw_status_page_set_icon_name (self->empty, "application-x-addon-symbolic");
  gtk_stack_add_named (self->stack, GTK_WIDGET (self->empty), "empty");
  self->page = ADW_PREFERENCES_PAGE (adw_preferences_page_new ());
  gtk_stack_add_named (self->stack, GTK_WIDGET (self->page), "list");
}

GtkWidget *
pl_plugins_page_new (PlPluginCatalog *catalog,
                     GSettings       *settings,
                     const char      *cli)
{
  g_return_val_if_fail (PL_IS_PLUGIN_CATALOG (catalog), NULL);
  PlPluginsPage *self = g_object_new (PL_TYPE_PLUGINS_PAGE, NULL);
  self->catalog = g_object_ref (catalog);
  self->settings = g_object_ref (settings);
  self->cli = g_strdup (cli);
  g_signal_connect (catalog, "changed", G_CALLBACK (on_catalog_changed), self);
  rebuild (self);
  return GTK_WIDGET (self);
}

guint
pl_plugins_page_get_n_rows (PlPluginsPage *self)
{
  g_return_val_if_fail (PL_IS_PLUGINS_PAGE (self), 0);
  return self->n_rows;
}
