/* test-window.c: the window driven as a user drives it, under Xvfb.
 *
 * One application and one window for the whole program; the tests run in order
 * and build on each other's runs (a fresh run store in a temporary directory).
 * Buttons are pressed with gtk_widget_activate() and actions as the keyboard
 * shortcuts would; each main view is saved as a PNG in $PARAMLAB_SCREENSHOT_DIR
 * (the build dir), rendered from the widget tree, no window manager needed.
 *
 * Run through tests/ui-wrapper.sh (dbus-run-session + xvfb-run) with
 * GSETTINGS_BACKEND=memory, GSETTINGS_SCHEMA_DIR at the compiled schema and
 * PARAMLAB_CLI at the built paramlab-cli. */
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#include "pl-application.h"
#include "pl-config.h"
#include "pl-export-dialog.h"
#include "pl-gui.h"
#include "pl-key-texts.h"
#include "pl-test-util.h"
#include "pl-window-private.h"

static PlApplication *app;
static PlWindow *win;
static char *tmp;
static gint64 first_run_id;

/* ---- helpers ------------------------------------------------------------------- */

static gboolean
tick (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

typedef gboolean (*Predicate) (gpointer data);

/* Iterates the main loop until @pred is TRUE; FALSE after @seconds. */
static gboolean
wait_until (Predicate pred,
            gpointer  data,
            double    seconds)
{
  gint64 end = g_get_monotonic_time () + (gint64) (seconds * G_USEC_PER_SEC);
  while (!pred (data))
    {
      if (g_get_monotonic_time () > end)
        return FALSE;
      g_main_context_iteration (NULL, TRUE);
    }
  return TRUE;
}

static gboolean
always_false (gpointer data)
{
  return FALSE;
}

/* Lets the window lay out and paint for @seconds. */
static void
settle (double seconds)
{
  wait_until (always_false, NULL, seconds);
}

static char *
screenshot_path (const char *name)
{
  const char *dir = g_getenv ("PARAMLAB_SCREENSHOT_DIR");
  g_autofree char *fallback = g_build_filename (tmp, "screenshots", NULL);
  if (!dir || !*dir)
    dir = fallback;
  g_mkdir_with_parents (dir, 0755);
  return g_build_filename (dir, name, NULL);
}

typedef struct {
  GtkWidget *widget;
  const char *name;
  gboolean done;
} Shot;

/* Renders the widget as the frame just painted it (its layout is valid then)
 * into a PNG, through the window's own renderer. */
static void
on_after_paint (GdkFrameClock *clock,
                Shot          *shot)
{
  if (shot->done)
    return;
  GtkWidget *widget = shot->widget;
  int w = gtk_widget_get_width (widget), h = gtk_widget_get_height (widget);
  g_autoptr (GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  gdk_paintable_snapshot (paintable, GDK_SNAPSHOT (snapshot), w, h);
  g_autoptr (GskRenderNode) node = gtk_snapshot_free_to_node (snapshot);
  if (!node)
    return;   /* try the next frame */
  GskRenderer *renderer = gtk_native_get_renderer (gtk_widget_get_native (widget));
  g_autoptr (GdkTexture) texture = gsk_renderer_render_texture (renderer, node,
                                                                &GRAPHENE_RECT_INIT (0, 0, w, h));
  g_autofree char *path = screenshot_path (shot->name);
  g_assert_true (gdk_texture_save_to_png (texture, path));
  g_test_message ("screenshot: %s (%dx%d)", path, w, h);
  shot->done = TRUE;
}

static gboolean
shot_done (gpointer data)
{
  Shot *shot = data;
  if (!shot->done)
    gtk_widget_queue_draw (shot->widget);
  return shot->done;
}

/* Saves @widget as it is on screen to $PARAMLAB_SCREENSHOT_DIR/@name. */
static void
screenshot (GtkWidget  *widget,
            const char *name)
{
  settle (0.4);
  Shot shot = { widget, name, FALSE };
  GdkFrameClock *clock = gtk_widget_get_frame_clock (widget);
  g_assert_nonnull (clock);
  gulong id = g_signal_connect (clock, "after-paint", G_CALLBACK (on_after_paint), &shot);
  gtk_widget_queue_draw (widget);
  g_assert_true (wait_until (shot_done, &shot, 10));
  g_signal_handler_disconnect (clock, id);
}

static PlLiveRun *
last_live_run (void)
{
  GListModel *runs = pl_run_manager_get_runs (pl_application_get_run_manager (app));
  guint n = g_list_model_get_n_items (runs);
  g_assert_cmpuint (n, >, 0);
  PlLiveRun *run = g_list_model_get_item (runs, n - 1);
  g_object_unref (run);   /* the manager keeps it */
  return run;
}

static gboolean
run_ended (gpointer data)
{
  return !pl_live_run_is_active (PL_LIVE_RUN (data));
}

static gboolean
run_is_running (gpointer data)
{
  return pl_live_run_get_state (PL_LIVE_RUN (data)) == PL_LIVE_RUN_RUNNING
         && pl_live_run_get_step (PL_LIVE_RUN (data)) > 0;
}

static gboolean
run_is_paused (gpointer data)
{
  return pl_live_run_get_state (PL_LIVE_RUN (data)) == PL_LIVE_RUN_PAUSED;
}

static PlRunStore *
store (void)
{
  g_autoptr (GError) error = NULL;
  PlRunStore *s = pl_application_get_store (app, &error);
  g_assert_no_error (error);
  return s;
}

static gboolean
n_runs_is (gpointer data)
{
  GListModel *runs = pl_run_manager_get_runs (pl_application_get_run_manager (app));
  return g_list_model_get_n_items (runs) == GPOINTER_TO_UINT (data);
}

/* Presses the Run button in the header bar and returns the new run. */
static PlLiveRun *
press_run (void)
{
  GtkWidget *button = _pl_window_get_run_button (win);
  g_assert_true (gtk_widget_is_sensitive (button));
  GListModel *runs = pl_run_manager_get_runs (pl_application_get_run_manager (app));
  guint before = g_list_model_get_n_items (runs);
  /* a button activated by the keyboard clicks after its press animation */
  gtk_widget_activate (button);
  g_assert_true (wait_until (n_runs_is, GUINT_TO_POINTER (before + 1), 5));
  return last_live_run ();
}

static void
set_value (const char *section,
           const char *key,
           const char *text)
{
  g_assert_true (pl_experiment_editor_set_value (_pl_window_get_editor (win), section, key, text));
}

/* Scrolls the page that holds @widget to its end. */
static void
scroll_to_end (GtkWidget *widget)
{
  settle (0.3);
  GtkWidget *scroller = gtk_widget_get_ancestor (widget, GTK_TYPE_SCROLLED_WINDOW);
  g_assert_nonnull (scroller);
  GtkAdjustment *adj = gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (scroller));
  gtk_adjustment_set_value (adj, gtk_adjustment_get_upper (adj) - gtk_adjustment_get_page_size (adj));
}

static PlRunItem *
sidebar_item (gint64 id)
{
  return pl_run_list_lookup (_pl_window_get_run_list (win), id);
}

/* ---- tests ------------------------------------------------------------------------- */

static gboolean
window_mapped (gpointer data)
{
  return win && gtk_widget_get_mapped (GTK_WIDGET (win))
         && gtk_widget_get_width (GTK_WIDGET (win)) > 0;
}

static void
test_window_opens (void)
{
  g_application_activate (G_APPLICATION (app));
  GtkWindow *active = gtk_application_get_active_window (GTK_APPLICATION (app));
  g_assert_true (PL_IS_WINDOW (active));
  win = PL_WINDOW (active);
  g_assert_true (wait_until (window_mapped, NULL, 10));
  _pl_window_hide_toasts (win, TRUE);

  PlExperimentEditor *editor = _pl_window_get_editor (win);
  /* the default experiment, ready to run with one click */
  g_assert_cmpstr (pl_experiment_editor_get_name (editor), ==, "digits-mlp");
  g_assert_true (g_str_has_suffix (pl_experiment_editor_get_path (editor), "digits-mlp.ini"));
  g_assert_true (pl_experiment_editor_is_valid (editor));
  g_assert_null (pl_experiment_editor_dup_problems (editor));
  g_assert_true (gtk_widget_is_sensitive (_pl_window_get_run_button (win)));
  g_assert_cmpstr (_pl_window_get_page (win), ==, "editor");
  /* a new user sees an empty list that says what to do */
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (_pl_window_get_selection (win))), ==, 0);
  screenshot (GTK_WIDGET (win), "editor.png");
}

