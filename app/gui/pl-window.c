/* pl-window.c: the Paramlab main window. */
#include "pl-window.h"

#include <glib/gi18n.h>
#include <math.h>

#include "pl-config.h"
#include "pl-export-dialog.h"
#include "pl-gui.h"
#include "pl-lazy-bin.h"
#include "pl-window-private.h"

struct _PlWindow {
  AdwApplicationWindow parent_instance;

  PlApplication *app;
  GSettings *settings;
  PlRunManager *manager;
  PlPluginCatalog *catalog;
  PlRunList *runs;
  GtkFilterListModel *filtered;
  GtkCustomFilter *filter;
  char *query;                    /* casefolded search text */
  GtkMultiSelection *selection;
  gboolean keep_page;             /* selection changes made by code */

  PlExperimentEditor *editor;
  PlRunView *run_view;
  PlCompareView *compare_view;
  PlPluginsPage *plugins_page;

  /* template */
  AdwToastOverlay *toast_overlay;
  AdwLeaflet *leaflet;
  GtkWidget *sidebar;
  GtkWidget *content;
  GtkSearchEntry *search_entry;
  GtkStack *runs_stack;
  GtkListView *runs_view;
  AdwStatusPage *runs_empty;
  GtkLabel *selection_label;
  AdwViewSwitcherTitle *switcher_title;
  AdwSplitButton *open_button;
  GtkWidget *run_button;
  AdwViewStack *view_stack;
  GMenuModel *run_menu;

  guint quit_timeout;
  guint startup_tick;             /* the work left for after the first frame */
  guint startup_frames;
};

G_DEFINE_FINAL_TYPE (PlWindow, pl_window, ADW_TYPE_APPLICATION_WINDOW)

static PlRunStore *
get_store (PlWindow *self)
{
  return pl_application_get_store (self->app, NULL);
}

void
pl_window_add_toast (PlWindow *self,
                     AdwToast *toast)
{
  g_return_if_fail (PL_IS_WINDOW (self));
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

void
_pl_window_hide_toasts (PlWindow *self,
                        gboolean  hide)
{
  if (hide)
    gtk_widget_add_css_class (GTK_WIDGET (self->toast_overlay), "hide-toasts");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->toast_overlay), "hide-toasts");
}

static void
toast (PlWindow   *self,
       const char *message)
{
  AdwToast *t = adw_toast_new (message);
  adw_toast_set_timeout (t, 4);
  pl_window_add_toast (self, t);
}

/* ---- selection ---------------------------------------------------------------- */

/* The selected items, in list order. (transfer full) */
static GPtrArray *
selected_items (PlWindow *self)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GtkBitset) set = gtk_selection_model_get_selection (GTK_SELECTION_MODEL (self->selection));
  GtkBitsetIter iter;
  guint pos;
  for (gboolean ok = gtk_bitset_iter_init_first (&iter, set, &pos); ok;
       ok = gtk_bitset_iter_next (&iter, &pos))
    g_ptr_array_add (out, g_list_model_get_item (G_LIST_MODEL (self->selection), pos));
  return out;
}

static PlRunItem *
single_selected (PlWindow *self)
{
  g_autoptr (GPtrArray) items = selected_items (self);
  return items->len == 1 ? g_object_ref (g_ptr_array_index (items, 0)) : NULL;
}

static void update_actions (PlWindow *self);
static gboolean can_resume (PlWindow *self, PlRunItem *item);

static void
show_page (PlWindow   *self,
           const char *name)
{
  adw_view_stack_set_visible_child_name (self->view_stack, name);
  if (adw_leaflet_get_folded (self->leaflet))
    adw_leaflet_set_visible_child (self->leaflet, self->content);
}

static int
compare_ids (gconstpointer a,
             gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

static void
update_views_for_selection (PlWindow *self,
                            gboolean  switch_page)
{
  g_autoptr (GPtrArray) items = selected_items (self);
  const char *page = adw_view_stack_get_visible_child_name (self->view_stack);
  if (items->len == 1)
    {
      pl_run_view_show (self->run_view, g_ptr_array_index (items, 0), get_store (self));
      if (switch_page && g_strcmp0 (page, "plugins") != 0)
        show_page (self, "run");
    }
  else if (items->len >= 2)
    {
      g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
      for (guint i = 0; i < items->len; i++)
        {
          gint64 id = pl_run_item_get_id (g_ptr_array_index (items, i));
          if (id > 0)
            g_array_append_val (ids, id);
        }
      /* oldest first, as they were run */
      g_array_sort (ids, compare_ids);
      pl_compare_view_set_runs (self->compare_view, get_store (self),
                                (const gint64 *) ids->data, ids->len);
      if (switch_page && g_strcmp0 (page, "plugins") != 0)
        show_page (self, "compare");
    }
  else
    pl_compare_view_set_runs (self->compare_view, get_store (self), NULL, 0);

  if (items->len > 1)
    {
      g_autofree char *text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u selected",
                                                            "%u selected", items->len),
                                               items->len);
      gtk_label_set_text (self->selection_label, text);
    }
  else
    gtk_label_set_text (self->selection_label, "");
  update_actions (self);
}

static void
on_selection_changed (GtkSelectionModel *model,
                      guint              position,
                      guint              n_items,
                      PlWindow          *self)
{
  update_views_for_selection (self, !self->keep_page);
}

static gboolean
select_item (PlWindow  *self,
             PlRunItem *item)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->selection));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PlRunItem) it = g_list_model_get_item (G_LIST_MODEL (self->selection), i);
      if (it == item)
        {
          gtk_selection_model_select_item (GTK_SELECTION_MODEL (self->selection), i, TRUE);
          gtk_widget_activate_action (GTK_WIDGET (self->runs_view), "list.scroll-to-item", "u", i);
          return TRUE;
        }
    }
  return FALSE;
}

/* ---- the runs list -------------------------------------------------------------- */

static void
update_runs_empty (PlWindow *self)
{
  guint shown = g_list_model_get_n_items (G_LIST_MODEL (self->filtered));
  guint total = g_list_model_get_n_items (pl_run_list_get_model (self->runs));
  g_autoptr (GError) error = NULL;
  PlRunStore *store = pl_application_get_store (self->app, &error);
  if (shown > 0)
    {
      gtk_stack_set_visible_child_name (self->runs_stack, "list");
      return;
    }
  if (!store)
    {
      adw_status_page_set_icon_name (self->runs_empty, "dialog-error-symbolic");
      adw_status_page_set_title (self->runs_empty, _("No Run Database"));
      adw_status_page_set_description (self->runs_empty, error->message);
    }
  else if (total > 0)
    {
      adw_status_page_set_icon_name (self->runs_empty, "edit-find-symbolic");
      adw_status_page_set_title (self->runs_empty, _("No Matching Runs"));
      adw_status_page_set_description (self->runs_empty,
                                       _("Search looks at names, tags, datasets, architectures "
                                         "and plugins."));
    }
  else
    {
      adw_status_page_set_icon_name (self->runs_empty, "view-list-bullet-symbolic");
      adw_status_page_set_title (self->runs_empty, _("No Runs Yet"));
      adw_status_page_set_description (self->runs_empty,
                                       _("Press Run to train the experiment. Every run is "
                                         "kept here, with its curves."));
    }
  gtk_stack_set_visible_child_name (self->runs_stack, "empty");
}

void
_pl_window_refresh (PlWindow *self)
{
  g_autoptr (GError) error = NULL;
  PlRunStore *store = pl_application_get_store (self->app, &error);
  self->keep_page = TRUE;
  if (!pl_run_list_refresh (self->runs, store, &error) && error)
    g_warning ("Could not read the run list: %s", error->message);
  self->keep_page = FALSE;
  update_runs_empty (self);
  update_actions (self);
}

static gboolean
filter_item (gpointer item,
             gpointer user_data)
{
  PlWindow *self = user_data;
  return pl_run_item_matches (PL_RUN_ITEM (item), self->query);
}

static void
on_search_changed (GtkSearchEntry *entry,
                   PlWindow       *self)
{
  g_free (self->query);
  self->query = g_utf8_casefold (gtk_editable_get_text (GTK_EDITABLE (entry)), -1);
  self->keep_page = TRUE;
  gtk_filter_changed (GTK_FILTER (self->filter), GTK_FILTER_CHANGE_DIFFERENT);
  self->keep_page = FALSE;
  update_runs_empty (self);
}

/* A row: status icon, name and tags, then dataset · architecture · plugins ·
 * accuracy · sparsity · time, and a progress bar while it trains. */
typedef struct {
  GtkImage *icon;
  GtkLabel *name;
  GtkLabel *time;
  GtkLabel *details;
  GtkLabel *result;
  GtkProgressBar *progress;
  PlRunItem *item;
  gboolean in_bind;
  guint visibility_idle;
} RowWidgets;

static void
row_widgets_free (gpointer data)
{
  RowWidgets *w = data;
  g_clear_handle_id (&w->visibility_idle, g_source_remove);
  g_free (w);
}

static gboolean
apply_progress_visibility (gpointer data)
{
  RowWidgets *w = data;
  w->visibility_idle = 0;
  gtk_widget_set_visible (GTK_WIDGET (w->progress), w->item && pl_run_item_is_active (w->item));
  return G_SOURCE_REMOVE;
}

static void
row_update (RowWidgets *w)
{
  PlRunItem *item = w->item;
  const char *status = pl_run_item_get_status (item);
  gtk_image_set_from_icon_name (w->icon, pl_run_status_icon_name (status));
  const char *classes[] = { "dim-label", "accent", "warning", "success", "error" };
  for (guint i = 0; i < G_N_ELEMENTS (classes); i++)
    gtk_widget_remove_css_class (GTK_WIDGET (w->icon), classes[i]);
  gtk_widget_add_css_class (GTK_WIDGET (w->icon), pl_run_status_style_class (status));
  gtk_widget_set_tooltip_text (GTK_WIDGET (w->icon), pl_run_status_label (status));

  g_autoptr (GString) name = g_string_new (NULL);
  g_autofree char *escaped = g_markup_escape_text (pl_run_item_get_name (item), -1);
  g_string_append_printf (name, "<b>%s</b>", escaped);
  for (const char * const *t = pl_run_item_get_tags (item); *t; t++)
    {
      g_autofree char *tag = g_markup_escape_text (*t, -1);
      g_string_append_printf (name, " <span alpha=\"60%%\" size=\"small\">#%s</span>", tag);
    }
  gtk_label_set_markup (w->name, name->str);

  g_autofree char *when = pl_gui_format_time (pl_run_item_get_started_at (item));
  gint64 id = pl_run_item_get_id (item);
  g_autofree char *time = id > 0 ? g_strdup_printf ("#%" G_GINT64_FORMAT " · %s", id, when)
                                 : g_strdup (pl_run_status_label (status));
  gtk_label_set_text (w->time, time);

  g_autoptr (GString) details = g_string_new (NULL);
  const char *fields[] = { pl_run_item_get_dataset (item), pl_run_item_get_architecture (item),
                           pl_run_item_get_plugins (item) };
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    if (fields[i] && *fields[i])
      g_string_append_printf (details, "%s%s", details->len ? " · " : "", fields[i]);
  gtk_label_set_text (w->details, details->str);

  g_autofree char *acc = pl_gui_format_percent (pl_run_item_get_best_val_acc (item));
  double sp = pl_run_item_get_final_sparsity (item);
  g_autofree char *result = NULL;
  if (isfinite (sp))
    {
      g_autofree char *sparsity = pl_gui_format_percent (sp);
      result = g_strdup_printf (_("acc %s · sparsity %s"), acc, sparsity);
    }
  else
    result = g_strdup_printf (_("acc %s"), acc);
  /* a run that did not end well says so in words too, not only with its icon */
  if (id > 0 && g_strcmp0 (status, "finished") != 0 && g_strcmp0 (status, "running") != 0)
    {
      g_autofree char *with_status = g_strdup_printf ("%s · %s", pl_run_status_label (status),
                                                      result);
      g_free (result);
      result = g_steal_pointer (&with_status);
    }
  gtk_label_set_text (w->result, result);

  gboolean active = pl_run_item_is_active (item);
  /* The list view binds rows while it allocates them: a widget shown then
   * would be drawn before it has a size. Show or hide it after the frame. */
  if (gtk_widget_get_visible (GTK_WIDGET (w->progress)) != active)
    {
      if (w->in_bind)
        {
          if (!w->visibility_idle)
            w->visibility_idle = g_idle_add (apply_progress_visibility, w);
        }
      else
        gtk_widget_set_visible (GTK_WIDGET (w->progress), active);
    }
  if (active)
    gtk_progress_bar_set_fraction (w->progress, pl_run_item_get_progress (item));
}

static void
on_row_item_changed (PlRunItem  *item,
                     GParamSpec *pspec,
                     RowWidgets *w)
{
  row_update (w);
}

static void
on_row_pressed (GtkGestureClick *gesture,
                int              n_press,
                double           x,
                double           y,
                GtkListItem     *list_item)
{
  GtkWidget *row = gtk_event_controller_get_widget (GTK_EVENT_CONTROLLER (gesture));
  PlWindow *self = PL_WINDOW (gtk_widget_get_root (row));
  guint pos = gtk_list_item_get_position (list_item);
  if (pos == GTK_INVALID_LIST_POSITION)
    return;
  if (!gtk_selection_model_is_selected (GTK_SELECTION_MODEL (self->selection), pos))
    gtk_selection_model_select_item (GTK_SELECTION_MODEL (self->selection), pos, TRUE);
  GtkWidget *popover = gtk_popover_menu_new_from_model (self->run_menu);
  gtk_widget_set_parent (popover, row);
  gtk_popover_set_pointing_to (GTK_POPOVER (popover), &(GdkRectangle) { (int) x, (int) y, 1, 1 });
  gtk_popover_set_has_arrow (GTK_POPOVER (popover), FALSE);
  gtk_widget_set_halign (popover, GTK_ALIGN_START);
  g_signal_connect (popover, "closed", G_CALLBACK (gtk_widget_unparent), NULL);
  gtk_popover_popup (GTK_POPOVER (popover));
}