typedef struct {
  PlLiveRun *run;
  PlPlot *plot;
  gsize points_while_running;
} LiveWatch;

static gboolean
points_while_running (gpointer data)
{
  LiveWatch *w = data;
  if (pl_live_run_get_state (w->run) != PL_LIVE_RUN_RUNNING)
    return !pl_live_run_is_active (w->run);
  w->points_while_running = pl_plot_get_n_points (w->plot, 0);
  return w->points_while_running > 20;
}

static void
test_run_default (void)
{
  PlLiveRun *run = press_run ();
  /* the Run button shows the live view of the new run */
  g_assert_cmpstr (_pl_window_get_page (win), ==, "run");
  PlRunView *view = _pl_window_get_run_view (win);
  PlRunItem *shown = pl_run_view_get_item (view);
  g_assert_nonnull (shown);
  g_assert_true (pl_run_item_get_live (shown) == run);

  /* points are plotted while the run trains, not only at its end */
  LiveWatch w = { run, pl_run_view_get_plot (view, PL_RUN_VIEW_PLOT_LOSS), 0 };
  g_assert_true (wait_until (points_while_running, &w, 60));
  if (w.points_while_running <= 20)
    g_test_message ("state %d, %" G_GUINT64_FORMAT " events, error %s, log:\n%s",
                    pl_live_run_get_state (run), pl_live_run_get_n_events (run),
                    pl_live_run_get_error (run), pl_live_run_get_log (run));
  g_assert_cmpuint (w.points_while_running, >, 20);
  g_assert_cmpint (pl_live_run_get_state (run), ==, PL_LIVE_RUN_RUNNING);
  g_assert_cmpint (pl_live_run_get_step (run), <, pl_live_run_get_total_steps (run));
  g_assert_true (strstr (pl_run_view_get_progress_text (view), "1350") != NULL);

  g_assert_true (wait_until (run_ended, run, 120));
  g_assert_cmpint (pl_live_run_get_state (run), ==, PL_LIVE_RUN_FINISHED);
  settle (0.2);
  first_run_id = pl_live_run_get_id (run);
  g_assert_cmpint (first_run_id, >, 0);

  /* every point of the run is in the plots */
  const double *steps, *values;
  gsize n_loss = pl_live_run_get_series (run, "train/loss", &steps, &values);
  g_assert_cmpuint (n_loss, >=, 1350);
  g_assert_cmpuint (pl_plot_get_n_points (pl_run_view_get_plot (view, PL_RUN_VIEW_PLOT_LOSS), 0),
                    >=, n_loss);
  g_assert_cmpuint (pl_plot_get_n_points (pl_run_view_get_plot (view, PL_RUN_VIEW_PLOT_ACCURACY), 0),
                    >=, 60);
  g_assert_cmpuint (pl_plot_get_n_points (pl_run_view_get_plot (view, PL_RUN_VIEW_PLOT_LR), 0),
                    >=, 1350);
  /* all four plots move, the dense default run's sparsity (a point per epoch) too */
  g_assert_cmpuint (pl_plot_get_n_points (pl_run_view_get_plot (view, PL_RUN_VIEW_PLOT_SPARSITY), 0),
                    >=, 30);

  /* a finished run in the sidebar, with its accuracy from the store */
  PlRunItem *item = sidebar_item (first_run_id);
  g_assert_nonnull (item);
  g_assert_cmpstr (pl_run_item_get_status (item), ==, "finished");
  g_assert_cmpfloat (pl_run_item_get_best_val_acc (item), >, 0.9);
  g_autoptr (PlRunInfo) info = pl_run_store_get_run (store (), first_run_id, NULL);
  g_assert_cmpstr (info->status, ==, "finished");
  g_autofree char *log = pl_run_view_get_log_text (view);
  g_assert_true (strstr (log, "epoch 30") != NULL);
  screenshot (GTK_WIDGET (win), "live-finished.png");
}

typedef struct {
  PlLiveRun *run;
  gint64 step;
} StepWatch;

static gboolean
step_advanced (gpointer data)
{
  StepWatch *w = data;
  return pl_live_run_get_step (w->run) > w->step || !pl_live_run_is_active (w->run);
}