static GtkWidget *
small_label (const char *css)
{
  GtkWidget *l = gtk_label_new (NULL);
  gtk_label_set_xalign (GTK_LABEL (l), 0);
  gtk_label_set_ellipsize (GTK_LABEL (l), PANGO_ELLIPSIZE_END);
  /* a long line ellipsizes instead of widening the sidebar */
  gtk_label_set_max_width_chars (GTK_LABEL (l), 24);
  gtk_label_set_width_chars (GTK_LABEL (l), 10);
  if (css)
    {
      gtk_widget_add_css_class (l, css);
      gtk_widget_add_css_class (l, "caption");
    }
  return l;
}

static void
row_setup (GtkSignalListItemFactory *factory,
           GtkListItem              *list_item,
           PlWindow                 *self)
{
  RowWidgets *w = g_new0 (RowWidgets, 1);
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 10);
  gtk_widget_add_css_class (box, "run-row");
  w->icon = GTK_IMAGE (gtk_image_new ());
  gtk_widget_set_valign (GTK_WIDGET (w->icon), GTK_ALIGN_START);
  gtk_widget_set_margin_top (GTK_WIDGET (w->icon), 2);
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (w->icon));

  GtkWidget *text = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  gtk_widget_set_hexpand (text, TRUE);
  GtkWidget *top = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  w->name = GTK_LABEL (small_label (NULL));
  gtk_widget_set_hexpand (GTK_WIDGET (w->name), TRUE);
  w->time = GTK_LABEL (small_label ("dim-label"));
  gtk_label_set_ellipsize (w->time, PANGO_ELLIPSIZE_NONE);
  gtk_widget_add_css_class (GTK_WIDGET (w->time), "numeric");
  gtk_box_append (GTK_BOX (top), GTK_WIDGET (w->name));
  gtk_box_append (GTK_BOX (top), GTK_WIDGET (w->time));
  gtk_box_append (GTK_BOX (text), top);
  w->details = GTK_LABEL (small_label ("dim-label"));
  gtk_box_append (GTK_BOX (text), GTK_WIDGET (w->details));
  w->result = GTK_LABEL (small_label ("dim-label"));
  gtk_widget_add_css_class (GTK_WIDGET (w->result), "numeric");
  gtk_box_append (GTK_BOX (text), GTK_WIDGET (w->result));
  w->progress = GTK_PROGRESS_BAR (gtk_progress_bar_new ());
  gtk_widget_set_margin_top (GTK_WIDGET (w->progress), 4);
  gtk_box_append (GTK_BOX (text), GTK_WIDGET (w->progress));
  gtk_box_append (GTK_BOX (box), text);

  GtkGesture *click = gtk_gesture_click_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (click), GDK_BUTTON_SECONDARY);
  g_signal_connect (click, "pressed", G_CALLBACK (on_row_pressed), list_item);
  gtk_widget_add_controller (box, GTK_EVENT_CONTROLLER (click));

  gtk_widget_set_visible (GTK_WIDGET (w->progress), FALSE);
  g_object_set_data_full (G_OBJECT (list_item), "pl-row", w, row_widgets_free);
  g_object_set_data (G_OBJECT (box), "pl-row", w);
  gtk_list_item_set_child (list_item, box);
}

static void
row_bind (GtkSignalListItemFactory *factory,
          GtkListItem              *list_item,
          PlWindow                 *self)
{
  RowWidgets *w = g_object_get_data (G_OBJECT (list_item), "pl-row");
  w->item = gtk_list_item_get_item (list_item);
  g_signal_connect (w->item, "notify::revision", G_CALLBACK (on_row_item_changed), w);
  w->in_bind = TRUE;
  row_update (w);
  w->in_bind = FALSE;
}

static void
row_unbind (GtkSignalListItemFactory *factory,
            GtkListItem              *list_item,
            PlWindow                 *self)
{
  RowWidgets *w = g_object_get_data (G_OBJECT (list_item), "pl-row");
  if (w->item)
    g_signal_handlers_disconnect_by_data (w->item, w);
  w->item = NULL;
}

/* ---- runs from the manager --------------------------------------------------------- */

static void
on_run_added (PlRunManager *manager,
              PlLiveRun    *live,
              PlWindow     *self)
{
  _pl_window_refresh (self);
  PlRunItem *item = pl_run_list_lookup_live (self->runs, live);
  if (item)
    {
      self->keep_page = TRUE;
      select_item (self, item);
      self->keep_page = FALSE;
      update_views_for_selection (self, FALSE);
    }
}

static void
on_run_changed (PlRunManager *manager,
                PlLiveRun    *live,
                PlWindow     *self)
{
  _pl_window_refresh (self);
  update_actions (self);
}

static void
on_run_ended (PlRunManager *manager,
              PlLiveRun    *live,
              PlWindow     *self)
{
  _pl_window_refresh (self);
  gint64 id = pl_live_run_get_id (live);
  g_autoptr (GPtrArray) items = selected_items (self);
  for (guint i = 0; items->len > 1 && i < items->len; i++)
    if (pl_run_item_get_id (g_ptr_array_index (items, i)) == id)
      pl_compare_view_reload (self->compare_view);

  g_autofree char *msg = NULL;
  switch (pl_live_run_get_state (live))
    {
    case PL_LIVE_RUN_FINISHED:
      msg = g_strdup_printf (_("“%s” finished"), pl_live_run_get_name (live));
      break;
    case PL_LIVE_RUN_STOPPED:
      msg = g_strdup_printf (_("“%s” stopped"), pl_live_run_get_name (live));
      break;
    default:
      msg = g_strdup_printf (_("“%s” failed"), pl_live_run_get_name (live));
      break;
    }
  toast (self, msg);
}

static void
on_store_changed (PlApplication *app,
                  PlWindow      *self)
{
  _pl_window_refresh (self);
  update_views_for_selection (self, FALSE);
}

/* ---- the editor ----------------------------------------------------------------- */

static void
update_title (PlWindow *self)
{
  const char *name = pl_experiment_editor_get_name (self->editor);
  const char *path = pl_experiment_editor_get_path (self->editor);
  g_autofree char *base = path ? g_path_get_basename (path) : g_strdup (_("Unsaved experiment"));
  g_autofree char *subtitle = g_strdup_printf ("%s%s", base,
                                               pl_experiment_editor_get_modified (self->editor)
                                                 ? " •" : "");
  adw_view_switcher_title_set_subtitle (self->switcher_title, subtitle);
  g_autofree char *title = name ? g_strdup_printf ("Paramlab — %s", name) : g_strdup ("Paramlab");
  gtk_window_set_title (GTK_WINDOW (self), title);
}

static void
on_editor_changed (PlExperimentEditor *editor,
                   PlWindow           *self)
{
  update_title (self);
  update_actions (self);
}

static gboolean
load_experiment (PlWindow   *self,
                 const char *path,
                 gboolean    is_preset)
{
  g_autoptr (GError) error = NULL;
  if (!pl_experiment_editor_load_file (self->editor, path, is_preset, &error))
    {
      pl_gui_show_error (GTK_WIDGET (self), _("Cannot Open the Experiment"), error->message);
      return FALSE;
    }
  if (!is_preset)
    g_settings_set_string (self->settings, "last-experiment", path);
  else
    g_settings_reset (self->settings, "last-experiment");
  update_title (self);
  update_actions (self);
  return TRUE;
}

void
pl_window_open_file (PlWindow *self,
                     GFile    *file)
{
  g_return_if_fail (PL_IS_WINDOW (self));
  g_autofree char *path = g_file_get_path (file);
  if (path && load_experiment (self, path, FALSE))
    show_page (self, "editor");
}

static char *
presets_dir (void)
{
  return g_build_filename (pl_application_get_data_dir (), "experiments", NULL);
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return g_strcmp0 (*(const char * const *) a, *(const char * const *) b);
}

/* The presets menu: every .ini of the bundled experiments, by name. */
static GMenuModel *
build_presets_menu (void)
{
  GMenu *menu = g_menu_new ();
  g_autofree char *dir_path = presets_dir ();
  g_autoptr (GDir) dir = g_dir_open (dir_path, 0, NULL);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  while (dir && (name = g_dir_read_name (dir)))
    if (g_str_has_suffix (name, ".ini"))
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  GMenu *section = g_menu_new ();
  for (guint i = 0; i < names->len; i++)
    {
      const char *file = g_ptr_array_index (names, i);
      g_autofree char *path = g_build_filename (dir_path, file, NULL);
      g_autofree char *label = g_strndup (file, strlen (file) - 4);
      g_autoptr (GMenuItem) item = g_menu_item_new (label, NULL);
      g_menu_item_set_action_and_target_value (item, "win.open-preset", g_variant_new_string (path));
      g_menu_append_item (section, item);
    }
  g_menu_append_section (menu, _("Presets"), G_MENU_MODEL (section));
  g_object_unref (section);
  return G_MENU_MODEL (menu);
}

static char *
default_experiment_path (void)
{
  g_autofree char *dir = presets_dir ();
  return g_build_filename (dir, "digits-mlp.ini", NULL);
}

/* ---- actions ---------------------------------------------------------------------- */

static void
update_actions (PlWindow *self)
{
  g_autoptr (GPtrArray) items = selected_items (self);
  gboolean valid = pl_experiment_editor_is_valid (self->editor);
  gboolean one = items->len == 1;
  gint64 id = one ? pl_run_item_get_id (g_ptr_array_index (items, 0)) : 0;
  gboolean one_stored = one && id > 0;
  gboolean active_one = one && pl_run_item_is_active (g_ptr_array_index (items, 0));
  guint n_stored = 0;
  gboolean any_active = FALSE;
  for (guint i = 0; i < items->len; i++)
    {
      PlRunItem *it = g_ptr_array_index (items, i);
      if (pl_run_item_get_id (it) > 0)
        n_stored++;
      any_active |= pl_run_item_is_active (it);
    }
  struct { const char *name; gboolean enabled; } states[] = {
    { "run", valid },
    { "compare", n_stored >= 2 },
    { "export", one_stored && !active_one },
    { "run-again", one_stored && !active_one },
    { "resume-run", one && can_resume (self, g_ptr_array_index (items, 0)) },
    { "rename", one_stored },
    { "tag", one_stored },
    { "delete", n_stored > 0 && !any_active },
    { "export-comparison", pl_compare_view_get_n_runs (self->compare_view) >= 2 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (states); i++)
    {
      GAction *a = g_action_map_lookup_action (G_ACTION_MAP (self), states[i].name);
      g_simple_action_set_enabled (G_SIMPLE_ACTION (a), states[i].enabled);
    }
  if (valid)
    gtk_widget_set_tooltip_text (self->run_button, _("Train this experiment (Ctrl+R)"));
  else
    {
      g_autofree char *problems = pl_experiment_editor_dup_problems (self->editor);
      gtk_widget_set_tooltip_text (self->run_button, problems);
    }
}

static void
action_run (GSimpleAction *action,
            GVariant      *param,
            gpointer       user_data)
{
  PlWindow *self = user_data;
  if (!pl_experiment_editor_is_valid (self->editor))
    {
      g_autofree char *problems = pl_experiment_editor_dup_problems (self->editor);
      pl_gui_show_error (GTK_WIDGET (self), _("This Experiment Cannot Run Yet"), problems);
      return;
    }
  g_autofree char *text = pl_experiment_editor_dup_text (self->editor);
  pl_run_manager_submit (self->manager, pl_experiment_editor_get_name (self->editor), text, 0);
  show_page (self, "run");
}

static GtkFileFilter *
ini_filter (void)
{
  GtkFileFilter *filter = gtk_file_filter_new ();
  gtk_file_filter_set_name (filter, _("Experiment files"));
  gtk_file_filter_add_pattern (filter, "*.ini");
  return filter;
}

static void
action_open_preset (GSimpleAction *action,
                    GVariant      *param,
                    gpointer       user_data)
{
  PlWindow *self = user_data;
  if (load_experiment (self, g_variant_get_string (param, NULL), TRUE))
    show_page (self, "editor");
}

static void
action_new_experiment (GSimpleAction *action,
                       GVariant      *param,
                       gpointer       user_data)
{
  PlWindow *self = user_data;
  g_autoptr (PlExperiment) exp = pl_experiment_new_default ();
  g_autofree char *text = pl_experiment_to_text (exp);
  g_autoptr (GError) error = NULL;
  if (!pl_experiment_editor_load_text (self->editor, text, "untitled.ini", &error))
    pl_gui_show_error (GTK_WIDGET (self), _("Cannot Create an Experiment"), error->message);
  show_page (self, "editor");
  update_title (self);
}

/* Says where a file was saved (a toast), or why not (a dialog headed @heading).
 * Returns TRUE when it was saved. */
static gboolean
report_saved (PlWindow     *self,
              const char   *path,
              const GError *error,
              const char   *heading)
{
  if (error)
    {
      pl_gui_show_error (GTK_WIDGET (self), heading, error->message);
      return FALSE;
    }
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *msg = g_strdup_printf (_("Saved %s"), base);
  toast (self, msg);
  return TRUE;
}

static void
save_to (PlWindow   *self,
         const char *path)
{
  g_autoptr (GError) error = NULL;
  pl_experiment_editor_save (self->editor, path, &error);
  if (!report_saved (self, path, error, _("Cannot Save the Experiment")))
    return;
  g_settings_set_string (self->settings, "last-experiment", path);
  update_title (self);
}

static void
export_comparison_to (PlWindow   *self,
                      const char *path)
{
  g_autoptr (GError) error = NULL;
  pl_compare_view_export_csv (self->compare_view, path, &error);
  report_saved (self, path, error, _("Cannot Export the Comparison"));
}

static char *
experiment_file_name (PlWindow *self)
{
  const char *name = pl_experiment_editor_get_name (self->editor);
  return g_strdup_printf ("%s.ini", name && *name ? name : "experiment");
}

static char *
comparison_file_name (PlWindow *self)
{
  return g_strdup ("comparison.csv");
}

/* The actions that ask for a file: Open, Save As and Export CSV. */
typedef struct {
  const char *action;
  const char *title;                           /* N_() */
  GtkFileChooserAction mode;
  const char *accept;                          /* N_() */
  gboolean experiments;                        /* *.ini, starting in the presets */
  char *(*suggest) (PlWindow *self);           /* a file name to save as, or NULL */
  void (*chosen) (PlWindow *self, const char *path);
} FileDialog;

static void open_path (PlWindow *self, const char *path);

static const FileDialog file_dialogs[] = {
  { "open", N_("Open Experiment"), GTK_FILE_CHOOSER_ACTION_OPEN, N_("_Open"), TRUE,
    NULL, open_path },
  { "save-as", N_("Save Experiment"), GTK_FILE_CHOOSER_ACTION_SAVE, N_("_Save"), TRUE,
    experiment_file_name, save_to },
  { "export-comparison", N_("Export Comparison"), GTK_FILE_CHOOSER_ACTION_SAVE, N_("_Save"),
    FALSE, comparison_file_name, export_comparison_to },
};

static void
open_path (PlWindow   *self,
           const char *path)
{
  g_autoptr (GFile) file = g_file_new_for_path (path);
  pl_window_open_file (self, file);
}

static void
on_file_response (GtkNativeDialog *dialog,
                  int              response,
                  PlWindow        *self)
{
  const FileDialog *d = g_object_get_data (G_OBJECT (dialog), "pl-file-dialog");
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = g_file_get_path (file);
      if (path)
        d->chosen (self, path);
    }
  g_object_unref (dialog);
}