static void
test_pause_stop (void)
{
  _pl_window_set_page (win, "editor");
  set_value ("train", "epochs", "500");
  PlLiveRun *run = press_run ();
  g_assert_true (wait_until (run_is_running, run, 60));
  StepWatch some = { run, 700 };
  g_assert_true (wait_until (step_advanced, &some, 60));
  screenshot (GTK_WIDGET (win), "live-running.png");

  /* Pause (Ctrl+P): the child stops stepping */
  g_action_group_activate_action (G_ACTION_GROUP (win), "pause-resume", NULL);
  g_assert_true (wait_until (run_is_paused, run, 20));
  settle (0.3);
  gint64 paused_at = pl_live_run_get_step (run);
  settle (1.0);
  g_assert_cmpint (pl_live_run_get_step (run), ==, paused_at);
  g_assert_true (strstr (pl_run_view_get_progress_text (_pl_window_get_run_view (win)),
                         _("paused")) != NULL);
  screenshot (GTK_WIDGET (win), "live-paused.png");

  /* Resume: it steps again */
  g_action_group_activate_action (G_ACTION_GROUP (win), "pause-resume", NULL);
  StepWatch w = { run, paused_at };
  g_assert_true (wait_until (step_advanced, &w, 20));
  g_assert_cmpint (pl_live_run_get_state (run), ==, PL_LIVE_RUN_RUNNING);

  /* Stop: it ends stopped, recorded so in the store */
  g_action_group_activate_action (G_ACTION_GROUP (win), "stop", NULL);
  g_assert_true (wait_until (run_ended, run, 30));
  g_assert_cmpint (pl_live_run_get_state (run), ==, PL_LIVE_RUN_STOPPED);
  g_assert_cmpint (pl_live_run_get_step (run), <, pl_live_run_get_total_steps (run));
  settle (0.2);
  g_autoptr (PlRunInfo) info = pl_run_store_get_run (store (), pl_live_run_get_id (run), NULL);
  g_assert_cmpstr (info->status, ==, "stopped");
  g_assert_cmpstr (pl_run_item_get_status (sidebar_item (pl_live_run_get_id (run))), ==, "stopped");
  set_value ("train", "epochs", "30");
}

static void
test_invalid_blocks_run (void)
{
  _pl_window_set_page (win, "editor");
  PlExperimentEditor *editor = _pl_window_get_editor (win);
  GAction *run = g_action_map_lookup_action (G_ACTION_MAP (win), "run");

  static const struct { const char *section, *key, *value; } bad[] = {
    { "train", "lr", "0" },             /* must be > 0 */
    { "train", "lr", "fast" },          /* not a number */
    { "data", "val-fraction", "1.5" },  /* must be < 1 */
    { "model", "hidden", "128, 0" },    /* widths from 1 */
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *old = NULL;
      set_value (bad[i].section, bad[i].key, bad[i].value);
      const char *problem = pl_experiment_editor_get_problem (editor, bad[i].section, bad[i].key);
      g_assert_nonnull (problem);
      g_assert_true (g_str_has_prefix (problem, _("Must be")));
      g_assert_false (pl_experiment_editor_is_valid (editor));
      g_assert_false (g_action_get_enabled (run));
      g_assert_false (gtk_widget_is_sensitive (_pl_window_get_run_button (win)));
      /* the message is on the row and in the Run button's tooltip */
      g_autofree char *problems = pl_experiment_editor_dup_problems (editor);
      g_assert_true (strstr (problems, problem) != NULL);
      g_assert_cmpstr (gtk_widget_get_tooltip_text (_pl_window_get_run_button (win)), ==, problems);
      GtkWidget *row = pl_experiment_editor_get_row (editor, bad[i].section, bad[i].key);
      g_assert_true (gtk_widget_has_css_class (row, "invalid"));
      if (i == 0)
        {
          gtk_widget_grab_focus (row);
          screenshot (GTK_WIDGET (win), "editor-invalid.png");
        }
      /* Ctrl+R does not start anything */
      GListModel *runs = pl_run_manager_get_runs (pl_application_get_run_manager (app));
      guint before = g_list_model_get_n_items (runs);
      g_action_group_activate_action (G_ACTION_GROUP (win), "run", NULL);
      g_assert_cmpuint (g_list_model_get_n_items (runs), ==, before);
    }
  set_value ("train", "lr", "1e-3");
  set_value ("data", "val-fraction", "0.2");
  set_value ("model", "hidden", "128, 64");
  g_assert_null (pl_experiment_editor_get_problem (editor, "train", "lr"));
  g_assert_true (pl_experiment_editor_is_valid (editor));
  g_assert_true (g_action_get_enabled (run));

  /* a rule across keys: attention needs width divisible by heads */
  set_value ("model", "architecture", "attention");
  set_value ("model", "width", "30");
  set_value ("model", "heads", "4");
  g_assert_false (pl_experiment_editor_is_valid (editor));
  g_autofree char *problems = pl_experiment_editor_dup_problems (editor);
  g_assert_true (strstr (problems, "heads") != NULL);
  set_value ("model", "width", "64");
  set_value ("model", "architecture", "mlp");
  g_assert_true (pl_experiment_editor_is_valid (editor));
}

static gboolean
catalog_loaded (gpointer data)
{
  return !pl_plugin_catalog_is_loading (_pl_window_get_catalog (win));
}

static guint
count_shown_rows (GtkWidget *widget)
{
  guint n = ADW_IS_EXPANDER_ROW (widget) && gtk_widget_is_visible (widget);
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child;
       child = gtk_widget_get_next_sibling (child))
    n += count_shown_rows (child);
  return n;
}

/* the rows below the first screen are shown one per frame after it */
static gboolean
all_plugin_rows_shown (gpointer data)
{
  GPtrArray *plugins = pl_plugin_catalog_get_plugins (_pl_window_get_catalog (win));
  return count_shown_rows (GTK_WIDGET (_pl_window_get_plugins_page (win))) == plugins->len;
}

static void
test_plugins_page (void)
{
  g_assert_true (wait_until (catalog_loaded, NULL, 30));
  PlPluginCatalog *catalog = _pl_window_get_catalog (win);
  g_assert_null (pl_plugin_catalog_get_error (catalog));
  GPtrArray *plugins = pl_plugin_catalog_get_plugins (catalog);
  g_assert_cmpuint (plugins->len, >, 0);
  g_assert_nonnull (pl_plugin_catalog_lookup (catalog, "prune-schedule", "agp"));
  /* every plugin has a row, grouped by slot (made when the page shows) */
  _pl_window_set_page (win, "plugins");
  settle (0.2);
  g_assert_cmpuint (pl_plugins_page_get_n_rows (_pl_window_get_plugins_page (win)), ==, plugins->len);
  g_assert_true (wait_until (all_plugin_rows_shown, NULL, 10));
  screenshot (GTK_WIDGET (win), "plugins.png");
}