static void
action_choose_file (GSimpleAction *action,
                    GVariant      *param,
                    gpointer       user_data)
{
  PlWindow *self = user_data;
  const FileDialog *d = NULL;
  for (guint i = 0; i < G_N_ELEMENTS (file_dialogs); i++)
    if (g_str_equal (file_dialogs[i].action, g_action_get_name (G_ACTION (action))))
      d = &file_dialogs[i];
  g_return_if_fail (d != NULL);
  GtkFileChooserNative *chooser =
    gtk_file_chooser_native_new (_(d->title), GTK_WINDOW (self), d->mode, _(d->accept),
                                 _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  if (d->experiments)
    {
      g_autoptr (GtkFileFilter) filter = ini_filter ();
      gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), filter);
    }
  if (d->suggest)
    {
      g_autofree char *name = d->suggest (self);
      gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser), name);
    }
  else if (d->experiments)
    {
      g_autofree char *dir = presets_dir ();
      g_autoptr (GFile) folder = g_file_new_for_path (dir);
      gtk_file_chooser_set_current_folder (GTK_FILE_CHOOSER (chooser), folder, NULL);
    }
  g_object_set_data (G_OBJECT (chooser), "pl-file-dialog", (gpointer) d);
  g_signal_connect (chooser, "response", G_CALLBACK (on_file_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
action_save (GSimpleAction *action,
             GVariant      *param,
             gpointer       user_data)
{
  PlWindow *self = user_data;
  const char *path = pl_experiment_editor_get_path (self->editor);
  if (path && !pl_experiment_editor_is_preset (self->editor))
    save_to (self, path);
  else
    g_action_group_activate_action (G_ACTION_GROUP (self), "save-as", NULL);
}

static void
action_search (GSimpleAction *action,
               GVariant      *param,
               gpointer       user_data)
{
  PlWindow *self = user_data;
  if (adw_leaflet_get_folded (self->leaflet))
    adw_leaflet_set_visible_child (self->leaflet, self->sidebar);
  gtk_widget_grab_focus (GTK_WIDGET (self->search_entry));
}

static void
action_back (GSimpleAction *action,
             GVariant      *param,
             gpointer       user_data)
{
  PlWindow *self = user_data;
  adw_leaflet_navigate (self->leaflet, ADW_NAVIGATION_DIRECTION_BACK);
}

static void
action_pause_resume (GSimpleAction *action,
                     GVariant      *param,
                     gpointer       user_data)
{
  PlWindow *self = user_data;
  pl_run_view_toggle_pause (self->run_view);
}

static void
action_stop (GSimpleAction *action,
             GVariant      *param,
             gpointer       user_data)
{
  PlWindow *self = user_data;
  pl_run_view_stop (self->run_view);
}

static void
action_compare (GSimpleAction *action,
                GVariant      *param,
                gpointer       user_data)
{
  PlWindow *self = user_data;
  update_views_for_selection (self, FALSE);
  show_page (self, "compare");
}

static void
action_show_page (GSimpleAction *action,
                  GVariant      *param,
                  gpointer       user_data)
{
  PlWindow *self = user_data;
  show_page (self, g_variant_get_string (param, NULL));
}

static void
action_export (GSimpleAction *action,
               GVariant      *param,
               gpointer       user_data)
{
  PlWindow *self = user_data;
  g_autoptr (PlRunItem) item = single_selected (self);
  PlRunStore *store = get_store (self);
  if (!item || !store || pl_run_item_get_id (item) <= 0)
    return;
  g_autofree char *db = pl_application_dup_db_path (self->app);
  PlExportDialog *dialog = pl_export_dialog_new (GTK_WINDOW (self), store, db,
                                                 pl_run_manager_get_cli_path (self->manager),
                                                 pl_run_item_get_id (item));
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
action_run_again (GSimpleAction *action,
                  GVariant      *param,
                  gpointer       user_data)
{
  PlWindow *self = user_data;
  g_autoptr (PlRunItem) item = single_selected (self);
  PlRunStore *store = get_store (self);
  if (!item || !store)
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (PlRunInfo) info = pl_run_store_get_run (store, pl_run_item_get_id (item), &error);
  if (!info || !info->experiment || !*info->experiment)
    {
      pl_gui_show_error (GTK_WIDGET (self), _("Cannot Run Again"),
                         error ? error->message : _("The run has no recorded experiment."));
      return;
    }
  pl_run_manager_submit (self->manager, info->name, info->experiment, info->id);
  show_page (self, "run");
}

/* Can @item continue training from its saved state (`paramlab-cli resume`)? */
static gboolean
can_resume (PlWindow  *self,
            PlRunItem *item)
{
  gint64 id = item ? pl_run_item_get_id (item) : 0;
  if (id <= 0 || pl_run_item_is_active (item)
      || !pl_run_status_can_resume (pl_run_item_get_status (item)))
    return FALSE;
  PlRunStore *store = get_store (self);
  g_autofree char *state = store ? pl_run_store_find_state_file (store, id, NULL) : NULL;
  return state != NULL;
}

/* Resumes the selected run in a child `paramlab-cli resume`, shown live. */
static void
action_resume_run (GSimpleAction *action,
                   GVariant      *param,
                   gpointer       user_data)
{
  PlWindow *self = user_data;
  g_autoptr (PlRunItem) item = single_selected (self);
  if (!can_resume (self, item))
    return;
  g_autoptr (PlRunInfo) info = pl_run_store_get_run (get_store (self), pl_run_item_get_id (item),
                                                     NULL);
  pl_run_manager_resume (self->manager, pl_run_item_get_name (item), pl_run_item_get_id (item),
                         info ? info->experiment : NULL);
  show_page (self, "run");
}

/* ---- rename, tags, delete ---------------------------------------------------------- */

static void
on_rename_response (AdwMessageDialog *dialog,
                    const char       *response,
                    PlWindow         *self)
{
  if (!g_str_equal (response, "apply"))
    return;
  GtkEditable *entry = GTK_EDITABLE (adw_message_dialog_get_extra_child (dialog));
  gint64 id = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (dialog), "pl-id"));
  const char *kind = g_object_get_data (G_OBJECT (dialog), "pl-kind");
  PlRunStore *store = get_store (self);
  g_autoptr (GError) error = NULL;
  g_autofree char *text = g_strstrip (g_strdup (gtk_editable_get_text (entry)));
  gboolean ok;
  if (g_str_equal (kind, "rename"))
    ok = pl_run_store_rename_run (store, id, text, &error);
  else
    {
      g_auto (GStrv) tags = g_strsplit_set (text, ", ", -1);
      ok = pl_run_store_set_tags (store, id, (const char * const *) tags, &error);
    }
  if (!ok)
    pl_gui_show_error (GTK_WIDGET (self), _("Cannot Change the Run"), error->message);
  _pl_window_refresh (self);
}

static void
edit_run_text (PlWindow   *self,
               const char *kind)
{
  g_autoptr (PlRunItem) item = single_selected (self);
  if (!item || pl_run_item_get_id (item) <= 0)
    return;
  gboolean rename = g_str_equal (kind, "rename");
  GtkWidget *dialog = adw_message_dialog_new (GTK_WINDOW (self),
                                              rename ? _("Rename Run") : _("Tags"),
                                              rename ? NULL
                                                     : _("Separate tags with commas or spaces. "
                                                         "The run list's search finds them."));
  GtkWidget *entry = gtk_entry_new ();
  gtk_entry_set_activates_default (GTK_ENTRY (entry), TRUE);
  if (rename)
    gtk_editable_set_text (GTK_EDITABLE (entry), pl_run_item_get_name (item));
  else
    {
      g_autofree char *tags = g_strjoinv (", ", (char **) pl_run_item_get_tags (item));
      gtk_editable_set_text (GTK_EDITABLE (entry), tags);
    }
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), entry);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "apply", rename ? _("_Rename") : _("_Apply"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "apply",
                                              ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "apply");
  g_object_set_data (G_OBJECT (dialog), "pl-id", GSIZE_TO_POINTER (pl_run_item_get_id (item)));
  g_object_set_data (G_OBJECT (dialog), "pl-kind", (gpointer) (rename ? "rename" : "tag"));
  g_signal_connect (dialog, "response", G_CALLBACK (on_rename_response), self);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* "rename" or "tag" */