static gboolean
two_runs_ended (gpointer data)
{
  PlLiveRun **runs = data;
  return run_ended (runs[0]) && run_ended (runs[1]);
}

static gboolean
has_prefix_all (GPtrArray  *keys,
                const char *prefix)
{
  for (guint i = 0; i < keys->len; i++)
    if (!g_str_has_prefix (g_ptr_array_index (keys, i), prefix))
      return FALSE;
  return TRUE;
}

static void
test_compare (void)
{
  /* two runs that differ only in their pruning schedule */
  PlExperimentEditor *editor = _pl_window_get_editor (win);
  _pl_window_set_page (win, "editor");
  set_value ("train", "epochs", "6");
  g_assert_true (pl_experiment_editor_set_plugin (editor, "prune-criterion", "magnitude"));
  g_assert_true (pl_experiment_editor_set_plugin (editor, "prune-schedule", "agp"));
  set_value ("prune", "final-sparsity", "0.8");
  g_assert_true (pl_experiment_editor_is_valid (editor));
  /* the preview tells when the schedule reaches its target, or that the run
   * is too short for it */
  pl_experiment_editor_flush_preview (editor);
  const char *note = pl_experiment_editor_get_schedule_note (editor);
  g_test_message ("schedule: %s", note);
  g_assert_nonnull (note);
  g_assert_true (strstr (note, "80.0%") != NULL);
  g_assert_true (strstr (note, _("too short")) == NULL);
  set_value ("prune", "end-step", "5000");
  pl_experiment_editor_flush_preview (editor);
  g_test_message ("schedule: %s", pl_experiment_editor_get_schedule_note (editor));
  g_assert_true (strstr (pl_experiment_editor_get_schedule_note (editor), _("too short")) != NULL);
  set_value ("prune", "end-step", "-1");
  pl_experiment_editor_flush_preview (editor);
  scroll_to_end (pl_experiment_editor_get_row (editor, "prune", "threshold"));
  screenshot (GTK_WIDGET (win), "editor-plugins.png");
  PlLiveRun *runs[2];
  runs[0] = press_run ();
  _pl_window_set_page (win, "editor");
  g_assert_true (pl_experiment_editor_set_plugin (editor, "prune-schedule", "one-shot"));
  set_value ("prune", "final-sparsity", "0.8");
  runs[1] = press_run ();
  g_assert_true (wait_until (two_runs_ended, runs, 120));
  for (guint i = 0; i < 2; i++)
    {
      if (pl_live_run_get_state (runs[i]) != PL_LIVE_RUN_FINISHED)
        g_test_message ("run %u: %s", i, pl_live_run_get_log (runs[i]));
      g_assert_cmpint (pl_live_run_get_state (runs[i]), ==, PL_LIVE_RUN_FINISHED);
    }
  settle (0.2);

  /* the live view of a pruned run draws its sparsity, total and per layer */
  gint64 agp_id = pl_live_run_get_id (runs[0]);
  _pl_window_select_runs (win, &agp_id, 1);
  PlPlot *sparsity = pl_run_view_get_plot (_pl_window_get_run_view (win), PL_RUN_VIEW_PLOT_SPARSITY);
  g_assert_cmpuint (pl_plot_get_n_points (sparsity, 0), >, 0);
  screenshot (GTK_WIDGET (win), "live-pruned.png");

  /* select both, as with Ctrl+click */
  gint64 ids[2] = { pl_live_run_get_id (runs[0]), pl_live_run_get_id (runs[1]) };
  _pl_window_select_runs (win, ids, 2);
  g_assert_true (g_action_get_enabled (g_action_map_lookup_action (G_ACTION_MAP (win), "compare")));
  g_action_group_activate_action (G_ACTION_GROUP (win), "compare", NULL);
  g_assert_cmpstr (_pl_window_get_page (win), ==, "compare");
  PlCompareView *compare = _pl_window_get_compare_view (win);
  g_assert_cmpuint (pl_compare_view_get_n_runs (compare), ==, 2);

  GPtrArray *keys = pl_compare_view_get_differing_keys (compare);
  for (guint i = 0; i < keys->len; i++)
    g_test_message ("differs: %s", (const char *) g_ptr_array_index (keys, i));
  /* exactly the schedule and its own options differ */
  g_assert_cmpuint (keys->len, >=, 1);
  g_assert_true (has_prefix_all (keys, "prune."));
  gboolean has_schedule = FALSE;
  for (guint i = 0; i < keys->len; i++)
    has_schedule |= g_str_equal (g_ptr_array_index (keys, i), "prune.schedule");
  g_assert_true (has_schedule);
  g_assert_cmpuint (pl_compare_view_get_n_identical (compare), >, 30);

  /* the CSV has both runs, the difference and the results */
  g_autofree char *csv = pl_compare_view_to_csv (compare);
  g_assert_true (strstr (csv, "setting-differs,prune.schedule,agp,one-shot") != NULL);
  g_assert_true (strstr (csv, "metric-best,val/acc,") != NULL);
  g_autofree char *path = g_build_filename (tmp, "comparison.csv", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (pl_compare_view_export_csv (compare, path, &error));
  g_assert_no_error (error);
  screenshot (GTK_WIDGET (win), "compare.png");

  /* and a comparison of two runs with the same settings but the epochs */
  _pl_window_set_page (win, "editor");
  pl_experiment_editor_set_plugin (editor, "prune-schedule", NULL);
  pl_experiment_editor_set_plugin (editor, "prune-criterion", NULL);
  set_value ("train", "epochs", "30");
}

static void
test_compare_epochs (void)
{
  /* the first run and the stopped one differ in train.epochs only */
  GListModel *runs = pl_run_manager_get_runs (pl_application_get_run_manager (app));
  g_autoptr (PlLiveRun) stopped = g_list_model_get_item (runs, 1);
  gint64 ids[2] = { first_run_id, pl_live_run_get_id (stopped) };
  _pl_window_select_runs (win, ids, 2);
  PlCompareView *compare = _pl_window_get_compare_view (win);
  GPtrArray *keys = pl_compare_view_get_differing_keys (compare);
  g_assert_cmpuint (keys->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (keys, 0), ==, "train.epochs");
}

static gboolean
run_failed (gpointer data)
{
  return pl_live_run_get_state (PL_LIVE_RUN (data)) == PL_LIVE_RUN_FAILED;
}

typedef struct {
  gint64 last;
  gint64 max_gap;
} Heartbeat;

static gboolean
beat (gpointer data)
{
  Heartbeat *h = data;
  gint64 now = g_get_monotonic_time ();
  if (h->last)
    h->max_gap = MAX (h->max_gap, now - h->last);
  h->last = now;
  return G_SOURCE_CONTINUE;
}

static void
test_kill_child (void)
{
  _pl_window_set_page (win, "editor");
  set_value ("train", "epochs", "500");
  PlLiveRun *run = press_run ();
  set_value ("train", "epochs", "30");
  g_assert_true (wait_until (run_is_running, run, 60));
  GPid pid = pl_live_run_get_pid (run);
  g_assert_cmpint (pid, >, 0);

  Heartbeat h = { 0, 0 };
  guint beat_id = g_timeout_add (5, beat, &h);
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  g_assert_true (wait_until (run_failed, run, 20));
  settle (0.5);
  g_source_remove (beat_id);

  /* the run failed with the reason, in the window and in the store */
  const char *error = pl_live_run_get_error (run);
  g_assert_nonnull (error);
  g_assert_true (strstr (error, "9") != NULL);
  g_autoptr (PlRunInfo) info = pl_run_store_get_run (store (), pl_live_run_get_id (run), NULL);
  g_assert_cmpstr (info->status, ==, "failed");
  g_assert_cmpstr (info->error, ==, error);
  g_assert_cmpstr (pl_run_item_get_status (sidebar_item (pl_live_run_get_id (run))), ==, "failed");
  g_test_message ("longest main-loop gap around the kill: %.1f ms", h.max_gap / 1000.0);
  g_assert_cmpint (h.max_gap, <, 500000);
  _pl_window_select_runs (win, (gint64[]) { pl_live_run_get_id (run) }, 1);
  screenshot (GTK_WIDGET (win), "live-failed.png");

  /* and the window goes on: the next run trains */
  _pl_window_set_page (win, "editor");
  set_value ("train", "epochs", "2");
  PlLiveRun *next = press_run ();
  g_assert_true (wait_until (run_ended, next, 60));
  g_assert_cmpint (pl_live_run_get_state (next), ==, PL_LIVE_RUN_FINISHED);
  set_value ("train", "epochs", "30");
}

static void
test_config_error_fails_run (void)
{
  /* a plugin option the editor cannot check (the plugin is not installed) is
   * refused by the CLI: the run fails with its message, before it starts */
  PlExperimentEditor *editor = _pl_window_get_editor (win);
  g_autofree char *text = pl_experiment_editor_dup_text (editor);
  g_autofree char *bad = g_strconcat (text, "\n[init]\nplugin = no-such-init\n", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (pl_experiment_editor_load_text (editor, bad, "bad.ini", &error));
  g_assert_true (pl_experiment_editor_is_valid (editor));
  PlLiveRun *run = press_run ();
  g_assert_true (wait_until (run_ended, run, 30));
  g_assert_cmpint (pl_live_run_get_state (run), ==, PL_LIVE_RUN_FAILED);
  g_assert_cmpint (pl_live_run_get_id (run), ==, 0);
  g_assert_true (strstr (pl_live_run_get_error (run), "no-such-init") != NULL);
  /* it stays in the sidebar with its reason */
  g_assert_nonnull (pl_run_list_lookup_live (_pl_window_get_run_list (win), run));
  g_autofree char *preset = g_build_filename (pl_application_get_data_dir (), "experiments",
                                              "digits-mlp.ini", NULL);
  g_assert_true (pl_experiment_editor_load_file (editor, preset, TRUE, &error));
}

static gboolean
filtered_count_is (gpointer data)
{
  GListModel *model = G_LIST_MODEL (_pl_window_get_selection (win));
  return g_list_model_get_n_items (model) == GPOINTER_TO_UINT (data);
}

static void
test_search (void)
{
  GtkEditable *entry = GTK_EDITABLE (_pl_window_get_search_entry (win));
  GListModel *model = G_LIST_MODEL (_pl_window_get_selection (win));
  guint all = g_list_model_get_n_items (model);
  g_assert_cmpuint (all, >=, 5);
  g_action_group_activate_action (G_ACTION_GROUP (win), "search", NULL);
  g_assert_true (gtk_widget_has_focus (GTK_WIDGET (entry))
                 || gtk_widget_is_ancestor (gtk_root_get_focus (GTK_ROOT (win)), GTK_WIDGET (entry)));
  gtk_editable_set_text (entry, "stopped");
  g_assert_true (wait_until (filtered_count_is, GUINT_TO_POINTER (1), 5));
  gtk_editable_set_text (entry, "no run is called this");
  g_assert_true (wait_until (filtered_count_is, GUINT_TO_POINTER (0), 5));
  screenshot (GTK_WIDGET (win), "search-empty.png");
  gtk_editable_set_text (entry, "");
  g_assert_true (wait_until (filtered_count_is, GUINT_TO_POINTER (all), 5));
}

static AdwMessageDialog *
find_dialog (void)
{
  GList *windows = gtk_window_list_toplevels ();
  AdwMessageDialog *found = NULL;
  for (GList *l = windows; l; l = l->next)
    if (ADW_IS_MESSAGE_DIALOG (l->data) && gtk_widget_get_visible (l->data))
      found = l->data;
  g_list_free (windows);
  return found;
}

static void
test_rename_tag_delete_undo (void)
{
  _pl_window_select_runs (win, &first_run_id, 1);
  g_action_group_activate_action (G_ACTION_GROUP (win), "rename", NULL);
  AdwMessageDialog *dialog = find_dialog ();
  g_assert_nonnull (dialog);
  gtk_editable_set_text (GTK_EDITABLE (adw_message_dialog_get_extra_child (dialog)), "baseline");
  adw_message_dialog_response (dialog, "apply");
  gtk_window_destroy (GTK_WINDOW (dialog));
  g_autoptr (PlRunInfo) renamed = pl_run_store_get_run (store (), first_run_id, NULL);
  g_assert_cmpstr (renamed->name, ==, "baseline");
  g_assert_cmpstr (pl_run_item_get_name (sidebar_item (first_run_id)), ==, "baseline");

  g_action_group_activate_action (G_ACTION_GROUP (win), "tag", NULL);
  dialog = find_dialog ();
  gtk_editable_set_text (GTK_EDITABLE (adw_message_dialog_get_extra_child (dialog)), "dense, reference");
  adw_message_dialog_response (dialog, "apply");
  gtk_window_destroy (GTK_WINDOW (dialog));
  const char * const *tags = pl_run_item_get_tags (sidebar_item (first_run_id));
  g_assert_true (g_strv_contains (tags, "dense"));
  g_assert_true (g_strv_contains (tags, "reference"));
  /* the search finds tags */
  gtk_editable_set_text (GTK_EDITABLE (_pl_window_get_search_entry (win)), "reference");
  g_assert_true (wait_until (filtered_count_is, GUINT_TO_POINTER (1), 5));
  gtk_editable_set_text (GTK_EDITABLE (_pl_window_get_search_entry (win)), "");

  /* delete, then undo from the toast */
  g_autoptr (GPtrArray) before = pl_run_store_list_runs (store (), NULL, FALSE, NULL);
  _pl_window_select_runs (win, &first_run_id, 1);
  g_action_group_activate_action (G_ACTION_GROUP (win), "delete", NULL);
  g_assert_null (sidebar_item (first_run_id));
  g_autoptr (GPtrArray) after = pl_run_store_list_runs (store (), NULL, FALSE, NULL);
  g_assert_cmpuint (after->len, ==, before->len - 1);
  screenshot (GTK_WIDGET (win), "deleted-toast.png");
  AdwToast *toast = g_object_get_data (G_OBJECT (win), "pl-last-toast");
  g_assert_nonnull (toast);
  g_signal_emit_by_name (toast, "button-clicked");
  g_assert_nonnull (sidebar_item (first_run_id));
  g_autoptr (GPtrArray) undone = pl_run_store_list_runs (store (), NULL, FALSE, NULL);
  g_assert_cmpuint (undone->len, ==, before->len);
}

static void
test_run_again (void)
{
  _pl_window_select_runs (win, &first_run_id, 1);
  g_assert_true (g_action_get_enabled (g_action_map_lookup_action (G_ACTION_MAP (win), "run-again")));
  g_action_group_activate_action (G_ACTION_GROUP (win), "run-again", NULL);
  PlLiveRun *again = last_live_run ();
  g_assert_cmpint (pl_live_run_get_parent_run (again), ==, first_run_id);
  g_assert_true (wait_until (run_ended, again, 120));
  g_assert_cmpint (pl_live_run_get_state (again), ==, PL_LIVE_RUN_FINISHED);
  g_autoptr (PlRunInfo) info = pl_run_store_get_run (store (), pl_live_run_get_id (again), NULL);
  g_assert_cmpint (info->parent_run, ==, first_run_id);
  g_autoptr (PlRunInfo) first = pl_run_store_get_run (store (), first_run_id, NULL);
  /* the same experiment, the same seed: the same result */
  g_assert_cmpfloat (info->best_val_acc, ==, first->best_val_acc);
}

static gboolean
export_done (gpointer data)
{
  return pl_export_dialog_get_result (data) != NULL;
}

static void
test_export (void)
{
  g_autofree char *db = pl_application_dup_db_path (app);
  PlExportDialog *dialog = pl_export_dialog_new (GTK_WINDOW (win), store (), db,
                                                 pl_run_manager_get_cli_path (pl_application_get_run_manager (app)),
                                                 first_run_id);
  gtk_window_present (GTK_WINDOW (dialog));
  g_autofree char *path = g_build_filename (tmp, "exported.safetensors", NULL);
  pl_export_dialog_export_to (dialog, path);
  g_assert_true (wait_until (export_done, dialog, 30));
  const char *result = pl_export_dialog_get_result (dialog);
  g_test_message ("export: %s", result);
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_true (strstr (result, "FP32") != NULL);
  g_assert_true (strstr (result, "%") != NULL);
  screenshot (GTK_WIDGET (dialog), "export.png");
  gtk_window_destroy (GTK_WINDOW (dialog));
}

/* ---- statuses and resume ----------------------------------------------------------- */

static char *
preset_path (void)
{
  return g_build_filename (pl_application_get_data_dir (), "experiments", "digits-mlp.ini", NULL);
}

static const char *
cli (void)
{
  return pl_run_manager_get_cli_path (pl_application_get_run_manager (app));
}

/* The id of the newest run in the store. */
static gint64
newest_run_id (void)
{
  g_autoptr (GPtrArray) runs = pl_run_store_list_runs (store (), NULL, FALSE, NULL);
  g_assert_nonnull (runs);
  g_assert_cmpuint (runs->len, >, 0);
  gint64 id = 0;
  for (guint i = 0; i < runs->len; i++)
    id = MAX (id, ((PlRunInfo *) g_ptr_array_index (runs, i))->id);
  return id;
}

/* Checks that run @id shows @status with its label and @icon in its sidebar
 * row and in the live view. */
static void
check_status_shown (gint64      id,
                    const char *status,
                    const char *icon)
{
  _pl_window_refresh (win);
  PlRunItem *item = sidebar_item (id);
  g_assert_nonnull (item);
  g_assert_cmpstr (pl_run_item_get_status (item), ==, status);
  _pl_window_select_runs (win, &id, 1);
  _pl_window_set_page (win, "run");
  settle (0.3);
  const char *label = pl_run_status_label (status);
  /* a word for people, not the store's spelling */
  g_assert_cmpstr (label, !=, status);
  g_assert_cmpstr (pl_run_status_icon_name (status), ==, icon);
  const char *row_icon = NULL, *row_tooltip = NULL;
  g_assert_true (_pl_window_get_row_status (win, id, &row_icon, &row_tooltip));
  g_assert_cmpstr (row_icon, ==, icon);
  g_assert_cmpstr (row_tooltip, ==, label);
  PlRunView *view = _pl_window_get_run_view (win);
  g_assert_cmpstr (pl_run_view_get_status_text (view), ==, label);
  g_assert_cmpstr (pl_run_view_get_status_icon (view), ==, icon);
}

static void
test_diverged_status (void)
{
  /* the loss of SGD at lr 10 becomes NaN within a few steps */
  g_autofree char *preset = preset_path ();
  const char *argv[] = { cli (), "run", preset, "--set", "train.lr=10",
                         "--set", "train.optimizer=sgd", "--set", "train.schedule=constant",
                         "--set", "train.warmup-steps=0", "--set", "train.epochs=3", NULL };
  g_autoptr (GError) error = NULL;
  int status = 0;
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL
                               | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL,
                               &status, &error));
  g_assert_no_error (error);
  gint64 id = newest_run_id ();
  g_autoptr (PlRunInfo) info = pl_run_store_get_run (store (), id, NULL);
  g_assert_cmpstr (info->status, ==, "diverged");
  check_status_shown (id, "diverged", "dialog-warning-symbolic");
  /* it would diverge again: no Resume */
  g_assert_false (g_action_get_enabled (g_action_map_lookup_action (G_ACTION_MAP (win),
                                                                      "resume-run")));
  g_assert_false (gtk_widget_get_visible (
    pl_run_view_get_resume_button (_pl_window_get_run_view (win))));
  screenshot (GTK_WIDGET (win), "live-diverged.png");
}