static void
action_edit_run (GSimpleAction *action,
                 GVariant      *param,
                 gpointer       user_data)
{
  edit_run_text (user_data, g_action_get_name (G_ACTION (action)));
}

typedef struct {
  PlWindow *self;
  GArray *ids;
} UndoDelete;

static void
undo_delete_free (gpointer  data,
                  GClosure *closure)
{
  UndoDelete *u = data;
  g_array_unref (u->ids);
  g_free (u);
}

static void
on_undo_delete (AdwToast   *toast,
                UndoDelete *u)
{
  PlRunStore *store = get_store (u->self);
  for (guint i = 0; store && i < u->ids->len; i++)
    pl_run_store_undelete_run (store, g_array_index (u->ids, gint64, i), NULL);
  _pl_window_refresh (u->self);
}

static void
action_delete (GSimpleAction *action,
               GVariant      *param,
               gpointer       user_data)
{
  PlWindow *self = user_data;
  PlRunStore *store = get_store (self);
  g_autoptr (GPtrArray) items = selected_items (self);
  if (!store || items->len == 0)
    return;
  UndoDelete *u = g_new0 (UndoDelete, 1);
  u->self = self;
  u->ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (guint i = 0; i < items->len; i++)
    {
      PlRunItem *item = g_ptr_array_index (items, i);
      gint64 id = pl_run_item_get_id (item);
      g_autoptr (GError) error = NULL;
      if (id <= 0 || pl_run_item_is_active (item))
        continue;
      if (pl_run_store_delete_run (store, id, &error))
        g_array_append_val (u->ids, id);
      else
        g_warning ("Could not delete run %" G_GINT64_FORMAT ": %s", id, error->message);
    }
  _pl_window_refresh (self);
  g_autofree char *msg = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Deleted %u run",
                                                       "Deleted %u runs", u->ids->len),
                                          u->ids->len);
  AdwToast *t = adw_toast_new (msg);
  adw_toast_set_button_label (t, _("_Undo"));
  adw_toast_set_timeout (t, 8);
  g_object_set_data_full (G_OBJECT (self), "pl-last-toast", g_object_ref (t), g_object_unref);
  g_signal_connect_data (t, "button-clicked", G_CALLBACK (on_undo_delete), u,
                         undo_delete_free, 0);
  pl_window_add_toast (self, t);
}

static const GActionEntry win_actions[] = {
  { "run", action_run },
  { "open", action_choose_file },
  { "open-preset", action_open_preset, "s" },
  { "new-experiment", action_new_experiment },
  { "save", action_save },
  { "save-as", action_choose_file },
  { "search", action_search },
  { "back", action_back },
  { "pause-resume", action_pause_resume },
  { "stop", action_stop },
  { "compare", action_compare },
  { "show-page", action_show_page, "s" },
  { "export", action_export },
  { "export-comparison", action_choose_file },
  { "run-again", action_run_again },
  { "resume-run", action_resume_run },
  { "rename", action_edit_run },
  { "tag", action_edit_run },
  { "delete", action_delete },
};

/* ---- closing ------------------------------------------------------------------------ */

static gboolean
force_quit (gpointer data)
{
  PlWindow *self = data;
  self->quit_timeout = 0;
  GListModel *runs = pl_run_manager_get_runs (self->manager);
  for (guint i = 0; i < g_list_model_get_n_items (runs); i++)
    {
      g_autoptr (PlLiveRun) run = g_list_model_get_item (runs, i);
      pl_live_run_force_exit (run);
    }
  return G_SOURCE_REMOVE;
}

static void
on_close_response (AdwMessageDialog *dialog,
                   const char       *response,
                   PlWindow         *self)
{
  if (!g_str_equal (response, "stop"))
    return;
  /* stop the runs, keep the application until they have written their end */
  g_application_hold (G_APPLICATION (self->app));
  g_object_set_data (G_OBJECT (self->app), "pl-quit-when-idle", GINT_TO_POINTER (1));
  pl_run_manager_stop_all (self->manager);
  g_timeout_add_seconds_full (G_PRIORITY_DEFAULT, 15, force_quit, g_object_ref (self),
                              g_object_unref);
  gtk_widget_set_visible (GTK_WIDGET (self), FALSE);
  if (pl_run_manager_get_n_active (self->manager) == 0)
    {
      g_object_set_data (G_OBJECT (self->app), "pl-quit-when-idle", NULL);
      g_application_release (G_APPLICATION (self->app));
    }
  gtk_window_destroy (GTK_WINDOW (self));
}

static gboolean
pl_window_close_request (GtkWindow *window)
{
  PlWindow *self = PL_WINDOW (window);
  int width, height;
  gtk_window_get_default_size (window, &width, &height);
  g_settings_set_int (self->settings, "window-width", width);
  g_settings_set_int (self->settings, "window-height", height);
  g_settings_set_boolean (self->settings, "window-maximized", gtk_window_is_maximized (window));

  guint active = pl_run_manager_get_n_active (self->manager);
  if (active == 0)
    return GTK_WINDOW_CLASS (pl_window_parent_class)->close_request (window);

  g_autofree char *body = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                                        "%u run is still training. It will be stopped; "
                                                        "what it has recorded so far is kept.",
                                                        "%u runs are still training. They will be "
                                                        "stopped; what they have recorded so far is kept.",
                                                        active), active);
  GtkWidget *dialog = adw_message_dialog_new (window, _("Stop Runs and Quit?"), body);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "stop", _("_Stop and Quit"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "stop",
                                              ADW_RESPONSE_DESTRUCTIVE);
  g_signal_connect (dialog, "response", G_CALLBACK (on_close_response), self);
  gtk_window_present (GTK_WINDOW (dialog));
  return TRUE;
}