static gint64 interrupted_id;

/* A run of the CLI, outside the window, killed with SIGKILL after its third
 * epoch: the store finds its process gone and marks it interrupted. */
static void
test_interrupted_status (void)
{
  g_autofree char *preset = preset_path ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) proc =
    g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                      &error, cli (), "run", preset, "--set", "train.epochs=40",
                      "--set", "experiment.name=to-be-interrupted", NULL);
  g_assert_no_error (error);
  g_autoptr (GDataInputStream) out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc));
  char *line;
  gboolean third = FALSE;
  while (!third && (line = g_data_input_stream_read_line (out, NULL, NULL, NULL)))
    {
      third = g_str_has_prefix (line, "epoch 3 ");
      g_free (line);
    }
  g_assert_true (third);
  g_subprocess_send_signal (proc, SIGKILL);
  g_assert_true (g_subprocess_wait (proc, NULL, NULL));   /* reaped: its pid is gone */

  interrupted_id = newest_run_id ();
  check_status_shown (interrupted_id, "interrupted", "action-unavailable-symbolic");
  g_autoptr (PlRunInfo) info = pl_run_store_get_run (store (), interrupted_id, NULL);
  g_assert_cmpstr (info->status, ==, "interrupted");
  /* it has a training state: Resume is offered in the menu and the live view */
  g_assert_true (g_action_get_enabled (g_action_map_lookup_action (G_ACTION_MAP (win),
                                                                     "resume-run")));
  GtkWidget *resume = pl_run_view_get_resume_button (_pl_window_get_run_view (win));
  g_assert_true (gtk_widget_get_visible (resume));
  g_assert_true (gtk_widget_is_sensitive (resume));
  screenshot (GTK_WIDGET (win), "live-interrupted.png");
}