/* ---- construction -------------------------------------------------------------------- */

static void
pl_window_dispose (GObject *object)
{
  PlWindow *self = PL_WINDOW (object);
  if (self->manager)
    g_signal_handlers_disconnect_by_data (self->manager, self);
  if (self->app)
    g_signal_handlers_disconnect_by_data (self->app, self);
  g_clear_handle_id (&self->quit_timeout, g_source_remove);
  g_clear_object (&self->manager);
  g_clear_object (&self->catalog);
  g_clear_object (&self->settings);
  g_clear_object (&self->selection);
  g_clear_object (&self->runs);
  gtk_widget_dispose_template (GTK_WIDGET (self), PL_TYPE_WINDOW);
  G_OBJECT_CLASS (pl_window_parent_class)->dispose (object);
}

static void
pl_window_finalize (GObject *object)
{
  PlWindow *self = PL_WINDOW (object);
  g_free (self->query);
  G_OBJECT_CLASS (pl_window_parent_class)->finalize (object);
}

static void
pl_window_class_init (PlWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);
  object_class->dispose = pl_window_dispose;
  object_class->finalize = pl_window_finalize;
  window_class->close_request = pl_window_close_request;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/paramlab/Paramlab/pl-window.ui");
  gtk_widget_class_bind_template_child (widget_class, PlWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, PlWindow, leaflet);
  gtk_widget_class_bind_template_child (widget_class, PlWindow, sidebar);
  gtk_widget_class_bind_template_child (widget_class, PlWindow, content);
  gtk_widget_class_bind_template_child (widget_class, PlWindow, search_entry);
  gtk_widget_class_bind_template_child (widget_class, PlWindow, runs_stack);
  gtk_widget_class_bind_template_child (widget_class, PlWindow, runs_view);
  gtk_widget_class_bind_template_child (widget_class, PlWindow, runs_empty);
  gtk_widget_class_bind_template_child (widget_class, PlWindow, selection_label);
  gtk_widget_class_bind_template_child (widget_class, PlWindow, switcher_title);
  gtk_widget_class_bind_template_child (widget_class, PlWindow, open_button);
  gtk_widget_class_bind_template_child (widget_class, PlWindow, run_button);
  gtk_widget_class_bind_template_child (widget_class, PlWindow, view_stack);
  gtk_widget_class_bind_template_child (widget_class, PlWindow, run_menu);
  gtk_widget_class_bind_template_callback (widget_class, on_search_changed);

}

static void
pl_window_init (PlWindow *self)
{
  pl_gui_trace ("window: init");
  gtk_widget_init_template (GTK_WIDGET (self));
  pl_gui_trace ("window: template built");
  g_action_map_add_action_entries (G_ACTION_MAP (self), win_actions,
                                   G_N_ELEMENTS (win_actions), self);
  g_autoptr (GMenuModel) presets = build_presets_menu ();
  adw_split_button_set_menu_model (self->open_button, presets);
}

static void
trace_phase (GdkFrameClock *clock,
             const char    *what)
{
  pl_gui_trace (what);
}

static void
trace_after_paint (GdkFrameClock *clock,
                   PlWindow      *self)
{
  pl_gui_trace ("first frame painted");
  g_signal_handlers_disconnect_by_func (clock, trace_after_paint, self);
  g_signal_handlers_disconnect_by_func (clock, trace_phase, (gpointer) "frame: layout starts");
  g_signal_handlers_disconnect_by_func (clock, trace_phase, (gpointer) "frame: layout done");
  g_signal_handlers_disconnect_by_func (clock, trace_phase, (gpointer) "frame: paint starts");
}

static void
trace_realize (GtkWidget *widget)
{
  pl_gui_trace ("window: realized");
  GdkFrameClock *clock = gtk_widget_get_frame_clock (widget);
  g_signal_connect (clock, "layout", G_CALLBACK (trace_phase), (gpointer) "frame: layout starts");
  g_signal_connect_after (clock, "layout", G_CALLBACK (trace_phase), (gpointer) "frame: layout done");
  g_signal_connect (clock, "paint", G_CALLBACK (trace_phase), (gpointer) "frame: paint starts");
  g_signal_connect (clock, "after-paint", G_CALLBACK (trace_after_paint), widget);
}

/* What the first frame does not need: the plugin list (a child process) and the
 * shortcuts window. Runs at the start of the second frame. */
static gboolean
after_first_frame (GtkWidget     *widget,
                   GdkFrameClock *clock,
                   gpointer       data)
{
  PlWindow *self = PL_WINDOW (widget);
  if (self->startup_frames++ == 0)
    return G_SOURCE_CONTINUE;
  self->startup_tick = 0;
  pl_plugin_catalog_reload (self->catalog, pl_run_manager_get_cli_path (self->manager));
  g_autoptr (GtkBuilder) builder =
    gtk_builder_new_from_resource ("/io/github/paramlab/Paramlab/help-overlay.ui");
  GtkShortcutsWindow *overlay = GTK_SHORTCUTS_WINDOW (gtk_builder_get_object (builder,
                                                                              "help_overlay"));
  gtk_application_window_set_help_overlay (GTK_APPLICATION_WINDOW (self), overlay);
  pl_gui_trace ("after the first frame: plugin list started, shortcuts built");
  return G_SOURCE_REMOVE;
}

static void
add_page (PlWindow   *self,
          GtkWidget  *child,
          const char *name,
          const char *title,
          const char *icon)
{
  GtkWidget *bin = pl_lazy_bin_new (child);
  /* the page the window opens on is in the tree from the start */
  if (g_str_equal (name, "editor"))
    pl_lazy_bin_adopt (PL_LAZY_BIN (bin));
  AdwViewStackPage *page = adw_view_stack_add_titled (self->view_stack, bin, name, title);
  adw_view_stack_page_set_icon_name (page, icon);
}