typedef struct {
  PlLiveRun *run;
  gint64 step;
} ResumeWatch;

static gboolean
resumed_past (gpointer data)
{
  ResumeWatch *w = data;
  return !pl_live_run_is_active (w->run)
         || (pl_live_run_get_state (w->run) == PL_LIVE_RUN_RUNNING
             && pl_live_run_get_step (w->run) > w->step);
}

static void
test_resume_interrupted (void)
{
  g_assert_cmpint (interrupted_id, >, 0);
  _pl_window_select_runs (win, &interrupted_id, 1);
  GListModel *runs = pl_run_manager_get_runs (pl_application_get_run_manager (app));
  guint before = g_list_model_get_n_items (runs);
  /* press Resume Training in the live view */
  GtkWidget *resume = pl_run_view_get_resume_button (_pl_window_get_run_view (win));
  gtk_widget_activate (resume);
  g_assert_true (wait_until (n_runs_is, GUINT_TO_POINTER (before + 1), 5));
  PlLiveRun *run = last_live_run ();
  g_assert_true (pl_live_run_is_resume (run));
  g_assert_cmpint (pl_live_run_get_id (run), ==, interrupted_id);
  g_assert_cmpstr (_pl_window_get_page (win), ==, "run");
  /* the sidebar keeps one row for the run, now training */
  PlRunItem *item = sidebar_item (interrupted_id);
  g_assert_nonnull (item);
  g_assert_true (pl_run_item_get_live (item) == run);
  g_assert_true (pl_run_view_get_item (_pl_window_get_run_view (win)) == item);

  /* it goes on from its saved state, not from the start */
  ResumeWatch w = { run, 0 };
  g_assert_true (wait_until (resumed_past, &w, 60));
  gint64 start = pl_live_run_get_start_step (run);
  g_test_message ("resumed at step %" G_GINT64_FORMAT, start);
  /* from the end of an epoch it saved (the third may not have been written
   * when the kill came) */
  g_assert_cmpint (start, >=, 2 * 45);
  g_assert_cmpint (start % 45, ==, 0);
  g_assert_cmpint (start, <, pl_live_run_get_total_steps (run));
  ResumeWatch later = { run, start + 300 };
  wait_until (resumed_past, &later, 60);
  screenshot (GTK_WIDGET (win), "live-resuming.png");

  g_assert_true (wait_until (run_ended, run, 180));
  if (pl_live_run_get_state (run) != PL_LIVE_RUN_FINISHED)
    g_test_message ("resume: %s\n%s", pl_live_run_get_error (run), pl_live_run_get_log (run));
  g_assert_cmpint (pl_live_run_get_state (run), ==, PL_LIVE_RUN_FINISHED);
  settle (0.3);
  g_autoptr (PlRunInfo) info = pl_run_store_get_run (store (), interrupted_id, NULL);
  g_assert_cmpstr (info->status, ==, "finished");
  g_assert_cmpstr (pl_run_item_get_status (sidebar_item (interrupted_id)), ==, "finished");

  /* a complete curve: one train/loss point per step, 1 to the last, in the
   * store and in the loss plot (the stored part, then the resumed part) */
  gint64 total = pl_live_run_get_total_steps (run);
  g_assert_cmpint (total, ==, 40 * 45);
  g_autoptr (GError) error = NULL;
  g_autoptr (PlSeries) loss = pl_run_store_get_metric (store (), interrupted_id, "train/loss",
                                                       &error);
  g_assert_no_error (error);
  g_assert_cmpuint (loss->steps->len, ==, total);
  for (guint i = 0; i < loss->steps->len; i++)
    g_assert_cmpint (g_array_index (loss->steps, gint64, i), ==, i + 1);
  PlPlot *plot = pl_run_view_get_plot (_pl_window_get_run_view (win), PL_RUN_VIEW_PLOT_LOSS);
  PlPlotData *data = pl_plot_get_data (plot);
  guint training = 0;
  for (guint i = 0; i < pl_plot_data_get_n_series (data); i++)
    {
      guint sid = pl_plot_data_get_series_id (data, i);
      if (g_str_equal (pl_plot_data_get_series_name (data, sid), C_("series", "Training")))
        training = sid;
    }
  g_assert_cmpuint (training, >, 0);
  g_assert_cmpuint (pl_plot_get_n_points (plot, training), ==, total);
  for (gsize i = 0; i < (gsize) total; i++)
    {
      double x = 0, y = 0;
      g_assert_true (pl_plot_data_get_point (data, training, i, &x, &y));
      g_assert_cmpfloat (x, ==, (double) (i + 1));
      /* the live part came through the event stream's decimal text */
      g_assert_cmpfloat_with_epsilon (y, g_array_index (loss->values, double, i), 1e-5);
    }
  check_status_shown (interrupted_id, "finished", "emblem-ok-symbolic");
  g_assert_false (gtk_widget_get_visible (resume));
  screenshot (GTK_WIDGET (win), "live-resumed.png");
}

static void
test_key_texts (void)
{
  /* every key of core's table has a title, and the blurb copies for the
   * translators are still the core's text */
  for (guint i = 0; i < pl_experiment_get_n_keys (); i++)
    {
      const PlExperimentKeyInfo *info = pl_experiment_get_key_info (i);
      const PlKeyText *kt = pl_key_text_lookup (info->section, info->key);
      g_assert_nonnull (kt);
      g_assert_cmpstr (kt->blurb, ==, info->blurb);
    }
  g_assert_cmpuint (pl_key_text_count (), ==, pl_experiment_get_n_keys ());
}

static void
test_chinese (void)
{
  const char *lang = g_getenv ("LANGUAGE");
  if (!lang || !g_str_has_prefix (lang, "zh"))
    {
      g_test_skip ("LANGUAGE is not zh_CN");
      return;
    }
  /* the window speaks Chinese */
  g_assert_cmpstr (_("Live"), ==, "实时");
  g_assert_cmpstr (_("Experiment"), !=, "Experiment");
  g_assert_cmpstr (pl_run_status_label ("finished"), !=, "Finished");
  g_assert_cmpstr (pl_run_status_label ("interrupted"), ==, "已中断");
  g_assert_cmpstr (pl_run_status_label ("diverged"), ==, "已发散");
  const PlExperimentKeyInfo *lr = pl_experiment_lookup_key ("train", "lr");
  g_assert_cmpstr (g_dgettext (GETTEXT_PACKAGE, lr->blurb), !=, lr->blurb);
  g_application_activate (G_APPLICATION (app));
  win = PL_WINDOW (gtk_application_get_active_window (GTK_APPLICATION (app)));
  g_assert_true (wait_until (window_mapped, NULL, 10));
  _pl_window_hide_toasts (win, TRUE);
  wait_until (catalog_loaded, NULL, 30);
  screenshot (GTK_WIDGET (win), "editor-zh_CN.png");
  set_value ("train", "lr", "0");
  const char *problem = pl_experiment_editor_get_problem (_pl_window_get_editor (win), "train", "lr");
  g_assert_nonnull (problem);
  g_assert_false (g_str_has_prefix (problem, "Must be"));
  /* the range is in the message, in Chinese around it */
  g_assert_true (strstr (problem, "10") != NULL);
  g_assert_true (g_utf8_get_char (problem) >= 0x4e00);
  screenshot (GTK_WIDGET (win), "editor-invalid-zh_CN.png");
  set_value ("train", "lr", "0.001");
  _pl_window_set_page (win, "plugins");
  screenshot (GTK_WIDGET (win), "plugins-zh_CN.png");
}