PlWindow *
pl_window_new (PlApplication *app)
{
  g_return_val_if_fail (PL_IS_APPLICATION (app), NULL);
  pl_gui_trace ("window: new");
  PlWindow *self = g_object_new (PL_TYPE_WINDOW, "application", app, NULL);
  self->app = app;
  self->settings = g_object_ref (pl_application_get_settings (app));
  self->manager = g_object_ref (pl_application_get_run_manager (app));

  gtk_window_set_default_size (GTK_WINDOW (self),
                               g_settings_get_int (self->settings, "window-width"),
                               g_settings_get_int (self->settings, "window-height"));
  if (g_settings_get_boolean (self->settings, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));

  pl_gui_trace ("window: template");
  self->catalog = pl_plugin_catalog_new ();
  self->editor = PL_EXPERIMENT_EDITOR (pl_experiment_editor_new (self->catalog, self->settings));
  pl_gui_trace ("window: editor");
  self->run_view = PL_RUN_VIEW (pl_run_view_new (self->settings));
  pl_gui_trace ("window: run view");
  self->compare_view = PL_COMPARE_VIEW (pl_compare_view_new ());
  self->plugins_page = PL_PLUGINS_PAGE (pl_plugins_page_new (self->catalog, self->settings,
                                                             pl_run_manager_get_cli_path (self->manager)));
  pl_gui_trace ("window: compare, plugins");
  add_page (self, GTK_WIDGET (self->editor), "editor", _("Experiment"), "document-edit-symbolic");
  add_page (self, GTK_WIDGET (self->run_view), "run", _("Live"), "pl-chart-symbolic");
  add_page (self, GTK_WIDGET (self->compare_view), "compare", _("Compare"), "view-dual-symbolic");
  add_page (self, GTK_WIDGET (self->plugins_page), "plugins", _("Plugins"),
            "application-x-addon-symbolic");
  g_signal_connect (self->editor, "changed", G_CALLBACK (on_editor_changed), self);

  /* the runs sidebar */
  self->runs = pl_run_list_new (self->manager);
  self->filter = gtk_custom_filter_new (filter_item, self, NULL);
  self->filtered = gtk_filter_list_model_new (g_object_ref (pl_run_list_get_model (self->runs)),
                                              GTK_FILTER (self->filter));
  self->selection = gtk_multi_selection_new (G_LIST_MODEL (self->filtered));
  g_signal_connect (self->selection, "selection-changed", G_CALLBACK (on_selection_changed), self);
  GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();
  g_signal_connect (factory, "setup", G_CALLBACK (row_setup), self);
  g_signal_connect (factory, "bind", G_CALLBACK (row_bind), self);
  g_signal_connect (factory, "unbind", G_CALLBACK (row_unbind), self);
  gtk_list_view_set_factory (self->runs_view, factory);
  g_object_unref (factory);
  gtk_list_view_set_model (self->runs_view, GTK_SELECTION_MODEL (self->selection));
  /* Delete deletes runs only when the list has the focus, not while typing */
  GtkEventController *keys = gtk_shortcut_controller_new ();
  gtk_shortcut_controller_add_shortcut (GTK_SHORTCUT_CONTROLLER (keys),
                                        gtk_shortcut_new (gtk_keyval_trigger_new (GDK_KEY_Delete, 0),
                                                          gtk_named_action_new ("win.delete")));
  gtk_widget_add_controller (GTK_WIDGET (self->runs_view), keys);

  g_signal_connect (self->manager, "run-added", G_CALLBACK (on_run_added), self);
  g_signal_connect (self->manager, "run-identified", G_CALLBACK (on_run_changed), self);
  g_signal_connect (self->manager, "run-ended", G_CALLBACK (on_run_ended), self);
  g_signal_connect (app, "store-changed", G_CALLBACK (on_store_changed), self);

  pl_gui_trace ("window: pages, sidebar");
  /* the default experiment, so that one click runs something real */
  g_autofree char *last = g_settings_get_string (self->settings, "last-experiment");
  g_autofree char *preset = default_experiment_path ();
  if (!(last && *last && g_file_test (last, G_FILE_TEST_EXISTS)
        && load_experiment (self, last, FALSE)))
    load_experiment (self, preset, TRUE);

  pl_gui_trace ("window: experiment loaded");
  pl_plugin_catalog_set_pending (self->catalog);
  self->startup_tick = gtk_widget_add_tick_callback (GTK_WIDGET (self), after_first_frame,
                                                     NULL, NULL);
  _pl_window_refresh (self);
  pl_gui_trace ("window: run list");
  adw_view_stack_set_visible_child_name (self->view_stack, "editor");
  /* a narrow window opens on the experiment; the runs are one "back" away */
  adw_leaflet_set_visible_child (self->leaflet, self->content);
  update_title (self);
  update_actions (self);
  if (g_getenv ("PARAMLAB_DEBUG_STARTUP"))
    g_signal_connect (self, "realize", G_CALLBACK (trace_realize), NULL);
  pl_gui_trace ("window: built");
  return self;
}

void
pl_window_show_run (PlWindow *self,
                    gint64    id)
{
  g_return_if_fail (PL_IS_WINDOW (self));
  _pl_window_select_runs (self, &id, 1);
  show_page (self, "run");
}

/* ---- for tests ------------------------------------------------------------------------- */

PlExperimentEditor *_pl_window_get_editor (PlWindow *self) { return self->editor; }
PlRunView *_pl_window_get_run_view (PlWindow *self) { return self->run_view; }
PlCompareView *_pl_window_get_compare_view (PlWindow *self) { return self->compare_view; }
PlPluginsPage *_pl_window_get_plugins_page (PlWindow *self) { return self->plugins_page; }
PlPluginCatalog *_pl_window_get_catalog (PlWindow *self) { return self->catalog; }
PlRunList *_pl_window_get_run_list (PlWindow *self) { return self->runs; }
GtkSelectionModel *_pl_window_get_selection (PlWindow *self) { return GTK_SELECTION_MODEL (self->selection); }
GtkWidget *_pl_window_get_run_button (PlWindow *self) { return self->run_button; }
GtkWidget *_pl_window_get_search_entry (PlWindow *self) { return GTK_WIDGET (self->search_entry); }

static GtkWidget *
find_row (GtkWidget *widget,
          gint64     id)
{
  RowWidgets *w = g_object_get_data (G_OBJECT (widget), "pl-row");
  if (w && w->item && pl_run_item_get_id (w->item) == id)
    return widget;
  for (GtkWidget *c = gtk_widget_get_first_child (widget); c; c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *found = find_row (c, id);
      if (found)
        return found;
    }
  return NULL;
}

gboolean
_pl_window_get_row_status (PlWindow    *self,
                           gint64       id,
                           const char **icon,
                           const char **tooltip)
{
  GtkWidget *row = find_row (GTK_WIDGET (self->runs_view), id);
  if (!row)
    return FALSE;
  RowWidgets *w = g_object_get_data (G_OBJECT (row), "pl-row");
  *icon = gtk_image_get_icon_name (w->icon);
  *tooltip = gtk_widget_get_tooltip_text (GTK_WIDGET (w->icon));
  return TRUE;
}

const char *
_pl_window_get_page (PlWindow *self)
{
  return adw_view_stack_get_visible_child_name (self->view_stack);
}

void
_pl_window_set_page (PlWindow   *self,
                     const char *name)
{
  show_page (self, name);
}

void
_pl_window_select_runs (PlWindow     *self,
                        const gint64 *ids,
                        guint         n)
{
  g_autoptr (GtkBitset) want = gtk_bitset_new_empty ();
  guint total = g_list_model_get_n_items (G_LIST_MODEL (self->selection));
  for (guint i = 0; i < total; i++)
    {
      g_autoptr (PlRunItem) item = g_list_model_get_item (G_LIST_MODEL (self->selection), i);
      for (guint k = 0; k < n; k++)
        if (pl_run_item_get_id (item) == ids[k])
          gtk_bitset_add (want, i);
    }
  g_autoptr (GtkBitset) mask = gtk_bitset_new_range (0, total);
  gtk_selection_model_set_selection (GTK_SELECTION_MODEL (self->selection), want, mask);
}