int
main (int    argc,
      char **argv)
{
  tmp = g_strdup (pl_test_tmpdir ());
  g_autofree char *db = g_build_filename (tmp, "runs.db", NULL);
  g_autofree char *config = g_build_filename (tmp, "xdg-config", NULL);
  g_autofree char *cache = g_build_filename (tmp, "xdg-cache", NULL);
  g_setenv ("PARAMLAB_DB", db, TRUE);
  g_setenv ("XDG_CONFIG_HOME", config, TRUE);
  g_setenv ("XDG_CACHE_HOME", cache, TRUE);
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
  g_setenv ("GSK_RENDERER", "cairo", FALSE);
  g_setenv ("GTK_A11Y", "none", FALSE);
  if (!g_getenv ("GSETTINGS_SCHEMA_DIR"))
    g_setenv ("GSETTINGS_SCHEMA_DIR", PL_BUILD_DIR "/data", TRUE);
  if (!g_getenv ("PARAMLAB_LOCALEDIR"))
    g_setenv ("PARAMLAB_LOCALEDIR", PL_BUILD_DIR "/po", TRUE);

  pl_gui_init_i18n ();
  g_test_init (&argc, &argv, NULL);
  if (!g_getenv ("DISPLAY") && !g_getenv ("WAYLAND_DISPLAY"))
    {
      g_test_message ("no display: run under xvfb-run (tests/ui-wrapper.sh)");
      return 77;
    }

  app = pl_application_new (G_APPLICATION_NON_UNIQUE);
  g_autoptr (GError) error = NULL;
  if (!g_application_register (G_APPLICATION (app), NULL, &error))
    g_error ("register: %s", error->message);
  g_application_hold (G_APPLICATION (app));
  g_timeout_add (10, tick, NULL);

  g_test_add_func ("/ui/window/key-texts", test_key_texts);
  if (g_getenv ("LANGUAGE") && g_str_has_prefix (g_getenv ("LANGUAGE"), "zh"))
    g_test_add_func ("/ui/window/chinese", test_chinese);
  else
    {
      g_test_add_func ("/ui/window/opens", test_window_opens);
      g_test_add_func ("/ui/window/run-default", test_run_default);
      g_test_add_func ("/ui/window/pause-stop", test_pause_stop);
      g_test_add_func ("/ui/window/invalid-blocks-run", test_invalid_blocks_run);
      g_test_add_func ("/ui/window/plugins-page", test_plugins_page);
      g_test_add_func ("/ui/window/compare-schedules", test_compare);
      g_test_add_func ("/ui/window/compare-epochs", test_compare_epochs);
      g_test_add_func ("/ui/window/kill-child", test_kill_child);
      g_test_add_func ("/ui/window/config-error", test_config_error_fails_run);
      g_test_add_func ("/ui/window/search", test_search);
      g_test_add_func ("/ui/window/rename-tag-delete-undo", test_rename_tag_delete_undo);
      g_test_add_func ("/ui/window/run-again", test_run_again);
      g_test_add_func ("/ui/window/export", test_export);
      g_test_add_func ("/ui/window/status-diverged", test_diverged_status);
      g_test_add_func ("/ui/window/status-interrupted", test_interrupted_status);
      g_test_add_func ("/ui/window/resume-interrupted", test_resume_interrupted);
    }
  int ret = g_test_run ();

  pl_run_manager_stop_all (pl_application_get_run_manager (app));
  GList *windows = gtk_application_get_windows (GTK_APPLICATION (app));
  while (windows)
    {
      gtk_window_destroy (GTK_WINDOW (windows->data));
      windows = gtk_application_get_windows (GTK_APPLICATION (app));
    }
  g_application_release (G_APPLICATION (app));
  g_object_unref (app);
  return ret;
}
